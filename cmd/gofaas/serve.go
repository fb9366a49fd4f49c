package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gofaas/gofaas/internal/lane"
	"github.com/gofaas/gofaas/pkg/api"
)

// httpOptions are the listener, timeout and logging settings every server
// role shares. Flags win over the OpenFaaS environment variables
// (read_timeout, write_timeout, upstream_timeout), which win over defaults.
type httpOptions struct {
	bind            string
	port            int
	readTimeout     time.Duration
	writeTimeout    time.Duration
	upstreamTimeout time.Duration
	maxBodyBytes    int64
	logLevel        string
	logFormat       string
}

func (o *httpOptions) addFlags(fs *pflag.FlagSet, defPort int) {
	fs.StringVar(&o.bind, "bind", "127.0.0.1", "address to listen on (0.0.0.0 for every interface)")
	fs.IntVar(&o.port, "port", defPort, "TCP port to listen on (0 picks a free one)")
	fs.DurationVar(&o.readTimeout, "read-timeout", 65*time.Second, "longest time to read a request (env read_timeout)")
	fs.DurationVar(&o.writeTimeout, "write-timeout", 65*time.Second, "longest time to write a response (env write_timeout)")
	fs.DurationVar(&o.upstreamTimeout, "upstream-timeout", 60*time.Second, "longest time a function may take to answer (env upstream_timeout)")
	fs.Int64Var(&o.maxBodyBytes, "max-body-bytes", 1<<20, "largest JSON body accepted on /system/*")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "text", "text or json")
}

// timeout is one timeout setting: its flag, its OpenFaaS variable, its value.
type timeout struct {
	flag, env string
	d         time.Duration
}

func (o *httpOptions) timeouts() [3]timeout {
	return [...]timeout{
		{"read-timeout", "read_timeout", o.readTimeout},
		{"write-timeout", "write_timeout", o.writeTimeout},
		{"upstream-timeout", "upstream_timeout", o.upstreamTimeout},
	}
}

// applyEnv reads the OpenFaaS timeout variables for flags not given, then
// validates; it reports every problem, each naming its flag or variable.
func (o *httpOptions) applyEnv(fs *pflag.FlagSet, getenv func(string) string) error {
	var errs []error
	for _, te := range o.timeouts() {
		v := getenv(te.env)
		if v == "" || fs.Changed(te.flag) {
			continue
		}
		d, err := parseDuration(v)
		if err == nil {
			err = fs.Set(te.flag, d.String())
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("env %s=%q: %w", te.env, v, err))
		}
	}
	return errors.Join(append(errs, o.validate())...)
}

func (o *httpOptions) validate() error {
	var errs []error
	if o.port < 0 || o.port > 65535 {
		errs = append(errs, fmt.Errorf("--port %d is not a TCP port", o.port))
	}
	if net.ParseIP(o.bind) == nil {
		errs = append(errs, fmt.Errorf("--bind %q is not an IP address", o.bind))
	}
	for _, t := range o.timeouts() {
		if t.d <= 0 {
			errs = append(errs, fmt.Errorf("--%s (env %s) %v must be positive", t.flag, t.env, t.d))
		}
	}
	if o.maxBodyBytes <= 0 {
		errs = append(errs, fmt.Errorf("--max-body-bytes %d must be positive", o.maxBodyBytes))
	}
	if _, err := parseLevel(o.logLevel); err != nil {
		errs = append(errs, err)
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		errs = append(errs, fmt.Errorf("--log-format %q: use text or json", o.logFormat))
	}
	return errors.Join(errs...)
}

// warnings lists settings that work but probably not as meant.
func (o *httpOptions) warnings() []string {
	var w []string
	if o.upstreamTimeout >= o.readTimeout || o.upstreamTimeout >= o.writeTimeout {
		w = append(w, fmt.Sprintf("--upstream-timeout %v is not below --read-timeout %v and --write-timeout %v: a slow function's answer may be cut off",
			o.upstreamTimeout, o.readTimeout, o.writeTimeout))
	}
	return w
}

// configError lists every problem found in a command's flags and
// environment, one per line.
type configError struct{ err error }

// checkConfig returns nil when errs are all nil, else a *configError
// listing them.
func checkConfig(errs ...error) error {
	if err := errors.Join(errs...); err != nil {
		return &configError{err}
	}
	return nil
}

func (e *configError) Error() string {
	lines := strings.Split(e.err.Error(), "\n")
	return fmt.Sprintf("invalid configuration (%d problems):\n  %s", len(lines), strings.Join(lines, "\n  "))
}

func (e *configError) Unwrap() error { return e.err }

// reportValid is --check-config's answer for a valid configuration.
func reportValid(cmd *cobra.Command, warnings []string) error {
	out := cmd.OutOrStdout()
	for _, w := range warnings {
		fmt.Fprintln(out, "warning:", w)
	}
	fmt.Fprintln(out, "configuration is valid")
	return nil
}

// parseDuration reads durations as OpenFaaS does: a bare integer is seconds,
// anything else a Go duration.
func parseDuration(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(s)
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level %q: use debug, info, warn or error", s)
	}
	return l, nil
}

func (o *httpOptions) logger() *slog.Logger {
	level, _ := parseLevel(o.logLevel)
	hopts := &slog.HandlerOptions{Level: level}
	if o.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, hopts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, hopts))
}

func (o *httpOptions) listen() (net.Listener, error) {
	addr := net.JoinHostPort(o.bind, strconv.Itoa(o.port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	return ln, nil
}

// serve runs h on ln until ctx ends, then shuts down gracefully.
func (o *httpOptions) serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       o.readTimeout,
		WriteTimeout:      o.writeTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	var shortcut func(*lane.Exchange) bool
	if r, ok := h.(interface{ Relay(*lane.Exchange) bool }); ok {
		shortcut = r.Relay // the gateway's: ordinary invocations below the http.Handler
	}
	ls := lane.Wrap(srv, func(_, path string) bool { return strings.HasPrefix(path, api.PathInvoke) }, shortcut)
	errc := make(chan error, 1)
	go func() { errc <- ls.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving http: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ls.Shutdown(sctx); err != nil {
		ls.Close()
	}
	return nil
}

// baseURL is how a person reaches ln.
func baseURL(ln net.Listener) string {
	addr := ln.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(addr.Port))
}

// expandHome turns a leading ~ into the user's home folder.
func expandHome(p string) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return filepath.Abs(p)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding home folder for %s: %w", p, err)
	}
	return filepath.Join(home, strings.TrimPrefix(p, "~")), nil
}

// logWarnings logs what --check-config would warn about.
func logWarnings(log *slog.Logger, warnings []string) {
	for _, w := range warnings {
		log.Warn("configuration may not be what was meant", "warning", w)
	}
}
