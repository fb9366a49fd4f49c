package watchdog

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Mode selects how the watchdog runs the function.
type Mode string

// Modes of operation. ModeClassic is the fork-per-request classic watchdog,
// chosen when the env var mode is unset; the others are of-watchdog's modes.
const (
	ModeClassic     Mode = "classic"
	ModeHTTP        Mode = "http"
	ModeStreaming   Mode = "streaming"
	ModeSerializing Mode = "serializing"
	ModeStatic      Mode = "static"
)

// LockFileName is the name of the lock file written into Config.LockDir
// once the watchdog is ready.
const LockFileName = ".lock"

// Config is the watchdog's configuration. Every field maps to an
// environment variable of the classic watchdog or of-watchdog (named in the
// field's comment); the defaults are those of DefaultsFor.
type Config struct {
	// Mode is env mode; unset means ModeClassic.
	Mode Mode
	// FProcess is env fprocess (or function_process): the command, split on
	// spaces and run without a shell. Required except in static mode.
	FProcess string
	// UpstreamURL is env upstream_url (or http_upstream_url); required in
	// http mode.
	UpstreamURL string
	// Port is env port, the TCP port of the main API (default 8080).
	Port int
	// UnixSocket is env unix_socket: when set, the main API is served on this
	// Unix socket instead of Port.
	UnixSocket string
	// MetricsPort is env metrics_port (default 8081); 0 disables metrics.
	MetricsPort int
	// ReadTimeout is env read_timeout (default 30s).
	ReadTimeout time.Duration
	// WriteTimeout is env write_timeout (default 30s); must be > 0.
	WriteTimeout time.Duration
	// ExecTimeout is env exec_timeout: the longest one invocation may run;
	// 0 means no limit. Default 0 in classic mode, 30s otherwise.
	ExecTimeout time.Duration
	// HealthcheckInterval is env healthcheck_interval (default WriteTimeout):
	// how long the watchdog keeps serving, unready, after SIGTERM.
	HealthcheckInterval time.Duration
	// MaxInflight is env max_inflight; 0 means no limit (default 0).
	MaxInflight int
	// ContentType is env content_type: the response Content-Type. Default
	// "" in classic mode (the request's type), "application/octet-stream"
	// in the forking of-watchdog modes.
	ContentType string
	// WriteDebug is env write_debug: log function output (default false).
	WriteDebug bool
	// CombineOutput is env combine_output: classic mode puts stderr into
	// the response (default true).
	CombineOutput bool
	// CGIHeaders is env cgi_headers: pass request headers as Http_* env
	// vars (default true).
	CGIHeaders bool
	// MarshalRequest is env marshal_request: classic mode writes the request
	// as JSON to stdin (default false).
	MarshalRequest bool
	// SuppressLock is env suppress_lock: never write the lock file (default false).
	SuppressLock bool
	// BufferHTTP is env buffer_http (or http_buffer_req_body): http mode reads
	// the whole request body and sends it with a Content-Length (default false).
	BufferHTTP bool
	// PrefixLogs is env prefix_logs: prefix function log lines with a time and
	// "stdout:"/"stderr:" (default true).
	PrefixLogs bool
	// LogBufferSize is env log_buffer_size: the longest log line read from the
	// function before it is split (default 65536; -1 copies unbuffered).
	LogBufferSize int
	// LogCallID is env log_callid (or log_call_id): add the X-Call-Id to the
	// access log (default false).
	LogCallID bool
	// AccessLog is env access_log: one log line per request (default false).
	AccessLog bool
	// ReadyPath is env ready_path: when set, /_/ready is forwarded to the
	// function at this path.
	ReadyPath string
	// StaticPath is env static_path: the folder static mode serves
	// (default /home/app/public).
	StaticPath string
	// LockDir is env TMPDIR (default /tmp): where the lock file is written.
	LockDir string
	// JWTAuth is env jwt_auth: function requests must carry a valid bearer
	// JWT signed by the issuer's keys (default false).
	JWTAuth bool
	// JWTIssuer is env jwt_auth_issuer: the OpenID issuer whose JWKS signs
	// the tokens (default http://gateway.openfaas:8080; env jwt_auth_local
	// switches it to http://127.0.0.1:8000).
	JWTIssuer string
	// JWTAudience is env jwt_auth_audience: when set, the token's aud claim
	// must contain it.
	JWTAudience string

	// Environ is the environment passed to function processes; nil means
	// the watchdog's own environment (os.Environ).
	Environ []string
}

