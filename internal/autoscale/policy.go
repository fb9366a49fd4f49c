package autoscale

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Scaling labels (spec §9) and their defaults.
const (
	LabelMin          = "com.openfaas.scale.min"
	LabelMax          = "com.openfaas.scale.max"
	LabelTarget       = "com.openfaas.scale.target"
	LabelType         = "com.openfaas.scale.type"
	LabelProportion   = "com.openfaas.scale.target-proportion"
	LabelZero         = "com.openfaas.scale.zero"
	LabelZeroDuration = "com.openfaas.scale.zero-duration"
	LabelDownWindow   = "com.openfaas.scale.down.window"

	DefaultMin        = 1
	DefaultMax        = 20
	DefaultTarget     = 50
	DefaultProportion = 0.90
	DefaultType       = ModeRPS
)

// Scaling modes: what "load" means for com.openfaas.scale.target.
const (
	// ModeRPS: invocations started per second, over the load window.
	ModeRPS = "rps"
	// ModeCapacity: invocations in flight, averaged over the load window.
	ModeCapacity = "capacity"
	// ModeCPU: CPU of all replicas in millicores, averaged over the load
	// window; needs a back-end that reports usage.
	ModeCPU = "cpu"
)

// Policy is how one function is scaled, read from its labels.
type Policy struct {
	// Min is the fewest replicas load scaling leaves (0 is read as 1 for
	// load scaling: only idleness takes a function to zero).
	Min uint64
	// Max is the most replicas load scaling asks for.
	Max uint64
	// Mode is ModeRPS, ModeCapacity or ModeCPU; "" when the label names a
	// mode gofaas does not know, which turns load scaling off.
	Mode string
	// Target is the load one replica should carry.
	Target float64
	// Proportion scales Target down so replicas are added before they are
	// full (0 < Proportion ≤ 1).
	Proportion float64
	// Zero opts the function in to scale to zero after ZeroDuration idle.
	Zero         bool
	ZeroDuration time.Duration
	// DownWindow is how long load must stay low before replicas are taken
	// away.
	DownWindow time.Duration
}

// Fixed reports whether min == max, which turns load scaling off.
func (p Policy) Fixed() bool { return p.Min == p.Max }

// Desired is the formula of spec §9: ceil(load / (target × proportion)),
// which equals ceil(ready × mean load per replica / (target × proportion)),
// clamped to [max(1, Min), Max].
func (p Policy) Desired(load float64) uint64 {
	lo := max(1, p.Min)
	per := p.Target * p.Proportion
	if per <= 0 || load <= 0 || math.IsNaN(load) {
		return max(lo, min(lo, p.Max))
	}
	want := math.Ceil(load / per)
	if want >= float64(p.Max) {
		return max(lo, p.Max)
	}
	return max(lo, min(uint64(want), p.Max))
}

// ParsePolicy reads a function's scaling labels. Missing labels take their
// defaults (zeroDuration and downWindow are the server-wide ones); a bad
// value also takes its default and is reported in the error, which lists
// every problem.
func ParsePolicy(labels map[string]string, zeroDuration, downWindow time.Duration) (Policy, error) {
	var errs []error
	p := Policy{
		Min: parseLabel(labels, LabelMin, DefaultMin, &errs, parseCount),
		Max: parseLabel(labels, LabelMax, DefaultMax, &errs, parseCount),
		Target: parseLabel(labels, LabelTarget, DefaultTarget, &errs,
			positiveFloat(math.MaxFloat64)),
		Proportion:   parseLabel(labels, LabelProportion, DefaultProportion, &errs, positiveFloat(1)),
		Mode:         parseLabel(labels, LabelType, DefaultType, &errs, parseMode),
		ZeroDuration: parseLabel(labels, LabelZeroDuration, zeroDuration, &errs, parseDuration),
		DownWindow:   parseLabel(labels, LabelDownWindow, downWindow, &errs, parseDuration),
	}
	switch strings.ToLower(labels[LabelZero]) {
	case "true", "1":
		p.Zero = true
	case "", "false", "0":
	default:
		errs = append(errs, fmt.Errorf("label %s=%q: use true or false", LabelZero, labels[LabelZero]))
	}
	if v := strings.TrimSpace(labels[LabelType]); v != "" {
		if _, err := parseMode(v); err != nil {
			p.Mode = "" // an unknown mode: do not guess, leave the function alone
		}
	}
	if p.Max < p.Min {
		errs = append(errs, fmt.Errorf("label %s=%d is below %s=%d; using %d for both", LabelMax, p.Max, LabelMin, p.Min, p.Min))
		p.Max = p.Min
	}
	return p, errors.Join(errs...)
}

// parseLabel parses labels[key] with parse, or returns def when the label
// is missing or bad (adding the problem to errs).
func parseLabel[T any](labels map[string]string, key string, def T, errs *[]error, parse func(string) (T, error)) T {
	v, ok := labels[key]
	if !ok || strings.TrimSpace(v) == "" {
		return def
	}
	out, err := parse(strings.TrimSpace(v))
	if err != nil {
		*errs = append(*errs, fmt.Errorf("label %s=%q: %w", key, v, err))
		return def
	}
	return out
}

func parseCount(s string) (uint64, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, errors.New("not a whole number ≥ 0")
	}
	return n, nil
}

func positiveFloat(limit float64) func(string) (float64, error) {
	return func(s string) (float64, error) {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || !(f > 0) || f > limit {
			return 0, fmt.Errorf("not a number in (0, %g]", limit)
		}
		return f, nil
	}
}

func parseMode(s string) (string, error) {
	switch m := strings.ToLower(s); m {
	case ModeRPS, ModeCapacity, ModeCPU:
		return m, nil
	}
	return "", errors.New("unknown mode: use rps, capacity or cpu")
}

// parseDuration reads a Go duration ("15m") or whole seconds ("900").
func parseDuration(s string) (time.Duration, error) {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, errors.New("not a duration such as 30s or 15m")
	}
	return d, nil
}
