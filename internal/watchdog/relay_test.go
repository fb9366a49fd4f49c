package watchdog

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofaas/gofaas/internal/lane"
	"github.com/gofaas/gofaas/pkg/api"
)

// These tests hold the http-mode relay (w.relay, the lane's Shortcut) to
// its promise: the client, the function and the metrics see what the
// handler chain (Handler()) gives them, header order and time values
// aside; or it declines.

const relayWait = 5 * time.Second // bounds every wait; never asserted

// fnSeen is what the function received.
type fnSeen struct {
	Method, URI, Host string
	Header            http.Header
	Body              string
}

type relayFn struct {
	url      string
	mu       sync.Mutex
	got      []fnSeen
	streamGo chan struct{}
}

func newRelayFn(t *testing.T) *relayFn {
	t.Helper()
	f := &relayFn{streamGo: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(f.serve), ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	f.url = "http://" + ln.Addr().String()
	return f
}

func (f *relayFn) received() []fnSeen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fnSeen(nil), f.got...)
}

func (f *relayFn) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.got = append(f.got, fnSeen{r.Method, r.RequestURI, r.Host, r.Header.Clone(), string(body)})
	f.mu.Unlock()
	h := w.Header()
	switch strings.TrimPrefix(r.URL.Path, "/prefix") {
	case "/notype":
		h["Content-Type"] = nil // no sniffing here: the watchdog's to do
		_, _ = w.Write([]byte("<html><body>x</body></html>"))
	case "/notype-empty":
		h["Content-Type"] = nil
	case "/notype-encoded":
		h["Content-Type"] = nil
		h.Set("Content-Encoding", "gzip")
		_, _ = w.Write([]byte("<html>"))
	case "/emptytype":
		h["Content-Type"] = []string{""}
		_, _ = w.Write([]byte("<html>"))
	case "/dur":
		h.Set("Content-Type", "text/plain")
		h[api.HeaderDuration] = []string{"9", "8"}
		_, _ = w.Write([]byte("x"))
	case "/status":
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		h.Set("Content-Type", "text/plain")
		w.WriteHeader(code)
		_, _ = w.Write([]byte("custom"))
	case "/large":
		h.Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(bytes.Repeat([]byte("z"), 100<<10))
	case "/sleep":
		select {
		case <-r.Context().Done():
		case <-time.After(relayWait):
		}
	case "/hangup":
		if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = c.Close()
		}
	case "/cut":
		h.Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("half"))
		http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	case "/stream":
		h.Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("event 0\n"))
		http.NewResponseController(w).Flush()
		select {
		case <-f.streamGo:
		case <-r.Context().Done():
			return
		}
		_, _ = w.Write([]byte("event 1\n"))
	default:
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("X-Upstream", "yes")
		_, _ = w.Write(body)
	}
}

// relayWatchdog is a ready http-mode watchdog (its upstream started
// elsewhere) served on a lane, through its relay or not.
type relayWatchdog struct {
	w     *Watchdog
	addr  string
	taken atomic.Int64
}

func newRelayWatchdog(t *testing.T, upstream string, relay bool, tune func(*Config)) *relayWatchdog {
	t.Helper()
	cfg := testCfg(t, ModeHTTP, "unused-fprocess")
	cfg.UpstreamURL = upstream
	cfg.ExecTimeout = time.Second
	cfg.SuppressLock = true // healthy without start's lock file
	if tune != nil {
		tune(&cfg)
	}
	w, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	w.serving.Store(true)
	close(w.ready)
	rw := &relayWatchdog{w: w}
	var shortcut func(*lane.Exchange) bool
	if relay {
		shortcut = func(ex *lane.Exchange) bool {
			if w.relay(ex) {
				rw.taken.Add(1)
				return true
			}
			return false
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := w.newServer(w.Handler())
	srv.ErrorLog = log.New(io.Discard, "", 0)
	s := &lane.Server{HTTP: srv, Shortcut: shortcut}
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close(); <-done; w.up.pool.CloseIdle() })
	rw.addr = ln.Addr().String()
	return rw
}

