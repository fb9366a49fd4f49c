package fastproxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofaas/gofaas/internal/lane"
	"github.com/gofaas/gofaas/internal/lane/lanetest"
)

// These tests hold Pool.Relay (through a lane Shortcut) to its promise: a
// client and the upstream see the same exchange as with Pool.Do (through a
// lane Handler), header order and Date aside.

// ioWait bounds every wait; no test asserts a duration.
const ioWait = lanetest.Wait

// rawUpstream is a keep-alive HTTP/1.1 upstream that answers with raw
// bytes chosen by path, so it can send what net/http would not.
type rawUpstream struct {
	lanetest.Recorder
	ln       net.Listener
	conns    atomic.Int64
	slowGot  chan struct{} // a /slow request arrived
	release  chan struct{} // /slow may answer
	streamGo chan struct{} // /stream may finish
	wg       sync.WaitGroup
	open     sync.Map // net.Conn → struct{}
}

// cannedResponses are answered as they are, the connection kept.
var cannedResponses = map[string]string{
	"/plain":      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Up: a\r\nX-Up: b\r\nContent-Length: 5\r\n\r\nhello",
	"/created":    "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nLocation: /x\r\nContent-Length: 2\r\n\r\n{}",
	"/notfound":   "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nnope",
	"/error":      "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nboom",
	"/unknown":    "HTTP/1.1 299 Whatever\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok",
	"/noreason":   "HTTP/1.1 202\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok",
	"/zeros":      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 002\r\n\r\nok",
	"/dated":      "HTTP/1.1 200 OK\r\nDate: Mon, 02 Jan 2006 15:04:05 GMT\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok",
	"/proxyauth":  "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nProxy-Authorization: secret\r\nContent-Length: 2\r\n\r\nok",
	"/keepalive":  "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\nok",
	"/connnamed":  "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: X-Secret\r\nX-Secret: s\r\nContent-Length: 2\r\n\r\nok",
	"/notype":     "HTTP/1.1 200 OK\r\nContent-Length: 28\r\n\r\n<html><body>hi</body></html>",
	"/notype0":    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	"/emptytype":  "HTTP/1.1 200 OK\r\nContent-Type:\r\nContent-Length: 5\r\n\r\nhello",
	"/twotypes":   "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello",
	"/encoded":    "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello",
	"/trailing":   "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Pad: v \r\nContent-Length: 2\r\n\r\nok",
	"/folded":     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Fold: a\r\n b\r\nContent-Length: 2\r\n\r\nok",
	"/obstext":    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Utf: caf\xc3\xa9\r\nContent-Length: 2\r\n\r\nok",
	"/chunked":    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
	"/trailer":    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-Sum: 1\r\n\r\n",
	"/nocontent":  "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n",
	"/notmod":     "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nContent-Type: text/plain\r\n\r\n",
	"/early":      "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok",
	"/duphdr":     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 2\r\n\r\nok",
	"/badlength":  "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
	"/lowercased": "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-lower: y\r\ncontent-length: 2\r\n\r\nok",
}

func newRawUpstream(t *testing.T) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{ln: ln, slowGot: make(chan struct{}, 8), release: make(chan struct{}),
		streamGo: make(chan struct{})}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.conns.Add(1)
			u.open.Store(c, struct{}{})
			u.wg.Add(1)
			go func() {
				defer u.wg.Done()
				defer u.open.Delete(c)
				u.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		u.open.Range(func(k, _ any) bool { _ = k.(net.Conn).Close(); return true })
		u.wg.Wait()
	})
	return u
}

func (u *rawUpstream) addr() string { return u.ln.Addr().String() }

func (u *rawUpstream) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		req, err := readRawRequest(br)
		if err != nil {
			return
		}
		u.Record(req)
		path, _, _ := strings.Cut(req.URI, "?")
		if canned, ok := cannedResponses[path]; ok {
			if _, err := io.WriteString(c, canned); err != nil {
				return
			}
			continue
		}
		switch path {
		case "/large":
			head := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", 200<<10)
			if _, err := io.WriteString(c, head+strings.Repeat("0123456789abcdef", (200<<10)/16)); err != nil {
				return
			}
		case "/close-after": // answers, then drops the connection the pool keeps
			_, _ = io.WriteString(c, cannedResponses["/plain"])
			return
		case "/conn-close":
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbye")
			return
		case "/http10":
			_, _ = io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
			return
		case "/midbody":
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n0123456789")
			return
		case "/midchunk":
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
			return
		case "/hang": // never answers: wait for the proxy to give up
			_, _ = br.ReadByte()
			return
		case "/slow":
			u.slowGot <- struct{}{}
			select {
			case <-u.release:
			case <-time.After(ioWait):
			}
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nlate"); err != nil {
				return
			}
		case "/stream":
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nevent 0\n\r\n"); err != nil {
				return
			}
			select {
			case <-u.streamGo:
			case <-time.After(ioWait):
			}
			if _, err := io.WriteString(c, "8\r\nevent 1\n\r\n0\r\n\r\n"); err != nil {
				return
			}
		default:
			_, _ = io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
		}
	}
}

