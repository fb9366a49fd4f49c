package autoscale

import (
	"cmp"
	"context"
	"time"

	"github.com/gofaas/gofaas/internal/metrics"
	"github.com/gofaas/gofaas/pkg/api"
)

// fnState is what the autoscaler remembers of one function between ticks.
type fnState struct {
	samples    []sample // within the load window, oldest first
	recs       []rec    // desired counts within the down window, oldest first
	lastActive time.Time
	started    uint64 // metrics.Load.Started at the previous tick
	lastSet    uint64 // replicas the autoscaler last saw or set
	problems   string // label problems already logged
}

type sample struct {
	at       time.Time
	started  uint64
	inflight int64
	cpu      float64
}

type rec struct {
	at time.Time
	n  uint64
}

// decision is one outcome of a tick for a function, with its inputs.
type decision struct {
	function                   string
	policy                     Policy
	load                       float64
	ready, current, want, hold uint64
	reason                     string
}

// function polls, records and, if needed, scales one function.
func (a *Autoscaler) function(ctx context.Context, key string, st api.FunctionStatus) {
	now := time.Now()
	s := a.stateOf(key, now, st.Replicas)
	pol, err := ParsePolicy(st.Labels, a.cfg.ZeroDuration, a.cfg.DownWindow)
	if err != nil && err.Error() != s.problems {
		a.log.Warn("ignoring bad scaling labels", "function", key, "error", err)
	}
	s.problems = errString(err)
	a.observe(ctx, key, st, pol, s, now)
	d := a.decide(key, st, pol, s, now)
	if d.reason == "" {
		return
	}
	a.apply(ctx, d, st, s)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (a *Autoscaler) stateOf(key string, now time.Time, replicas uint64) *fnState {
	s, ok := a.state[key]
	if !ok {
		// A function first seen counts as active now, so one never called
		// is idled zero-duration later (faas-idler#31), and its current
		// count is held for one down window (a restart keeps its scale).
		s = &fnState{lastActive: now, started: a.m.Load(key).Started, lastSet: replicas,
			recs: []rec{{at: now, n: replicas}}}
		a.state[key] = s
	}
	return s
}

// observe records the function's load and usage and feeds the gauges.
func (a *Autoscaler) observe(ctx context.Context, key string, st api.FunctionStatus, pol Policy, s *fnState, now time.Time) {
	l := a.m.Load(key)
	if l.Started != s.started || l.InFlight > 0 {
		s.lastActive = now
	}
	s.started = l.Started
	smp := sample{at: now, started: l.Started, inflight: l.InFlight}
	ms := metrics.Sample{Desired: st.Replicas, Available: st.AvailableReplicas}
	if ur, ok := a.s.(UsageReader); ok && st.Replicas > 0 {
		if u, err := ur.Function(ctx, st.Name, st.Namespace, true); err == nil && u.Usage != nil {
			smp.cpu = u.Usage.CPU
			ms.HasUsage, ms.CPUMillicores, ms.MemoryBytes = true, u.Usage.CPU, u.Usage.TotalMemoryBytes
		} else if err != nil {
			a.log.Debug("reading usage", "function", key, "error", err)
		}
	}
	a.m.SetFunction(key, ms)
	s.samples = append(s.samples, smp)
	// Keep the newest sample at or before the window's start as the base
	// of the rate.
	from := now.Add(-a.cfg.LoadWindow)
	for len(s.samples) > 1 && !s.samples[1].at.After(from) {
		s.samples = s.samples[1:]
	}
}

// load is the function's load in the policy's mode over the load window.
func (s *fnState) load(mode string) float64 {
	n := len(s.samples)
	switch mode {
	case ModeRPS:
		first, last := s.samples[0], s.samples[n-1]
		el := last.at.Sub(first.at).Seconds()
		if el <= 0 || last.started < first.started {
			return 0
		}
		return float64(last.started-first.started) / el
	case ModeCapacity:
		var sum float64
		for _, x := range s.samples {
			sum += float64(max(0, x.inflight))
		}
		return sum / float64(n)
	case ModeCPU:
		var sum float64
		for _, x := range s.samples {
			sum += x.cpu
		}
		return sum / float64(n)
	}
	return 0
}

// decide works out what to do with a function; an empty reason means
// leave it as it is.
func (a *Autoscaler) decide(key string, st api.FunctionStatus, pol Policy, s *fnState, now time.Time) decision {
	cur := st.Replicas
	d := decision{function: key, policy: pol, ready: st.AvailableReplicas, current: cur, want: cur}
	if cur != s.lastSet {
		// Someone else scaled it (a user, /system/alert, scale from
		// zero): hold their count for one down window.
		s.recs = append(s.recs, rec{at: now, n: cur})
		s.lastSet = cur
	}
	if cur == 0 {
		s.recs = s.recs[:0]
		return d // at zero: the gateway wakes it on the next call
	}
	if l := s.samples[len(s.samples)-1]; pol.Zero && l.inflight <= 0 && now.Sub(s.lastActive) >= pol.ZeroDuration {
		d.want, d.reason = 0, "idle for zero-duration"
		return d
	}
	if a.cfg.ZeroOnly || pol.Fixed() || pol.Mode == "" {
		return d
	}
	d.load = s.load(pol.Mode)
	desired := pol.Desired(d.load)
	s.recs = append(s.recs, rec{at: now, n: desired})
	from := now.Add(-pol.DownWindow)
	for len(s.recs) > 0 && s.recs[0].at.Before(from) {
		s.recs = s.recs[1:]
	}
	d.hold = desired
	for _, r := range s.recs {
		d.hold = max(d.hold, r.n)
	}
	switch {
	case desired > cur:
		d.want, d.reason = desired, "load above target"
	case d.hold < cur:
		d.want, d.reason = d.hold, "load below target for the down window"
	case desired < cur:
		a.logDecision(d, "holding for the down window", desired)
	}
	return d
}

// apply scales the function as d says and logs the decision.
func (a *Autoscaler) apply(ctx context.Context, d decision, st api.FunctionStatus, s *fnState) {
	a.logDecision(d, d.reason, d.want)
	ns := cmp.Or(st.Namespace, a.cfg.DefaultNamespace)
	if err := a.s.Scale(ctx, st.Name, ns, d.want); err != nil {
		a.log.Warn("scaling function", "function", d.function, "replicas", d.want, "error", err)
		return
	}
	s.lastSet = d.want
}

func (a *Autoscaler) logDecision(d decision, reason string, desired uint64) {
	lvl := a.log.Info
	if desired == d.current || reason == "holding for the down window" {
		lvl = a.log.Debug
	}
	lvl("autoscaler decision", "function", d.function, "mode", d.policy.Mode, "load", d.load,
		"target", d.policy.Target, "proportion", d.policy.Proportion, "min", d.policy.Min, "max", d.policy.Max,
		"ready", d.ready, "current", d.current, "desired", desired, "reason", reason)
}
