package fastproxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
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
