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
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofaas/gofaas/internal/provider"
)

// fakeResolver resolves "name.namespace" from a map; missing entries are
// ErrNotFound. It counts Done calls.
type fakeResolver struct {
	targets map[string]provider.Target
	errs    map[string]error
	done    atomic.Int64
	block   bool // wait for ctx instead of answering
}

func (f *fakeResolver) Resolve(ctx context.Context, name, ns string) (provider.Target, error) {
	if f.block {
		<-ctx.Done()
		return provider.Target{}, ctx.Err()
	}
	key := name + "." + ns
	if err, ok := f.errs[key]; ok {
		return provider.Target{}, err
	}
	t, ok := f.targets[key]
	if !ok {
		return provider.Target{}, fmt.Errorf("function %s: %w", key, provider.ErrNotFound)
	}
	t.Done = func() { f.done.Add(1) }
	return t, nil
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// echo answers with the request body and reports what it saw in headers.
func echo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Echo-Method", r.Method)
	w.Header().Set("X-Echo-Path", r.URL.Path)
	w.Header().Set("X-Echo-Raw-Path", r.URL.EscapedPath())
	w.Header().Set("X-Echo-Query", r.URL.RawQuery)
	w.Header().Set("X-Echo-Host", r.Host)
	w.Header().Set("X-Echo-Forwarded-For", r.Header.Get("X-Forwarded-For"))
	w.Header().Set("X-Echo-Forwarded-Host", r.Header.Get("X-Forwarded-Host"))
	w.Header().Set("X-Echo-Custom", r.Header.Get("X-Custom"))
	w.Header().Set("X-Echo-Hop", r.Header.Get("X-Hop")+r.Header.Get("Proxy-Authorization"))
	_, _ = io.Copy(w, r.Body)
}

type recordingObserver struct {
	mu       sync.Mutex
	started  []string
	finished []string
}

func (o *recordingObserver) Started(fn string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.started = append(o.started, fn)
}

func (o *recordingObserver) Finished(fn string, code int, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.finished = append(o.finished, fmt.Sprintf("%s %d", fn, code))
}

func newProxy(t *testing.T, upstream http.Handler, cfg Config) (*fakeResolver, *httptest.Server) {
	t.Helper()
	up := httptest.NewServer(upstream)
	t.Cleanup(up.Close)
	res := &fakeResolver{targets: map[string]provider.Target{
		"fn.openfaas-fn": {URL: mustURL(t, up.URL)},
		"fn.dev":         {URL: mustURL(t, up.URL)},
		"prefixed.dev":   {URL: mustURL(t, up.URL+"/base/")},
	}, errs: map[string]error{
		"cold.openfaas-fn":   fmt.Errorf("%w: no replica of cold.openfaas-fn is ready (1 desired)", provider.ErrNoReplicas),
		"broken.openfaas-fn": errors.New("orchestrator is down"),
	}}
	srv := httptest.NewServer(New(res, cfg))
	t.Cleanup(srv.Close)
	return res, srv
}

func TestProxyRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, method, path, body string
		wantPath, wantRaw, query string
	}{
		{name: "root no slash", method: "POST", path: "/function/fn", body: "hello", wantPath: "/"},
		{name: "root slash", method: "GET", path: "/function/fn/", wantPath: "/"},
		{name: "sub path and query", method: "PUT", path: "/function/fn.dev/a/b?x=1&y=two%20words", body: "data", wantPath: "/a/b", query: "x=1&y=two%20words"},
		{name: "escaped slash kept", method: "PATCH", path: "/function/fn/a%2Fb", wantPath: "/a/b", wantRaw: "/a%2Fb"},
		{name: "target path prefix", method: "DELETE", path: "/function/prefixed.dev/x", wantPath: "/base/x"},
		{name: "options", method: "OPTIONS", path: "/function/fn", wantPath: "/"},
		{name: "head", method: "HEAD", path: "/function/fn", wantPath: "/"},
	}
	res, srv := newProxy(t, http.HandlerFunc(echo), Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Custom", "kept")
			req.Header.Set("Connection", "X-Hop")
			req.Header.Set("X-Hop", "dropped")
			req.Header.Set("Proxy-Authorization", "dropped")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			h := resp.Header
			wantRaw := tt.wantRaw
			if wantRaw == "" {
				wantRaw = tt.wantPath
			}
			wantBody := tt.body
			if tt.method == "HEAD" {
				wantBody = ""
			}
			checks := []struct{ what, got, want string }{
				{"status", resp.Status, "200 OK"},
				{"method", h.Get("X-Echo-Method"), tt.method},
				{"path", h.Get("X-Echo-Path"), tt.wantPath},
				{"raw path", h.Get("X-Echo-Raw-Path"), wantRaw},
				{"query", h.Get("X-Echo-Query"), tt.query},
				{"body", string(got), wantBody},
				{"custom header", h.Get("X-Echo-Custom"), "kept"},
				{"hop-by-hop headers", h.Get("X-Echo-Hop"), ""},
				{"forwarded for", h.Get("X-Echo-Forwarded-For"), "127.0.0.1"},
				{"forwarded host", h.Get("X-Echo-Forwarded-Host"), strings.TrimPrefix(srv.URL, "http://")},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
				}
			}
		})
	}
	if got := res.done.Load(); got != int64(len(tests)) {
		t.Errorf("Done called %d times for %d invocations", got, len(tests))
	}
}

func TestProxyKeepsForwardedHeaders(t *testing.T) {
	t.Parallel()
	_, srv := newProxy(t, http.HandlerFunc(echo), Config{})
	req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/function/fn", nil)
	req.Header.Set("X-Forwarded-For", "10.1.2.3")
	req.Header.Set("X-Forwarded-Host", "faas.example.com")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Echo-Forwarded-For"); got != "10.1.2.3" {
		t.Errorf("X-Forwarded-For = %q, want the client's 10.1.2.3", got)
	}
	if got := resp.Header.Get("X-Echo-Forwarded-Host"); got != "faas.example.com" {
		t.Errorf("X-Forwarded-Host = %q, want the client's", got)
	}
}

func TestProxyErrors(t *testing.T) {
	t.Parallel()
	refused := func() string { // a port nothing listens on
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return "http://" + addr
	}()
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	obs := &recordingObserver{}
	res, srv := newProxy(t, slow, Config{Timeout: 100 * time.Millisecond, Observer: obs})
	res.targets["down.openfaas-fn"] = provider.Target{URL: mustURL(t, refused)}
	tests := []struct {
		name, method, path string
		code               int
		body               string
		observed           string
	}{
		{"not found", "GET", "/function/nope", 404, `function "nope" not found in namespace "openfaas-fn"`, "nope.openfaas-fn 404"},
		{"not found in namespace", "GET", "/function/fn.other", 404, `function "fn" not found in namespace "other"`, "fn.other 404"},
		{"no replicas", "POST", "/function/cold", 503, "no replica of cold.openfaas-fn is ready (1 desired)", "cold.openfaas-fn 503"},
		{"resolve failure", "GET", "/function/broken", 500, "orchestrator is down", "broken.openfaas-fn 500"},
		{"connection refused", "GET", "/function/down", 502, "cannot reach function down.openfaas-fn: ", "down.openfaas-fn 502"},
		{"timeout", "GET", "/function/fn", 504, "function fn.openfaas-fn did not answer within 100ms", "fn.openfaas-fn 504"},
		{"bad name", "GET", "/function/Bad_Name", 400, `function name "Bad_Name" is not valid`, ""},
		{"empty namespace", "GET", "/function/fn.", 400, "namespace name is empty", ""},
		{"no name", "GET", "/function/", 400, "Provide function name", ""},
		{"method", "TRACE", "/function/fn", 405, "method TRACE is not allowed", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), tt.method, srv.URL+tt.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.code || !strings.Contains(string(body), tt.body) {
				t.Errorf("got %d %q, want %d containing %q", resp.StatusCode, body, tt.code, tt.body)
			}
			if got := resp.Header.Get("X-OpenFaaS-Internal"); got != "proxy" {
				t.Errorf("X-OpenFaaS-Internal = %q, want proxy", got)
			}
			if tt.code == 405 && resp.Header.Get("Allow") == "" {
				t.Error("405 without an Allow header")
			}
			if tt.observed == "" {
				return
			}
			obs.mu.Lock()
			defer obs.mu.Unlock()
			if !contains(obs.finished, tt.observed) || !contains(obs.started, strings.Fields(tt.observed)[0]) {
				t.Errorf("observer saw started %v finished %v, want %q", obs.started, obs.finished, tt.observed)
			}
		})
	}
	// Done runs for resolved targets even when the upstream failed.
	if got := res.done.Load(); got != 2 {
		t.Errorf("Done called %d times, want 2 (refused + timeout)", got)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestProxyResolveTimeout(t *testing.T) {
	t.Parallel()
	p := New(&fakeResolver{block: true}, Config{Timeout: 2 * time.Second})
	rec := httptest.NewRecorder()
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // the client went away
	p.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, "GET", "/function/fn", nil))
	if rec.Code != 504 || !strings.Contains(rec.Body.String(), "did not answer within 2s") {
		t.Errorf("got %d %q, want 504 within 2s", rec.Code, rec.Body)
	}
}

