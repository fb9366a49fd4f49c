package watchdog

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestHeaderEnvName(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"X-Call-Id":       "Http_X_Call_Id",
		"User-Agent":      "Http_User_Agent",
		"Content-Type":    "Http_Content_Type",
		"Accept":          "Http_Accept",
		"X-Forwarded-For": "Http_X_Forwarded_For",
		"a=b":             "Http_a_b",
	}
	for in, want := range tests {
		if got := HeaderEnvName(in); got != want {
			t.Errorf("HeaderEnvName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCGIEnv(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest(http.MethodPost, "http://fn.example/path/x?a=1&b=2", strings.NewReader("body"))
	r.Header.Set("X-Call-Id", "abc")
	r.Header.Add("Accept", "text/plain")
	r.Header.Add("Accept", "ignored")
	tests := []struct {
		name    string
		flavour cgiFlavour
		want    []string
		absent  []string
	}{
		{
			name:    "classic",
			flavour: cgiClassic,
			want: []string{"BASE=1", "Http_X_Call_Id=abc", "Http_Accept=text/plain", "Http_Method=POST",
				"Http_ContentLength=4", "Http_Content_Length=4", "Http_Query=a=1&b=2", "Http_Path=/path/x", "Http_Host=fn.example"},
		},
		{
			name:    "of-watchdog",
			flavour: cgiOF,
			want:    []string{"BASE=1", "Http_X_Call_Id=abc", "Http_Method=POST", "Http_Query=a=1&b=2", "Http_Path=/path/x"},
			absent:  []string{"Http_ContentLength=4", "Http_Host=fn.example"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := cgiEnv([]string{"BASE=1"}, r, tt.flavour)
			for _, w := range tt.want {
				if !slices.Contains(env, w) {
					t.Errorf("env lacks %q: %q", w, env)
				}
			}
			for _, a := range tt.absent {
				if slices.Contains(env, a) {
					t.Errorf("env has %q", a)
				}
			}
		})
	}
	chunked := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("x"))
	chunked.ContentLength = -1
	chunked.TransferEncoding = []string{"chunked"}
	env := CGIEnv(nil, chunked)
	for _, w := range []string{"Http_ContentLength=-1", "Http_Transfer_Encoding=chunked"} {
		if !slices.Contains(env, w) {
			t.Errorf("chunked env lacks %q: %q", w, env)
		}
	}
	if slices.ContainsFunc(env, func(s string) bool { return strings.HasPrefix(s, "Http_Query=") }) {
		t.Error("Http_Query set for an empty query")
	}
}

// FuzzCGIEnv checks that any header becomes a well-formed environment
// entry: Http_ prefix, no '=' or NUL in the name, no NUL in the value, and
// the classic watchdog's name for ordinary header names.
func FuzzCGIEnv(f *testing.F) {
	f.Add("X-Call-Id", "abc")
	f.Add("content-type", "text/plain; charset=utf-8")
	f.Add("X=Evil", "a\x00b")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, name, value string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header = http.Header{name: {value}}
		for _, kv := range cgiEnv(nil, r, cgiClassic) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || !strings.HasPrefix(k, "Http_") || strings.ContainsRune(k, 0) {
				t.Fatalf("bad env entry %q", kv)
			}
			if strings.ContainsRune(v, 0) {
				t.Fatalf("NUL in value of %q", kv)
			}
		}
		if validToken(name) {
			want := "Http_" + strings.ReplaceAll(name, "-", "_")
			if got := HeaderEnvName(name); got != want {
				t.Fatalf("HeaderEnvName(%q) = %q, want %q", name, got, want)
			}
		}
	})
}

// validToken reports whether s is an RFC 9110 token, the only header names
// a server accepts.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}
