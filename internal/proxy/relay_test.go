package proxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofaas/gofaas/internal/lane"
	"github.com/gofaas/gofaas/internal/lane/lanetest"
	"github.com/gofaas/gofaas/internal/provider"
)

// These tests hold Proxy.Relay (a lane Shortcut) to its promise: the same
// answer, upstream request, Observer calls and errors as ServeHTTP (a lane
// Handler), header order and Date aside; or a decline, having done nothing.

// relayUpstream is the functions' upstream; /sse and /ndjson finish on
// streamGo.
type relayUpstream struct {
	*lanetest.Upstream
	streamGo chan struct{}
}

func newRelayUpstream(t *testing.T) *relayUpstream {
	t.Helper()
	u := &relayUpstream{streamGo: make(chan struct{})}
	u.Upstream = lanetest.NewUpstream(t, u.serve)
	return u
}

func (u *relayUpstream) serve(w http.ResponseWriter, r *http.Request, body []byte) {
	h := w.Header()
	path := r.URL.Path
	path = strings.TrimPrefix(path, "/base")
	switch path {
	case "/notype":
		h["Content-Type"] = nil // no sniffing here
		_, _ = w.Write([]byte("<html>x</html>"))
	case "/notype-empty":
		h["Content-Type"] = nil
	case "/emptytype":
		h["Content-Type"] = []string{""}
		_, _ = w.Write([]byte("x"))
	case "/twotypes":
		h["Content-Type"] = []string{"", "text/html"}
		_, _ = w.Write([]byte("x"))
	case "/sse-length", "/ndjson-length", "/ndjson-upper", "/ndjson-param":
		h.Set("Content-Type", map[string]string{"/sse-length": "text/event-stream", "/ndjson-length": "application/x-ndjson",
			"/ndjson-upper": "Application/X-NDJSON", "/ndjson-param": "application/x-ndjson; charset=utf-8"}[path])
		h.Set("Content-Length", "12")
		_, _ = w.Write([]byte("data: one\n\n\n"))
	case "/sse", "/ndjson":
		h.Set("Content-Type", map[string]string{"/sse": "text/event-stream", "/ndjson": "application/x-ndjson"}[path])
		h.Set("Content-Length", "16")
		_, _ = w.Write([]byte("event 0\n"))
		http.NewResponseController(w).Flush()
		select {
		case <-u.streamGo:
		case <-r.Context().Done():
			return
		}
		_, _ = w.Write([]byte("event 1\n"))
	case "/duration":
		h.Set("X-Duration-Seconds", "0.5")
		_, _ = w.Write([]byte("x"))
	case "/emptyduration":
		h["X-Duration-Seconds"] = []string{""}
		_, _ = w.Write([]byte("x"))
	case "/twodurations":
		h["X-Duration-Seconds"] = []string{"", "0.25"}
		_, _ = w.Write([]byte("x"))
	case "/twodurations2":
		h["X-Duration-Seconds"] = []string{"0.25", ""}
		_, _ = w.Write([]byte("x"))
	case "/connnamed":
		h.Set("Connection", "X-Secret")
		h.Set("X-Secret", "s")
		_, _ = w.Write([]byte("x"))
	case "/status":
		var code int
		_, _ = fmt.Sscan(r.URL.Query().Get("code"), &code)
		h.Set("Content-Type", "text/plain")
		w.WriteHeader(code)
		_, _ = w.Write([]byte("custom"))
	case "/large":
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Length", fmt.Sprint(100<<10))
		_, _ = w.Write(bytes.Repeat([]byte("0123456789"), (100<<10)/10))
		_, _ = w.Write([]byte("0123456789")[:(100<<10)%10])
	case "/cut": // a streamed answer the function drops halfway
		h.Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("half"))
		http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	case "/slow":
		select {
		case <-r.Context().Done():
		case <-time.After(lanetest.Wait):
		}
	default:
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("X-Path", r.URL.Path)
		_, _ = w.Write(body)
	}
}

