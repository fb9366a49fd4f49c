package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// runCheck runs a command with --check-config and the given environment;
// it returns what the command printed and its error.
func runCheck(t *testing.T, newCmd func(func(string) string) *cobra.Command, env map[string]string, args ...string) (string, error) {
	t.Helper()
	cmd := newCmd(func(k string) string { return env[k] })
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(append([]string{"--check-config"}, args...))
	err := cmd.Execute()
	return out.String(), err
}

func TestCheckConfigListsEveryProblem(t *testing.T) {
	t.Parallel()
	secrets := t.TempDir()
	os.WriteFile(filepath.Join(secrets, "basic-auth-user"), []byte("admin\n"), 0o600)
	os.WriteFile(filepath.Join(secrets, "basic-auth-password"), []byte("pw\n"), 0o600)
	tests := []struct {
		name   string
		newCmd func(func(string) string) *cobra.Command
		env    map[string]string
		args   []string
		want   []string // each must be in the error, one problem per line
	}{
		{"server flags", serverCmd, nil, []string{
			"--port", "70000", "--bind", "nowhere", "--read-timeout", "0s", "--max-body-bytes", "0",
			"--log-level", "loud", "--log-format", "xml", "--isolation", "vm",
			"--scale-interval", "0s", "--scale-from-zero-wait", "-1s", "--metrics-port", "-2", "--metrics-bind", "x",
			"--queue-max-inflight", "0", "--queue-ack-wait", "10ms", "--queue-retry-attempts", "0",
			"--queue-callback-attempts", "0", "--async-max-bytes", "0", "--nats-url", "http://nats:4222",
		}, []string{
			"--port 70000 is not a TCP port", `--bind "nowhere"`, "--read-timeout (env read_timeout) 0s must be positive",
			"--max-body-bytes 0", `--log-level "loud"`, `--log-format "xml"`, `--isolation "vm"`,
			"--scale-interval 0s must be positive", "--scale-from-zero-wait -1s must be positive",
			"--metrics-port -2 is not a TCP port", `--metrics-bind "x"`,
			"--queue-max-inflight", "--queue-ack-wait 10ms", "retry attempts 0", "--queue-callback-attempts",
			"--async-max-bytes 0", `--nats-url "http://nats:4222"`,
		}},
		{"server environment", serverCmd, map[string]string{"read_timeout": "soon", "upstream_timeout": "-5"}, nil, []string{
			`env read_timeout="soon"`, "--upstream-timeout (env upstream_timeout) -5s must be positive",
		}},
		{"server ports", serverCmd, nil, []string{"--port", "9000", "--metrics-port", "9000"}, []string{
			"--metrics-port 9000 is also --port",
		}},
		{"gateway without provider", gatewayCmd, nil, []string{"--scale-down-window", "0s", "--basic-auth",
			"--secret-mount-path", filepath.Join(secrets, "absent")}, []string{
			"--provider-url (or env functions_provider_url) is required", "--scale-down-window 0s must be positive",
			"--basic-auth with --secret-mount-path",
		}},
		{"gateway bad provider", gatewayCmd, map[string]string{"functions_provider_url": "ftp://x"},
			[]string{"--metrics-port", "8080"}, []string{
				`--provider-url: provider URL "ftp://x"`, "--metrics-port 8080 is also --port",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := runCheck(t, tt.newCmd, tt.env, tt.args...)
			var ce *configError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v (output %q), want a configuration error", err, out)
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
		})
	}
}

func TestCheckConfigAcceptsValid(t *testing.T) {
	t.Parallel()
	secrets := t.TempDir()
	os.WriteFile(filepath.Join(secrets, "basic-auth-user"), []byte("admin\n"), 0o600)
	os.WriteFile(filepath.Join(secrets, "basic-auth-password"), []byte("pw\n"), 0o600)
	tests := []struct {
		name    string
		newCmd  func(func(string) string) *cobra.Command
		env     map[string]string
		args    []string
		warning string // "" means none
	}{
		{"server defaults", serverCmd, nil, nil, ""},
		{"server from env", serverCmd, map[string]string{"read_timeout": "90", "write_timeout": "90s"},
			[]string{"--metrics-port", "8082", "--nats-url", "nats://a:4222, b:4222"}, ""},
		{"server warns", serverCmd, nil, []string{"--upstream-timeout", "70s", "--scale-from-zero-wait", "2m"},
			"--scale-from-zero-wait 2m0s is longer than --upstream-timeout 1m10s"},
		{"gateway", gatewayCmd, map[string]string{"functions_provider_url": "http://127.0.0.1:8081/", "basic_auth": "true",
			"secret_mount_path": secrets}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := runCheck(t, tt.newCmd, tt.env, tt.args...)
			if err != nil {
				t.Fatalf("valid configuration refused: %v", err)
			}
			if !strings.Contains(out, "configuration is valid") {
				t.Errorf("output %q lacks the verdict", out)
			}
			if got := strings.Contains(out, "warning:"); got != (tt.warning != "") || !strings.Contains(out, tt.warning) {
				t.Errorf("output %q, want warning %q", out, tt.warning)
			}
		})
	}
}
