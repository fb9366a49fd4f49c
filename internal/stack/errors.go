package stack

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrNoMatch is returned (wrapped) when --filter or --regex matches no
// function.
var ErrNoMatch = errors.New("no functions matched")

// ErrNoStackFile is returned (wrapped) by DefaultPath when the folder holds
// neither stack.yaml nor stack.yml.
var ErrNoStackFile = errors.New("no stack file")

// Error is one problem found in a stack file. Parse returns one *Error, or
// several joined with errors.Join (sorted by line); errors.As finds the
// first.
type Error struct {
	// Path is the stack file (or environment file) as given to Parse.
	Path string
	// Line is 1-based; 0 when the problem has no single place.
	Line int
	// Field is the dotted path of the key, such as
	// "functions.hello.limits.memory"; empty for the whole file.
	Field string
	// Msg says what is wrong.
	Msg string
}

// Error formats the problem as "path:line: field: message".
func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.Path != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.Path, e.Line)
	case e.Path != "":
		b.WriteString(e.Path + ": ")
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// maxProblems bounds how many problems one error lists.
const maxProblems = 20

// joinProblems sorts problems by line and joins them; nil when there are
// none.
func joinProblems(path string, problems []*Error) error {
	if len(problems) == 0 {
		return nil
	}
	slices.SortStableFunc(problems, func(a, b *Error) int { return a.Line - b.Line })
	errs := make([]error, 0, min(len(problems), maxProblems)+1)
	for _, p := range problems[:min(len(problems), maxProblems)] {
		errs = append(errs, p)
	}
	if n := len(problems) - maxProblems; n > 0 {
		errs = append(errs, &Error{Path: path, Msg: fmt.Sprintf("%d more problems not shown", n)})
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// suggest returns ` (did you mean "x"?)` when one of known is within two
// edits of key, else "".
func suggest(key string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(key), k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return max(len(a), len(b))
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
