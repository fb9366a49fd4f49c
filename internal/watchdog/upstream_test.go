package watchdog

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gofaas/gofaas/pkg/api"
)

// httpCfg configures http mode with this test binary as the upstream,
// listening after delay.
func httpCfg(t *testing.T, delay time.Duration, extraEnv ...string) Config {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := testCfg(t, ModeHTTP, fprocess(t, "upstream", addr, delay.String()))
	cfg.UpstreamURL = "http://" + addr
	cfg.Environ = childEnviron(extraEnv...)
	return cfg
}

func TestHTTPModeProxies(t *testing.T) {
	t.Parallel()
	wd := startWatchdog(t, httpCfg(t, 0), false)
	tests := []struct {
		method string
		path   string
		body   string
		want   string
	}{
		{http.MethodGet, "/", "", "GET /  host=HOST call=c1 xff=10.0.0.1 len=0"},
		{http.MethodPost, "/a/b?x=1&y=%20z", "hello", "POST /a/b x=1&y=%20z host=HOST call=c1 xff=10.0.0.1 len=5 te=[]\nhello"},
		{http.MethodPut, "//double//slash", "p", "PUT //double//slash"},
		{http.MethodDelete, "/d", "", "DELETE /d"},
		{"PROPFIND", "/dav", "", "PROPFIND /dav"},
	}
	for _, tt := range tests {
		t.Run(tt.method+tt.path, func(t *testing.T) {
			t.Parallel()
			hdr := http.Header{"X-Call-Id": {"c1"}, "X-Forwarded-For": {"10.0.0.1"}}
			resp, body := do(t, tt.method, wd.url+tt.path, tt.body, hdr)
			want := strings.ReplaceAll(tt.want, "HOST", strings.TrimPrefix(wd.url, "http://"))
			if resp.StatusCode != 200 || !strings.HasPrefix(body, want) {
				t.Fatalf("got %d %q, want 200 %q", resp.StatusCode, body, want)
			}
			if resp.Header.Get("X-Upstream") != "yes" || resp.Header.Get(api.HeaderDuration) == "" {
				t.Errorf("headers not copied or no duration: %v", resp.Header)
			}
		})
	}
	resp, body := do(t, http.MethodGet, wd.url+"/status?code=418", "", nil)
	if resp.StatusCode != 418 || body != "custom status" {
		t.Errorf("status not passed through: %d %q", resp.StatusCode, body)
	}
}

func TestHTTPModeStreamsResponses(t *testing.T) {
	t.Parallel()
	wd := startWatchdog(t, httpCfg(t, 0), false)
	resp, err := http.Get(wd.url + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := lines(resp.Body)
	if strings.Join(got, ",") != "event 0,event 1,event 2" {
		t.Fatalf("stream = %q", got)
	}
}

func TestHTTPModeBufferHTTP(t *testing.T) {
	t.Parallel()
	cfg := httpCfg(t, 0)
	cfg.BufferHTTP = true
	wd := startWatchdog(t, cfg, false)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, wd.url+"/", strings.NewReader("chunky"))
	req.ContentLength = -1 // sent chunked
	req.Body = io.NopCloser(struct{ io.Reader }{strings.NewReader("chunky")})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := lines(resp.Body)
	if len(got) < 2 || !strings.Contains(got[0], "len=6 te=[]") || got[1] != "chunky" {
		t.Fatalf("upstream saw %q; want a Content-Length body", got)
	}
}

