package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofaas/gofaas/internal/provider"
)

// checkFor polls f every 10ms until it returns nil or timeout passes.
func checkFor(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// countingServer is a loopback upstream that counts the connections it
// accepted and those it saw closed.
type countingServer struct {
	*httptest.Server
	opened, closed atomic.Int64
}

func newCountingServer(t *testing.T, h http.Handler) *countingServer {
	t.Helper()
	cs := &countingServer{Server: httptest.NewUnstartedServer(h)}
	cs.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			cs.opened.Add(1)
		case http.StateClosed, http.StateHijacked:
			cs.closed.Add(1)
		}
	}
	cs.Start()
	t.Cleanup(cs.Close)
	return cs
}

// fastSetup serves a Proxy whose "fn" resolves to target.
func fastSetup(t *testing.T, targets map[string]provider.Target, cfg Config) (*Proxy, *fakeResolver, *httptest.Server) {
	t.Helper()
	res := &fakeResolver{targets: targets}
	p := New(res, cfg)
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, res, srv
}

func do(t *testing.T, c *http.Client, method, url, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == "" {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestFastKeepAlive(t *testing.T) {
	t.Parallel()
	up := newCountingServer(t, http.HandlerFunc(echo))
	p, res, srv := fastSetup(t, map[string]provider.Target{"fn.openfaas-fn": {URL: mustURL(t, up.URL)}}, Config{})
	for i := range 20 {
		resp, body := do(t, srv.Client(), http.MethodPost, srv.URL+"/function/fn/a?x=1", fmt.Sprint("call ", i))
		if resp.StatusCode != http.StatusOK || body != fmt.Sprint("call ", i) {
			t.Fatalf("call %d: %d %q", i, resp.StatusCode, body)
		}
		if got := resp.Header.Get("X-Echo-Path"); got != "/a" {
			t.Fatalf("path %q", got)
		}
	}
	if n := up.opened.Load(); n != 1 {
		t.Errorf("upstream saw %d connections for 20 sequential calls, want 1", n)
	}
	if n := p.pools.len(); n != 1 {
		t.Errorf("%d pools, want 1", n)
	}
	if n := res.done.Load(); n != 20 {
		t.Errorf("Done called %d times, want 20", n)
	}
}

func TestFastRetryAfterIdleClose(t *testing.T) {
	t.Parallel()
	up := newCountingServer(t, http.HandlerFunc(echo))
	_, _, srv := fastSetup(t, map[string]provider.Target{"fn.openfaas-fn": {URL: mustURL(t, up.URL)}}, Config{})
	if resp, _ := do(t, srv.Client(), http.MethodGet, srv.URL+"/function/fn", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("first call: %d", resp.StatusCode)
	}
	up.CloseClientConnections() // the pooled connection is now dead
	checkFor(t, 5*time.Second, func() error {
		if up.closed.Load() < 1 {
			return errors.New("upstream has not closed the idle connection")
		}
		return nil
	})
	resp, _ := do(t, srv.Client(), http.MethodGet, srv.URL+"/function/fn", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET over a closed pooled connection: %d, want 200 after a retry", resp.StatusCode)
	}
	if n := up.opened.Load(); n != 2 {
		t.Errorf("upstream saw %d connections, want 2", n)
	}
}

func TestFastErrors(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	_ = ln.Close()
	slow := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // lets the server see the proxy hang up
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
	}))
	obs := &recordingObserver{}
	_, res, srv := fastSetup(t, map[string]provider.Target{
		"refused.openfaas-fn": {URL: mustURL(t, refused)},
		"slow.openfaas-fn":    {URL: mustURL(t, slow.URL)},
	}, Config{Timeout: 200 * time.Millisecond, Observer: obs})
	tests := []struct {
		name, fn string
		code     int
		body     string
	}{
		{"refused dial", "refused", http.StatusBadGateway, "cannot reach function refused.openfaas-fn: connect: connection refused"},
		{"timeout", "slow", http.StatusGatewayTimeout, "function slow.openfaas-fn did not answer within 200ms"},
	}
	for _, tc := range tests {
		resp, body := do(t, srv.Client(), http.MethodPost, srv.URL+"/function/"+tc.fn, "x")
		if resp.StatusCode != tc.code || !strings.Contains(body, tc.body) || resp.Header.Get("X-OpenFaaS-Internal") != "proxy" {
			t.Errorf("%s: %d %q %v, want %d %q from the proxy", tc.name, resp.StatusCode, body, resp.Header, tc.code, tc.body)
		}
	}
	if n := res.done.Load(); n != 2 {
		t.Errorf("Done called %d times, want 2", n)
	}
	want := "[refused.openfaas-fn 502 slow.openfaas-fn 504]"
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if got := fmt.Sprint(obs.finished); got != want {
		t.Errorf("observer saw %s, want %s", got, want)
	}
}