// nopDecoration adds nothing: Relay must then answer as ServeHTTP alone.
type nopDecoration struct{}

func (nopDecoration) RequestHeader(b []byte) []byte                  { return b }
func (nopDecoration) DropRequest([]byte) bool                        { return false }
func (nopDecoration) ResponseHeader(b []byte, _ bool) []byte         { return b }
func (nopDecoration) DropResponse([]byte) bool                       { return false }
func (nopDecoration) Wrap(w http.ResponseWriter) http.ResponseWriter { return w }

// countingResolver counts the targets it hands out.
type countingResolver struct {
	*fakeResolver
	resolved atomic.Int64
}

func (c *countingResolver) Resolve(ctx context.Context, name, ns string) (provider.Target, error) {
	t, err := c.fakeResolver.Resolve(ctx, name, ns)
	if err == nil {
		c.resolved.Add(1)
	}
	return t, err
}

// relayEnv is one upstream behind two proxies alike: one served through a
// lane Shortcut (Relay; ServeHTTP for what it declines), one through a
// lane Handler (ServeHTTP).
type relayEnv struct {
	up                 *relayUpstream
	relayAddr, srvAddr string
	relayObs, srvObs   *recordingObserver
	relayRes, srvRes   *countingResolver
	taken              atomic.Int64
}

func newRelayEnv(t *testing.T, timeout time.Duration) *relayEnv {
	t.Helper()
	up := newRelayUpstream(t)
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + dead.Addr().String()
	_ = dead.Close()
	resolver := func() *countingResolver {
		return &countingResolver{fakeResolver: &fakeResolver{targets: map[string]provider.Target{
			"fn.openfaas-fn":     {URL: mustURL(t, up.URL)},
			"fn.dev":             {URL: mustURL(t, up.URL)},
			"prefixed.dev":       {URL: mustURL(t, up.URL+"/base/")},
			"escbase.dev":        {URL: mustURL(t, up.URL+"/b%2Fc/")},
			"down.openfaas-fn":   {URL: mustURL(t, deadURL)},
			"nourl.openfaas-fn":  {},
			"custom.openfaas-fn": {URL: mustURL(t, up.URL), Transport: &countingTransport{}},
		}, errs: map[string]error{
			"cold.openfaas-fn": fmt.Errorf("%w: no replica of cold.openfaas-fn is ready", provider.ErrNoReplicas),
		}}}
	}
	e := &relayEnv{up: up, relayObs: &recordingObserver{}, srvObs: &recordingObserver{}, relayRes: resolver(), srvRes: resolver()}
	pr := New(e.relayRes, Config{Timeout: timeout, Observer: e.relayObs})
	ps := New(e.srvRes, Config{Timeout: timeout, Observer: e.srvObs})
	e.relayAddr = lanetest.Start(t, pr, func(ex *lane.Exchange) bool {
		if pr.Relay(ex, time.Now(), nopDecoration{}) {
			e.taken.Add(1)
			return true
		}
		return false
	})
	e.srvAddr = lanetest.Start(t, ps, nil)
	return e
}

func (o *recordingObserver) calls() (started, finished []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.started...), append([]string(nil), o.finished...)
}

