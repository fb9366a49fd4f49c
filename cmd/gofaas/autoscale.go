package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/gofaas/gofaas/internal/autoscale"
	"github.com/gofaas/gofaas/internal/gateway"
	"github.com/gofaas/gofaas/internal/metrics"
)

// autoscaleOptions are the settings of the autoscaler, scale to and from
// zero, and the separate metrics port in `gofaas server`.
type autoscaleOptions struct {
	load         bool
	interval     time.Duration
	loadWindow   time.Duration
	downWindow   time.Duration
	zeroDuration time.Duration
	fromZero     bool
	fromZeroWait time.Duration
	metricsPort  int
	metricsBind  string
}

func (o *autoscaleOptions) addFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.load, "autoscale", true, "scale functions on load (rps, capacity or cpu); false keeps only scale to zero, e.g. when AlertManager drives /system/alert")
	fs.DurationVar(&o.interval, "scale-interval", 2*time.Second, "how often the autoscaler polls functions and metrics")
	fs.DurationVar(&o.loadWindow, "scale-load-window", 10*time.Second, "span the load of a function is averaged over")
	fs.DurationVar(&o.downWindow, "scale-down-window", 2*time.Minute, "how long load must stay low before replicas are removed (label com.openfaas.scale.down.window)")
	fs.DurationVar(&o.zeroDuration, "scale-zero-duration", 15*time.Minute, "idle time before a function labelled com.openfaas.scale.zero=true goes to zero replicas")
	fs.BoolVar(&o.fromZero, "scale-from-zero", true, "hold calls to a function with no ready replica while one starts")
	fs.DurationVar(&o.fromZeroWait, "scale-from-zero-wait", 30*time.Second, "longest a call is held while its function starts; then 503")
	fs.IntVar(&o.metricsPort, "metrics-port", 0, "also serve /metrics and /healthz without auth on this port (as OpenFaaS's 8082); 0 = off")
	fs.StringVar(&o.metricsBind, "metrics-bind", "127.0.0.1", "address the metrics port listens on")
}

func (o *autoscaleOptions) validate() error {
	var errs []error
	for _, f := range []struct {
		flag string
		d    time.Duration
	}{
		{"--scale-interval", o.interval}, {"--scale-load-window", o.loadWindow}, {"--scale-down-window", o.downWindow},
		{"--scale-zero-duration", o.zeroDuration}, {"--scale-from-zero-wait", o.fromZeroWait},
	} {
		if f.d <= 0 {
			errs = append(errs, fmt.Errorf("%s %s must be positive", f.flag, f.d))
		}
	}
	if o.metricsPort < 0 || o.metricsPort > 65535 {
		errs = append(errs, fmt.Errorf("--metrics-port %d is not a TCP port", o.metricsPort))
	}
	if net.ParseIP(o.metricsBind) == nil {
		errs = append(errs, fmt.Errorf("--metrics-bind %q is not an IP address", o.metricsBind))
	}
	return errors.Join(errs...)
}

// checkWith checks the autoscaler's flags against the server's own: the
// metrics port must differ from the main one.
func (o *autoscaleOptions) checkWith(h *httpOptions) error {
	if o.metricsPort != 0 && o.metricsPort == h.port {
		return fmt.Errorf("--metrics-port %d is also --port; use another port or 0 (off)", o.metricsPort)
	}
	return nil
}

// warnings lists settings that work but probably not as meant.
func (o *autoscaleOptions) warnings(h *httpOptions) []string {
	var w []string
	if o.fromZero && o.fromZeroWait > h.upstreamTimeout {
		w = append(w, fmt.Sprintf("--scale-from-zero-wait %v is longer than --upstream-timeout %v, which ends a held call first",
			o.fromZeroWait, h.upstreamTimeout))
	}
	if o.loadWindow < o.interval {
		w = append(w, fmt.Sprintf("--scale-load-window %v is shorter than --scale-interval %v: load is measured over one interval instead",
			o.loadWindow, o.interval))
	}
	return w
}

// setup starts the autoscaler and the metrics port, and hooks scale from
// zero into the gateway.
func (o *autoscaleOptions) setup(ctx context.Context, p *serverParts) error {
	if err := o.validate(); err != nil {
		return err
	}
	a, err := autoscale.New(p.backend, p.metrics, autoscale.Config{
		Interval: o.interval, LoadWindow: o.loadWindow, DownWindow: o.downWindow,
		ZeroDuration: o.zeroDuration, ZeroOnly: !o.load, Log: p.log,
	})
	if err != nil {
		return err
	}
	actx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); a.Run(actx) }()
	p.onStop(func() { cancel(); <-done })
	p.gateway.ScaleFromZero = gateway.ScaleFromZero{Enabled: o.fromZero, Wait: o.fromZeroWait}
	p.log.Info("autoscaler started", "autoscale", o.load, "interval", o.interval, "load_window", o.loadWindow,
		"down_window", o.downWindow, "zero_duration", o.zeroDuration, "scale_from_zero", o.fromZero,
		"scale_from_zero_wait", o.fromZeroWait)
	if o.metricsPort == 0 {
		return nil
	}
	return o.serveMetrics(p.metrics, p.log, p.onStop)
}

// serveMetrics serves /metrics and /healthz on the metrics port until the
// server stops.
func (o *autoscaleOptions) serveMetrics(m *metrics.Gateway, log *slog.Logger, onStop func(func())) error {
	addr := net.JoinHostPort(o.metricsBind, strconv.Itoa(o.metricsPort))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on metrics port %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("OK")) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, MaxHeaderBytes: 1 << 20,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics port stopped", "error", err)
		}
	}()
	onStop(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-done
	})
	log.Info("metrics port open", "url", "http://"+ln.Addr().String()+"/metrics")
	return nil
}
