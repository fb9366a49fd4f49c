package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofaas/gofaas/internal/provider"
)

// BenchmarkProxy invokes a loopback echo function directly and through the
// proxy, alternating in the same loop, and reports both costs and their
// ratio (proxy/direct; 2 means the proxied call takes twice as long).
func BenchmarkProxy(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(w, r.Body)
	}))
	defer up.Close()
	res := &fakeResolver{targets: map[string]provider.Target{"fn.openfaas-fn": {URL: mustURL(b, up.URL)}}}
	srv := httptest.NewServer(New(res, Config{Timeout: time.Minute}))
	defer srv.Close()
	client := &http.Client{Transport: NewTransport()}
	const payload = `{"hello":"world"}`
	call := func(url string) time.Duration {
		start := time.Now()
		resp, err := client.Post(url, "application/json", strings.NewReader(payload))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return time.Since(start)
	}
	var direct, proxied time.Duration
	b.ReportAllocs()
	for b.Loop() {
		direct += call(up.URL + "/")
		proxied += call(srv.URL + "/function/fn")
	}
	n := float64(b.N)
	b.ReportMetric(float64(direct.Nanoseconds())/n, "direct-ns/call")
	b.ReportMetric(float64(proxied.Nanoseconds())/n, "proxy-ns/call")
	b.ReportMetric(float64(proxied)/float64(direct), "proxy/direct")
}

// rawUpstream is a loopback HTTP/1.1 server that answers every request
// with the same short response, doing as little work as it can, so a
// benchmark measures the proxy rather than the upstream.
func rawUpstream(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ln.Close() })
	const resp = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 24\r\n\r\nHello from the upstream\n"
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveRaw(c, resp)
		}
	}()
	return "http://" + ln.Addr().String()
}

// serveRaw answers each request on c (headers, then a Content-Length body)
// with resp.
func serveRaw(c net.Conn, resp string) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		n := 0
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) <= 2 {
				break
			}
			if v, ok := bytes.CutPrefix(bytes.ToLower(line), []byte("content-length: ")); ok {
				n, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
			}
		}
		if _, err := br.Discard(n); err != nil {
			return
		}
		if _, err := io.WriteString(c, resp); err != nil {
			return
		}
	}
}

// nopObserver ignores invocations.
type nopObserver struct{}

func (nopObserver) Started(string)                      {}
func (nopObserver) Finished(string, int, time.Duration) {}

// discardWriter is a reusable http.ResponseWriter that drops the body.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkFastPath serves one small POST per op through Proxy.ServeHTTP
// (no HTTP server in front) to a minimal upstream, with a timeout and an
// observer: the proxy's own cost per invocation (allocs/op is the steadiest
// figure on a shared machine).
func BenchmarkFastPath(b *testing.B) {
	res := &fakeResolver{targets: map[string]provider.Target{"fn.openfaas-fn": {URL: mustURL(b, rawUpstream(b))}}}
	p := New(res, Config{Timeout: time.Minute, Observer: nopObserver{}})
	body := strings.NewReader("hello")
	r := httptest.NewRequest(http.MethodPost, "/function/fn", body)
	r = r.WithContext(b.Context())
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		body.Reset("hello")
		r.Header = http.Header{"Content-Type": {"text/plain"}, "X-Call-Id": {"5a1b4c8e-2f3d-4e6a-9b7c-0d1e2f3a4b5c"}}
		clear(w.h)
		w.code = 0
		p.ServeHTTP(w, r)
		if w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
	}
}
