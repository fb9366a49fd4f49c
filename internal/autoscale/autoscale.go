// Package autoscale owns gofaas's built-in autoscaler: on every interval it
// polls the back-end's functions, feeds the replica, CPU and memory gauges
// of internal/metrics, turns the gateway's invocation counters into a load
// per function (rps, capacity or cpu, spec §9), and scales each function to
// ceil(load / (target × proportion)) within its min and max labels. Scale
// down waits for a stabilisation window; functions labelled
// com.openfaas.scale.zero=true go to zero replicas after zero-duration idle.
// Scale from zero is the gateway's job (internal/gateway).
//
// It imports internal/metrics and pkg/api only; back-ends satisfy its own
// narrow Scaler interface.
package autoscale

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gofaas/gofaas/internal/metrics"
	"github.com/gofaas/gofaas/pkg/api"
)

// Scaler is what the autoscaler needs of a back-end; provider.Provider
// satisfies it.
type Scaler interface {
	// Functions lists the functions of a namespace.
	Functions(ctx context.Context, namespace string) ([]api.FunctionStatus, error)
	// Scale sets a function's desired replica count.
	Scale(ctx context.Context, name, namespace string, replicas uint64) error
}

// UsageReader is optional: a Scaler that also has it is asked for CPU and
// memory per function (the cpu mode and the usage gauges need it).
type UsageReader interface {
	Function(ctx context.Context, name, namespace string, usage bool) (api.FunctionStatus, error)
}

// NamespaceLister is optional: without it only Config.DefaultNamespace is
// watched.
type NamespaceLister interface {
	NamespaceList(ctx context.Context) ([]string, error)
}

// Config configures an Autoscaler. Zero fields take the defaults given.
type Config struct {
	// Interval is how often functions are polled and scaled. Default 2s.
	Interval time.Duration
	// LoadWindow is the span load is averaged over. Default 10s.
	LoadWindow time.Duration
	// DownWindow is how long the load must ask for fewer replicas before
	// they are removed (label com.openfaas.scale.down.window). Default 2m.
	DownWindow time.Duration
	// ZeroDuration is how long a function labelled
	// com.openfaas.scale.zero=true may go without calls before it is scaled
	// to zero (label com.openfaas.scale.zero-duration). Default 15m.
	ZeroDuration time.Duration
	// ZeroOnly turns load scaling off and keeps only scale to zero, for
	// set-ups where a user's Prometheus and AlertManager drive scaling
	// through /system/alert.
	ZeroOnly bool
	// DefaultNamespace is watched when the Scaler lists no namespaces.
	// Default api.DefaultNamespace.
	DefaultNamespace string
	// Log receives one line per decision; nil discards them.
	Log *slog.Logger
}

// Defaults returns c with every zero field set to its default.
func (c Config) Defaults() Config {
	c.Interval = cmp.Or(c.Interval, 2*time.Second)
	c.LoadWindow = cmp.Or(c.LoadWindow, 10*time.Second)
	c.DownWindow = cmp.Or(c.DownWindow, 2*time.Minute)
	c.ZeroDuration = cmp.Or(c.ZeroDuration, 15*time.Minute)
	c.DefaultNamespace = cmp.Or(c.DefaultNamespace, api.DefaultNamespace)
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports every problem with c.
func (c Config) Validate() error {
	var errs []error
	for name, d := range map[string]time.Duration{"interval": c.Interval, "load window": c.LoadWindow,
		"down window": c.DownWindow, "zero duration": c.ZeroDuration} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("autoscale: %s %s is negative", name, d))
		}
	}
	return errors.Join(errs...)
}

// Autoscaler scales functions from the gateway's metrics. Run drives it.
type Autoscaler struct {
	s     Scaler
	m     *metrics.Gateway
	cfg   Config
	log   *slog.Logger
	state map[string]*fnState // by "name.namespace"; only Run's goroutine touches it
}

// New returns an autoscaler of the functions of s, reading load from m.
func New(s Scaler, m *metrics.Gateway, cfg Config) (*Autoscaler, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Autoscaler{s: s, m: m, cfg: cfg, log: cfg.Log.With("component", "autoscaler"),
		state: map[string]*fnState{}}, nil
}

// Run polls and scales every Config.Interval until ctx ends. Call it once.
func (a *Autoscaler) Run(ctx context.Context) {
	t := time.NewTicker(a.cfg.Interval)
	defer t.Stop()
	for {
		a.Tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick polls every function once and scales those that need it. Run calls
// it; it is exported for callers that drive their own clock.
func (a *Autoscaler) Tick(ctx context.Context) {
	seen := map[string]bool{}
	for _, ns := range a.namespaces(ctx) {
		fns, err := a.s.Functions(ctx, ns)
		if err != nil {
			a.log.Warn("listing functions", "namespace", ns, "error", err)
			continue
		}
		for _, st := range fns {
			key := api.JoinName(st.Name, cmp.Or(st.Namespace, ns))
			seen[key] = true
			a.function(ctx, key, st)
		}
	}
	for key := range a.state {
		if !seen[key] {
			delete(a.state, key)
			a.m.Forget(key)
		}
	}
}

func (a *Autoscaler) namespaces(ctx context.Context) []string {
	nl, ok := a.s.(NamespaceLister)
	if !ok {
		return []string{a.cfg.DefaultNamespace}
	}
	list, err := nl.NamespaceList(ctx)
	if err != nil || len(list) == 0 {
		if err != nil {
			a.log.Warn("listing namespaces", "error", err)
		}
		return []string{a.cfg.DefaultNamespace}
	}
	return list
}