// readRawRequest reads a request as sent: unlike http.ReadRequest, it
// leaves the header as it came (no Pragma to Cache-Control).
func readRawRequest(br *bufio.Reader) (lanetest.Seen, error) {
	tp := textproto.NewReader(br)
	line, err := tp.ReadLine()
	if err != nil {
		return lanetest.Seen{}, err
	}
	parts := strings.Split(line, " ")
	if len(parts) != 3 || parts[2] != "HTTP/1.1" {
		return lanetest.Seen{}, fmt.Errorf("bad request line %q", line)
	}
	mh, err := tp.ReadMIMEHeader()
	if err != nil {
		return lanetest.Seen{}, err
	}
	h := http.Header(mh)
	req := lanetest.Seen{Method: parts[0], URI: parts[1], Host: h.Get("Host"), Header: h}
	h.Del("Host")
	if cl := h.Get("Content-Length"); cl != "" {
		n, err := strconv.Atoi(cl)
		if err != nil {
			return lanetest.Seen{}, err
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(br, body); err != nil {
			return lanetest.Seen{}, err
		}
		req.Body = string(body)
	}
	return req, nil
}

// outcome is what the proxy code returned for one request.
type outcome struct {
	status              int
	ok, before, timeout bool
}

// diffEnv is an upstream with a relaying lane and a Do lane in front.
type diffEnv struct {
	up                *rawUpstream
	relayPool, doPool *Pool
	relayAddr, doAddr string
	mu                sync.Mutex
	relayOut, doOut   []outcome
	waitGone          atomic.Bool // the relay shim waits for the client to leave first
	relayTaken        atomic.Int64
}

func newDiffEnv(t *testing.T, dial DialFunc, up *rawUpstream) *diffEnv {
	t.Helper()
	e := &diffEnv{up: up, relayPool: NewPool(dial, Config{IdleTimeout: time.Hour}),
		doPool: NewPool(dial, Config{IdleTimeout: time.Hour})}
	e.relayAddr = startLane(t, http.HandlerFunc(e.serveDo(e.relayPool, false)), e.shortcut)
	e.doAddr = startLane(t, http.HandlerFunc(e.serveDo(e.doPool, true)), nil)
	return e
}

// startLane is lanetest.Start with room for bodies past MaxBody, so that
// Relayable, not the lane, turns them down.
func startLane(t *testing.T, h http.Handler, shortcut func(*lane.Exchange) bool) string {
	t.Helper()
	return lanetest.Serve(t, &lane.Server{HTTP: &http.Server{Handler: h}, Shortcut: shortcut, MaxBody: 2 * MaxBody})
}

// deadlineOf reads the test's X-Test-Deadline request header.
func deadlineOf(v string) time.Time {
	if d, err := time.ParseDuration(v); err == nil {
		return time.Now().Add(d)
	}
	return time.Time{}
}

// answerError is the caller's answer to a failure before the response,
// alike on both paths.
func answerError(w http.ResponseWriter, timedOut bool) {
	if timedOut {
		http.Error(w, "upstream timed out", http.StatusGatewayTimeout)
		return
	}
	http.Error(w, "cannot reach upstream", http.StatusBadGateway)
}

// shimHooks keep every header and leave a response without Content-Type
// to the lane, which sniffs one.
type shimHooks struct{ sawType bool }

func (h *shimHooks) Field(name, _ []byte) (bool, bool) {
	if string(name) == "Content-Type" {
		h.sawType = true
	}
	return true, true
}
func (h *shimHooks) AppendHeader(b []byte, _ int) ([]byte, bool)       { return b, h.sawType }
func (h *shimHooks) Writer(rw http.ResponseWriter) http.ResponseWriter { return rw }
func (h *shimHooks) ModifyResponse(*http.Response) error               { return nil }

func (e *diffEnv) shortcut(ex *lane.Exchange) bool {
	if !Relayable(ex) {
		return false
	}
	e.relayTaken.Add(1)
	if e.waitGone.Load() {
		for end := time.Now().Add(ioWait); !ex.Gone() && time.Now().Before(end); {
			time.Sleep(5 * time.Millisecond)
		}
	}
	rl := &Relay{URI: ex.Target, Host: "fn.test", Deadline: deadlineOf(ex.Get("X-Test-Deadline"))}
	status, err := e.relayPool.Relay(ex, rl, &shimHooks{})
	o := outcome{status: status, ok: err == nil, before: errors.Is(err, ErrBeforeResponse), timeout: TimedOutAt(rl.Deadline, err)}
	switch {
	case err == nil:
	case o.before:
		answerError(ex.ResponseWriter(), o.timeout)
		o.status = map[bool]int{true: 504, false: 502}[o.timeout]
	default:
		ex.CloseAfter() // cut short
	}
	e.mu.Lock()
	e.relayOut = append(e.relayOut, o)
	e.mu.Unlock()
	return true
}

// serveDo is the handler path: Pool.Do with the request's header map.
func (e *diffEnv) serveDo(p *Pool, record bool) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := ReadBody(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req := &Request{Method: r.Method, URI: r.RequestURI, Host: "fn.test", Header: r.Header, Body: body, In: r,
			Deadline: deadlineOf(r.Header.Get("X-Test-Deadline"))}
		sw := &statusWriter{ResponseWriter: w}
		err = p.Do(r.Context(), sw, req)
		o := outcome{ok: err == nil, before: errors.Is(err, ErrBeforeResponse), timeout: TimedOut(req, err)}
		defer func() {
			if record {
				e.mu.Lock()
				e.doOut = append(e.doOut, o)
				e.mu.Unlock()
			}
		}()
		switch {
		case err == nil:
			o.status = sw.code
		case o.before:
			answerError(w, o.timeout)
			o.status = map[bool]int{true: 504, false: 502}[o.timeout]
		default:
			o.status = sw.code
			panic(http.ErrAbortHandler)
		}
	}
}