func TestForward(t *testing.T) {
	t.Parallel()
	res, _ := newProxy(t, http.HandlerFunc(echo), Config{})
	p := New(res, Config{})
	rec := httptest.NewRecorder()
	p.Forward(rec, httptest.NewRequest("POST", "/anything?q=1", strings.NewReader("x")), "fn", "", "/sub")
	if rec.Code != 200 || rec.Header().Get("X-Echo-Path") != "/sub" || rec.Header().Get("X-Echo-Query") != "q=1" || rec.Body.String() != "x" {
		t.Errorf("got %d path %q query %q body %q", rec.Code, rec.Header().Get("X-Echo-Path"), rec.Header().Get("X-Echo-Query"), rec.Body)
	}
}

type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

func TestTargetTransport(t *testing.T) {
	t.Parallel()
	res, srv := newProxy(t, http.HandlerFunc(echo), Config{})
	ct := &countingTransport{}
	tg := res.targets["fn.openfaas-fn"]
	tg.Transport = ct
	res.targets["fn.openfaas-fn"] = tg
	resp, err := http.Get(srv.URL + "/function/fn")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ct.n.Load() != 1 {
		t.Errorf("target transport used %d times, want 1", ct.n.Load())
	}
}

func TestContentTypeDefault(t *testing.T) {
	t.Parallel()
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = nil // no sniffing upstream
		_, _ = w.Write([]byte("{}"))
	})
	_, srv := newProxy(t, bare, Config{})
	for _, tt := range []struct{ reqCT, want string }{{"application/json", "application/json"}, {"", "text/plain"}} {
		req, _ := http.NewRequestWithContext(t.Context(), "POST", srv.URL+"/function/fn", strings.NewReader("{}"))
		if tt.reqCT != "" {
			req.Header.Set("Content-Type", tt.reqCT)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Content-Type"); got != tt.want {
			t.Errorf("request Content-Type %q: response has %q, want %q", tt.reqCT, got, tt.want)
		}
	}
}