// TestFastSlowPathChoice checks which requests use the pooled connections:
// large and chunked bodies, and custom transports, go through ReverseProxy.
func TestFastSlowPathChoice(t *testing.T) {
	t.Parallel()
	up := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body) // whole, before answering: no full duplex
		_, _ = w.Write(b)
	}))
	large := strings.Repeat("x", 64<<10+1)
	tests := []struct {
		name      string
		transport http.RoundTripper
		body      io.Reader
		length    int64
		size      int
		wantPools int
	}{
		{"small body", nil, strings.NewReader("small"), 5, 5, 1},
		{"large body", nil, strings.NewReader(large), int64(len(large)), len(large), 0},
		{"chunked body", nil, io.MultiReader(strings.NewReader("chunked")), -1, 7, 0},
		{"custom transport", &countingTransport{}, strings.NewReader("small"), 5, 5, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, _, srv := fastSetup(t, map[string]provider.Target{
				"fn.openfaas-fn": {URL: mustURL(t, up.URL), Transport: tc.transport}}, Config{})
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/function/fn", tc.body)
			if err != nil {
				t.Fatal(err)
			}
			req.ContentLength = tc.length
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || len(b) != tc.size || err != nil {
				t.Fatalf("%d, %d bytes back, %v", resp.StatusCode, len(b), err)
			}
			if n := p.pools.len(); n != tc.wantPools {
				t.Errorf("%d fast-path pools, want %d", n, tc.wantPools)
			}
		})
	}
}

// TestFastStreams checks that responses meant to stream are flushed chunk
// by chunk on the fast path: the upstream waits for the client to see the
// first event before it sends the second.
func TestFastStreams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, contentType string
		length            bool
	}{
		{"unknown length", "text/plain", false},
		{"server-sent events", "text/event-stream", false},
		{"ndjson with a length", "application/x-ndjson", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			seen := make(chan struct{})
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				if tc.length {
					w.Header().Set("Content-Length", "12")
				}
				_, _ = io.WriteString(w, "event one\n")
				http.NewResponseController(w).Flush()
				select {
				case <-seen:
				case <-r.Context().Done():
					return
				}
				_, _ = io.WriteString(w, "2\n")
			}))
			t.Cleanup(up.Close)
			p, _, srv := fastSetup(t, map[string]provider.Target{"fn.openfaas-fn": {URL: mustURL(t, up.URL)}}, Config{})
			client := &http.Client{Timeout: 30 * time.Second} // fails instead of hanging if not flushed
			resp, err := client.Get(srv.URL + "/function/fn")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			line, err := br.ReadString('\n')
			if err != nil || line != "event one\n" {
				t.Fatalf("first line %q, %v", line, err)
			}
			close(seen)
			rest, err := io.ReadAll(br)
			if err != nil || string(rest) != "2\n" {
				t.Fatalf("rest %q, %v", rest, err)
			}
			if n := p.pools.len(); n != 1 {
				t.Errorf("%d fast-path pools, want 1 (the fast path must serve it)", n)
			}
		})
	}
}

