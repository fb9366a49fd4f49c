// Package watchdog is fwatchdog, the process that runs inside every function
// replica: it serves the function over HTTP in the classic watchdog's
// fork-per-request mode or in one of of-watchdog's modes (http, streaming,
// serializing, static), with /_/health and /_/ready, the lock file,
// max_inflight, timeouts, the SIGTERM drain and Prometheus metrics on their
// own port.
//
// It owns the watchdog's configuration (OpenFaaS-compatible env vars), its
// child processes and its metrics registry. It imports only pkg/api and the
// standard library (plus the Prometheus client), so the binary stays small.
package watchdog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofaas/gofaas/internal/lane"
)

// ErrUpstreamExited is returned by Serve when the http-mode upstream process
// exits; the watchdog restarts nothing itself.
var ErrUpstreamExited = errors.New("upstream process exited")

// Options are the watchdog's collaborators; zero values are safe.
type Options struct {
	// Logger receives the watchdog's own logs; nil discards them.
	Logger *slog.Logger
	// Stdout and Stderr receive the function's log lines; nil discards them.
	Stdout, Stderr io.Writer
}

// Watchdog serves one function. Create it with New and run it with Run or
// Serve, once.
type Watchdog struct {
	cfg     Config
	log     *slog.Logger
	stdout  io.Writer
	stderr  io.Writer
	outMu   sync.Mutex
	errMu   sync.Mutex
	environ []string
	program string   // fprocess's program, resolved in PATH
	args    []string // fprocess's arguments
	metrics *metrics

	fn       http.Handler // the mode handler, behind the function middleware
	handler  http.Handler // the whole main API
	up       *upstream    // http mode only
	inflight atomic.Int64
	ready    chan struct{} // closed once the function can serve
	serving  atomic.Bool   // ready and not draining
	procs    procSet
}

// New checks cfg and builds a watchdog.
func New(cfg Config, opts Options) (*Watchdog, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	w := &Watchdog{
		cfg:     cfg,
		log:     opts.Logger,
		stdout:  opts.Stdout,
		stderr:  opts.Stderr,
		environ: cfg.Environ,
		metrics: newMetrics(),
		ready:   make(chan struct{}),
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.stdout == nil {
		w.stdout = io.Discard
	}
	if w.stderr == nil {
		w.stderr = io.Discard
	}
	if w.environ == nil {
		w.environ = os.Environ()
	}
	w.resolveProgram()
	fn, err := w.modeHandler()
	if err != nil {
		return nil, err
	}
	w.fn = fn
	w.handler = w.routes(fn)
	return w, nil
}

// modeHandler builds the handler of the configured mode.
func (w *Watchdog) modeHandler() (http.Handler, error) {
	switch w.cfg.Mode {
	case ModeClassic:
		return http.HandlerFunc(w.serveClassic), nil
	case ModeSerializing:
		return http.HandlerFunc(w.serveSerializing), nil
	case ModeStreaming:
		return http.HandlerFunc(w.serveStreaming), nil
	case ModeStatic:
		return newStatic(w.cfg.StaticPath)
	case ModeHTTP:
		up, err := newUpstream(w)
		if err != nil {
			return nil, err
		}
		w.up = up
		return up, nil
	}
	return nil, fmt.Errorf("mode %q has no handler", w.cfg.Mode)
}

// Handler returns the main API handler (functions, /_/health, /_/ready).
func (w *Watchdog) Handler() http.Handler { return w.handler }

// MetricsHandler returns the Prometheus handler served on the metrics port.
func (w *Watchdog) MetricsHandler() http.Handler { return w.metrics.handler() }

// Run opens the listeners of the configuration (port or unix_socket, and
// metrics_port unless 0) and calls Serve.
func (w *Watchdog) Run(ctx context.Context) error {
	ln, err := w.listen()
	if err != nil {
		return err
	}
	if w.cfg.UnixSocket != "" {
		defer func() { _ = os.Remove(w.cfg.UnixSocket) }()
	}
	var mln net.Listener
	if w.cfg.MetricsPort != 0 {
		mln, err = net.Listen("tcp", fmt.Sprintf(":%d", w.cfg.MetricsPort))
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("listening for metrics (set metrics_port to another port, or 0 to turn metrics off): %w", err)
		}
	}
	return w.Serve(ctx, ln, mln)
}

func (w *Watchdog) listen() (net.Listener, error) {
	if w.cfg.UnixSocket == "" {
		ln, err := net.Listen("tcp", fmt.Sprintf(":%d", w.cfg.Port))
		if err != nil {
			return nil, fmt.Errorf("listening on port %d: %w", w.cfg.Port, err)
		}
		return ln, nil
	}
	if fi, err := os.Lstat(w.cfg.UnixSocket); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("unix_socket %s exists and is not a socket", w.cfg.UnixSocket)
		}
		if err := os.Remove(w.cfg.UnixSocket); err != nil {
			return nil, fmt.Errorf("removing stale socket: %w", err)
		}
	}
	ln, err := net.Listen("unix", w.cfg.UnixSocket)
	if err != nil {
		return nil, fmt.Errorf("listening on unix socket: %w", err)
	}
	return ln, nil
}

