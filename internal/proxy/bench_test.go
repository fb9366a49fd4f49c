package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
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
