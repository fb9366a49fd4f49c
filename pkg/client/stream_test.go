package client

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gofaas/gofaas/pkg/api"
)

func TestInvoke(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		req      InvokeRequest
		method   string
		path     string
		query    string
		callback string
	}{
		{"sync default namespace", InvokeRequest{Name: "echo", Body: strings.NewReader("hi")}, "POST", "/function/echo", "", ""},
		{"namespace and path", InvokeRequest{Name: "echo", Namespace: "dev", Path: "/a/b", Method: "GET", Query: url.Values{"x": {"1"}}}, "GET", "/function/echo.dev/a/b", "x=1", ""},
		{"async with callback", InvokeRequest{Name: "echo", Async: true, CallbackURL: "http://cb/x", Body: strings.NewReader("hi")}, "POST", "/async-function/echo", "", "http://cb/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRecorder(t, map[string]reply{tt.method + " " + tt.path: {200, "answer"}})
			c := newClient(t, r, WithBasicAuth("admin", "secret"))
			tt.req.Header = http.Header{"Content-Type": {"text/plain"}}
			resp, err := c.Invoke(t.Context(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != "answer" {
				t.Errorf("answer = %d %q", resp.StatusCode, body)
			}
			got := r.seen()[0]
			if got.Method != tt.method || got.Path != tt.path || got.Query != tt.query {
				t.Errorf("request = %s %s?%s, want %s %s?%s", got.Method, got.Path, got.Query, tt.method, tt.path, tt.query)
			}
			if got.Auth != "" {
				t.Errorf("invoke sent the gateway's credentials: %q", got.Auth)
			}
			if got.Header.Get("Content-Type") != "text/plain" || got.Header.Get("X-Callback-Url") != tt.callback {
				t.Errorf("headers = %v", got.Header)
			}
			if tt.req.Body != nil && got.Body != "hi" {
				t.Errorf("body = %q", got.Body)
			}
		})
	}
}

func TestInvokeReturnsErrorAnswers(t *testing.T) {
	t.Parallel()
	r := newRecorder(t, nil)
	resp, err := newClient(t, r).Invoke(t.Context(), InvokeRequest{Name: "gone"})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("status = %d", resp.StatusCode)
	}
}

func TestLogsQuery(t *testing.T) {
	t.Parallel()
	since := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		req  api.LogRequest
		want url.Values
	}{
		{"minimal", api.LogRequest{Name: "fn"}, url.Values{"name": {"fn"}, "follow": {"false"}}},
		{"all", api.LogRequest{Name: "fn", Namespace: "dev", Instance: "fn-1", Since: &since, Tail: 5, Follow: true},
			url.Values{"name": {"fn"}, "namespace": {"dev"}, "instance": {"fn-1"}, "since": {"2024-05-01T10:00:00Z"}, "tail": {"5"}, "follow": {"true"}}},
		{"negative tail is sent", api.LogRequest{Name: "fn", Tail: -1}, url.Values{"name": {"fn"}, "follow": {"false"}, "tail": {"-1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRecorder(t, map[string]reply{"GET /system/logs": {200, ""}})
			s, err := newClient(t, r).Logs(t.Context(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			for s.Next() {
			}
			s.Close()
			if got := r.seen()[0].Query; got != tt.want.Encode() {
				t.Errorf("query = %q, want %q", got, tt.want.Encode())
			}
		})
	}
}

func TestLogsStream(t *testing.T) {
	t.Parallel()
	next := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(w)
		enc.Encode(api.LogMessage{Name: "fn", Instance: "i1", Text: "first"})
		w.(http.Flusher).Flush()
		select {
		case <-next:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "\n")
		enc.Encode(api.LogMessage{Name: "fn", Instance: "i1", Text: "second"})
	}))
	t.Cleanup(srv.Close)
	// A tiny timeout proves the stream is not bound by it.
	c, _ := New(srv.URL, WithTimeout(time.Nanosecond))
	s, err := c.Logs(t.Context(), api.LogRequest{Name: "fn", Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.Next() || s.Message().Text != "first" {
		t.Fatalf("first line: %+v, %v", s.Message(), s.Err())
	}
	close(next)
	if !s.Next() || s.Message().Text != "second" || s.Message().Instance != "i1" {
		t.Fatalf("second line: %+v, %v", s.Message(), s.Err())
	}
	if s.Next() || s.Err() != nil {
		t.Errorf("after the end: Next true or Err %v", s.Err())
	}
}

func TestLogsErrors(t *testing.T) {
	t.Parallel()
	r := newRecorder(t, map[string]reply{"GET /system/logs": {501, "logs are not supported"}})
	_, err := newClient(t, r).Logs(t.Context(), api.LogRequest{Name: "fn"})
	if !errors.Is(err, ErrNotImplemented) || !strings.Contains(err.Error(), "logs are not supported") {
		t.Errorf("error = %v", err)
	}
	bad := newRecorder(t, map[string]reply{"GET /system/logs": {200, "{\"text\":\"ok\"}\nnot json\n"}})
	s, err := newClient(t, bad).Logs(t.Context(), api.LogRequest{Name: "fn"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.Next() || s.Next() || s.Err() == nil {
		t.Errorf("a bad line did not stop the stream with an error: %v", s.Err())
	}
}