// Defaults returns the defaults of classic mode, what a watchdog started with
// only fprocess gets.
func Defaults() Config { return DefaultsFor(ModeClassic) }

// DefaultsFor returns the defaults for mode.
func DefaultsFor(mode Mode) Config {
	c := Config{
		Mode:          mode,
		Port:          8080,
		MetricsPort:   8081,
		ReadTimeout:   30 * time.Second,
		WriteTimeout:  30 * time.Second,
		CombineOutput: true,
		CGIHeaders:    true,
		PrefixLogs:    true,
		LogBufferSize: 65536,
		StaticPath:    "/home/app/public",
		LockDir:       "/tmp",
		JWTIssuer:     "http://gateway.openfaas:8080",
	}
	c.HealthcheckInterval = c.WriteTimeout
	if mode != ModeClassic {
		c.ExecTimeout = 30 * time.Second
		c.ContentType = "application/octet-stream"
	}
	return c
}

// FromEnviron reads the configuration from an environment slice ("k=v") and
// keeps env as the environment of function processes.
func FromEnviron(env []string) (Config, []string) {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	c, warn := FromEnv(func(k string) string { return m[k] })
	c.Environ = env
	return c, warn
}

// FromEnv reads the configuration through getenv, starting from the defaults
// of the selected mode. Values that do not parse keep their default and are
// reported in the returned warnings. Call Validate on the result.
func FromEnv(getenv func(string) string) (Config, []string) {
	r := envReader{get: getenv}
	mode := Mode(strings.TrimSpace(getenv("mode")))
	if mode == "" {
		mode = ModeClassic
	}
	c := DefaultsFor(mode)
	c.FProcess = r.first("fprocess", "function_process")
	c.UpstreamURL = r.first("upstream_url", "http_upstream_url")
	r.intVar(&c.Port, "port")
	c.UnixSocket = getenv("unix_socket")
	r.intVar(&c.MetricsPort, "metrics_port")
	r.durationVar(&c.ReadTimeout, "read_timeout")
	r.durationVar(&c.WriteTimeout, "write_timeout")
	c.HealthcheckInterval = c.WriteTimeout
	r.durationVar(&c.HealthcheckInterval, "healthcheck_interval")
	r.durationVar(&c.ExecTimeout, "exec_timeout")
	r.intVar(&c.MaxInflight, "max_inflight")
	if v, ok := r.lookup("content_type"); ok {
		c.ContentType = v
	}
	r.boolVar(&c.WriteDebug, "write_debug")
	r.boolVar(&c.CombineOutput, "combine_output")
	r.boolVar(&c.CGIHeaders, "cgi_headers")
	r.boolVar(&c.MarshalRequest, "marshal_request")
	r.boolVar(&c.SuppressLock, "suppress_lock")
	r.boolVar(&c.BufferHTTP, "buffer_http")
	r.boolVar(&c.BufferHTTP, "http_buffer_req_body")
	r.boolVar(&c.PrefixLogs, "prefix_logs")
	r.intVar(&c.LogBufferSize, "log_buffer_size")
	r.boolVar(&c.LogCallID, "log_callid")
	r.boolVar(&c.LogCallID, "log_call_id")
	r.boolVar(&c.AccessLog, "access_log")
	c.ReadyPath = getenv("ready_path")
	if v, ok := r.lookup("static_path"); ok {
		c.StaticPath = v
	}
	if v, ok := r.lookup("TMPDIR"); ok {
		c.LockDir = v
	}
	r.boolVar(&c.JWTAuth, "jwt_auth")
	r.jwtIssuer(&c)
	c.JWTAudience = getenv("jwt_auth_audience")
	return c, r.warnings
}