// series reads the request metrics: counts by code and method, histogram
// counts, and the in-flight gauge.
func (rw *relayWatchdog) series(t *testing.T) map[string]float64 {
	t.Helper()
	mfs, err := rw.w.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "http_request") {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			key := mf.GetName() + "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[key] = m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				out[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

// wdAnswer is one response as the client read it: normalized (status,
// sorted header lines with Date and X-Duration-Seconds masked, body) and
// its header.
type wdAnswer struct {
	norm   string
	header http.Header
}

func wdAsk(t *testing.T, addr, raw string) wdAnswer {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, relayWait)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * relayWait))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	br := bufio.NewReader(io.TeeReader(c, &got))
	method, _, _ := strings.Cut(raw, " ")
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		return wdAnswer{norm: "no response: " + err.Error()}
	}
	body, err := io.ReadAll(resp.Body)
	head, _, _ := bytes.Cut(got.Bytes(), []byte("\r\n\r\n"))
	lines := strings.Split(string(head), "\r\n")
	fields := lines[1:]
	for i, l := range fields {
		if k, _, _ := strings.Cut(l, ":"); k == "Date" || k == api.HeaderDuration {
			fields[i] = k + ": <masked>"
		}
	}
	sort.Strings(fields)
	if len(resp.TransferEncoding) > 0 {
		body = append([]byte("<chunked>"), body...)
	}
	return wdAnswer{norm: fmt.Sprintf("%s\r\n%s\r\n\r\n%s\n<err %v>", lines[0], strings.Join(fields, "\r\n"), body, err),
		header: resp.Header}
}

// wdCompare sends raw to both watchdogs and checks the answers, what the
// function saw and the metrics; it reports whether the relay took it.
func wdCompare(t *testing.T, fn *relayFn, viaRelay, viaHandler *relayWatchdog, raw string) (wdAnswer, bool) {
	t.Helper()
	n0, taken0 := len(fn.received()), viaRelay.taken.Load()
	a := wdAsk(t, viaRelay.addr, raw)
	n1 := len(fn.received())
	b := wdAsk(t, viaHandler.addr, raw)
	seen := fn.received()
	if a.norm != b.norm {
		t.Errorf("%q: answers differ\nrelay: %q\n  srv: %q", raw, a.norm, b.norm)
	}
	if sa, sb := seen[n0:n1], seen[n1:]; !reflect.DeepEqual(sa, sb) {
		t.Errorf("%q: the function saw different requests\nrelay: %+v\n  srv: %+v", raw, sa, sb)
	}
	for i, ans := range []wdAnswer{a, b} {
		if ans.header == nil || strings.Contains(raw, " /_/") {
			continue // no answer, or the watchdog's own
		}
		d := ans.header.Values(api.HeaderDuration)
		if len(d) != 1 {
			t.Errorf("%q: side %d: X-Duration-Seconds %q, want one", raw, i, d)
		} else if _, err := strconv.ParseFloat(d[0], 64); err != nil || d[0] == "9" {
			t.Errorf("%q: side %d: X-Duration-Seconds %q, want the watchdog's", raw, i, d[0])
		}
	}
	// The metrics are recorded as the answer ends: wait for the in-flight
	// gauges to settle, then compare.
	var ma, mb map[string]float64
	for end := time.Now().Add(relayWait); ; time.Sleep(time.Millisecond) {
		ma, mb = viaRelay.series(t), viaHandler.series(t)
		if reflect.DeepEqual(ma, mb) && ma["http_requests_in_flight{}"] == 0 || time.Now().After(end) {
			break
		}
	}
	if !reflect.DeepEqual(ma, mb) {
		t.Errorf("%q: metrics differ\nrelay: %v\n  srv: %v", raw, ma, mb)
	}
	if ma["http_requests_in_flight{}"] != 0 || viaRelay.w.inflight.Load() != 0 {
		t.Errorf("%q: %v requests still in flight", raw, ma["http_requests_in_flight{}"])
	}
	return a, viaRelay.taken.Load() > taken0
}

func wdGet(target string, extra ...string) string {
	return "GET " + target + " HTTP/1.1\r\nHost: fn.example:8080\r\n" + strings.Join(extra, "") + "\r\n"
}

