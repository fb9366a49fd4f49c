package queue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// seen is what a handler behind a LocalInvoker saw of a request.
type seen struct {
	method, requestURI, path, rawQuery, host, remoteAddr, body, custom, length string
	ctxValue                                                                   any
}

type ctxKey struct{}

func TestLocalInvokerServesLikeHTTP(t *testing.T) {
	t.Parallel()
	var got seen
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = seen{r.Method, r.RequestURI, r.URL.Path, r.URL.RawQuery, r.Host, r.RemoteAddr, string(b),
			r.Header.Get("X-Custom"), r.Header.Get("Content-Length"), r.Context().Value(ctxKey{})}
		w.Header().Set("X-Answer", "42")
		w.WriteHeader(http.StatusCreated)
		w.Header().Set("X-Too-Late", "1") // after the status: not sent over HTTP either
		fmt.Fprint(w, "result")
	})
	var l LocalInvoker
	l.Set(h)
	ctx := context.WithValue(t.Context(), ctxKey{}, "v")
	req, _ := http.NewRequestWithContext(ctx, "PUT", "http://gw.local:8080/function/fn.ns/a%2Fb?x=1", strings.NewReader("body"))
	req.Header.Set("X-Custom", "c")
	res, err := l.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	want := seen{"PUT", "/function/fn.ns/a%2Fb?x=1", "/function/fn.ns/a/b", "x=1", "gw.local:8080", "127.0.0.1:0", "body", "c", "4", "v"}
	if got != want {
		t.Errorf("handler saw\n%+v\nwant\n%+v", got, want)
	}
	if res.StatusCode != http.StatusCreated || res.Header.Get("X-Answer") != "42" || res.Header.Get("X-Too-Late") != "" || string(body) != "result" {
		t.Errorf("response %d %v %q", res.StatusCode, res.Header, body)
	}
}

func TestLocalInvokerAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		handler  http.HandlerFunc
		max      int64
		wantCode int
		wantBody string
		wantErr  bool
	}{
		{"nothing written is 200", func(http.ResponseWriter, *http.Request) {}, 0, 200, "", false},
		{"body without status is 200", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("hi")) }, 0, 200, "hi", false},
		{"status kept", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }, 0, 503, "", false},
		{"body cut at the bound", func(w http.ResponseWriter, _ *http.Request) {
			w.Write([]byte("abc"))
			if _, err := w.Write([]byte("def")); err == nil {
				w.Write([]byte("not stopped"))
			}
		}, 4, 200, "abcd", false},
		{"flush is harmless", func(w http.ResponseWriter, _ *http.Request) {
			w.Write([]byte("a"))
			http.NewResponseController(w).Flush()
			w.Write([]byte("b"))
		}, 0, 200, "ab", false},
		{"panic is an error", func(http.ResponseWriter, *http.Request) { panic("boom") }, 0, 0, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := &LocalInvoker{MaxBody: tt.max}
			l.Set(tt.handler)
			req, _ := http.NewRequest("POST", "http://gw/function/fn", nil)
			res, err := l.Do(req)
			if tt.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.wantCode || string(body) != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", res.StatusCode, body, tt.wantCode, tt.wantBody)
			}
		})
	}
}

func TestLocalInvokerWithoutHandler(t *testing.T) {
	t.Parallel()
	req, _ := http.NewRequest("POST", "http://gw/function/fn", nil)
	if _, err := new(LocalInvoker).Do(req); !errors.Is(err, ErrNoHandler) {
		t.Errorf("got %v, want ErrNoHandler", err)
	}
}

// TestWorkerInvokesALocalHandler runs the worker against the harness's
// gateway handler in this process, as `gofaas server` does.
func TestWorkerInvokesALocalHandler(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 5*time.Second)
	local := &LocalInvoker{}
	local.Set(http.HandlerFunc(h.serve))
	h.enqueue("local")
	h.run(WorkerConfig{Invoker: local})
	checkFor(t, 10*time.Second, 20*time.Millisecond, wantCalls(h, "local", 1))
	c := h.callsOf("local")[0]
	if c.method != "POST" || c.path != "/function/fn.openfaas-fn/sub/path" || c.query != "a=1" || c.body != "body-local" || c.callID != "local" {
		t.Errorf("function saw %+v", c)
	}
}
