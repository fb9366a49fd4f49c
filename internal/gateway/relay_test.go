package gateway

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofaas/gofaas/internal/lane"
	"github.com/gofaas/gofaas/internal/metrics"
	"github.com/gofaas/gofaas/internal/provider/memory"
	"github.com/gofaas/gofaas/pkg/api"
)

// These tests hold Gateway.Relay (a lane Shortcut) to its promise: an
// invocation gets what Gateway.ServeHTTP gives it (call id, start time,
// served-by and duration headers, upstream request, metrics), or is
// declined.

const relayWait = 5 * time.Second // bounds every wait; never asserted

// relayed is what the function received.
type relayed struct {
	Method, URI, Host string
	Header            http.Header
	Body              string
}

type relayFunction struct {
	url string
	mu  sync.Mutex
	got []relayed
}

func newRelayFunction(t *testing.T) *relayFunction {
	t.Helper()
	f := &relayFunction{}
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

func (f *relayFunction) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.got = append(f.got, relayed{r.Method, r.RequestURI, r.Host, r.Header.Clone(), string(body)})
	f.mu.Unlock()
	h := w.Header()
	h.Set("Content-Type", "text/plain")
	switch r.URL.Path {
	case "/dur":
		h.Set(api.HeaderDuration, "0.5")
	case "/emptydur":
		h[api.HeaderDuration] = []string{""}
	case "/imposter": // the gateway's headers win
		h.Set(api.HeaderCallID, "from-function")
		h.Set(api.HeaderStartTime, "1")
		h.Set(api.HeaderServedBy, "function")
	case "/notype":
		h["Content-Type"] = nil
	case "/stream":
		h.Set("Content-Type", "text/event-stream")
	case "/slow":
		select {
		case <-r.Context().Done():
		case <-time.After(relayWait):
		}
		return
	}
	_, _ = fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.RequestURI(), body)
}

func (f *relayFunction) received() []relayed {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]relayed(nil), f.got...)
}

// relayGateway is a gateway with an "echo" function, served on a lane.
type relayGateway struct {
	g     *Gateway
	m     *metrics.Gateway
	addr  string
	taken atomic.Int64 // calls Relay answered
}

func newRelayGateway(t *testing.T, fn *relayFunction, relay bool) *relayGateway {
	t.Helper()
	u, err := url.Parse(fn.url)
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.New(u)
	for _, d := range []api.FunctionDeployment{{Service: "echo", Image: "x", Namespace: api.DefaultNamespace}} {
		if err := mem.Deploy(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
	m := metrics.NewGateway()
	g := New(mem, m, Config{UpstreamTimeout: time.Second, Version: api.VersionInfo{Release: "test"}})
	rg := &relayGateway{g: g, m: m}
	var shortcut func(*lane.Exchange) bool
	if relay {
		shortcut = func(ex *lane.Exchange) bool {
			if g.Relay(ex) {
				rg.taken.Add(1)
				return true
			}
			return false
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &lane.Server{HTTP: &http.Server{Handler: g, ErrorLog: log.New(io.Discard, "", 0)}, Shortcut: shortcut}
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close(); <-done })
	rg.addr = ln.Addr().String()
	return rg
}

// answer is one response as the client read it.
type answer struct {
	norm   string // status, sorted header lines (volatile values masked), body
	header http.Header
}

// volatile are the headers whose values differ from call to call; they
// are checked apart.
var volatile = []string{"Date", api.HeaderCallID, api.HeaderStartTime, api.HeaderDuration}

func ask(t *testing.T, addr, raw string) answer {
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
		return answer{norm: "no response: " + err.Error()}
	}
	body, err := io.ReadAll(resp.Body)
	head, _, _ := bytes.Cut(got.Bytes(), []byte("\r\n\r\n"))
	lines := strings.Split(string(head), "\r\n")
	fields := lines[1:]
	for i, l := range fields {
		k, _, _ := strings.Cut(l, ":")
		for _, v := range volatile {
			if k == v {
				fields[i] = k + ": <masked>"
			}
		}
	}
	sort.Strings(fields)
	return answer{norm: fmt.Sprintf("%s\r\n%s\r\n\r\n%s\n<err %v>", lines[0], strings.Join(fields, "\r\n"), body, err),
		header: resp.Header}
}

// maskSeen blanks what differs between two calls in what the function saw.
func maskSeen(rs []relayed, generatedID bool) []relayed {
	out := make([]relayed, len(rs))
	for i, r := range rs {
		r.Header = r.Header.Clone()
		r.Header[api.HeaderStartTime] = []string{"<masked>"}
		if generatedID {
			r.Header[api.HeaderCallID] = []string{"<masked>"}
		}
		out[i] = r
	}
	return out
}

func TestGatewayRelayMatchesServeHTTP(t *testing.T) {
	t.Parallel()
	fn := newRelayFunction(t)
	viaRelay, viaHandler := newRelayGateway(t, fn, true), newRelayGateway(t, fn, false)
	get := func(target string, extra ...string) string {
		return "GET " + target + " HTTP/1.1\r\nHost: gw.example\r\n" + strings.Join(extra, "") + "\r\n"
	}
	tests := []struct {
		name     string
		raw      string
		clientID []string // the X-Call-Id values the client sent, nil: one is made
		duration string   // the function's X-Duration-Seconds, "": the gateway's, "-": not an invocation
		relayed  bool
	}{
		{"call id made", get("/function/echo/a?x=1"), nil, "", true},
		{"call id given", get("/function/echo/a", "X-Call-Id: abc-123\r\n"), []string{"abc-123"}, "", true},
		{"call id given twice", get("/function/echo", "X-Call-Id: one\r\nx-call-id: two\r\n"), []string{"one", "two"}, "", true},
		{"call id empty", get("/function/echo", "X-Call-Id:\r\n"), nil, "", true},
		{"call id empty then given", get("/function/echo", "X-Call-Id:\r\nX-Call-Id: late\r\n"), nil, "", true},
		{"start time replaced", get("/function/echo.openfaas-fn/b", "X-Start-Time: 42\r\nx-start-time: 43\r\n"), nil, "", true},
		{"post", "POST /function/echo/p HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", nil, "", true},
		{"function duration", get("/function/echo/dur"), nil, "0.5", true},
		{"function duration empty", get("/function/echo/emptydur"), nil, "", true},
		{"function sets gateway headers", get("/function/echo/imposter", "X-Call-Id: mine\r\n"), []string{"mine"}, "", true},
		{"no content type", get("/function/echo/notype", "Content-Type: text/csv\r\n"), nil, "", true},
		{"event stream", get("/function/echo/stream"), nil, "", true},
		{"timeout", get("/function/echo/slow"), nil, "", true},
		{"unknown function", get("/function/missing"), nil, "", false},
		{"head", "HEAD /function/echo HTTP/1.1\r\nHost: gw\r\n\r\n", nil, "", false},
		{"uncleaned path", get("/function/echo/../echo"), nil, "-", false},
		{"not an invocation", get("/healthz"), nil, "-", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n0 := len(fn.received())
			taken0 := viaRelay.taken.Load()
			a := ask(t, viaRelay.addr, tc.raw)
			n1 := len(fn.received())
			b := ask(t, viaHandler.addr, tc.raw)
			seen := fn.received()
			if a.norm != b.norm {
				t.Errorf("answers differ\nrelay: %q\n  srv: %q", a.norm, b.norm)
			}
			sa, sb := maskSeen(seen[n0:n1], tc.clientID == nil), maskSeen(seen[n1:], tc.clientID == nil)
			if !reflect.DeepEqual(sa, sb) {
				t.Errorf("the function saw different requests\nrelay: %+v\n  srv: %+v", sa, sb)
			}
			for i, ans := range []answer{a, b} {
				if tc.duration == "-" {
					break
				}
				side := [...]string{"relay", "handler"}[i]
				checkGatewayHeaders(t, side, ans.header, seen[[...]int{n0, n1}[i]:][:len(sa)], tc.clientID, tc.duration)
			}
			if taken := viaRelay.taken.Load() > taken0; taken != tc.relayed {
				t.Errorf("relayed %v, want %v", taken, tc.relayed)
			}
		})
	}
	// Both gateways counted the same invocations.
	for _, fn := range []string{"echo.openfaas-fn", "missing.openfaas-fn"} {
		a, b := viaRelay.m.InvocationCount(fn), viaHandler.m.InvocationCount(fn)
		if a != b {
			t.Errorf("%s: %v invocations counted with Relay, %v without", fn, a, b)
		}
	}
	if got := viaRelay.m.InvocationCount("echo.openfaas-fn"); got == 0 {
		t.Error("no invocation counted")
	}
}

