package lane

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

var headSeeds = []string{
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST /function/echo?x=1 HTTP/1.1\r\nHost: gw:8080\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\n",
	"GET /a%2Fb HTTP/1.1\r\nhost: x\r\nX-A: 1\r\nx-a: 2\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nPragma: no-cache\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
	"GET http://x/ HTTP/1.1\r\nHost: a\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.0\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: [::1]:80\r\nX: \t v \t\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-Utf8: \xc3\xbc\r\nEmpty:\r\n\r\n",
	"GET //x/../y?%zz HTTP/1.1\r\nHost: a\r\n\r\n",
	"PRI * HTTP/2.0\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\n Folded: x\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX : y\r\n\r\n",
}

// FuzzParseHead: parseHead never panics, and what it accepts net/http
// reads the same way.
func FuzzParseHead(f *testing.F) {
	for _, s := range headSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, _ := endOfHead(b)
		if n == 0 {
			return
		}
		b = b[:n]
		h, ok := parseHead(b, DefaultMaxBody, true)
		if !ok {
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(io.MultiReader(bytes.NewReader(b), strings.NewReader(strings.Repeat("x", int(h.length))))))
		if err != nil {
			t.Fatalf("lane accepts what net/http refuses (%v): %q", err, b)
		}
		// What net/http's server adds to ReadRequest's checks (which
		// refuse two Host headers and remove it from the map).
		if req.Host == "" {
			t.Fatalf("lane accepts a request without Host: %q", b)
		}
		if req.Method != h.method || req.RequestURI != h.target || req.Host != h.host ||
			req.ContentLength != h.length || req.URL.String() != h.url.String() || req.Close != h.wantsClose {
			t.Fatalf("differs from net/http: %q\nnet/http: %s %q %q cl=%d url=%q close=%v\nlane:     %s %q %q cl=%d url=%q close=%v",
				b, req.Method, req.RequestURI, req.Host, req.ContentLength, req.URL, req.Close,
				h.method, h.target, h.host, h.length, h.url, h.wantsClose)
		}
		if !reflect.DeepEqual(req.Header, h.header) {
			t.Fatalf("header differs: %q\nnet/http: %q\nlane:     %q", b, req.Header, h.header)
		}
		for k, vs := range req.Header {
			for _, v := range vs {
				if !validFieldValue(v) || !validFieldName(k) {
					t.Fatalf("net/http's server refuses header %q: %q", k, v)
				}
			}
		}
		if req.ProtoMajor != 1 || req.ProtoMinor != 1 || req.TransferEncoding != nil || req.Header.Get("Expect") != "" {
			t.Fatalf("lane accepts a request it must hand over: %q", b)
		}
	})
}

func validFieldName(k string) bool { return isToken([]byte(k)) }

func validFieldValue(v string) bool { return isFieldValue([]byte(v)) }

// BenchmarkLaneVsNetHTTP: keep-alive POSTs of 5 bytes over loopback,
// through the lane and through net/http alone.
// BenchmarkLaneVsNetHTTP serves keep-alive POSTs of 5 bytes on 32
// connections at once (as bench/gateway/run.sh's wrk -c32), through the
// lane and through plain net/http; compare the two ns/op.
func BenchmarkLaneVsNetHTTP(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	})
	req := []byte(post("/function/echo", "hello"))
	for _, which := range []string{"lane", "net/http"} {
		b.Run(which, func(b *testing.B) {
			var s *served
			if which == "lane" {
				s = startLane(b, h, nil, nil)
			} else {
				s = startPlain(b, h, nil)
			}
			b.ReportAllocs()
			b.SetParallelism(32 / runtime.GOMAXPROCS(0))
			b.RunParallel(func(pb *testing.PB) {
				c, err := net.Dial("tcp", s.addr)
				if err != nil {
					b.Error(err)
					return
				}
				defer c.Close()
				br := bufio.NewReader(c)
				for pb.Next() {
					if _, err := c.Write(req); err != nil {
						b.Error(err)
						return
					}
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						b.Error(err)
						return
					}
					if _, err := io.Copy(io.Discard, resp.Body); err != nil {
						b.Error(err)
						return
					}
					resp.Body.Close()
				}
			})
			b.StopTimer()
			if which == "lane" {
				if served, handed := s.lane.Stats(); handed != 0 || served < int64(b.N) {
					b.Fatalf("Stats = %d, %d, want %d served", served, handed, b.N)
				}
			}
		})
	}
}
