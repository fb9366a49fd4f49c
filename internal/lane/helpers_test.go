package lane

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// ioWait bounds every network wait in the tests; no test asserts it.
const ioWait = 5 * time.Second

var quietLog = log.New(io.Discard, "", 0)

// recorder collects what handlers observe, to compare the two servers.
type recorder struct {
	mu   sync.Mutex
	logs []string
}

func (r *recorder) add(format string, args ...any) {
	r.mu.Lock()
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

func (r *recorder) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.logs...)
}

// served is one running server: a plain net/http one or a lane.
type served struct {
	addr string
	lane *Server
	http *http.Server
	done chan struct{} // closed when Serve returns
	err  error         // what Serve returned
}

func (s *served) close() {
	if s.lane != nil {
		_ = s.lane.Close()
	} else {
		_ = s.http.Close()
	}
	select {
	case <-s.done:
	case <-time.After(ioWait):
	}
}

// serveErr waits for Serve to return.
func (s *served) serveErr(t testing.TB) error {
	t.Helper()
	select {
	case <-s.done:
		return s.err
	case <-time.After(ioWait):
		t.Fatal("Serve did not return")
		return nil
	}
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// startPlain serves h with net/http alone.
func startPlain(t testing.TB, h http.Handler, cfg func(*http.Server)) *served {
	t.Helper()
	srv := &http.Server{Handler: h, ErrorLog: quietLog}
	if cfg != nil {
		cfg(srv)
	}
	ln := listen(t)
	s := &served{addr: ln.Addr().String(), http: srv, done: make(chan struct{})}
	go func() { s.err = srv.Serve(ln); close(s.done) }()
	t.Cleanup(s.close)
	return s
}

// startLane serves h with the lane in front of net/http.
func startLane(t testing.TB, h http.Handler, cfg func(*http.Server), lcfg func(*Server)) *served {
	t.Helper()
	srv := &http.Server{Handler: h, ErrorLog: quietLog}
	if cfg != nil {
		cfg(srv)
	}
	ls := &Server{HTTP: srv}
	if lcfg != nil {
		lcfg(ls)
	}
	ln := listen(t)
	s := &served{addr: ln.Addr().String(), lane: ls, http: srv, done: make(chan struct{})}
	go func() { s.err = ls.Serve(ln); close(s.done) }()
	t.Cleanup(s.close)
	return s
}

func dial(t testing.TB, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ioWait)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(ioWait))
	return c.(*net.TCPConn)
}

// exchange writes raw, half-closes, and reads until the server closes.
func exchange(t testing.TB, addr string, raw string) string {
	t.Helper()
	c := dial(t, addr)
	defer c.Close()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatalf("write: %v", err)
	}
	_ = c.CloseWrite()
	b, err := io.ReadAll(c)
	if err != nil && !isReset(err) {
		t.Fatalf("read: %v (got %q)", err, b)
	}
	return string(b)
}

func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "connection reset") || errors.Is(err, net.ErrClosed))
}

var dateRE = regexp.MustCompile(`(?m)^Date: [A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT\r$`)

// normalize makes the Date header values equal.
func normalize(s string) string { return dateRE.ReplaceAllString(s, "Date: <date>\r") }

// rawResponses reads n responses from br, as bytes on the wire, with
// http.ReadResponse to find where each ends.
func rawResponses(t testing.TB, c net.Conn, method string, n int) []string {
	t.Helper()
	var tee bytes.Buffer
	br := bufio.NewReader(io.TeeReader(c, &tee))
	var out []string
	consumed := 0
	for i := 0; i < n; i++ {
		req := &http.Request{Method: method}
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("response %d body: %v", i, err)
		}
		if resp.StatusCode/100 == 1 && resp.StatusCode != http.StatusSwitchingProtocols {
			i-- // an informational response: the final one follows
			continue
		}
		end := tee.Len() - br.Buffered()
		out = append(out, normalize(string(tee.Bytes()[consumed:end])))
		consumed = end
	}
	return out
}

// describe writes what a handler sees of r, the same way on both servers.
func describe(r *http.Request, body []byte, bodyErr error) string {
	var b strings.Builder
	fmt.Fprintf(&b, "method=%q uri=%q url=%q path=%q rawpath=%q query=%q\n", r.Method, r.RequestURI, r.URL.String(), r.URL.Path, r.URL.RawPath, r.URL.RawQuery)
	fmt.Fprintf(&b, "host=%q proto=%q %d.%d close=%v cl=%d te=%q trailer=%v\n", r.Host, r.Proto, r.ProtoMajor, r.ProtoMinor, r.Close, r.ContentLength, r.TransferEncoding, r.Trailer)
	host, port, err := net.SplitHostPort(r.RemoteAddr)
	fmt.Fprintf(&b, "remote host=%q port-ok=%v err=%v tls=%v\n", host, port != "" && err == nil, err, r.TLS != nil)
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "h %q=%q\n", k, r.Header[k])
	}
	fmt.Fprintf(&b, "body=%q err=%v nobody=%v\n", body, bodyErr, r.Body == http.NoBody)
	_, srvOK := r.Context().Value(http.ServerContextKey).(*http.Server)
	_, laOK := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	fmt.Fprintf(&b, "ctx server=%v local=%v\n", srvOK, laOK)
	return b.String()
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(ioWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func ctxWait(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), ioWait)
	t.Cleanup(cancel)
	return ctx
}