// compare sends raw to both and checks the answers, the upstream's
// requests and the Observer calls; it reports whether Relay took it.
func (e *relayEnv) compare(t *testing.T, raw string) (answer string, relayed bool) {
	t.Helper()
	n0, taken0 := len(e.up.Received()), e.taken.Load()
	relay := lanetest.Dial(t, e.relayAddr).RoundTrip(t, raw).Norm
	n1 := len(e.up.Received())
	srv := lanetest.Dial(t, e.srvAddr).RoundTrip(t, raw).Norm
	got := e.up.Received()
	if relay != srv {
		t.Errorf("%q: answers differ\nrelay: %q\n  srv: %q", raw, relay, srv)
	}
	if a, b := got[n0:n1], got[n1:]; !reflect.DeepEqual(a, b) {
		t.Errorf("%q: upstream saw different requests\nrelay: %+v\n  srv: %+v", raw, a, b)
	}
	// Finished runs as the answer ends: wait for both to have it.
	var rs, rf, ss, sf []string
	for end := time.Now().Add(lanetest.Wait); ; time.Sleep(time.Millisecond) {
		rs, rf = e.relayObs.calls()
		ss, sf = e.srvObs.calls()
		if len(rf) == len(sf) && len(rs) == len(ss) || time.Now().After(end) {
			break
		}
	}
	if !reflect.DeepEqual(rs, ss) || !reflect.DeepEqual(rf, sf) {
		t.Errorf("%q: Observer calls differ\nrelay: %v %v\n  srv: %v %v", raw, rs, rf, ss, sf)
	}
	// A call Relay declines after resolving is resolved again by
	// ServeHTTP: every Target must still be released once.
	for _, r := range []*countingResolver{e.relayRes, e.srvRes} {
		if d, n := r.done.Load(), r.resolved.Load(); d != n {
			t.Errorf("%q: Done called %d times for %d targets", raw, d, n)
		}
	}
	return relay, e.taken.Load() > taken0
}

func relayGet(target string, extra ...string) string {
	return "GET " + target + " HTTP/1.1\r\nHost: gw.example:8080\r\n" + strings.Join(extra, "") + "\r\n"
}

func relayPost(target, body string, extra ...string) string {
	return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: gw.example:8080\r\n%sContent-Length: %d\r\n\r\n%s", target,
		strings.Join(extra, ""), len(body), body)
}

