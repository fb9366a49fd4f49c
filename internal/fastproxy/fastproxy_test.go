package fastproxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestEligible(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		length int64
		te     []string
		header http.Header
		want   bool
	}{
		{"empty", 0, nil, http.Header{}, true},
		{"small", 5, nil, http.Header{}, true},
		{"largest", MaxBody, nil, http.Header{}, true},
		{"too large", MaxBody + 1, nil, http.Header{}, false},
		{"unknown length", -1, nil, http.Header{}, false},
		{"chunked", 5, []string{"chunked"}, http.Header{}, false},
		{"upgrade", 0, nil, http.Header{"Upgrade": {"websocket"}}, false},
	}
	for _, tc := range tests {
		r := &http.Request{Method: http.MethodPost, ContentLength: tc.length, TransferEncoding: tc.te, Header: tc.header}
		if got := Eligible(r); got != tc.want {
			t.Errorf("%s: Eligible = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// tcpDial dials addr over TCP.
func tcpDial(addr string) DialFunc {
	return func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
}

func TestDoReusesAndPrunes(t *testing.T) {
	t.Parallel()
	var opened int
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Got", r.Method+" "+r.RequestURI+" "+r.Host+" "+r.Header.Get("X-Custom")+" "+r.Header.Get("Connection"))
		_, _ = w.Write(b)
	}))
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened++
		}
	}
	up.Start()
	t.Cleanup(up.Close)
	p := NewPool(tcpDial(up.Listener.Addr().String()), Config{IdleTimeout: time.Hour})
	for range 3 {
		rec := httptest.NewRecorder()
		req := &Request{Method: http.MethodPost, URI: "/a%2Fb?q=1", Host: "fn", Body: []byte("hi"),
			Header: http.Header{"X-Custom": {"v"}, "Connection": {"close"}}}
		if err := p.Do(t.Context(), rec, req); err != nil {
			t.Fatal(err)
		}
		if got, want := rec.Header().Get("X-Got"), "POST /a%2Fb?q=1 fn v"; got != want || rec.Body.String() != "hi" {
			t.Fatalf("upstream saw %q, body %q; want %q", got, rec.Body, want)
		}
	}
	if opened != 1 || p.Idle() != 1 {
		t.Errorf("%d connections opened, %d idle; want 1 and 1", opened, p.Idle())
	}
	if p.Prune(time.Now()) || p.Idle() != 1 {
		t.Error("Prune dropped a fresh connection")
	}
	if !p.Prune(time.Now().Add(2*time.Hour)) || p.Idle() != 0 {
		t.Error("Prune kept a stale connection")
	}
}

func TestDoDialError(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	p := NewPool(func(context.Context) (net.Conn, error) { return nil, boom }, Config{})
	rec := httptest.NewRecorder()
	err := p.Do(t.Context(), rec, &Request{Method: http.MethodGet, URI: "/", Host: "x"})
	if !errors.Is(err, ErrBeforeResponse) || !errors.Is(err, boom) || rec.Code != 200 || rec.Body.Len() != 0 {
		t.Errorf("err %v, recorder %d %q", err, rec.Code, rec.Body)
	}
	if !p.Prune(time.Now()) {
		t.Error("a failed dial left the pool in use")
	}
}

func TestRetryable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		method string
		body   string
		want   bool
	}{
		{http.MethodGet, "", true},
		{http.MethodHead, "", true},
		{http.MethodPost, "", true},
		{http.MethodPost, "x", false},
		{http.MethodPut, "x", false},
	}
	for _, tc := range tests {
		if got := retryable(&Request{Method: tc.method, Body: []byte(tc.body)}); got != tc.want {
			t.Errorf("%s with %q: retryable = %v, want %v", tc.method, tc.body, got, tc.want)
		}
	}
}

