package watchdog

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofaas/gofaas/pkg/api"
)

func TestClassicMethods(t *testing.T) {
	t.Parallel()
	wd := startWatchdog(t, testCfg(t, ModeClassic, fprocess(t, "echo")), false)
	tests := []struct {
		method string
		code   int
		body   string
	}{
		{http.MethodGet, 200, "payload"},
		{http.MethodPost, 200, "payload"},
		{http.MethodPut, 200, "payload"},
		{http.MethodPatch, 200, "payload"},
		{http.MethodDelete, 200, "payload"},
		{http.MethodOptions, 405, "Method not allowed\n"},
		{"PROPFIND", 405, "Method not allowed\n"},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			t.Parallel()
			resp, body := do(t, tt.method, wd.url+"/any/path", "payload", http.Header{"Content-Type": {"text/x-test"}})
			if resp.StatusCode != tt.code || body != tt.body {
				t.Fatalf("%s: got %d %q, want %d %q", tt.method, resp.StatusCode, body, tt.code, tt.body)
			}
			if tt.code == 200 {
				if ct := resp.Header.Get("Content-Type"); ct != "text/x-test" {
					t.Errorf("Content-Type = %q, want the request's", ct)
				}
				if resp.Header.Get(api.HeaderDuration) == "" {
					t.Error("no X-Duration-Seconds")
				}
			}
		})
	}
}

func TestClassicCGIEnv(t *testing.T) {
	t.Parallel()
	wd := startWatchdog(t, testCfg(t, ModeClassic, fprocess(t, "env")), false)
	resp, body := do(t, http.MethodPost, wd.url+"/some/path?q=1&r=two", "abc", http.Header{"X-Call-Id": {"call-1"}, "X-Custom-Thing": {"v"}})
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	for _, want := range []string{"Http_Method=POST", "Http_Query=q=1&r=two", "Http_Path=/some/path", "Http_X_Call_Id=call-1",
		"Http_X_Custom_Thing=v", "Http_Content_Length=3", "Http_ContentLength=3", "Http_Host=127.0.0.1:"} {
		if !strings.Contains(body, want) {
			t.Errorf("env lacks %q:\n%s", want, body)
		}
	}
}

func TestClassicCGIHeadersOff(t *testing.T) {
	t.Parallel()
	cfg := testCfg(t, ModeClassic, fprocess(t, "env"))
	cfg.CGIHeaders = false
	wd := startWatchdog(t, cfg, false)
	_, body := do(t, http.MethodPost, wd.url+"/", "", nil)
	if body != "" {
		t.Fatalf("cgi_headers=false still passed %q", body)
	}
}

func TestForkErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		mode     Mode
		role     []string
		combine  bool
		exec     time.Duration
		code     int
		contains []string
		excludes []string
	}{
		{name: "classic non-zero exit combines stderr", mode: ModeClassic, role: []string{"fail"}, combine: true, code: 500,
			contains: []string{"exit status 3\n", "partial output", "oops on stderr"}},
		{name: "classic without combine_output", mode: ModeClassic, role: []string{"fail"}, code: 500,
			contains: []string{"exit status 3\npartial output"}, excludes: []string{"oops"}},
		{name: "classic timeout is 504", mode: ModeClassic, role: []string{"sleep", "10s"}, exec: 300 * time.Millisecond, code: 504,
			contains: []string{"function timed out after 300ms"}},
		{name: "serializing non-zero exit", mode: ModeSerializing, role: []string{"fail"}, code: 500,
			contains: []string{"exit status 3\npartial output"}, excludes: []string{"oops"}},
		{name: "serializing timeout", mode: ModeSerializing, role: []string{"sleep", "10s"}, exec: 300 * time.Millisecond, code: 504,
			contains: []string{"timed out after 300ms"}},
		{name: "streaming timeout before output", mode: ModeStreaming, role: []string{"sleep", "10s"}, exec: 300 * time.Millisecond, code: 504,
			contains: []string{"timed out after 300ms"}},
		{name: "streaming failure is still 200", mode: ModeStreaming, role: []string{"fail"}, code: 200,
			contains: []string{"partial output"}, excludes: []string{"oops"}},
		{name: "missing program", mode: ModeStreaming, role: nil, code: 500, contains: []string{"no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fp := "/nonexistent/program"
			if tt.role != nil {
				fp = fprocess(t, tt.role[0], tt.role[1:]...)
			}
			cfg := testCfg(t, tt.mode, fp)
			cfg.CombineOutput = tt.combine
			cfg.ExecTimeout = tt.exec
			wd := startWatchdog(t, cfg, false)
			start := time.Now()
			resp, body := do(t, http.MethodPost, wd.url+"/", "in", nil)
			if resp.StatusCode != tt.code {
				t.Fatalf("status %d, want %d; body %q", resp.StatusCode, tt.code, body)
			}
			for _, c := range tt.contains {
				if !strings.Contains(body, c) {
					t.Errorf("body %q lacks %q", body, c)
				}
			}
			for _, e := range tt.excludes {
				if strings.Contains(body, e) {
					t.Errorf("body %q has %q", body, e)
				}
			}
			if tt.code == 504 {
				if resp.Header.Get(api.HeaderInternal) != "of-watchdog" {
					t.Error("504 without X-OpenFaaS-Internal")
				}
				if time.Since(start) > 8*time.Second {
					t.Error("the function was not killed at exec_timeout")
				}
			}
		})
	}
}