// TestFastUnixTransport reaches a replica through its Target's transport
// dialer (a Unix socket, as the process back-end does) over one pooled
// connection.
func TestFastUnixTransport(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "up.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	up := &countingServer{Server: &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(echo)}}}
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			up.opened.Add(1)
		}
	}
	up.Start()
	t.Cleanup(up.Close)
	var dials atomic.Int64
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		dials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}
	_, _, srv := fastSetup(t, map[string]provider.Target{
		"fn.openfaas-fn": {URL: mustURL(t, "http://replica-1"), Transport: tr}}, Config{})
	for range 5 {
		resp, body := do(t, srv.Client(), http.MethodPost, srv.URL+"/function/fn/p", "hi")
		if resp.StatusCode != http.StatusOK || body != "hi" || resp.Header.Get("X-Echo-Host") != "replica-1" {
			t.Fatalf("%d %q host %q", resp.StatusCode, body, resp.Header.Get("X-Echo-Host"))
		}
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("%d dials for 5 calls, want 1", n)
	}
}

// TestFastPoolsPruned checks that the pools of replicas that went away are
// closed and forgotten once idle.
func TestFastPoolsPruned(t *testing.T) {
	t.Parallel()
	gone := newCountingServer(t, http.HandlerFunc(echo))
	live := newCountingServer(t, http.HandlerFunc(echo))
	p, _, srv := fastSetup(t, map[string]provider.Target{
		"gone.openfaas-fn": {URL: mustURL(t, gone.URL)},
		"live.openfaas-fn": {URL: mustURL(t, live.URL)},
	}, Config{})
	p.pools.idleFor = 20 * time.Millisecond
	if resp, _ := do(t, srv.Client(), http.MethodGet, srv.URL+"/function/gone", ""); resp.StatusCode != http.StatusOK {
		t.Fatal(resp.StatusCode)
	}
	checkFor(t, 5*time.Second, func() error {
		if resp, _ := do(t, srv.Client(), http.MethodGet, srv.URL+"/function/live", ""); resp.StatusCode != http.StatusOK {
			return fmt.Errorf("live: %d", resp.StatusCode)
		}
		if n := p.pools.len(); n != 1 {
			return fmt.Errorf("%d pools, want only live's", n)
		}
		if gone.closed.Load() != 1 {
			return errors.New("the idle connection to gone is still open")
		}
		return nil
	})
}

// TestOutboundHeader checks the headers the fast path sends, built in
// place from the inbound ones; hop-by-hop headers are left for fastproxy
// to skip.
func TestOutboundHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   http.Header
		want http.Header
	}{
		{"forwarded headers set",
			http.Header{"X-A": {"1"}, "Forwarded": {"for=1.2.3.4"}},
			http.Header{"X-A": {"1"}, "X-Forwarded-For": {"192.0.2.1"}, "X-Forwarded-Host": {"gw"}}},
		{"forwarded headers kept",
			http.Header{"X-Forwarded-For": {"10.0.0.1"}, "X-Forwarded-Host": {"faas"}, "X-Forwarded-Proto": {"https"}},
			http.Header{"X-Forwarded-For": {"10.0.0.1"}, "X-Forwarded-Host": {"faas"}, "X-Forwarded-Proto": {"https"}}},
		{"headers named in Connection dropped, X-Forwarded-* kept",
			http.Header{"Connection": {"X-Hop, X-Forwarded-For", "x-forwarded-proto"}, "X-Hop": {"1"}, "X-Forwarded-For": {"10.0.0.1"}, "X-Forwarded-Proto": {"https"}, "X-B": {"2"}},
			http.Header{"Connection": {"X-Hop, X-Forwarded-For", "x-forwarded-proto"}, "X-Forwarded-For": {"10.0.0.1"}, "X-Forwarded-Host": {"gw"}, "X-Forwarded-Proto": {"https"}, "X-B": {"2"}}},
	}
	for _, tc := range tests {
		r := httptest.NewRequest(http.MethodPost, "http://gw/function/fn", nil)
		r.Header = tc.in
		if got := outboundHeader(r); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