// statusWriter records the status Do sent.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 && code >= 200 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = 200
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (e *diffEnv) lastOutcomes() (relay, do outcome, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.relayOut) == 0 || len(e.doOut) == 0 {
		return outcome{}, outcome{}, false
	}
	return e.relayOut[len(e.relayOut)-1], e.doOut[len(e.doOut)-1], true
}

func get(path string, extra ...string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: client.example\r\n" + strings.Join(extra, "") + "\r\n"
}

func post(path, body string, extra ...string) string {
	return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: client.example\r\n%sContent-Length: %d\r\n\r\n%s", path,
		strings.Join(extra, ""), len(body), body)
}

// compare sends raw on a fresh connection to each lane and checks both
// answers, what the upstream saw and what the proxy code returned.
func (e *diffEnv) compare(t *testing.T, raw string) (relay string) {
	t.Helper()
	before := 0
	if e.up != nil {
		before = len(e.up.Received())
	}
	relay = lanetest.Dial(t, e.relayAddr).RoundTrip(t, raw).Norm
	var upRelay []lanetest.Seen
	if e.up != nil {
		upRelay = e.up.Received()[before:]
		before = len(e.up.Received())
	}
	do := lanetest.Dial(t, e.doAddr).RoundTrip(t, raw).Norm
	if relay != do {
		t.Errorf("responses differ\nrelay: %q\n   do: %q", relay, do)
	}
	if e.up != nil {
		upDo := e.up.Received()[before:]
		if !reflect.DeepEqual(upRelay, upDo) {
			t.Errorf("upstream saw different requests\nrelay: %+v\n   do: %+v", upRelay, upDo)
		}
	}
	ro, do2, ok := e.lastOutcomes()
	if !ok || ro != do2 {
		t.Errorf("outcomes differ: relay %+v, do %+v", ro, do2)
	}
	return relay
}