// FuzzResponse feeds arbitrary upstream answers to Do: it must not panic or
// hang, and an answer it cannot parse must leave the writer untouched.
func FuzzResponse(f *testing.F) {
	f.Add("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")
	f.Add("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")
	f.Add("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX-T: 1\r\n\r\n")
	f.Add("HTTP/1.0 500 Oops\r\nConnection: close\r\n\r\nbody")
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, answer string) {
		p := NewPool(func(context.Context) (net.Conn, error) {
			client, server := net.Pipe()
			go func() {
				defer server.Close()
				buf := make([]byte, 4096)
				_, _ = server.Read(buf) // the request
				_, _ = io.Copy(server, strings.NewReader(answer))
			}()
			return client, nil
		}, Config{})
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		rec := httptest.NewRecorder()
		err := p.Do(ctx, rec, &Request{Method: http.MethodGet, URI: "/", Host: "x"})
		if errors.Is(err, ErrBeforeResponse) && (rec.Body.Len() != 0 || len(rec.Header()) != 0) {
			t.Errorf("error before the response %v, but the writer got %d %q", err, rec.Code, rec.Body)
		}
		p.CloseIdle()
	})
}

// TestDoDeadline checks Request.Deadline: an exchange past it fails before
// the response with TimedOut true and drops its connection, and a
// connection reused after a deadline has passed does not keep it.
func TestDoDeadline(t *testing.T) {
	t.Parallel()
	var opened atomic.Int64
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-r.Context().Done():
			case <-time.After(time.Minute):
			}
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	up.Start()
	t.Cleanup(up.Close)
	p := NewPool(tcpDial(up.Listener.Addr().String()), Config{IdleTimeout: time.Hour})
	deadline := time.Now().Add(50 * time.Millisecond)
	rec := httptest.NewRecorder()
	if err := p.Do(t.Context(), rec, &Request{Method: http.MethodGet, URI: "/fast", Host: "x", Deadline: deadline}); err != nil || rec.Body.String() != "ok" {
		t.Fatalf("call within its deadline: %v %q", err, rec.Body)
	}
	for time.Now().Before(deadline.Add(20 * time.Millisecond)) {
		time.Sleep(10 * time.Millisecond) // let the first call's deadline pass
	}
	rec = httptest.NewRecorder()
	if err := p.Do(t.Context(), rec, &Request{Method: http.MethodGet, URI: "/fast", Host: "x"}); err != nil || rec.Body.String() != "ok" {
		t.Fatalf("call on the reused connection: %v %q", err, rec.Body)
	}
	if p.Idle() != 1 || opened.Load() != 1 {
		t.Fatalf("%d idle connections, %d opened; want 1 and 1", p.Idle(), opened.Load())
	}
	rec = httptest.NewRecorder()
	req := &Request{Method: http.MethodGet, URI: "/slow", Host: "x", Deadline: time.Now().Add(100 * time.Millisecond)}
	err := p.Do(t.Context(), rec, req)
	if !errors.Is(err, ErrBeforeResponse) || !TimedOut(req, err) || rec.Body.Len() != 0 || len(rec.Header()) != 0 {
		t.Errorf("call past its deadline: %v (timed out: %v), recorder %d %q", err, TimedOut(req, err), rec.Code, rec.Body)
	}
	if p.Idle() != 0 {
		t.Errorf("%d idle connections after a timeout, want 0", p.Idle())
	}
}

// TestDoDeadlineLargeWrite checks that a large request to an upstream that
// does not read it is bounded by the deadline too (net.Pipe has no buffer:
// every write blocks until read).
func TestDoDeadlineLargeWrite(t *testing.T) {
	t.Parallel()
	p := NewPool(func(context.Context) (net.Conn, error) {
		client, server := net.Pipe()
		t.Cleanup(func() { _ = server.Close() })
		return client, nil
	}, Config{})
	guard, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req := &Request{Method: http.MethodPost, URI: "/", Host: "x", Body: make([]byte, MaxBody),
		Deadline: time.Now().Add(100 * time.Millisecond)}
	err := p.Do(guard, httptest.NewRecorder(), req)
	if guard.Err() != nil {
		t.Fatal("the write was not bounded by the request's deadline")
	}
	if !errors.Is(err, ErrBeforeResponse) || !TimedOut(req, err) {
		t.Errorf("err %v, timed out %v; want a timeout before the response", err, TimedOut(req, err))
	}
}
