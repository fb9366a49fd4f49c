package watchdog

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofaas/gofaas/internal/lane"
	"github.com/gofaas/gofaas/internal/lane/lanetest"
	"github.com/gofaas/gofaas/pkg/api"
)

// These tests hold the http-mode relay (w.relay, the lane's Shortcut) to
// its promise: the client, the function and the metrics see what the
// handler chain (Handler()) gives them, header order and time values
// aside; or it declines.

// relayFn is the function's upstream; /stream finishes on streamGo.
type relayFn struct {
	*lanetest.Upstream
	streamGo chan struct{}
}

func newRelayFn(t *testing.T) *relayFn {
	t.Helper()
	f := &relayFn{streamGo: make(chan struct{})}
	f.Upstream = lanetest.NewUpstream(t, f.serve)
	return f
}

func (f *relayFn) serve(w http.ResponseWriter, r *http.Request, body []byte) {
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
		case <-time.After(lanetest.Wait):
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
	t.Cleanup(w.up.pool.CloseIdle) // after the lane's cleanup, which runs first
	srv := w.newServer(w.Handler())
	srv.ErrorLog = lanetest.QuietLog
	rw.addr = lanetest.Serve(t, &lane.Server{HTTP: srv, Shortcut: shortcut})
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

// wdMask are the headers whose values differ from call to call, masked
// in answers (X-Duration-Seconds is checked apart).
var wdMask = []string{"Date", api.HeaderDuration}

// wdCompare sends raw to both watchdogs and checks the answers, what the
// function saw and the metrics; it reports whether the relay took it.
func wdCompare(t *testing.T, fn *relayFn, viaRelay, viaHandler *relayWatchdog, raw string) (lanetest.Answer, bool) {
	t.Helper()
	n0, taken0 := len(fn.Received()), viaRelay.taken.Load()
	a := lanetest.Ask(t, viaRelay.addr, raw, wdMask...)
	n1 := len(fn.Received())
	b := lanetest.Ask(t, viaHandler.addr, raw, wdMask...)
	seen := fn.Received()
	if a.Norm != b.Norm {
		t.Errorf("%q: answers differ\nrelay: %q\n  srv: %q", raw, a.Norm, b.Norm)
	}
	if sa, sb := seen[n0:n1], seen[n1:]; !reflect.DeepEqual(sa, sb) {
		t.Errorf("%q: the function saw different requests\nrelay: %+v\n  srv: %+v", raw, sa, sb)
	}
	for i, ans := range []lanetest.Answer{a, b} {
		if ans.Header == nil || strings.Contains(raw, " /_/") {
			continue // no answer, or the watchdog's own
		}
		d := ans.Header.Values(api.HeaderDuration)
		if len(d) != 1 {
			t.Errorf("%q: side %d: X-Duration-Seconds %q, want one", raw, i, d)
		} else if _, err := strconv.ParseFloat(d[0], 64); err != nil || d[0] == "9" {
			t.Errorf("%q: side %d: X-Duration-Seconds %q, want the watchdog's", raw, i, d[0])
		}
	}
	// The metrics are recorded as the answer ends: wait for the in-flight
	// gauges to settle, then compare.
	var ma, mb map[string]float64
	for end := time.Now().Add(lanetest.Wait); ; time.Sleep(time.Millisecond) {
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
	viaRelay, viaHandler := newRelayWatchdog(t, fn.URL, true, nil), newRelayWatchdog(t, fn.URL, false, nil)
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
			if !strings.HasPrefix(got.Norm, tc.want) {
				t.Errorf("got %q, want %s", got.Norm, tc.want)
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
	viaRelay, viaHandler := newRelayWatchdog(t, fn.URL, true, nil), newRelayWatchdog(t, fn.URL, false, nil)
	for _, addr := range []string{viaRelay.addr, viaHandler.addr} {
		n := len(fn.Received())
		c := lanetest.Dial(t, addr).Conn()
		_, _ = io.WriteString(c, wdGet("/sleep"))
		for end := time.Now().Add(lanetest.Wait); len(fn.Received()) == n; time.Sleep(time.Millisecond) {
			if time.Now().After(end) {
				t.Fatal("the function got no call")
			}
		}
		_ = c.Close()
	}
	var ma, mb map[string]float64
	for end := time.Now().Add(lanetest.Wait); ; time.Sleep(time.Millisecond) {
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
	if !relayed || !strings.HasPrefix(got.Norm, "HTTP/1.1 502") || !strings.Contains(got.Norm, "cannot reach the function's upstream") {
		t.Errorf("relayed %v, got %q; want a relayed 502", relayed, got.Norm)
	}
}

// TestRelayUpstreamPrefix: upstream_url's path prefixes the function's.
func TestRelayUpstreamPrefix(t *testing.T) {
	t.Parallel()
	fn := newRelayFn(t)
	viaRelay, viaHandler := newRelayWatchdog(t, fn.URL+"/prefix/", true, nil), newRelayWatchdog(t, fn.URL+"/prefix/", false, nil)
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
		rw := newRelayWatchdog(t, fn.URL, true, tune)
		if a := lanetest.Ask(t, rw.addr, wdGet("/a"), wdMask...); !strings.HasPrefix(a.Norm, "HTTP/1.1 200") || rw.taken.Load() != 0 {
			t.Errorf("got %q, relayed %d", a.Norm, rw.taken.Load())
		}
	}
}

// TestRelayStreams: a streamed answer reaches the client as it comes.
func TestRelayStreams(t *testing.T) {
	t.Parallel()
	fn := newRelayFn(t)
	viaRelay, viaHandler := newRelayWatchdog(t, fn.URL, true, nil), newRelayWatchdog(t, fn.URL, false, nil)
	var got [2]string
	for i, addr := range []string{viaRelay.addr, viaHandler.addr} {
		c := lanetest.Dial(t, addr)
		_, _ = io.WriteString(c.Conn(), wdGet("/stream"))
		resp, err := http.ReadResponse(c.Reader(), nil)
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