func TestRelayMatchesDo(t *testing.T) {
	t.Parallel()
	up := newRawUpstream(t)
	e := newDiffEnv(t, tcpDial(up.addr()), up)
	rich := []string{"User-Agent: t/1\r\n", "Accept: */*\r\n", "X-Dup: 1\r\n", "x-dup: 2\r\n",
		"Pragma: no-cache\r\n", "Keep-Alive: 300\r\n", "Proxy-Authorization: Basic eA==\r\n",
		"Connection: keep-alive\r\n", "Content-Type: application/json\r\n", "X-Empty:\r\n",
		"X-Space:   padded  \r\n", "Expect-Ct: x\r\n", "Te-Not: x\r\n"}
	var paths []string
	for p := range cannedResponses {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	paths = append(paths, "/large", "/conn-close", "/http10")
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			e.compare(t, get(p))
			e.compare(t, post(p+"?q=1&r=%20", `{"a":1}`, rich...))
		})
	}
	t.Run("requests", func(t *testing.T) {
		for _, raw := range []string{
			get("/plain", "Pragma: no-cache\r\nCache-Control: max-age=0\r\n"),
			get("/plain", "Pragma: no-cache, x\r\n"),
			get("/plain", "pragma: no-cache\r\nPragma: other\r\n"),
			get("/plain?", "Connection: close\r\n"),
			get("/plain", "Connection: Keep-Alive, close\r\n"),
			"PUT /plain HTTP/1.1\r\nHost: h\r\n\r\n",
			"PATCH /plain HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
			"DELETE /a/../b//c HTTP/1.1\r\nHost: h\r\n\r\n",
			"OPTIONS /plain HTTP/1.1\r\nHost: h\r\n\r\n",
			"PROPFIND /plain HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
			post("/plain", strings.Repeat("b", MaxBody)),
		} {
			e.compare(t, raw)
		}
	})
	t.Run("keep-alive", func(t *testing.T) {
		// Several exchanges on one client connection, and so on pooled
		// upstream connections.
		rc, dc := lanetest.Dial(t, e.relayAddr), lanetest.Dial(t, e.doAddr)
		for _, raw := range []string{get("/plain"), post("/created", "x"), get("/chunked"), get("/nocontent"),
			get("/early"), get("/large"), get("/notype"), get("/conn-close"), get("/plain")} {
			if r, d := rc.RoundTrip(t, raw).Norm, dc.RoundTrip(t, raw).Norm; r != d {
				t.Errorf("%q: responses differ\nrelay: %q\n   do: %q", raw, r, d)
			}
		}
	})
	t.Run("pipelined", func(t *testing.T) {
		raw := get("/plain") + post("/created", "x") + get("/chunked") + get("/notype") + get("/plain", "Connection: close\r\n")
		var got [2][]string
		for i, addr := range []string{e.relayAddr, e.doAddr} {
			c := lanetest.Dial(t, addr)
			if _, err := io.WriteString(c.Conn(), raw); err != nil {
				t.Fatal(err)
			}
			for range 5 {
				got[i] = append(got[i], c.Read("GET").Norm)
			}
		}
		if !reflect.DeepEqual(got[0], got[1]) {
			t.Errorf("pipelined answers differ\nrelay: %q\n   do: %q", got[0], got[1])
		}
	})
	if e.relayTaken.Load() == 0 {
		t.Fatal("the Shortcut relayed nothing")
	}
}

func TestRelayUpstreamFailures(t *testing.T) {
	t.Parallel()
	up := newRawUpstream(t)
	e := newDiffEnv(t, tcpDial(up.addr()), up)
	t.Run("never answers", func(t *testing.T) {
		got := e.compare(t, get("/hang", "X-Test-Deadline: 200ms\r\n"))
		if !strings.HasPrefix(got, "HTTP/1.1 504") {
			t.Errorf("got %q, want a 504", got)
		}
		if ro, _, _ := e.lastOutcomes(); !ro.before || !ro.timeout {
			t.Errorf("relay outcome %+v: want a failure before the response, timed out", ro)
		}
	})
	for _, p := range []string{"/midbody", "/midchunk"} {
		t.Run("closes mid-body "+p, func(t *testing.T) {
			// What reaches the client before the cut depends on buffers (the
			// handler path holds up to 2 KiB in the lane): both must be cut
			// short, with the same head when the client got one, and
			// neither may look complete.
			relay := lanetest.Dial(t, e.relayAddr).RoundTrip(t, get(p)).Norm
			do := lanetest.Dial(t, e.doAddr).RoundTrip(t, get(p)).Norm
			for _, got := range []string{relay, do} {
				if !strings.HasSuffix(got, "<cut short>") && !strings.HasPrefix(got, "no response") {
					t.Errorf("response %q looks complete", got)
				}
			}
			rh, _, _ := strings.Cut(relay, "\r\n\r\n")
			dh, _, _ := strings.Cut(do, "\r\n\r\n")
			if !strings.HasPrefix(do, "no response") && rh != dh {
				t.Errorf("heads differ\nrelay: %q\n   do: %q", rh, dh)
			}
			if ro, do, _ := e.lastOutcomes(); ro != do || ro.ok || ro.before || ro.status != 200 {
				t.Errorf("outcomes: relay %+v, do %+v; want both failed after a 200", ro, do)
			}
		})
	}
	t.Run("dial failure", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dead := ln.Addr().String()
		_ = ln.Close()
		de := newDiffEnv(t, tcpDial(dead), nil)
		got := de.compare(t, post("/plain", "x"))
		if !strings.HasPrefix(got, "HTTP/1.1 502") {
			t.Errorf("got %q, want a 502", got)
		}
		if ro, _, _ := de.lastOutcomes(); !ro.before || ro.timeout {
			t.Errorf("relay outcome %+v: want a failure before the response", ro)
		}
		if !de.relayPool.Prune(time.Now()) {
			t.Error("a failed dial left the pool in use")
		}
	})
}

