package api

import (
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ok   bool
	}{
		{"hello", true},
		{"a", true},
		{"fn-1", true},
		{"0abc", true},
		{strings.Repeat("a", 63), true},
		{"", false},
		{strings.Repeat("a", 64), false},
		{"Hello", false},
		{"-start", false},
		{"end-", false},
		{"has_underscore", false},
		{"has.dot", false},
		{"spa ce", false},
		{"ünïcode", false},
	}
	for _, tt := range tests {
		err := ValidateName("function", tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "function name") {
			t.Errorf("error %q does not say what was wrong", err)
		}
	}
}

func TestSplitName(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, name, ns string }{
		{"figlet", "figlet", ""},
		{"figlet.dev", "figlet", "dev"},
		{"a.b.c", "a.b", "c"},
		{"trailing.", "trailing", ""},
		{".lead", "", "lead"},
	}
	for _, tt := range tests {
		name, ns := SplitName(tt.in)
		if name != tt.name || ns != tt.ns {
			t.Errorf("SplitName(%q) = %q, %q; want %q, %q", tt.in, name, ns, tt.name, tt.ns)
		}
	}
}

// FuzzNames checks that SplitName and JoinName round-trip and that
// ValidateName accepts exactly DNS-1123 labels of at most 63 characters.
func FuzzNames(f *testing.F) {
	for _, s := range []string{"hello", "hello.dev", "a.b.c", "", ".", "-x", "x-", strings.Repeat("z", 64), "Ab_c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, ns := SplitName(s)
		if strings.Contains(ns, ".") {
			t.Fatalf("SplitName(%q) namespace %q holds a dot", s, ns)
		}
		if ns != "" && JoinName(name, ns) != s {
			t.Fatalf("JoinName(SplitName(%q)) = %q", s, JoinName(name, ns))
		}
		err := ValidateName("function", s)
		if (err == nil) != isDNSLabel(s) {
			t.Fatalf("ValidateName(%q) = %v, disagrees with the DNS-1123 rule", s, err)
		}
	})
}

// isDNSLabel is the rule written another way, for the fuzz test.
func isDNSLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	return strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == ""
}
