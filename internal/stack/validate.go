package stack

import (
	"errors"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/gofaas/gofaas/pkg/api"
)

// problem is what is wrong with one field of a function; field is relative
// to the function ("limits.memory").
type problem struct {
	field, msg string
	at         string // the field whose line to report, when not field
	missing    bool   // a required field is empty
}

// checkFunction checks what a decoded (or hand-built) function must hold
// beyond the types of its fields.
func checkFunction(fn Function) []problem {
	var ps []problem
	add := func(field, format string, args ...any) {
		ps = append(ps, problem{field: field, msg: fmt.Sprintf(format, args...)})
	}
	if fn.Image == "" {
		add("image", "required: the image to deploy, such as registry.example.com/%s:latest", fn.Name)
		ps[len(ps)-1].missing = true
	}
	if fn.Lang != "" && !fn.SkipBuild && fn.Handler == "" {
		add("handler", "required when lang is set (the folder with the function's code), unless skip_build is true")
		ps[len(ps)-1].missing = true
	}
	if strings.ContainsAny(fn.Lang, `/\`) || fn.Lang == "." || fn.Lang == ".." {
		add("lang", "%q is not a template name (a folder under ./template)", fn.Lang)
	}
	if fn.Namespace != "" {
		if err := api.ValidateName("namespace", fn.Namespace); err != nil {
			add("namespace", "%s", err.Error())
		}
	}
	for _, k := range slices.Sorted(maps.Keys(fn.Environment)) {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			add("environment", "%q is not a valid variable name", k)
			ps[len(ps)-1].at = "environment." + k
		}
	}
	for i, p := range fn.EnvironmentFile {
		if p == "" {
			add(fmt.Sprintf("environment_file[%d]", i), "is empty")
		}
	}
	for i, s := range fn.Secrets {
		if s == "" {
			add(fmt.Sprintf("secrets[%d]", i), "is empty")
		}
	}
	ps = append(ps, checkResources("limits", fn.Limits)...)
	return append(ps, checkResources("requests", fn.Requests)...)
}

func checkResources(field string, r *Resources) []problem {
	if r == nil {
		return nil
	}
	var ps []problem
	if r.Memory != "" {
		if err := checkMemory(r.Memory); err != nil {
			ps = append(ps, problem{field: field + ".memory", msg: err.Error()})
		}
	}
	if r.CPU != "" {
		if _, _, err := parseQuantity(r.CPU); err != nil {
			ps = append(ps, problem{field: field + ".cpu", msg: err.Error() + "; write CPU like 100m, 0.5 or 2"})
		}
	}
	return ps
}

// checkMemory accepts a whole number of bytes in Kubernetes notation:
// "128Mi", "1G", "512", "1.5Gi".
func checkMemory(s string) error {
	v, suffix, err := parseQuantity(s)
	if err != nil {
		return fmt.Errorf("%w; write memory like 128Mi, 1Gi or 512M", err)
	}
	if fraction := map[string]string{"m": "thousandths", "u": "millionths", "n": "billionths"}[suffix]; fraction != "" {
		n := strings.TrimSuffix(s, suffix)
		return fmt.Errorf("%q is %s %s of a byte in Kubernetes notation; write %sMi or %sM", s, n, fraction, n, n)
	}
	if !v.IsInt() {
		return fmt.Errorf("%q is not a whole number of bytes", s)
	}
	return nil
}

// maxQuantity bounds quantities (2^62), as the process back-end does.
var maxQuantity = new(big.Rat).SetInt64(1 << 62)

// maxExponent bounds the exponent of "1e3"-style quantities.
const maxExponent = 30

// parseQuantity parses a non-negative Kubernetes quantity: a decimal
// number with an optional binary suffix (Ki … Ei), decimal suffix (n u m k
// M G T P E) or exponent (e3, E-2). It returns the value and the suffix.
func parseQuantity(s string) (*big.Rat, string, error) {
	if strings.HasPrefix(s, "-") {
		return nil, "", fmt.Errorf("%q is negative", s)
	}
	num := strings.TrimPrefix(s, "+")
	end := strings.IndexFunc(num, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if end < 0 {
		end = len(num)
	}
	num, suffix := num[:end], num[end:]
	if strings.Count(num, ".") > 1 || strings.Trim(num, ".") == "" {
		return nil, "", fmt.Errorf("%q is not a quantity", s)
	}
	v, ok := new(big.Rat).SetString(num)
	if !ok {
		return nil, "", fmt.Errorf("%q is not a quantity", s)
	}
	factor, err := suffixFactor(suffix)
	if err != nil {
		return nil, "", fmt.Errorf("%q %w", s, err)
	}
	v.Mul(v, factor)
	if v.Cmp(maxQuantity) > 0 {
		return nil, "", fmt.Errorf("%q is too large", s)
	}
	return v, suffix, nil
}

// suffixFactor is what a quantity suffix multiplies by.
func suffixFactor(suffix string) (*big.Rat, error) {
	pow := func(base int64, exp int) *big.Rat {
		r := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(base), big.NewInt(int64(max(exp, -exp))), nil))
		if exp < 0 {
			r.Inv(r)
		}
		return r
	}
	if i := slices.Index([]string{"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"}, suffix); i >= 0 {
		return pow(1024, i+1), nil
	}
	if i := slices.Index([]string{"n", "u", "m", "", "k", "M", "G", "T", "P", "E"}, suffix); i >= 0 {
		return pow(1000, i-3), nil
	}
	exp, err := strconv.Atoi(strings.TrimLeft(suffix, "eE"))
	switch {
	case len(suffix) < 2 || suffix[0] != 'e' && suffix[0] != 'E' || err != nil:
		return nil, fmt.Errorf("has an unknown unit %q", suffix)
	case exp > maxExponent:
		return nil, errors.New("is too large")
	case exp < -maxExponent:
		return nil, errors.New("is too small")
	}
	return pow(10, exp), nil
}