// TestRelayRetry: a pooled connection the upstream closed between two
// requests is retried when resending is safe, on both paths alike.
func TestRelayRetry(t *testing.T) {
	t.Parallel()
	up := newRawUpstream(t)
	e := newDiffEnv(t, tcpDial(up.addr()), up)
	for _, tc := range []struct {
		name, raw string
		want      string // status line
	}{
		{"GET", get("/plain"), "HTTP/1.1 200"},
		{"POST without body", post("/plain", ""), "HTTP/1.1 200"},
		{"POST with body", post("/plain", "once"), "HTTP/1.1 502"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got [2]string
			var conns [2]int64
			for i, addr := range []string{e.relayAddr, e.doAddr} {
				c := lanetest.Dial(t, addr)
				if r := c.RoundTrip(t, get("/close-after")).Norm; !strings.HasPrefix(r, "HTTP/1.1 200") {
					t.Fatalf("first call: %q", r)
				}
				n := up.conns.Load()
				got[i] = c.RoundTrip(t, tc.raw).Norm
				conns[i] = up.conns.Load() - n
			}
			if got[0] != got[1] {
				t.Errorf("responses differ\nrelay: %q\n   do: %q", got[0], got[1])
			}
			if !strings.HasPrefix(got[0], tc.want) {
				t.Errorf("got %q, want %s", got[0], tc.want)
			}
			if conns[0] != conns[1] {
				t.Errorf("new upstream connections: relay %d, do %d", conns[0], conns[1])
			}
		})
	}
}

// TestRelayClientGone: a client that leaves during a slow answer aborts
// the upstream exchange, and the pool keeps no connection with a late
// answer in it.
func TestRelayClientGone(t *testing.T) {
	t.Parallel()
	up := newRawUpstream(t)
	e := newDiffEnv(t, tcpDial(up.addr()), up)
	for i, addr := range []string{e.relayAddr, e.doAddr} {
		side := [...]string{"relay", "do"}[i]
		c := lanetest.Dial(t, addr)
		if _, err := io.WriteString(c.Conn(), get("/slow")); err != nil {
			t.Fatal(err)
		}
		select {
		case <-up.slowGot:
		case <-time.After(ioWait):
			t.Fatalf("%s: the upstream got no request", side)
		}
		n := e.outcomes(side)
		_ = c.Conn().Close()
		// The proxy must give up while the upstream still holds its answer.
		waitUntil(t, side+": the exchange did not end when the client left", func() bool { return e.outcomes(side) > n })
		pool := [...]*Pool{e.relayPool, e.doPool}[i]
		if pool.Idle() != 0 {
			t.Errorf("%s: the pool kept the aborted connection", side)
		}
		up.release <- struct{}{} // the late answer goes to a closed connection
		if got := lanetest.Dial(t, addr).RoundTrip(t, get("/plain")).Norm; !strings.Contains(got, "\r\n\r\nhello") {
			t.Errorf("%s: next call got %q", side, got)
		}
	}
	ro, do, _ := e.lastOutcomes()
	if ro != do {
		t.Errorf("outcomes of the next call differ: %+v, %+v", ro, do)
	}
}

