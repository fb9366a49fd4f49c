package queue

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Annotations that tune one function's async behaviour (spec §7).
const (
	AnnotationQueue         = "com.openfaas.queue"
	AnnotationRetryAttempts = "com.openfaas.retry.attempts"
	AnnotationRetryCodes    = "com.openfaas.retry.codes"
	AnnotationRetryMinWait  = "com.openfaas.retry.min_wait"
	AnnotationRetryMaxWait  = "com.openfaas.retry.max_wait"
)

// RetryPolicy says which answers are retried, how often and how long to
// wait in between.
type RetryPolicy struct {
	// Attempts is the total number of calls before a dead letter (default 10).
	Attempts int
	// Codes are the retried HTTP statuses (default 408, 429, 500, 502, 503,
	// 504); connection errors are always retried.
	Codes []int
	// MinWait is the first back-off (default 1s); it doubles per attempt.
	MinWait time.Duration
	// MaxWait caps the back-off (default 1m).
	MaxWait time.Duration
}

// DefaultRetryPolicy returns the defaults documented on RetryPolicy.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{
		Attempts: 10,
		Codes:    []int{408, 429, 500, 502, 503, 504},
		MinWait:  time.Second,
		MaxWait:  time.Minute,
	}
}

// Validate checks the policy.
func (p RetryPolicy) Validate() error {
	var errs []string
	if p.Attempts < 1 {
		errs = append(errs, fmt.Sprintf("retry attempts %d: want at least 1", p.Attempts))
	}
	if p.MinWait <= 0 || p.MaxWait < p.MinWait {
		errs = append(errs, fmt.Sprintf("retry waits %v..%v: want 0 < min <= max", p.MinWait, p.MaxWait))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// withAnnotations returns p overridden by a function's com.openfaas.retry.*
// annotations; values that do not parse are ignored.
func (p RetryPolicy) withAnnotations(a map[string]string) RetryPolicy {
	if n, err := strconv.Atoi(strings.TrimSpace(a[AnnotationRetryAttempts])); err == nil && n >= 1 {
		p.Attempts = n
	}
	if codes := parseCodes(a[AnnotationRetryCodes]); len(codes) > 0 {
		p.Codes = codes
	}
	if d, ok := parseWait(a[AnnotationRetryMinWait]); ok {
		p.MinWait = d
	}
	if d, ok := parseWait(a[AnnotationRetryMaxWait]); ok {
		p.MaxWait = d
	}
	p.MaxWait = max(p.MaxWait, p.MinWait)
	return p
}

// parseCodes reads "429,502, 503" (commas or spaces).
func parseCodes(s string) []int {
	var codes []int
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		if c, err := strconv.Atoi(f); err == nil && c >= 100 && c <= 599 {
			codes = append(codes, c)
		}
	}
	return codes
}

// parseWait reads a duration: a Go duration ("500ms") or bare seconds.
func parseWait(s string) (time.Duration, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(s); err == nil && n > 0 {
		return time.Duration(n) * time.Second, true
	}
	d, err := time.ParseDuration(s)
	return d, err == nil && d > 0
}

// retryable reports whether a status is retried (0 = unreachable).
func (p RetryPolicy) retryable(status int) bool {
	return status == 0 || slices.Contains(p.Codes, status)
}

// backoff is the wait before attempt+1: MinWait·2^(attempt-1) capped at
// MaxWait, with "equal jitter" (half fixed, half random) so retries of many
// calls spread out. A later Retry-After wins, up to maxRetryAfter.
func (p RetryPolicy) backoff(attempt int, retryAfter time.Duration) time.Duration {
	d := p.MaxWait
	if attempt-1 < 30 {
		d = min(p.MinWait<<(attempt-1), p.MaxWait)
	}
	d = d/2 + rand.N(d/2+1)
	return max(d, min(retryAfter, maxRetryAfter))
}

// maxRetryAfter bounds how long a Retry-After header can hold a call.
const maxRetryAfter = time.Hour

// parseRetryAfter reads Retry-After: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		return max(time.Duration(n)*time.Second, 0)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}
