package watchdog

import (
	"strings"
	"testing"
	"time"
)

func TestFromEnviron(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		env      []string
		check    func(c Config) string
		warnings int
	}{
		{
			name: "classic defaults with only fprocess",
			env:  []string{"fprocess=cat"},
			check: func(c Config) string {
				want := Defaults()
				want.FProcess = "cat"
				if c.Mode != ModeClassic || c.Port != 8080 || c.MetricsPort != 8081 || c.ExecTimeout != 0 ||
					c.ReadTimeout != 30*time.Second || c.WriteTimeout != 30*time.Second ||
					c.HealthcheckInterval != 30*time.Second || !c.CombineOutput || !c.CGIHeaders ||
					c.ContentType != "" || c.LockPath() != "/tmp/.lock" || c.AccessLog || c.MarshalRequest {
					return "unexpected classic defaults"
				}
				return ""
			},
		},
		{
			name: "of-watchdog defaults in http mode and aliases",
			env:  []string{"mode=http", "function_process=node index.js", "http_upstream_url=http://127.0.0.1:3000", "http_buffer_req_body=true"},
			check: func(c Config) string {
				if c.Mode != ModeHTTP || c.FProcess != "node index.js" || c.UpstreamURL != "http://127.0.0.1:3000" ||
					!c.BufferHTTP || c.ExecTimeout != 30*time.Second || c.ContentType != "application/octet-stream" ||
					!c.PrefixLogs || c.LogBufferSize != 65536 || c.StaticPath != "/home/app/public" {
					return "unexpected http defaults"
				}
				return ""
			},
		},
		{
			name: "bare integers are seconds and Go durations parse",
			env:  []string{"fprocess=cat", "read_timeout=5", "write_timeout=1m30s", "exec_timeout=250ms"},
			check: func(c Config) string {
				if c.ReadTimeout != 5*time.Second || c.WriteTimeout != 90*time.Second || c.ExecTimeout != 250*time.Millisecond {
					return "durations not parsed"
				}
				if c.HealthcheckInterval != 90*time.Second {
					return "healthcheck_interval should follow write_timeout"
				}
				return ""
			},
		},
		{
			name:     "unparsable values keep defaults and warn",
			env:      []string{"fprocess=cat", "write_timeout=soon", "port=http", "exec_timeout=-3"},
			warnings: 3,
			check: func(c Config) string {
				if c.WriteTimeout != 30*time.Second || c.Port != 8080 || c.ExecTimeout != 0 {
					return "defaults not kept"
				}
				return ""
			},
		},
		{
			name: "booleans accept true and 1 only",
			env:  []string{"fprocess=cat", "suppress_lock=1", "marshal_request=true", "combine_output=yes", "cgi_headers=false", "access_log=TRUE"},
			check: func(c Config) string {
				if !c.SuppressLock || !c.MarshalRequest || c.CombineOutput || c.CGIHeaders || c.AccessLog {
					return "booleans parsed wrongly"
				}
				return ""
			},
		},
		{
			name: "TMPDIR, metrics_port, unix_socket, healthcheck_interval",
			env:  []string{"fprocess=cat", "TMPDIR=/run/r1", "metrics_port=0", "unix_socket=/run/r1/sock", "healthcheck_interval=2"},
			check: func(c Config) string {
				if c.LockPath() != "/run/r1/.lock" || c.MetricsPort != 0 || c.UnixSocket != "/run/r1/sock" || c.HealthcheckInterval != 2*time.Second {
					return "not read"
				}
				return ""
			},
		},
		{
			name: "content_type may be set empty only by omission",
			env:  []string{"mode=streaming", "fprocess=cat", "content_type=text/plain"},
			check: func(c Config) string {
				if c.ContentType != "text/plain" {
					return "content_type not read"
				}
				return ""
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, warn := FromEnviron(tt.env)
			if len(warn) != tt.warnings {
				t.Errorf("warnings = %q, want %d", warn, tt.warnings)
			}
			if msg := tt.check(c); msg != "" {
				t.Errorf("%s: %+v", msg, c)
			}
			if len(c.Environ) != len(tt.env) {
				t.Errorf("Environ not kept")
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  []string
		want []string // substrings of the error; none means valid
	}{
		{name: "classic ok", env: []string{"fprocess=cat"}},
		{name: "static needs no fprocess", env: []string{"mode=static"}},
		{name: "missing fprocess", env: []string{"mode=streaming"}, want: []string{"fprocess"}},
		{name: "http needs upstream", env: []string{"mode=http", "fprocess=srv"}, want: []string{"upstream_url"}},
		{name: "http upstream must be http", env: []string{"mode=http", "fprocess=srv", "upstream_url=ftp://x"}, want: []string{"http://"}},
		{name: "unknown mode", env: []string{"mode=afterburner", "fprocess=x"}, want: []string{"unknown"}},
		{name: "inproc unsupported", env: []string{"mode=inproc", "fprocess=x"}, want: []string{"not supported"}},
		{name: "every problem at once", env: []string{"mode=http", "write_timeout=0", "max_inflight=-1", "port=70000", "log_buffer_size=0"},
			want: []string{"fprocess", "upstream_url", "write_timeout", "max_inflight", "port=70000", "log_buffer_size"}},
		{name: "same ports", env: []string{"fprocess=cat", "port=9000", "metrics_port=9000"}, want: []string{"metrics_port"}},
		{name: "socket frees the port", env: []string{"fprocess=cat", "port=8081", "unix_socket=/tmp/x.sock"}},
		{name: "relative socket", env: []string{"fprocess=cat", "unix_socket=x.sock"}, want: []string{"absolute"}},
		{name: "ready_path", env: []string{"fprocess=cat", "ready_path=ready"}, want: []string{"ready_path"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _ := FromEnviron(tt.env)
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors about %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{"0", 0, false},
		{"10", 10 * time.Second, false},
		{" 7 ", 7 * time.Second, false},
		{"1m", time.Minute, false},
		{"1.5s", 1500 * time.Millisecond, false},
		{"-1", 0, true},
		{"-5s", 0, true},
		{"ten", 0, true},
		{"", 0, true},
		{"99999999999999999999", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, bad=%v", tt.in, got, err, tt.want, tt.bad)
		}
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"0", "30", "1m30s", "-1", "1.5h", "abc", "9223372037", "5ms"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			if d != 0 {
				t.Fatalf("ParseDuration(%q) returned %v with error %v", s, d, err)
			}
			return
		}
		if d < 0 {
			t.Fatalf("ParseDuration(%q) = %v, negative", s, d)
		}
	})
}

// FuzzFromEnviron checks that any environment parses without panicking,
// that a valid result keeps the invariants the watchdog relies on, and
// that reading is deterministic.
func FuzzFromEnviron(f *testing.F) {
	f.Add("fprocess=cat\nwrite_timeout=5\nmode=http\nupstream_url=http://127.0.0.1:1")
	f.Add("mode=streaming\nfprocess=x\nexec_timeout=1m\nmax_inflight=3\nlog_buffer_size=-1")
	f.Add("fprocess=a  b\nport=-1\nmetrics_port=8080\nhealthcheck_interval=x")
	f.Add("=\nfprocess\nmode=static\nstatic_path=")
	f.Fuzz(func(t *testing.T, s string) {
		env := strings.Split(s, "\n")
		c, _ := FromEnviron(env)
		c2, _ := FromEnviron(env)
		if c.Describe() != c2.Describe() {
			t.Fatal("FromEnviron is not deterministic")
		}
		if c.Validate() != nil {
			return
		}
		if c.WriteTimeout <= 0 || c.ExecTimeout < 0 || c.MaxInflight < 0 || c.LogBufferSize == 0 {
			t.Fatalf("valid config breaks invariants: %+v", c)
		}
		if c.Mode != ModeStatic {
			if name, _ := c.command(); name == "" {
				t.Fatalf("valid config without a command: %q", c.FProcess)
			}
		}
	})
}