// TestRelayClientGoneFirst: a client gone before Relay starts watching for
// it still stops the exchange (as a cancelled request context stops Do).
func TestRelayClientGoneFirst(t *testing.T) {
	t.Parallel()
	up := newRawUpstream(t)
	e := newDiffEnv(t, tcpDial(up.addr()), up)
	e.waitGone.Store(true)
	c := lanetest.Dial(t, e.relayAddr)
	if _, err := io.WriteString(c.Conn(), get("/hang", "X-Test-Deadline: 4s\r\n")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the Shortcut got no request", func() bool { return e.relayTaken.Load() == 1 })
	_ = c.Conn().Close()
	waitUntil(t, "the exchange did not end", func() bool { return e.outcomes("relay") == 1 })
	ro, _, _ := e.lastOutcomesRelay()
	if ro.ok || !ro.before || ro.timeout {
		t.Errorf("outcome %+v: want a failure before the response, not a timeout", ro)
	}
}

func (e *diffEnv) outcomes(side string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if side == "relay" {
		return len(e.relayOut)
	}
	return len(e.doOut)
}

func (e *diffEnv) lastOutcomesRelay() (outcome, bool, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.relayOut) == 0 {
		return outcome{}, false, false
	}
	return e.relayOut[len(e.relayOut)-1], true, true
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(ioWait); !cond(); {
		if time.Now().After(end) {
			t.Fatal(what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestRelayStreams: a chunked answer reaches the client as it comes, on
// both paths.
func TestRelayStreams(t *testing.T) {
	t.Parallel()
	up := newRawUpstream(t)
	e := newDiffEnv(t, tcpDial(up.addr()), up)
	var got [2]string
	for i, addr := range []string{e.relayAddr, e.doAddr} {
		c := lanetest.Dial(t, addr)
		if _, err := io.WriteString(c.Conn(), get("/stream")); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(c.Reader(), nil)
		if err != nil {
			t.Fatal(err)
		}
		first := make([]byte, len("event 0\n"))
		if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "event 0\n" {
			t.Fatalf("first event: %q, %v (not streamed?)", first, err)
		}
		up.streamGo <- struct{}{}
		rest, err := io.ReadAll(resp.Body)
		h := resp.Header.Clone()
		h.Del("Date")
		got[i] = fmt.Sprint(resp.StatusCode, h, resp.TransferEncoding, string(first)+string(rest), err)
	}
	if got[0] != got[1] {
		t.Errorf("streams differ\nrelay: %s\n   do: %s", got[0], got[1])
	}
}

// TestRelayable checks what the Shortcut is offered and what Relayable
// takes.
func TestRelayable(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	verdicts := map[string]bool{}
	addr := startLane(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), func(ex *lane.Exchange) bool {
		mu.Lock()
		verdicts[ex.Method+" "+ex.Target] = Relayable(ex)
		mu.Unlock()
		return false
	})
	tests := []struct {
		raw     string
		key     string
		offered bool
		want    bool
	}{
		{get("/a"), "GET /a", true, true},
		{"HEAD /b HTTP/1.1\r\nHost: h\r\n\r\n", "HEAD /b", true, false},
		{"CONNECT /c HTTP/1.1\r\nHost: h\r\n\r\n", "CONNECT /c", false, false}, // the lane leaves it to net/http
		{get("/d", "Connection: close\r\n"), "GET /d", true, true},
		{get("/e", "Connection: keep-alive, Close\r\n"), "GET /e", true, true},
		{get("/f", "Connection: X-Secret\r\nX-Secret: s\r\n"), "GET /f", true, false},
		{get("/g", "Connection: close\r\nConnection: x-other\r\n"), "GET /g", true, false},
		{post("/h", strings.Repeat("x", MaxBody)), "POST /h", true, true},
		{post("/i", strings.Repeat("x", MaxBody+1)), "POST /i", true, false},
	}
	for _, tc := range tests {
		c := lanetest.Dial(t, addr)
		_, _ = io.WriteString(c.Conn(), tc.raw)
		_, _ = http.ReadResponse(c.Reader(), nil)
		_ = c.Conn().Close()
		mu.Lock()
		got, offered := verdicts[tc.key]
		mu.Unlock()
		if offered != tc.offered || got != tc.want {
			t.Errorf("%s: offered %v, Relayable %v; want %v, %v", tc.key, offered, got, tc.offered, tc.want)
		}
	}
}