func TestClassicMarshalRequest(t *testing.T) {
	t.Parallel()
	cfg := testCfg(t, ModeClassic, fprocess(t, "echo"))
	cfg.MarshalRequest = true
	wd := startWatchdog(t, cfg, false)
	_, body := do(t, http.MethodPost, wd.url+"/", "hello", http.Header{"X-Thing": {"1"}})
	var got struct {
		Header map[string][]string `json:"header"`
		Body   struct {
			Raw string `json:"raw"`
		} `json:"body"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("stdin was not JSON: %v: %q", err, body)
	}
	raw, _ := base64.StdEncoding.DecodeString(got.Body.Raw)
	if string(raw) != "hello" || got.Header["X-Thing"][0] != "1" {
		t.Fatalf("marshalled request = %+v", got)
	}
}

func TestOFForkModes(t *testing.T) {
	t.Parallel()
	for _, mode := range []Mode{ModeSerializing, ModeStreaming} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			wd := startWatchdog(t, testCfg(t, mode, fprocess(t, "echo")), false)
			for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, "PROPFIND"} {
				resp, body := do(t, m, wd.url+"/x", "body-"+m, nil)
				if resp.StatusCode != 200 || body != "body-"+m {
					t.Errorf("%s: %d %q", m, resp.StatusCode, body)
				}
				if ct := resp.Header.Get("Content-Type"); ct != "application/octet-stream" {
					t.Errorf("%s: Content-Type %q", m, ct)
				}
			}
			envWd := startWatchdog(t, testCfg(t, mode, fprocess(t, "env")), false)
			_, body := do(t, http.MethodPatch, envWd.url+"/p/q?x=y", "", http.Header{"X-Call-Id": {"c9"}})
			for _, want := range []string{"Http_Method=PATCH", "Http_Path=/p/q", "Http_Query=x=y", "Http_X_Call_Id=c9"} {
				if !strings.Contains(body, want) {
					t.Errorf("env lacks %q:\n%s", want, body)
				}
			}
			if strings.Contains(body, "Http_Host=") {
				t.Errorf("of-watchdog modes should not set Http_Host:\n%s", body)
			}
		})
	}
}

func TestFunctionLogsArePrefixed(t *testing.T) {
	t.Parallel()
	for _, prefix := range []bool{true, false} {
		cfg := testCfg(t, ModeStreaming, fprocess(t, "fail"))
		cfg.PrefixLogs = prefix
		wd := startWatchdog(t, cfg, false)
		do(t, http.MethodPost, wd.url+"/", "", nil)
		logs := wd.logs.String()
		hasPrefix := strings.Contains(logs, " stderr: oops on stderr\n")
		if !strings.Contains(logs, "oops on stderr\n") || hasPrefix != prefix {
			t.Errorf("prefix_logs=%v, logs:\n%s", prefix, logs)
		}
	}
}

func TestMaxInflight(t *testing.T) {
	t.Parallel()
	cfg := testCfg(t, ModeClassic, fprocess(t, "sleep", "1s"))
	cfg.MaxInflight = 2
	wd := startWatchdog(t, cfg, false)
	var wg sync.WaitGroup
	codes := make(chan int, 2)
	for range 2 {
		wg.Go(func() {
			resp, _ := do(t, http.MethodPost, wd.url+"/", "", nil)
			codes <- resp.StatusCode
		})
	}
	checkFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		if wd.w.inflight.Load() < 2 {
			return errNotYet
		}
		return nil
	})
	resp, body := do(t, http.MethodPost, wd.url+"/", "", nil)
	if resp.StatusCode != 429 || body != "Concurrent request limit exceeded. Max concurrent requests: 2\n" ||
		resp.Header.Get(api.HeaderInternal) != "faas-middleware" {
		t.Errorf("over the limit: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if err := expectStatus(wd.url+PathReady, 429); err != nil {
		t.Error(err)
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Errorf("request within the limit got %d", c)
		}
	}
	if err := expectStatus(wd.url+"/", 200); err != nil {
		t.Errorf("after the burst: %v", err)
	}
}
