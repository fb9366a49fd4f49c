package registry

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	componentRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$`)
	tagRE       = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)
	digestRE    = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
)

func TestValidateName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ok   bool
	}{
		{"alpine", true}, {"library/alpine", true}, {"a/b/c/d", true}, {"my-app", true}, {"my--app", true},
		{"my_app", true}, {"my__app", true}, {"my.app", true}, {"0", true},
		{"", false}, {"Alpine", false}, {"/alpine", false}, {"alpine/", false}, {"a//b", false},
		{"-app", false}, {"app-", false}, {"a___b", false}, {"a..b", false}, {"..", false}, {"a/../b", false},
		{"_catalog", false}, {"a/_manifests", false}, {strings.Repeat("a", 256), false},
	}
	for _, tt := range tests {
		if err := validateName(tt.name); (err == nil) != tt.ok {
			t.Errorf("validateName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"alpine", "library/alpine", "a__b", "a---b", "a._b", "A", "a/", "x/y/z", "a.b-c_d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := s != "" && len(s) <= maxNameLength
		for c := range strings.SplitSeq(s, "/") {
			want = want && componentRE.MatchString(c)
		}
		err := validateName(s)
		if (err == nil) != want {
			t.Fatalf("validateName(%q) = %v, regexp says %v", s, err, want)
		}
		if err == nil && (strings.Contains(s, "..") || filepath.Clean(s) != s || strings.HasPrefix(s, "_")) {
			t.Fatalf("validateName accepted %q, which is unsafe as a path", s)
		}
	})
}

func FuzzReference(f *testing.F) {
	for _, s := range []string{"latest", "v1.0", "_x", ".x", "-x", "sha256:" + strings.Repeat("a", 64), "sha256:ABC", strings.Repeat("t", 129)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if validTag(s) != tagRE.MatchString(s) {
			t.Fatalf("validTag(%q) = %v, regexp says otherwise", s, validTag(s))
		}
		_, err := parseDigest(s)
		if (err == nil) != digestRE.MatchString(s) {
			t.Fatalf("parseDigest(%q) = %v, regexp says otherwise", s, err)
		}
		if validTag(s) && isDigest(s) {
			t.Fatalf("%q is both a tag and a digest", s)
		}
	})
}

func FuzzParseRoute(f *testing.F) {
	for _, s := range []string{"/v2/", "/v2/_catalog", "/v2/a/b/tags/list", "/v2/a/manifests/latest", "/v2/a/blobs/uploads/",
		"/v2/a/blobs/uploads/x", "/v2/a/blobs/sha256:00", "/v2/../x/blobs/y", "/v2/a/blobs/blobs/uploads"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rt, err := parseRoute(s)
		if err != nil || rt.kind == routeBase || rt.kind == routeCatalog {
			return
		}
		if validateName(rt.name) != nil {
			t.Fatalf("parseRoute(%q) accepted invalid name %q", s, rt.name)
		}
		if strings.Contains(rt.ref, "/") {
			t.Fatalf("parseRoute(%q) gave a reference with a slash: %q", s, rt.ref)
		}
	})
}

func TestSanitizePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"./", "", true}, {".", "", true}, {"a", "a", true}, {"./a/b/", "a/b", true}, {"a//b", "a/b", true},
		{"a/./b", "a/b", true}, {"..a", "..a", true}, {"a..", "a..", true},
		{"../a", "", false}, {"a/../b", "", false}, {"a/..", "", false}, {"/etc/passwd", "", false}, {"a\x00b", "", false},
	}
	for _, tt := range tests {
		got, err := sanitizePath(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("sanitizePath(%q) = %q, %v; want %q ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func FuzzSanitizePath(f *testing.F) {
	for _, s := range []string{"./", "a/b", "../x", "/abs", "a/../../b", "a/./b/", "..", "...", "a\x00", ".wh..wh..opq"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := sanitizePath(s)
		if err != nil {
			if !strings.HasPrefix(s, "/") && !strings.Contains(s, "\x00") && !strings.Contains("/"+s+"/", "/../") {
				t.Fatalf("sanitizePath(%q) refused a harmless path: %v", s, err)
			}
			return
		}
		if p == "" {
			return
		}
		if !filepath.IsLocal(p) || strings.HasPrefix(p, "/") || filepath.Clean(p) != p {
			t.Fatalf("sanitizePath(%q) = %q, which is not a clean local path", s, p)
		}
		for elem := range strings.SplitSeq(p, "/") {
			if elem == ".." || elem == "." || elem == "" {
				t.Fatalf("sanitizePath(%q) = %q has element %q", s, p, elem)
			}
		}
	})
}