// envReader parses typed values and collects warnings for bad ones.
type envReader struct {
	get      func(string) string
	warnings []string
}

func (r *envReader) lookup(key string) (string, bool) {
	v := r.get(key)
	return v, v != ""
}

func (r *envReader) first(keys ...string) string {
	for _, k := range keys {
		if v := r.get(k); v != "" {
			return v
		}
	}
	return ""
}

func (r *envReader) warn(key, val, kind string) {
	r.warnings = append(r.warnings, fmt.Sprintf("%s=%q is not %s; using the default", key, val, kind))
}

func (r *envReader) intVar(dst *int, key string) {
	v, ok := r.lookup(key)
	if !ok {
		return
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		r.warn(key, v, "an integer")
		return
	}
	*dst = n
}

func (r *envReader) durationVar(dst *time.Duration, key string) {
	v, ok := r.lookup(key)
	if !ok {
		return
	}
	d, err := ParseDuration(v)
	if err != nil {
		r.warn(key, v, "a duration (seconds or Go duration such as 1m30s)")
		return
	}
	*dst = d
}

func (r *envReader) boolVar(dst *bool, key string) {
	v, ok := r.lookup(key)
	if !ok {
		return
	}
	*dst = ParseBool(v)
}

func (r *envReader) jwtIssuer(c *Config) {
	if v, ok := r.lookup("jwt_auth_local"); ok && ParseBool(v) {
		c.JWTIssuer = "http://127.0.0.1:8000"
	}
	if v, ok := r.lookup("jwt_auth_issuer"); ok {
		c.JWTIssuer = v
	}
}

// ParseDuration parses a watchdog duration: a bare non-negative integer is
// seconds, anything else a Go duration such as "1m30s". Negative values are
// refused.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 || n > int64(time.Duration(1<<63-1)/time.Second) {
			return 0, fmt.Errorf("duration %q out of range", s)
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("parsing duration: %w", err)
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %q is negative", s)
	}
	return d, nil
}

// ParseBool reports whether s is "true" or "1", the two spellings both
// watchdogs accept; anything else is false.
func ParseBool(s string) bool {
	s = strings.TrimSpace(s)
	return s == "true" || s == "1"
}

// Validate reports every problem of c at once, each naming its env var.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	switch c.Mode {
	case ModeClassic, ModeHTTP, ModeStreaming, ModeSerializing, ModeStatic:
	case "inproc", "afterburn":
		add("mode=%q is not supported by fwatchdog; use http, streaming, serializing or static", c.Mode)
	default:
		add("mode=%q is unknown; use http, streaming, serializing, static or leave it unset for the classic watchdog", c.Mode)
	}
	if c.Mode != ModeStatic && len(strings.Fields(c.FProcess)) == 0 {
		add(`fprocess (or function_process) is required: the command that runs the function`)
	}
	if c.Mode == ModeHTTP {
		if err := validateUpstream(c.UpstreamURL); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, c.validateNumbers()...)
	if c.Mode == ModeStatic && c.StaticPath == "" {
		add("static_path is required in static mode")
	}
	if c.JWTAuth {
		if _, err := url.ParseRequestURI(c.JWTIssuer); err != nil {
			add("jwt_auth_issuer=%q is not a URL: %w", c.JWTIssuer, err)
		}
	}
	return errors.Join(errs...)
}