// Serve serves the main API on ln and metrics on mln (nil: none) until ctx
// ends, then drains: it marks itself unready, removes the lock file, keeps
// serving for healthcheck_interval, waits up to write_timeout for in-flight
// requests, and stops the function. In http mode it returns
// ErrUpstreamExited (after draining) if the upstream dies.
func (w *Watchdog) Serve(ctx context.Context, ln, mln net.Listener) error {
	var shortcut func(*lane.Exchange) bool
	if w.relays() {
		shortcut = w.relay
	}
	srv := lane.Wrap(w.newServer(w.handler), nil, shortcut)
	errc := make(chan error, 2)
	go func() { errc <- serveErr(srv.Serve(ln)) }()
	var msrv *http.Server
	if mln != nil {
		msrv = w.newServer(w.metrics.handler())
		go func() { errc <- serveErr(msrv.Serve(mln)) }()
	}
	w.log.Info("watchdog listening", "mode", w.cfg.Mode, "addr", ln.Addr().String(), "metrics", listenerAddr(mln))
	err := w.run(ctx, errc)
	w.drain(srv, msrv, err == nil)
	return err
}

// run starts the function and waits for the end: ctx done (nil), a
// listener failure or the upstream's exit (an error). It returns only once
// the start sequence has finished, so nothing is marked ready afterwards.
func (w *Watchdog) run(ctx context.Context, errc <-chan error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	startc := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		defer close(started)
		startc <- w.start(ctx)
	}()
	err := w.wait(ctx, errc, startc)
	cancel()
	<-started
	return err
}

func (w *Watchdog) wait(ctx context.Context, errc, startc <-chan error) error {
	var exited <-chan struct{}
	if w.up != nil {
		exited = w.up.exited
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return err
		case err := <-startc:
			if err != nil {
				return err
			}
			startc = nil
		case <-exited:
			return fmt.Errorf("%w: %w", ErrUpstreamExited, w.up.exitErr)
		}
	}
}

// start makes the function ready: in http mode it starts the upstream and
// waits until it accepts connections; then it writes the lock file.
func (w *Watchdog) start(ctx context.Context) error {
	if w.up != nil {
		ok, err := w.up.start(ctx)
		if err != nil || !ok {
			return err
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	if !w.cfg.SuppressLock {
		if err := os.WriteFile(w.cfg.LockPath(), nil, 0o644); err != nil {
			return fmt.Errorf("writing lock file: %w", err)
		}
	}
	w.serving.Store(true)
	close(w.ready)
	w.log.Info("watchdog ready", "lock", w.cfg.LockPath(), "suppress_lock", w.cfg.SuppressLock)
	return nil
}

// drain stops serving in the order of the SIGTERM contract.
func (w *Watchdog) drain(srv lane.HTTPServer, msrv *http.Server, graceful bool) {
	w.serving.Store(false)
	if err := os.Remove(w.cfg.LockPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		w.log.Warn("removing lock file", "err", err)
	}
	if graceful && w.cfg.HealthcheckInterval > 0 {
		w.log.Info("draining: unready, waiting for healthcheck_interval", "interval", w.cfg.HealthcheckInterval)
		time.Sleep(w.cfg.HealthcheckInterval)
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.WriteTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		w.log.Warn("in-flight requests did not finish within write_timeout; closing", "err", err)
		_ = srv.Close()
	}
	w.procs.killAll()
	if w.up != nil {
		w.up.stop(w.cfg.WriteTimeout)
	}
	if msrv != nil {
		_ = msrv.Close()
	}
	w.log.Info("watchdog stopped")
}

func (w *Watchdog) newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadTimeout:       w.cfg.ReadTimeout,
		ReadHeaderTimeout: w.cfg.ReadTimeout,
		WriteTimeout:      w.cfg.WriteTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(w.log.Handler(), slog.LevelDebug),
	}
}

func serveErr(err error) error {
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("serving: %w", err)
}

func listenerAddr(ln net.Listener) string {
	if ln == nil {
		return "off"
	}
	return ln.Addr().String()
}

// procSet tracks running function processes so a forced shutdown can kill
// them all.
type procSet struct {
	mu    sync.Mutex
	procs map[*exec.Cmd]struct{}
}

func (s *procSet) add(cmd *exec.Cmd) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.procs == nil {
		s.procs = make(map[*exec.Cmd]struct{})
	}
	s.procs[cmd] = struct{}{}
}

func (s *procSet) remove(cmd *exec.Cmd) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.procs, cmd)
}

func (s *procSet) killAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for cmd := range s.procs {
		_ = killGroup(cmd)
	}
}