// checkGatewayHeaders checks the values masked in the comparison: the call
// id the client and function see, the start time, the duration.
func checkGatewayHeaders(t *testing.T, side string, h http.Header, seen []relayed, clientID []string, duration string) {
	t.Helper()
	if h == nil {
		return
	}
	id := h.Values(api.HeaderCallID)
	if len(id) != 1 || id[0] == "" {
		t.Errorf("%s: X-Call-Id %q, want one", side, id)
		return
	}
	if clientID != nil && id[0] != clientID[0] {
		t.Errorf("%s: X-Call-Id %q, want the client's %q", side, id[0], clientID[0])
	}
	if h.Get(api.HeaderServedBy) != "gofaas/test" {
		t.Errorf("%s: X-Served-By %q", side, h.Values(api.HeaderServedBy))
	}
	start := h.Values(api.HeaderStartTime)
	if len(start) != 1 {
		t.Errorf("%s: X-Start-Time %q", side, start)
	} else if _, err := strconv.ParseInt(start[0], 10, 64); err != nil {
		t.Errorf("%s: X-Start-Time %q", side, start[0])
	}
	d := h.Values(api.HeaderDuration)
	switch {
	case len(d) != 1:
		t.Errorf("%s: X-Duration-Seconds %q, want one", side, d)
	case duration != "" && d[0] != duration:
		t.Errorf("%s: X-Duration-Seconds %q, want the function's %q", side, d[0], duration)
	case duration == "":
		if _, err := strconv.ParseFloat(d[0], 64); err != nil {
			t.Errorf("%s: X-Duration-Seconds %q", side, d[0])
		}
	}
	if len(seen) == 0 {
		return
	}
	want := clientID
	if want == nil {
		want = id // made by the gateway, sent to the function
	}
	if got := seen[0].Header.Values(api.HeaderCallID); !reflect.DeepEqual(got, want) {
		t.Errorf("%s: the function saw X-Call-Id %q, want %q", side, got, want)
	}
	if got := seen[0].Header.Values(api.HeaderStartTime); !reflect.DeepEqual(got, start) {
		t.Errorf("%s: the function saw X-Start-Time %q, the client %q", side, got, start)
	}
}
