package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofaas/gofaas/internal/lane"
	"github.com/gofaas/gofaas/internal/lane/lanetest"
	"github.com/gofaas/gofaas/internal/metrics"
	"github.com/gofaas/gofaas/internal/provider/memory"
	"github.com/gofaas/gofaas/pkg/api"
)

// These tests hold Gateway.Relay (a lane Shortcut) to its promise: an
// invocation gets what Gateway.ServeHTTP gives it (call id, start time,
// served-by and duration headers, upstream request, metrics), or is
// declined.

// newRelayFunction starts the "echo" function: it answers with the
// request's method, target and body, in ways chosen by path.
func newRelayFunction(t *testing.T) *lanetest.Upstream {
	t.Helper()
	return lanetest.NewUpstream(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
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
			case <-time.After(lanetest.Wait):
			}
			return
		}
		_, _ = fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.RequestURI(), body)
	})
}

// relayGateway is a gateway with an "echo" function, served on a lane.
type relayGateway struct {
	g     *Gateway
	m     *metrics.Gateway
	addr  string
	taken atomic.Int64 // calls Relay answered
}

func newRelayGateway(t *testing.T, fn *lanetest.Upstream, relay bool) *relayGateway {
	t.Helper()
	u, err := url.Parse(fn.URL)
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
	rg.addr = lanetest.Start(t, g, shortcut)
	return rg
}

// volatile are the headers whose values differ from call to call; they
// are checked apart.
var volatile = []string{"Date", api.HeaderCallID, api.HeaderStartTime, api.HeaderDuration}

// maskSeen blanks what differs between two calls in what the function saw.
func maskSeen(rs []lanetest.Seen, generatedID bool) []lanetest.Seen {
	out := make([]lanetest.Seen, len(rs))
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
			n0 := len(fn.Received())
			taken0 := viaRelay.taken.Load()
			a := lanetest.Ask(t, viaRelay.addr, tc.raw, volatile...)
			n1 := len(fn.Received())
			b := lanetest.Ask(t, viaHandler.addr, tc.raw, volatile...)
			seen := fn.Received()
			if a.Norm != b.Norm {
				t.Errorf("answers differ\nrelay: %q\n  srv: %q", a.Norm, b.Norm)
			}
			sa, sb := maskSeen(seen[n0:n1], tc.clientID == nil), maskSeen(seen[n1:], tc.clientID == nil)
			if !reflect.DeepEqual(sa, sb) {
				t.Errorf("the function saw different requests\nrelay: %+v\n  srv: %+v", sa, sb)
			}
			for i, ans := range []lanetest.Answer{a, b} {
				if tc.duration == "-" {
					break
				}
				side := [...]string{"relay", "handler"}[i]
				checkGatewayHeaders(t, side, ans.Header, seen[[...]int{n0, n1}[i]:][:len(sa)], tc.clientID, tc.duration)
			}
			// Relay returns after the client may have its whole answer (a
			// Content-Length body is complete before the lane's final flush).
			taken := viaRelay.taken.Load() > taken0
			for deadline := time.Now().Add(lanetest.Wait); tc.relayed && !taken && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
				taken = viaRelay.taken.Load() > taken0
			}
			if taken != tc.relayed {
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
func checkGatewayHeaders(t *testing.T, side string, h http.Header, seen []lanetest.Seen, clientID []string, duration string) {
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
