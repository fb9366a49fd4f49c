package gateway

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/gofaas/gofaas/internal/provider"
	"github.com/gofaas/gofaas/pkg/api"
)

// ScaleFromZero configures how the gateway holds calls to functions with no
// ready replica: at zero replicas, and while replicas start.
type ScaleFromZero struct {
	// Enabled holds a call to a function with no ready replica while one
	// starts, instead of answering 503 at once: a function at zero replicas
	// is scaled to max(1, com.openfaas.scale.min); one whose replicas were
	// started through this gateway (deploy, update, scale) less than Wait
	// ago is waited for. A function whose replicas are not ready for longer
	// (crashing, say) still gets 503 at once.
	Enabled bool
	// Wait bounds how long a call is held (default 30s): from the scale
	// from zero, or from the deploy, update or scale that started the
	// replicas. The invocation's upstream timeout bounds it too. After it
	// the call gets 503 with the reason.
	Wait time.Duration
	// Poll is the longest pause between two readiness checks while a
	// replica starts (default 20ms; the first checks come sooner).
	Poll time.Duration
	// HoldAtStart counts the gateway's own start as a start of every
	// function, for a back-end that starts its functions' replicas as the
	// gateway starts (gofaas server restores them): calls in the first
	// Wait that find replicas starting are held.
	HoldAtStart bool
}

// waker wraps a provider's Resolve: when no replica is ready it starts one,
// or waits for those starting, and holds the call until one is ready,
// sharing one wait among concurrent calls.
type waker struct {
	p        provider.Provider
	cfg      ScaleFromZero
	log      *slog.Logger
	launched time.Time // the gateway's start with HoldAtStart, else zero

	mu     sync.Mutex
	wakes  map[string]*wake     // by "name.namespace"
	starts map[string]time.Time // by "name.namespace": latest start through the gateway
}

// wake is one start of a function, or one wait for its starting replicas,
// that callers wait on.
type wake struct {
	done chan struct{} // closed when err is set
	err  error
}

func newWaker(p provider.Provider, cfg ScaleFromZero, log *slog.Logger) *waker {
	cfg.Wait = cmp.Or(cfg.Wait, 30*time.Second)
	cfg.Poll = cmp.Or(cfg.Poll, 20*time.Millisecond)
	w := &waker{p: p, cfg: cfg, log: log, wakes: map[string]*wake{}, starts: map[string]time.Time{}}
	if cfg.HoldAtStart {
		w.launched = time.Now()
	}
	return w
}

// Resolve resolves as the provider does. When no replica is ready and the
// function is at zero replicas, or its replicas are starting, the call
// waits for them; a function whose replicas have not been ready for longer
// than Wait (crashing, say) gets the provider's answer at once.
func (w *waker) Resolve(ctx context.Context, name, namespace string) (provider.Target, error) {
	t, err := w.p.Resolve(ctx, name, namespace)
	if err == nil || !errors.Is(err, provider.ErrNoReplicas) {
		return t, err
	}
	wk, ready := w.join(ctx, name, namespace)
	switch {
	case ready:
		return w.p.Resolve(ctx, name, namespace)
	case wk == nil:
		// Nothing to wait for; a wake that ended since the first try may
		// have left a ready replica.
		if t, err2 := w.p.Resolve(ctx, name, namespace); err2 == nil {
			return t, nil
		}
		return t, err
	}
	select {
	case <-wk.done:
	case <-ctx.Done():
		return provider.Target{}, fmt.Errorf("%w: function %s is starting; no replica was ready before the call's deadline",
			provider.ErrNoReplicas, api.JoinName(name, namespace))
	}
	if wk.err != nil {
		return provider.Target{}, wk.err
	}
	return w.p.Resolve(ctx, name, namespace)
}

// join returns the wake under way for the function, or begins one: a
// start when it is at zero replicas, a wait when its replicas are starting.
// A nil wake means there is nothing to wait for; ready means a replica
// became available meanwhile.
func (w *waker) join(ctx context.Context, name, namespace string) (wk *wake, ready bool) {
	key := api.JoinName(name, namespace)
	w.mu.Lock()
	wk = w.wakes[key]
	w.mu.Unlock()
	if wk != nil {
		return wk, false
	}
	st, err := w.p.Function(ctx, name, namespace, false)
	switch {
	case err != nil:
		return nil, false
	case st.AvailableReplicas > 0:
		return nil, true
	case st.Replicas == 0:
		return w.begin(ctx, key, time.Now().Add(w.cfg.Wait), func(ctx context.Context) error {
			return w.wakeUp(ctx, name, namespace, st.Labels)
		}), false
	}
	// Replicas are starting: maybe by a wake that began after the check
	// above (its Scale is what this call saw), which it must join.
	w.mu.Lock()
	wk = w.wakes[key]
	w.mu.Unlock()
	if wk != nil {
		return wk, false
	}
	until, ok := w.startingUntil(key)
	if !ok {
		return nil, false
	}
	return w.begin(ctx, key, until, func(ctx context.Context) error {
		return w.awaitStart(ctx, name, namespace)
	}), false
}

