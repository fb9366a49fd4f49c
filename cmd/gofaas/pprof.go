package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// envPprof names a debugging aid: when set to a loopback host:port, the
// process serves net/http/pprof there (for profiling under load, as in
// bench/async/run.sh). It is not a flag because it is not for production.
const envPprof = "GOFAAS_PPROF"

// startPprof serves the profiling endpoints on the address in $GOFAAS_PPROF
// until the returned stop is called; without the variable it does nothing.
func startPprof(getenv func(string) string, log *slog.Logger) (stop func(), err error) {
	addr := getenv(envPprof)
	if addr == "" {
		return func() {}, nil
	}
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("env %s=%q: want a loopback host:port such as 127.0.0.1:6060", envPprof, addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening for pprof on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("pprof server stopped", "err", err)
		}
	}()
	log.Info("serving pprof (debugging aid)", "addr", ln.Addr().String())
	return func() {
		srv.Shutdown(context.Background())
		<-done
	}, nil
}