// TestStreaming checks each streamed line reaches the client before the
// function writes the next one, for SSE, NDJSON with a length, and chunked.
func TestStreaming(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, ct, length string }{
		{"sse", "text/event-stream", ""},
		{"ndjson with length", "application/x-ndjson", "24"},
		{"chunked", "application/octet-stream", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			next := make(chan struct{})
			up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.ct)
				if tt.length != "" {
					w.Header().Set("Content-Length", tt.length)
				}
				_, _ = io.WriteString(w, "{\"line\":1}\n")
				http.NewResponseController(w).Flush()
				<-next
				_, _ = io.WriteString(w, "{\"line\":22}\n")
			})
			_, srv := newProxy(t, up, Config{})
			client := &http.Client{Timeout: 30 * time.Second} // fails instead of hanging if buffered
			resp, err := client.Get(srv.URL + "/function/fn")
			if err != nil {
				close(next)
				t.Fatal(err)
			}
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			first, err := br.ReadString('\n') // would hang if buffered
			close(next)
			if err != nil || first != "{\"line\":1}\n" {
				t.Fatalf("first line %q, %v", first, err)
			}
			rest, _ := io.ReadAll(br)
			if string(rest) != "{\"line\":22}\n" {
				t.Errorf("second line %q", rest)
			}
		})
	}
}

// TestRequestStreaming checks the request body is not buffered: the
// function reads the first chunk before the client sends the second.
func TestRequestStreaming(t *testing.T) {
	t.Parallel()
	got := make(chan string, 1)
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 5)
		_, _ = io.ReadFull(r.Body, buf)
		got <- string(buf)
		rest, _ := io.ReadAll(r.Body)
		_, _ = w.Write(rest)
	})
	_, srv := newProxy(t, up, Config{})
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	var resp *http.Response
	go func() {
		req, _ := http.NewRequestWithContext(t.Context(), "POST", srv.URL+"/function/fn", pr)
		var err error
		resp, err = http.DefaultClient.Do(req)
		errc <- err
	}()
	_, _ = io.WriteString(pw, "first")
	select {
	case s := <-got:
		if s != "first" {
			t.Errorf("function read %q", s)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the function never saw the first chunk: the body is buffered")
	}
	_, _ = io.WriteString(pw, "second")
	pw.Close()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "second" {
		t.Errorf("response %q, want second", body)
	}
}

func TestWebsocketUpgrade(t *testing.T) {
	t.Parallel()
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "upgrade expected", 400)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		_ = brw.Flush()
		line, _ := brw.ReadString('\n')
		_, _ = brw.WriteString("echo: " + line)
		_ = brw.Flush()
	})
	_, srv := newProxy(t, up, Config{})
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "GET /function/fn/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 {
		t.Fatalf("status %d, want 101", resp.StatusCode)
	}
	_, _ = io.WriteString(conn, "ping\n")
	line, err := br.ReadString('\n')
	if err != nil || line != "echo: ping\n" {
		t.Errorf("got %q, %v", line, err)
	}
}

func FuzzSplitPath(f *testing.F) {
	for _, s := range []string{"/function/fn", "/function/fn.ns/a/b", "/function/", "/function//x", "/other", "/function/a.b.c/", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		fn, sub, ok := splitPath(path)
		if !ok {
			return
		}
		if "/function/"+fn+sub != path {
			t.Fatalf("split %q into %q + %q", path, fn, sub)
		}
		if fn == "" || strings.Contains(fn, "/") || (sub != "" && sub[0] != '/') {
			t.Fatalf("bad split of %q: %q %q", path, fn, sub)
		}
	})
}

func FuzzServeHTTP(f *testing.F) {
	for _, s := range []string{"/function/fn", "/function/fn.dev/a?b=c", "/function/.", "/function/%2e", "/function/fn..x"} {
		f.Add(s)
	}
	p := New(&fakeResolver{}, Config{})
	f.Fuzz(func(t *testing.T, path string) {
		u, err := url.Parse(path)
		if err != nil || u.Path == "" {
			return
		}
		r := &http.Request{Method: "GET", URL: u, Header: http.Header{}, Host: "x"}
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, r.WithContext(t.Context()))
		if rec.Code != 400 && rec.Code != 404 {
			t.Fatalf("%q: status %d, want 400 or 404 from an empty resolver", path, rec.Code)
		}
	})
}