// begin returns the wake under way for key, or starts run as a new one
// bounded by deadline. The run does not end with the caller's context, so a
// caller that leaves does not cancel it for the others.
func (w *waker) begin(ctx context.Context, key string, deadline time.Time, run func(context.Context) error) *wake {
	w.mu.Lock()
	defer w.mu.Unlock()
	if wk, ok := w.wakes[key]; ok {
		return wk
	}
	wk := &wake{done: make(chan struct{})}
	w.wakes[key] = wk
	wctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	go func() {
		defer cancel()
		wk.err = run(wctx)
		w.mu.Lock()
		delete(w.wakes, key)
		w.mu.Unlock()
		close(wk.done)
	}()
	return wk
}

// started notes that replicas of the function may be starting now: it was
// deployed, updated or scaled up through the gateway.
func (w *waker) started(name, namespace string) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, at := range w.starts {
		if now.Sub(at) >= w.cfg.Wait {
			delete(w.starts, k)
		}
	}
	w.starts[api.JoinName(name, namespace)] = now
}

// startingUntil returns how long calls to the function may be held while
// its replicas start: until Wait after its latest start (or the gateway's,
// with HoldAtStart); ok is false once that has passed.
func (w *waker) startingUntil(key string) (until time.Time, ok bool) {
	w.mu.Lock()
	at := w.starts[key]
	w.mu.Unlock()
	if w.launched.After(at) {
		at = w.launched
	}
	if at.IsZero() {
		return time.Time{}, false
	}
	until = at.Add(w.cfg.Wait)
	return until, time.Now().Before(until)
}

// awaitStart waits for the starting replicas of a function.
func (w *waker) awaitStart(ctx context.Context, name, namespace string) error {
	fn := api.JoinName(name, namespace)
	begin := time.Now()
	w.log.Debug("holding calls while replicas start", "function", fn)
	if err := w.awaitReady(ctx, name, namespace); err != nil {
		w.log.Warn("function did not become ready", "function", fn, "after", time.Since(begin), "error", err)
		return err
	}
	w.log.Debug("function ready", "function", fn, "after", time.Since(begin))
	return nil
}

// wakeUp scales a function at zero to max(1, com.openfaas.scale.min) and
// waits until a replica is available.
func (w *waker) wakeUp(ctx context.Context, name, namespace string, labels map[string]string) error {
	fn := api.JoinName(name, namespace)
	begin := time.Now()
	n := scaleFromZeroReplicas(labels)
	if err := w.p.Scale(ctx, name, namespace, n); err != nil {
		return fmt.Errorf("%w: scaling %s from zero: %w", provider.ErrNoReplicas, fn, err)
	}
	w.log.Info("scaling from zero", "function", fn, "replicas", n)
	if err := w.awaitReady(ctx, name, namespace); err != nil {
		w.log.Warn("function did not wake", "function", fn, "after", time.Since(begin), "error", err)
		return err
	}
	w.log.Debug("function awake", "function", fn, "after", time.Since(begin))
	return nil
}

// awaitReady polls until the function has an available replica: every
// millisecond at first, slowing to Config.Poll.
func (w *waker) awaitReady(ctx context.Context, name, namespace string) error {
	delay := time.Millisecond
	t := time.NewTimer(delay)
	defer t.Stop()
	var st api.FunctionStatus
	for {
		select {
		case <-ctx.Done():
			return w.notReady(ctx, name, namespace, st)
		case <-t.C:
		}
		var err error
		st, err = w.p.Function(ctx, name, namespace, false)
		switch {
		case err != nil && ctx.Err() == nil:
			return fmt.Errorf("%w: reading function %s: %w", provider.ErrNoReplicas, api.JoinName(name, namespace), err)
		case st.AvailableReplicas > 0:
			return nil
		}
		delay = min(delay+delay/2+time.Millisecond/2, w.cfg.Poll)
		t.Reset(delay)
	}
}

// notReady is the reason a held call gets: what the function looked like
// and, when the back-end keeps logs, its last line.
func (w *waker) notReady(ctx context.Context, name, namespace string, st api.FunctionStatus) error {
	var last string
	if line := w.lastLogLine(ctx, name, namespace); line != "" {
		last = "; its last log line: " + line
	}
	return fmt.Errorf("%w: function %s did not become ready within %s (%d desired, %d available)%s",
		provider.ErrNoReplicas, api.JoinName(name, namespace), w.cfg.Wait, st.Replicas, st.AvailableReplicas, last)
}

// lastLogLine returns the function's newest log line, if the back-end
// keeps logs and answers within a second.
func (w *waker) lastLogLine(ctx context.Context, name, namespace string) string {
	lg, ok := w.p.(provider.Logs)
	if !ok {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	ch, err := lg.Logs(ctx, api.LogRequest{Name: name, Namespace: namespace, Tail: 1})
	if err != nil {
		return ""
	}
	var last string
	for m := range ch {
		last = m.Text
	}
	return last
}

// scaleFromZeroReplicas is max(1, com.openfaas.scale.min).
func scaleFromZeroReplicas(labels map[string]string) uint64 {
	n, err := strconv.ParseUint(labels[labelScaleMin], 10, 64)
	if err != nil {
		return 1
	}
	return max(1, n)
}
