package registry

import (
	"fmt"
	"strings"
)

// maxNameLength is the longest repository name accepted, as in the
// distribution reference implementation.
const maxNameLength = 255

// validateName checks a repository name: one or more path components of
// lower-case letters and digits, separated inside a component by '.', '_',
// "__" or runs of '-', and joined by '/' (the OCI distribution spec rule).
func validateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("repository name is empty")
	case len(name) > maxNameLength:
		return fmt.Errorf("repository name is %d characters long; the limit is %d", len(name), maxNameLength)
	}
	for comp := range strings.SplitSeq(name, "/") {
		if !validComponent(comp) {
			return fmt.Errorf("repository name %q is not valid: each path component must be lower-case letters and digits, optionally separated by '.', '_', '__' or '-'", name)
		}
	}
	return nil
}

// validComponent reports whether s matches [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*.
func validComponent(s string) bool {
	i := 0
	for {
		start := i
		for i < len(s) && isLowerAlnum(s[i]) {
			i++
		}
		if i == start {
			return false
		}
		if i == len(s) {
			return true
		}
		switch {
		case s[i] == '.':
			i++
		case strings.HasPrefix(s[i:], "__"):
			i += 2
		case s[i] == '_':
			i++
		case s[i] == '-':
			for i < len(s) && s[i] == '-' {
				i++
			}
		default:
			return false
		}
	}
}

func isLowerAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}

// validTag reports whether s matches [A-Za-z0-9_][A-Za-z0-9._-]{0,127}.
func validTag(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
		if i > 0 && (c == '.' || c == '-') {
			ok = true
		}
		if !ok {
			return false
		}
	}
	return true
}

// parseDigest checks a "sha256:<64 lower-case hex>" digest and returns its
// hex part. Other algorithms are refused: the store only keeps sha256.
func parseDigest(d string) (string, error) {
	algo, hex, ok := strings.Cut(d, ":")
	if !ok || algo == "" {
		return "", fmt.Errorf("digest %q is not of the form sha256:<hex>", d)
	}
	if algo != "sha256" {
		return "", fmt.Errorf("digest algorithm %q is not supported; use sha256", algo)
	}
	if len(hex) != 64 {
		return "", fmt.Errorf("digest %q must have 64 hex characters", d)
	}
	for i := 0; i < len(hex); i++ {
		c := hex[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", fmt.Errorf("digest %q must be lower-case hex", d)
		}
	}
	return hex, nil
}

// isDigest reports whether a manifest reference looks like a digest rather
// than a tag (tags cannot contain ':').
func isDigest(ref string) bool {
	return strings.Contains(ref, ":")
}