func TestRelayMatchesHandler(t *testing.T) {
	t.Parallel()
	fn := newRelayFn(t)
	viaRelay, viaHandler := newRelayWatchdog(t, fn.url, true, nil), newRelayWatchdog(t, fn.url, false, nil)
	tests := []struct {
		name    string
		raw     string
		relayed bool
		want    string // prefix of the answer
	}{
		{"plain", wdGet("/a/b?x=1&y=%20z"), true, "HTTP/1.1 200"},
		{"post", "POST /p HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nX-Call-Id: c1\r\nX-Forwarded-For: 10.0.0.1\r\nContent-Length: 7\r\n\r\n{\"a\":1}", true, "HTTP/1.1 200"},
		{"escaped path", wdGet("/a%2Fb/%7Ec"), true, "HTTP/1.1 200"},
		{"double slash", wdGet("//x//y"), true, "HTTP/1.1 200"},
		{"odd method", "PROPFIND /dav HTTP/1.1\r\nHost: h\r\n\r\n", true, "HTTP/1.1 200"},
		{"headers", wdGet("/h", "Pragma: no-cache\r\nX-A: 1\r\nx-a: 2\r\nConnection: keep-alive\r\nKeep-Alive: 1\r\n"), true, "HTTP/1.1 200"},
		{"no content type", wdGet("/notype"), true, "HTTP/1.1 200"},
		{"no content type, no body", wdGet("/notype-empty"), true, "HTTP/1.1 200"},
		{"no content type, encoded", wdGet("/notype-encoded"), true, "HTTP/1.1 200"},
		{"empty content type", wdGet("/emptytype"), true, "HTTP/1.1 200"},
		{"function durations replaced", wdGet("/dur"), true, "HTTP/1.1 200"},
		{"201", wdGet("/status?code=201"), true, "HTTP/1.1 201"},
		{"404", wdGet("/status?code=404"), true, "HTTP/1.1 404"},
		{"500", wdGet("/status?code=500"), true, "HTTP/1.1 500"},
		{"204", wdGet("/status?code=204"), true, "HTTP/1.1 204"},
		{"large", wdGet("/large"), true, "HTTP/1.1 200"},
		{"X-Timeout", wdGet("/sleep", "X-Timeout: 200ms\r\n"), true, "HTTP/1.1 504"},
		{"exec_timeout", wdGet("/sleep", "X-Timeout: 1m\r\n"), true, "HTTP/1.1 504"},
		{"function hangs up", wdGet("/hangup"), true, "HTTP/1.1 502"},
		{"function cuts its answer", wdGet("/cut"), true, "HTTP/1.1 200"},
		{"connection close", wdGet("/c", "Connection: close\r\n"), true, "HTTP/1.1 200"},
		// Declined: the handler chain answers.
		{"head", "HEAD /a HTTP/1.1\r\nHost: h\r\n\r\n", false, "HTTP/1.1 200"},
		{"health", wdGet(PathHealth), false, "HTTP/1.1 200"},
		{"ready", wdGet(PathReady), false, "HTTP/1.1 200"},
		{"connection naming a header", wdGet("/a", "Connection: X-A\r\nX-A: 1\r\n"), false, "HTTP/1.1 200"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, relayed := wdCompare(t, fn, viaRelay, viaHandler, tc.raw)
			if relayed != tc.relayed {
				t.Errorf("relayed %v, want %v", relayed, tc.relayed)
			}
			if !strings.HasPrefix(got.norm, tc.want) {
				t.Errorf("got %q, want %s", got.norm, tc.want)
			}
		})
	}
	t.Run("keep-alive", func(t *testing.T) {
		// One connection each, several calls: the relay's pooled upstream
		// connections stay in step.
		for _, raw := range []string{wdGet("/1"), wdGet("/notype"), wdGet(PathHealth), wdGet("/large"), wdGet("/2")} {
			wdCompare(t, fn, viaRelay, viaHandler, raw)
		}
	})
	if viaRelay.taken.Load() == 0 {
		t.Fatal("the relay took nothing")
	}
}