func TestHTTPModeErrors(t *testing.T) {
	t.Parallel()
	cfg := httpCfg(t, 0)
	cfg.ExecTimeout = 2 * time.Second
	wd := startWatchdog(t, cfg, false)
	tests := []struct {
		name   string
		path   string
		hdr    http.Header
		code   int
		substr string
	}{
		{"exec timeout", "/sleep?d=10s", nil, 504, "function timed out after 2s"},
		{"X-Timeout lowers it", "/sleep?d=10s", http.Header{"X-Timeout": {"300ms"}}, 504, "function timed out after 300ms"},
		{"X-Timeout cannot raise it", "/sleep?d=2500ms", http.Header{"X-Timeout": {"1m"}}, 504, "after 2s"},
		{"connection dropped", "/hangup", nil, 502, "cannot reach the function's upstream"},
		{"fast enough", "/sleep?d=10ms", http.Header{"X-Timeout": {"1m"}}, 200, "slept"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, body := do(t, http.MethodGet, wd.url+tt.path, "", tt.hdr)
			if resp.StatusCode != tt.code || !strings.Contains(body, tt.substr) {
				t.Fatalf("got %d %q, want %d containing %q", resp.StatusCode, body, tt.code, tt.substr)
			}
			if tt.code >= 500 && resp.Header.Get(api.HeaderInternal) != "of-watchdog" {
				t.Errorf("%d without X-OpenFaaS-Internal: of-watchdog", tt.code)
			}
		})
	}
}

// TestHTTPModeReadinessOrdering: health, readiness and the lock file wait
// until the upstream really accepts connections, and a request sent during
// start-up waits instead of failing (openfaas/of-watchdog#92).
func TestHTTPModeReadinessOrdering(t *testing.T) {
	t.Parallel()
	cfg := httpCfg(t, 700*time.Millisecond)
	wd := startWatchdog(t, cfg, true)
	early := make(chan string, 1)
	go func() {
		resp, err := http.Post(wd.url+"/early", "text/plain", strings.NewReader("x"))
		if err != nil {
			early <- err.Error()
			return
		}
		resp.Body.Close()
		early <- fmt.Sprint(resp.StatusCode)
	}()
	for {
		upstreamUp := dialOK(strings.TrimPrefix(cfg.UpstreamURL, "http://"))
		healthErr := expectStatus(wd.url+PathHealth, 200)
		_, lockErr := os.Stat(cfg.LockPath())
		if !upstreamUp {
			if healthErr == nil || lockErr == nil {
				t.Fatal("ready before the upstream accepts connections")
			}
			if err := expectStatus(wd.url+PathReady, 503); err != nil {
				t.Fatal(err)
			}
		}
		if healthErr == nil {
			if lockErr != nil {
				t.Fatal("healthy without a lock file")
			}
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if resp, body := do(t, http.MethodGet, wd.url+"/first", "", nil); resp.StatusCode != 200 {
		t.Fatalf("first request after ready: %d %q", resp.StatusCode, body)
	}
	if got := <-early; got != "200" {
		t.Fatalf("request sent during start-up got %s, want 200", got)
	}
}

func dialOK(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// TestHTTPModeUpstreamExit: when the upstream dies the watchdog turns
// unhealthy, removes the lock and Serve returns ErrUpstreamExited.
func TestHTTPModeUpstreamExit(t *testing.T) {
	t.Parallel()
	cfg := httpCfg(t, 0)
	wd := startWatchdog(t, cfg, false)
	if resp, body := do(t, http.MethodGet, wd.url+"/exit", "", nil); body != "bye" {
		t.Fatalf("exit: %d %q", resp.StatusCode, body)
	}
	select {
	case err := <-wd.done:
		wd.done <- err // for the cleanup
		if !errors.Is(err, ErrUpstreamExited) || !strings.Contains(err.Error(), "exit status 7") {
			t.Fatalf("Serve = %v, want ErrUpstreamExited with exit status 7", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watchdog did not stop after its upstream exited")
	}
	if _, err := os.Stat(cfg.LockPath()); !os.IsNotExist(err) {
		t.Errorf("lock file still present: %v", err)
	}
	if !strings.Contains(wd.logs.String(), "upstream exited") {
		t.Errorf("exit not logged:\n%s", wd.logs)
	}
}

func TestHTTPModeUpstreamFailsToStart(t *testing.T) {
	t.Parallel()
	cfg := httpCfg(t, 0)
	cfg.FProcess = "/nonexistent/server"
	wd := startWatchdog(t, cfg, true)
	select {
	case err := <-wd.done:
		wd.done <- err
		if err == nil || !strings.Contains(err.Error(), "starting upstream") {
			t.Fatalf("Serve = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watchdog kept running without its upstream")
	}
}
