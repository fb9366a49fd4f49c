package watchdog

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestHealthAndLockFile(t *testing.T) {
	t.Parallel()
	cfg := testCfg(t, ModeClassic, fprocess(t, "echo"))
	wd := startWatchdog(t, cfg, false)
	resp, body := do(t, http.MethodGet, wd.url+PathHealth, "", nil)
	if resp.StatusCode != 200 || body != "OK" {
		t.Fatalf("health: %d %q", resp.StatusCode, body)
	}
	if _, err := os.Stat(cfg.LockPath()); err != nil {
		t.Fatalf("no lock file once ready: %v", err)
	}
	if err := expectStatus(wd.url+PathReady, 200); err != nil {
		t.Fatal(err)
	}
	// Deleting the lock file makes the replica unhealthy, as in OpenFaaS.
	if err := os.Remove(cfg.LockPath()); err != nil {
		t.Fatal(err)
	}
	if err := expectStatus(wd.url+PathHealth, 503); err != nil {
		t.Fatal(err)
	}
	wd.stop()
	<-wd.done
	wd.done <- nil
	if _, err := os.Stat(cfg.LockPath()); !os.IsNotExist(err) {
		t.Fatalf("lock file left after stop: %v", err)
	}
}

func TestSuppressLock(t *testing.T) {
	t.Parallel()
	cfg := testCfg(t, ModeStreaming, fprocess(t, "echo"))
	cfg.SuppressLock = true
	wd := startWatchdog(t, cfg, false)
	if _, err := os.Stat(cfg.LockPath()); !os.IsNotExist(err) {
		t.Fatalf("lock written with suppress_lock: %v", err)
	}
	if err := expectStatus(wd.url+PathReady, 200); err != nil {
		t.Fatal(err)
	}
}

func TestReadyPath(t *testing.T) {
	t.Parallel()
	cfg := testCfg(t, ModeStreaming, fprocess(t, "env"))
	cfg.ReadyPath = "/healthz"
	wd := startWatchdog(t, cfg, false)
	resp, body := do(t, http.MethodGet, wd.url+PathReady, "", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "Http_Path=/healthz") {
		t.Fatalf("ready_path not dispatched to the function: %d %q", resp.StatusCode, body)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	cfg := testCfg(t, ModeClassic, fprocess(t, "echo"))
	wd := startWatchdog(t, cfg, false)
	for range 3 {
		do(t, http.MethodPost, wd.url+"/", "x", nil)
	}
	do(t, http.MethodOptions, wd.url+"/", "", nil)
	do(t, http.MethodGet, wd.url+PathHealth, "", nil)
	rec := httptest.NewRecorder()
	wd.w.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	out := rec.Body.String()
	for _, want := range []string{
		`http_requests_total{code="200",method="post"} 3`,
		`http_requests_total{code="405",method="options"} 1`,
		`http_request_duration_seconds_count{code="200",method="post"} 3`,
		"http_requests_in_flight 0",
		"go_goroutines",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(out, `method="get"`) {
		t.Error("health checks are counted as function requests")
	}
}

func TestAccessLog(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{false, true} {
		cfg := testCfg(t, ModeClassic, fprocess(t, "echo"))
		cfg.AccessLog = on
		cfg.LogCallID = true
		wd := startWatchdog(t, cfg, false)
		do(t, http.MethodPost, wd.url+"/logged", "", http.Header{"X-Call-Id": {"id-42"}})
		got := strings.Contains(wd.logs.String(), `msg=request method=POST path=/logged status=200`)
		if got != on || on && !strings.Contains(wd.logs.String(), "call_id=id-42") {
			t.Errorf("access_log=%v, logs:\n%s", on, wd.logs)
		}
	}
}

func TestStaticMode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("<h1>hi</h1>"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := testCfg(t, ModeStatic, "")
	cfg.StaticPath = dir
	wd := startWatchdog(t, cfg, false)
	resp, body := do(t, http.MethodGet, wd.url+"/", "", nil)
	if resp.StatusCode != 200 || body != "<h1>hi</h1>" {
		t.Fatalf("static: %d %q", resp.StatusCode, body)
	}
	if err := expectStatus(wd.url+"/missing.txt", 404); err != nil {
		t.Error(err)
	}
	cfg.StaticPath = filepath.Join(dir, "nope")
	if _, err := New(cfg, Options{}); err == nil {
		t.Error("New accepted a missing static_path")
	}
}

func TestLineWriter(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	tests := []struct {
		name   string
		size   int
		prefix bool
		writes []string
		want   string
	}{
		{"joins partial writes", 64, false, []string{"ab", "c\nde", "f\n", "tail"}, "abc\ndef\ntail\n"},
		{"splits long lines", 4, false, []string{"abcdefghij\n"}, "abcd\nefgh\nij\n"},
		{"unbuffered copies bytes", -1, false, []string{"ab", "c"}, "abc"},
		{"prefix", 64, true, []string{"x\n"}, " stdout: x\n"},
	}
	for _, tt := range tests {
		out.Reset()
		lw := &lineWriter{dst: &out, mu: new(sync.Mutex), name: "stdout", prefix: tt.prefix, size: tt.size}
		for _, s := range tt.writes {
			_, _ = io.WriteString(lw, s)
		}
		_ = lw.Close()
		got := out.String()
		if tt.prefix {
			if !strings.HasSuffix(got, tt.want) || !strings.HasPrefix(got, time.Now().Format("2006/01/02")) {
				t.Errorf("%s: got %q", tt.name, got)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}