// TestRelayClientGone: a call whose client leaves counts as the handler
// chain counts it (a 502), and nothing stays in flight.
func TestRelayClientGone(t *testing.T) {
	t.Parallel()
	fn := newRelayFn(t)
	viaRelay, viaHandler := newRelayWatchdog(t, fn.url, true, nil), newRelayWatchdog(t, fn.url, false, nil)
	for _, addr := range []string{viaRelay.addr, viaHandler.addr} {
		n := len(fn.received())
		c, err := net.DialTimeout("tcp", addr, relayWait)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(c, wdGet("/sleep"))
		for end := time.Now().Add(relayWait); len(fn.received()) == n; time.Sleep(time.Millisecond) {
			if time.Now().After(end) {
				t.Fatal("the function got no call")
			}
		}
		_ = c.Close()
	}
	var ma, mb map[string]float64
	for end := time.Now().Add(relayWait); ; time.Sleep(time.Millisecond) {
		ma, mb = viaRelay.series(t), viaHandler.series(t)
		done := ma["http_requests_total{code=502,method=get}"] == 1 && mb["http_requests_total{code=502,method=get}"] == 1
		if done && ma["http_requests_in_flight{}"] == 0 && mb["http_requests_in_flight{}"] == 0 || time.Now().After(end) {
			break
		}
	}
	if !reflect.DeepEqual(ma, mb) || ma["http_requests_total{code=502,method=get}"] != 1 {
		t.Errorf("metrics: relay %v, handler %v; want one 502 each", ma, mb)
	}
	if viaRelay.taken.Load() != 1 {
		t.Errorf("the relay took %d calls, want 1", viaRelay.taken.Load())
	}
}

// TestRelayUpstreamDown: a function that does not listen gets the
// handler chain's 502.
func TestRelayUpstreamDown(t *testing.T) {
	t.Parallel()
	fn := newRelayFn(t)
	dead := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	viaRelay, viaHandler := newRelayWatchdog(t, dead, true, nil), newRelayWatchdog(t, dead, false, nil)
	got, relayed := wdCompare(t, fn, viaRelay, viaHandler, "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx")
	if !relayed || !strings.HasPrefix(got.norm, "HTTP/1.1 502") || !strings.Contains(got.norm, "cannot reach the function's upstream") {
		t.Errorf("relayed %v, got %q; want a relayed 502", relayed, got.norm)
	}
}

// TestRelayUpstreamPrefix: upstream_url's path prefixes the function's.
func TestRelayUpstreamPrefix(t *testing.T) {
	t.Parallel()
	fn := newRelayFn(t)
	viaRelay, viaHandler := newRelayWatchdog(t, fn.url+"/prefix/", true, nil), newRelayWatchdog(t, fn.url+"/prefix/", false, nil)
	for _, raw := range []string{wdGet("/a?b"), wdGet("/notype"), wdGet("/")} {
		if _, relayed := wdCompare(t, fn, viaRelay, viaHandler, raw); !relayed {
			t.Errorf("%q not relayed", raw)
		}
	}
}

// TestRelayOff: with max_inflight, jwt_auth or access_log, every request
// goes through the handler chain.
func TestRelayOff(t *testing.T) {
	t.Parallel()
	fn := newRelayFn(t)
	for _, tune := range []func(*Config){
		func(c *Config) { c.MaxInflight = 5 },
		func(c *Config) { c.AccessLog = true },
	} {
		rw := newRelayWatchdog(t, fn.url, true, tune)
		if a := wdAsk(t, rw.addr, wdGet("/a")); !strings.HasPrefix(a.norm, "HTTP/1.1 200") || rw.taken.Load() != 0 {
			t.Errorf("got %q, relayed %d", a.norm, rw.taken.Load())
		}
	}
}

// TestRelayStreams: a streamed answer reaches the client as it comes.
func TestRelayStreams(t *testing.T) {
	t.Parallel()
	fn := newRelayFn(t)
	viaRelay, viaHandler := newRelayWatchdog(t, fn.url, true, nil), newRelayWatchdog(t, fn.url, false, nil)
	var got [2]string
	for i, addr := range []string{viaRelay.addr, viaHandler.addr} {
		c, err := net.DialTimeout("tcp", addr, relayWait)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * relayWait))
		_, _ = io.WriteString(c, wdGet("/stream"))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		first := make([]byte, len("event 0\n"))
		if _, err := io.ReadFull(resp.Body, first); err != nil {
			t.Fatalf("first event: %v (not streamed?)", err)
		}
		fn.streamGo <- struct{}{}
		rest, err := io.ReadAll(resp.Body)
		resp.Header.Del("Date")
		resp.Header.Del(api.HeaderDuration)
		got[i] = fmt.Sprint(resp.Status, resp.Header, resp.TransferEncoding, string(first)+string(rest), err)
	}
	if got[0] != got[1] {
		t.Errorf("streams differ\nrelay: %s\n  srv: %s", got[0], got[1])
	}
	if viaRelay.taken.Load() != 1 {
		t.Error("the relay did not take the stream")
	}
}
