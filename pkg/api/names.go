package api

import (
	"fmt"
	"strings"
)

// DefaultNamespace is the namespace used when a request names none.
const DefaultNamespace = "openfaas-fn"

// MaxNameLength is the longest function, secret or namespace name accepted.
const MaxNameLength = 63

// SplitName splits "name.namespace" on the last dot, as OpenFaaS does for
// /function/ paths, alert labels and metric labels. Without a dot the
// namespace is empty.
func SplitName(s string) (name, namespace string) {
	i := strings.LastIndexByte(s, '.')
	if i < 0 {
		return s, ""
	}
	return s[:i], s[i+1:]
}

// JoinName is the inverse of SplitName: "name.namespace", or name alone when
// namespace is empty.
func JoinName(name, namespace string) string {
	if namespace == "" {
		return name
	}
	return name + "." + namespace
}

// ValidateName checks that s is a DNS-1123 label of at most 63 characters,
// the rule for function, secret and namespace names. what names the kind of
// thing for the error message, e.g. "function".
func ValidateName(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%s name is empty", what)
	case len(s) > MaxNameLength:
		return fmt.Errorf("%s name %q is %d characters long; the limit is %d", what, s, len(s), MaxNameLength)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		switch {
		case alnum:
		case c == '-' && i > 0 && i < len(s)-1:
		default:
			return fmt.Errorf("%s name %q is not valid: use lower-case letters, digits and '-', starting and ending with a letter or digit", what, s)
		}
	}
	return nil
}