func TestRelayMatchesServeHTTP(t *testing.T) {
	t.Parallel()
	e := newRelayEnv(t, 0)
	tests := []struct {
		name    string
		raw     string
		relayed bool
	}{
		{"plain", relayGet("/function/fn/hello"), true},
		{"post with query", relayPost("/function/fn/a/b?x=1&y=%20z&x=2", `{"k":1}`, "Content-Type: application/json\r\n"), true},
		{"force query", relayGet("/function/fn/a?"), true},
		{"no sub-path", relayGet("/function/fn"), true},
		{"slash sub-path", relayGet("/function/fn/"), true},
		{"odd sub-path", relayGet("/function/fn//a/./b/~x;y=1,z@w$&+:"), true},
		{"sub-path with spaces", relayGet("/function/fn/a%20b"), true},
		{"namespace", relayPost("/function/fn.dev/x", "body"), true},
		{"base path", relayGet("/function/prefixed.dev/a/b?q"), true},
		{"escaped base path", relayGet("/function/escbase.dev/a"), true},
		{"put", "PUT /function/fn/p HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx", true},
		{"delete", "DELETE /function/fn/p HTTP/1.1\r\nHost: h\r\n\r\n", true},
		{"options", "OPTIONS /function/fn/p HTTP/1.1\r\nHost: h\r\n\r\n", true},
		{"patch empty", "PATCH /function/fn/p HTTP/1.1\r\nHost: h\r\n\r\n", true},
		{"no content type, request's", relayPost("/function/fn/notype", "{}", "Content-Type: application/json\r\n"), true},
		{"no content type, text/plain", relayPost("/function/fn/notype", "{}"), true},
		{"no content type, empty request one", relayPost("/function/fn/notype", "{}", "Content-Type:\r\n"), true},
		{"no content type, no body", relayGet("/function/fn/notype-empty"), true},
		{"empty content type", relayGet("/function/fn/emptytype", "Content-Type: text/csv\r\n"), true},
		{"two content types", relayGet("/function/fn/twotypes"), true},
		{"sse with length", relayGet("/function/fn/sse-length"), true},
		{"ndjson with length", relayGet("/function/fn/ndjson-length"), true},
		{"ndjson upper case", relayGet("/function/fn/ndjson-upper"), true},
		{"ndjson with parameter", relayGet("/function/fn/ndjson-param"), true},
		{"duration", relayGet("/function/fn/duration"), true},
		{"empty duration", relayGet("/function/fn/emptyduration"), true},
		{"two durations", relayGet("/function/fn/twodurations"), true},
		{"two durations, second empty", relayGet("/function/fn/twodurations2"), true},
		{"connection-named response header", relayGet("/function/fn/connnamed"), true},
		{"201", relayGet("/function/fn/status?code=201"), true},
		{"404", relayGet("/function/fn/status?code=404"), true},
		{"500", relayGet("/function/fn/status?code=500"), true},
		{"204", relayGet("/function/fn/status?code=204"), true},
		{"304", relayGet("/function/fn/status?code=304"), true},
		{"large", relayGet("/function/fn/large"), true},
		{"forwarded headers kept", relayGet("/function/fn/x", "X-Forwarded-For: 10.0.0.1, 10.0.0.2\r\nX-Forwarded-Host: a.example\r\nX-Forwarded-Proto: https\r\n"), true},
		{"empty forwarded-for kept", relayGet("/function/fn/x", "X-Forwarded-For:\r\n"), true},
		{"forwarded dropped", relayGet("/function/fn/x", "Forwarded: for=1.2.3.4\r\nforwarded: by=x\r\n"), true},
		{"hop headers", relayGet("/function/fn/x", "Connection: keep-alive\r\nKeep-Alive: 300\r\nProxy-Authorization: x\r\n"), true},
		{"connection close", relayGet("/function/fn/x", "Connection: close\r\nClose: x\r\n"), true},
		{"pragma", relayGet("/function/fn/x", "Pragma: no-cache\r\n"), true},
		{"repeated headers", relayGet("/function/fn/x", "X-A: 1\r\nx-a: 2\r\nX-B:  padded  \r\n"), true},
		{"upstream down", relayPost("/function/down/x", "b"), true},
		{"upstream cuts the body", relayGet("/function/fn/cut"), true},
		// Declined: ServeHTTP answers.
		{"invalid name", relayGet("/function/Bad_Name!/x"), false},
		{"invalid namespace", relayGet("/function/fn.Bad_NS/x"), false},
		{"empty name", relayGet("/function/"), false},
		{"empty name with ns", relayGet("/function/.dev"), false},
		{"unknown function", relayGet("/function/missing"), false},
		{"no replicas", relayGet("/function/cold"), false},
		{"no URL", relayGet("/function/nourl"), false},
		{"custom transport", relayGet("/function/custom"), false},
		{"trace", "TRACE /function/fn HTTP/1.1\r\nHost: h\r\n\r\n", false},
		{"propfind", "PROPFIND /function/fn HTTP/1.1\r\nHost: h\r\n\r\n", false},
		{"head", "HEAD /function/fn HTTP/1.1\r\nHost: h\r\n\r\n", false},
		{"escaped path", relayGet("/function/fn/a%2Fb"), false},
		{"escaped name", relayGet("/function/f%6E/a"), false},
		{"connection naming a header", relayGet("/function/fn/x", "Connection: X-A\r\nX-A: 1\r\n"), false},
		{"not an invocation", relayGet("/system/functions"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, relayed := e.compare(t, tc.raw); relayed != tc.relayed {
				t.Errorf("relayed %v, want %v", relayed, tc.relayed)
			}
		})
	}
	t.Run("keep-alive", func(t *testing.T) {
		rc, sc := lanetest.Dial(t, e.relayAddr), lanetest.Dial(t, e.srvAddr)
		for _, raw := range []string{relayGet("/function/fn/a"), relayGet("/function/fn/notype"),
			relayGet("/function/missing"), relayGet("/function/fn/status?code=204"), relayGet("/function/fn/large"),
			relayPost("/function/fn/b", "x")} {
			if r, s := rc.RoundTrip(t, raw).Norm, sc.RoundTrip(t, raw).Norm; r != s {
				t.Errorf("%q: answers differ\nrelay: %q\n  srv: %q", raw, r, s)
			}
		}
	})
}