func (c Config) validateNumbers() []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.UnixSocket == "" && (c.Port < 0 || c.Port > 65535) {
		add("port=%d is not a TCP port (0-65535)", c.Port)
	}
	if c.UnixSocket != "" && !filepath.IsAbs(c.UnixSocket) {
		add("unix_socket=%q must be an absolute path", c.UnixSocket)
	}
	if c.MetricsPort < 0 || c.MetricsPort > 65535 {
		add("metrics_port=%d is not a TCP port (0-65535; 0 disables metrics)", c.MetricsPort)
	}
	if c.UnixSocket == "" && c.MetricsPort != 0 && c.MetricsPort == c.Port {
		add("metrics_port and port are both %d; choose different ports or metrics_port=0", c.Port)
	}
	if c.WriteTimeout <= 0 {
		add("write_timeout must be over 0s")
	}
	if c.ReadTimeout < 0 || c.ExecTimeout < 0 || c.HealthcheckInterval < 0 {
		add("read_timeout, exec_timeout and healthcheck_interval must not be negative")
	}
	if c.MaxInflight < 0 {
		add("max_inflight=%d must be 0 (no limit) or more", c.MaxInflight)
	}
	if c.LogBufferSize == 0 || c.LogBufferSize < -1 {
		add("log_buffer_size=%d must be positive, or -1 for unbuffered", c.LogBufferSize)
	}
	if c.ReadyPath != "" && !strings.HasPrefix(c.ReadyPath, "/") {
		add("ready_path=%q must start with /", c.ReadyPath)
	}
	return errs
}

func validateUpstream(raw string) error {
	if raw == "" {
		return errors.New("upstream_url (or http_upstream_url) is required in http mode, e.g. http://127.0.0.1:5000")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("upstream_url=%q: %w", raw, err)
	}
	if u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("upstream_url=%q must be an http:// URL with a host", raw)
	}
	return nil
}

// upstreamDialAddr returns host:port to probe for the upstream's readiness.
func upstreamDialAddr(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("parsing upstream_url: %w", err)
	}
	if u.Port() != "" {
		return u.Host, nil
	}
	return net.JoinHostPort(u.Hostname(), "80"), nil
}

// LockPath is the lock file's path.
func (c Config) LockPath() string { return filepath.Join(c.LockDir, LockFileName) }

// command splits FProcess into the program and its arguments.
func (c Config) command() (string, []string) {
	parts := strings.Fields(c.FProcess)
	if len(parts) == 0 {
		return "", nil
	}
	return parts[0], parts[1:]
}

// settings lists the effective configuration as env var names and values.
// Nothing in it is secret.
func (c Config) settings() [][2]string {
	s := [][2]string{{"mode", string(c.Mode)}, {"fprocess", c.FProcess}}
	if c.Mode == ModeHTTP {
		s = append(s, [2]string{"upstream_url", c.UpstreamURL})
	}
	if c.UnixSocket != "" {
		s = append(s, [2]string{"unix_socket", c.UnixSocket})
	} else {
		s = append(s, [2]string{"port", strconv.Itoa(c.Port)})
	}
	return append(s,
		[2]string{"metrics_port", strconv.Itoa(c.MetricsPort)},
		[2]string{"read_timeout", c.ReadTimeout.String()},
		[2]string{"write_timeout", c.WriteTimeout.String()},
		[2]string{"exec_timeout", c.ExecTimeout.String()},
		[2]string{"healthcheck_interval", c.HealthcheckInterval.String()},
		[2]string{"max_inflight", strconv.Itoa(c.MaxInflight)},
		[2]string{"content_type", c.ContentType},
		[2]string{"lock_file", c.LockPath()},
		[2]string{"suppress_lock", strconv.FormatBool(c.SuppressLock)},
		[2]string{"access_log", strconv.FormatBool(c.AccessLog)},
		[2]string{"jwt_auth", strconv.FormatBool(c.JWTAuth)},
	)
}

// Describe renders the effective configuration as "env_var=value" lines,
// for --check-config.
func (c Config) Describe() string {
	var b strings.Builder
	for _, kv := range c.settings() {
		fmt.Fprintf(&b, "%s=%s\n", kv[0], kv[1])
	}
	return b.String()
}

// LogValue logs the effective configuration as a group of attributes.
func (c Config) LogValue() slog.Value {
	s := c.settings()
	attrs := make([]slog.Attr, len(s))
	for i, kv := range s {
		attrs[i] = slog.String(kv[0], kv[1])
	}
	return slog.GroupValue(attrs...)
}
