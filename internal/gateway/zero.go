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

// ScaleFromZero configures how the gateway wakes functions at zero replicas.
type ScaleFromZero struct {
	// Enabled holds a call to a function with no ready replica while one
	// starts (scaling it to max(1, com.openfaas.scale.min) when it is at
	// zero), instead of answering 503 at once.
	Enabled bool
	// Wait bounds how long a call is held (default 30s); the invocation's
	// upstream timeout bounds it too. After it the call gets 503 with the
	// reason.
	Wait time.Duration
	// Poll is the longest pause between two readiness checks while a
	// replica starts (default 20ms; the first checks come sooner).
	Poll time.Duration
}

// waker wraps a provider's Resolve: when no replica is ready it starts one
// and holds the call until it is, sharing one start among concurrent calls.
type waker struct {
	p     provider.Provider
	cfg   ScaleFromZero
	log   *slog.Logger
	mu    sync.Mutex
	wakes map[string]*wake // by "name.namespace"
}

// wake is one start of a function that callers wait on.
type wake struct {
	done chan struct{} // closed when err is set
	err  error
}

func newWaker(p provider.Provider, cfg ScaleFromZero, log *slog.Logger) *waker {
	cfg.Wait = cmp.Or(cfg.Wait, 30*time.Second)
	cfg.Poll = cmp.Or(cfg.Poll, 20*time.Millisecond)
	return &waker{p: p, cfg: cfg, log: log, wakes: map[string]*wake{}}
}

// Resolve resolves as the provider does. When no replica is ready and the
// function is at zero replicas, or a start of it is under way, the call
// waits for that start; a function that has replicas which are not ready
// (crashing, say) gets the provider's answer at once.
func (w *waker) Resolve(ctx context.Context, name, namespace string) (provider.Target, error) {
	t, err := w.p.Resolve(ctx, name, namespace)
	if err == nil || !errors.Is(err, provider.ErrNoReplicas) {
		return t, err
	}
	wk := w.join(ctx, name, namespace)
	if wk == nil {
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

// join returns the start under way for the function, or begins one when it
// is at zero replicas; nil means there is nothing to wait for.
func (w *waker) join(ctx context.Context, name, namespace string) *wake {
	key := api.JoinName(name, namespace)
	w.mu.Lock()
	wk, ok := w.wakes[key]
	w.mu.Unlock()
	if ok {
		return wk
	}
	st, err := w.p.Function(ctx, name, namespace, false)
	if err != nil || st.Replicas > 0 {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if wk, ok := w.wakes[key]; ok {
		return wk
	}
	wk = &wake{done: make(chan struct{})}
	w.wakes[key] = wk
	// The start runs on its own, bounded by Wait, so a caller that leaves
	// does not cancel it for the others.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.Wait)
	go func() {
		defer cancel()
		wk.err = w.wakeUp(wctx, name, namespace, st.Labels)
		w.mu.Lock()
		delete(w.wakes, key)
		w.mu.Unlock()
		close(wk.done)
	}()
	return wk
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