// TestRelayErrors: the 502 and 504 of a relayed call are ServeHTTP's.
func TestRelayErrors(t *testing.T) {
	t.Parallel()
	e := newRelayEnv(t, 300*time.Millisecond)
	got, relayed := e.compare(t, relayGet("/function/fn/slow"))
	if !relayed || !strings.HasPrefix(got, "HTTP/1.1 504") || !strings.Contains(got, "did not answer within 300ms") {
		t.Errorf("relayed %v, got %q; want a relayed 504", relayed, got)
	}
	got, relayed = e.compare(t, relayGet("/function/down"))
	if !relayed || !strings.HasPrefix(got, "HTTP/1.1 502") || !strings.Contains(got, "cannot reach function down.openfaas-fn") {
		t.Errorf("relayed %v, got %q; want a relayed 502", relayed, got)
	}
	if _, f := e.relayObs.calls(); !reflect.DeepEqual(f, []string{"fn.openfaas-fn 504", "down.openfaas-fn 502"}) {
		t.Errorf("Finished calls %v", f)
	}
}

// TestRelayClientGone: a call whose client leaves is recorded as
// ServeHTTP records it (a 504).
func TestRelayClientGone(t *testing.T) {
	t.Parallel()
	e := newRelayEnv(t, 0)
	for _, addr := range []string{e.relayAddr, e.srvAddr} {
		n := len(e.up.Received())
		rc := lanetest.Dial(t, addr)
		if _, err := io.WriteString(rc.Conn(), relayGet("/function/fn/slow")); err != nil {
			t.Fatal(err)
		}
		for end := time.Now().Add(lanetest.Wait); len(e.up.Received()) == n; time.Sleep(time.Millisecond) {
			if time.Now().After(end) {
				t.Fatal("the function got no call")
			}
		}
		_ = rc.Conn().Close()
	}
	var rf, sf []string
	for end := time.Now().Add(lanetest.Wait); len(rf) == 0 || len(sf) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the calls did not end when their clients left")
		}
		_, rf = e.relayObs.calls()
		_, sf = e.srvObs.calls()
	}
	if !reflect.DeepEqual(rf, sf) || !reflect.DeepEqual(rf, []string{"fn.openfaas-fn 504"}) {
		t.Errorf("Finished calls: relay %v, srv %v; want one 504 each", rf, sf)
	}
	if e.taken.Load() != 1 {
		t.Errorf("Relay took %d calls, want 1", e.taken.Load())
	}
}

// TestRelayStreams: event streams and NDJSON reach the client as they
// come, as through ServeHTTP.
func TestRelayStreams(t *testing.T) {
	t.Parallel()
	e := newRelayEnv(t, 0)
	for _, path := range []string{"/sse", "/ndjson"} {
		var got [2]string
		for i, addr := range []string{e.relayAddr, e.srvAddr} {
			rc := lanetest.Dial(t, addr)
			if _, err := io.WriteString(rc.Conn(), relayGet("/function/fn"+path)); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(rc.Reader(), nil)
			if err != nil {
				t.Fatal(err)
			}
			first := make([]byte, len("event 0\n"))
			if _, err := io.ReadFull(resp.Body, first); err != nil {
				t.Fatalf("%s: first event: %v (not streamed?)", path, err)
			}
			e.up.streamGo <- struct{}{}
			rest, err := io.ReadAll(resp.Body)
			resp.Header.Del("Date")
			got[i] = fmt.Sprint(resp.Status, resp.Header, resp.TransferEncoding, resp.ContentLength, string(first)+string(rest), err)
		}
		if got[0] != got[1] {
			t.Errorf("%s: streams differ\nrelay: %s\n  srv: %s", path, got[0], got[1])
		}
	}
	if e.taken.Load() != 2 {
		t.Errorf("Relay took %d streams, want 2", e.taken.Load())
	}
}
