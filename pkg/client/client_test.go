package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofaas/gofaas/pkg/api"
)

// recorded is one request seen by the recording server.
type recorded struct {
	Method, Path, Query, Auth, UserAgent string
	Header                               http.Header
	Body                                 string
}

// reply is what the recording server answers to "METHOD /path".
type reply struct {
	code int
	body string
}

// recorder is a gateway double that records every request and answers from
// a table; unknown routes get 404.
type recorder struct {
	mu      sync.Mutex
	calls   []recorded
	replies map[string]reply
	srv     *httptest.Server
}

func newRecorder(t *testing.T, replies map[string]reply) *recorder {
	t.Helper()
	r := &recorder{replies: replies}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.calls = append(r.calls, recorded{
			Method: req.Method, Path: req.URL.Path, Query: req.URL.RawQuery,
			Auth: req.Header.Get("Authorization"), UserAgent: req.UserAgent(),
			Header: req.Header.Clone(), Body: string(body),
		})
		rep, ok := r.replies[req.Method+" "+req.URL.Path]
		r.mu.Unlock()
		if !ok {
			http.Error(w, "no such route", http.StatusNotFound)
			return
		}
		w.WriteHeader(rep.code)
		io.WriteString(w, rep.body)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) seen() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.calls...)
}

// methods returns "METHOD /path" of every request, in order.
func (r *recorder) methods() []string {
	var out []string
	for _, c := range r.seen() {
		out = append(out, c.Method+" "+c.Path)
	}
	return out
}

func newClient(t *testing.T, r *recorder, opts ...Option) *Client {
	t.Helper()
	c, err := New(r.srv.URL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// jsonEqual checks that got is the JSON of want, whatever the key order.
func jsonEqual(t *testing.T, got string, want any) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("body %q is not JSON: %v", got, err)
	}
	wb, _ := json.Marshal(want)
	json.Unmarshal(wb, &w)
	gb, _ := json.Marshal(g)
	wb, _ = json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Errorf("body = %s, want %s", gb, wb)
	}
}

func equal(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func TestNewGatewayURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080", true},
		{"http://127.0.0.1:8080/", "http://127.0.0.1:8080", true},
		{"127.0.0.1:8080", "http://127.0.0.1:8080", true},
		{"https://gw.example.com/prefix/", "https://gw.example.com/prefix", true},
		{"", "", false},
		{"ftp://x", "", false},
		{"http://", "", false},
	}
	for _, tt := range tests {
		c, err := New(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("New(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if err == nil && c.Gateway() != tt.want {
			t.Errorf("New(%q).Gateway() = %q, want %q", tt.in, c.Gateway(), tt.want)
		}
	}
}

func TestAuthAndUserAgent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts []Option
		want string
	}{
		{"none", nil, ""},
		{"basic", []Option{WithBasicAuth("admin", "secret")}, "Basic YWRtaW46c2VjcmV0"},
		{"token wins", []Option{WithBasicAuth("admin", "secret"), WithToken("tok")}, "Bearer tok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRecorder(t, map[string]reply{"GET /system/functions": {200, "[]"}})
			c := newClient(t, r, append(tt.opts, WithUserAgent("gofaas/1.2.3"))...)
			if _, err := c.ListFunctions(t.Context(), ""); err != nil {
				t.Fatal(err)
			}
			got := r.seen()[0]
			if got.Auth != tt.want {
				t.Errorf("Authorization = %q, want %q", got.Auth, tt.want)
			}
			if got.UserAgent != "gofaas/1.2.3" {
				t.Errorf("User-Agent = %q", got.UserAgent)
			}
		})
	}
}

func TestGatewayPathPrefix(t *testing.T) {
	t.Parallel()
	r := newRecorder(t, map[string]reply{"GET /openfaas/system/functions": {200, "[]"}})
	c, err := New(r.srv.URL + "/openfaas/")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListFunctions(t.Context(), ""); err != nil {
		t.Fatal(err)
	}
}

func TestListAndGetFunction(t *testing.T) {
	t.Parallel()
	r := newRecorder(t, map[string]reply{
		"GET /system/functions":     {200, `[{"name":"a","image":"img:1","replicas":2,"invocationCount":7}]`},
		"GET /system/function/a":    {200, `{"name":"a","image":"img:1","availableReplicas":1}`},
		"GET /system/function/gone": {404, "function gone not found\n"},
	})
	c := newClient(t, r)
	fns, err := c.ListFunctions(t.Context(), "dev")
	if err != nil {
		t.Fatal(err)
	}
	if len(fns) != 1 || fns[0].Name != "a" || fns[0].Replicas != 2 || fns[0].InvocationCount != 7 {
		t.Errorf("ListFunctions = %+v", fns)
	}
	fn, err := c.GetFunction(t.Context(), "a", "dev", true)
	if err != nil || fn.AvailableReplicas != 1 {
		t.Errorf("GetFunction = %+v, %v", fn, err)
	}
	_, err = c.GetFunction(t.Context(), "gone", "", false)
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("GetFunction(gone) error = %v, want ErrNotFound", err)
	}
	want := "gateway answered 404 Not Found for GET /system/function/gone: function gone not found"
	if err == nil || err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	var queries []string
	for _, s := range r.seen() {
		queries = append(queries, s.Query)
	}
	equal(t, "queries", queries, []string{"namespace=dev", "namespace=dev&usage=1", ""})
}

func TestDeploy(t *testing.T) {
	t.Parallel()
	spec := api.FunctionDeployment{Service: "hello", Image: "hello:latest", Namespace: "dev", EnvVars: map[string]string{"a": "b"}}
	tests := []struct {
		name    string
		replies map[string]reply
		update  bool
		want    []string
		code    int
	}{
		{"update existing", map[string]reply{"PUT /system/functions": {202, ""}}, true,
			[]string{"PUT /system/functions"}, 202},
		{"update missing falls back to create", map[string]reply{"POST /system/functions": {202, ""}}, true,
			[]string{"PUT /system/functions", "POST /system/functions"}, 202},
		{"create only", map[string]reply{"POST /system/functions": {202, ""}, "PUT /system/functions": {202, ""}}, false,
			[]string{"POST /system/functions"}, 202},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRecorder(t, tt.replies)
			code, err := newClient(t, r).Deploy(t.Context(), spec, tt.update)
			if err != nil || code != tt.code {
				t.Fatalf("Deploy = %d, %v", code, err)
			}
			equal(t, "calls", r.methods(), tt.want)
			for _, s := range r.seen() {
				jsonEqual(t, s.Body, spec)
				if ct := s.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q", ct)
				}
			}
		})
	}
}

func TestDeployError(t *testing.T) {
	t.Parallel()
	r := newRecorder(t, map[string]reply{"PUT /system/functions": {400, "image is required"}})
	_, err := newClient(t, r).Deploy(t.Context(), api.FunctionDeployment{Service: "x"}, true)
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 400 || se.Body != "image is required" {
		t.Fatalf("Deploy error = %v", err)
	}
	equal(t, "calls", r.methods(), []string{"PUT /system/functions"})
}

func TestReplace(t *testing.T) {
	t.Parallel()
	for _, deleteCode := range []int{202, 404} {
		r := newRecorder(t, map[string]reply{
			"DELETE /system/functions": {deleteCode, ""},
			"POST /system/functions":   {202, ""},
		})
		spec := api.FunctionDeployment{Service: "hello", Image: "hello:2", Namespace: "dev"}
		if _, err := newClient(t, r).Replace(t.Context(), spec); err != nil {
			t.Fatalf("delete answering %d: %v", deleteCode, err)
		}
		equal(t, "calls", r.methods(), []string{"DELETE /system/functions", "POST /system/functions"})
		jsonEqual(t, r.seen()[0].Body, map[string]string{"functionName": "hello", "namespace": "dev"})
		jsonEqual(t, r.seen()[1].Body, spec)
	}
}

func TestRemoveAndScale(t *testing.T) {
	t.Parallel()
	r := newRecorder(t, map[string]reply{
		"DELETE /system/functions":          {202, ""},
		"POST /system/scale-function/hello": {202, ""},
	})
	c := newClient(t, r)
	if err := c.RemoveFunction(t.Context(), "hello", ""); err != nil {
		t.Fatal(err)
	}
	if err := c.Scale(t.Context(), "hello", "dev", 3); err != nil {
		t.Fatal(err)
	}
	if err := c.Scale(t.Context(), "hello", "", 0); err != nil {
		t.Fatal(err)
	}
	s := r.seen()
	jsonEqual(t, s[0].Body, map[string]string{"functionName": "hello"})
	jsonEqual(t, s[1].Body, map[string]any{"serviceName": "hello", "replicas": 3, "namespace": "dev"})
	if s[1].Query != "namespace=dev" {
		t.Errorf("scale query = %q", s[1].Query)
	}
	jsonEqual(t, s[2].Body, map[string]any{"serviceName": "hello", "replicas": 0})
}

func TestSecrets(t *testing.T) {
	t.Parallel()
	r := newRecorder(t, map[string]reply{
		"GET /system/secrets":    {200, `[{"name":"a","namespace":"dev"}]`},
		"POST /system/secrets":   {409, "secret a exists"},
		"PUT /system/secrets":    {202, ""},
		"DELETE /system/secrets": {202, ""},
	})
	c := newClient(t, r)
	list, err := c.ListSecrets(t.Context(), "dev")
	if err != nil || len(list) != 1 || list[0].Name != "a" {
		t.Fatalf("ListSecrets = %v, %v", list, err)
	}
	if _, err := c.CreateSecret(t.Context(), api.Secret{Name: "a", Value: "v"}); !errors.Is(err, ErrConflict) {
		t.Errorf("CreateSecret of an existing secret: %v, want ErrConflict", err)
	}
	if code, err := c.UpdateSecret(t.Context(), api.Secret{Name: "a", RawValue: []byte{0, 1}}); err != nil || code != 202 {
		t.Errorf("UpdateSecret = %d, %v", code, err)
	}
	if err := c.RemoveSecret(t.Context(), "a", "dev"); err != nil {
		t.Fatal(err)
	}
	s := r.seen()
	if s[0].Query != "namespace=dev" {
		t.Errorf("list query = %q", s[0].Query)
	}
	jsonEqual(t, s[1].Body, map[string]string{"name": "a", "value": "v"})
	jsonEqual(t, s[2].Body, map[string]string{"name": "a", "rawValue": "AAE="})
	jsonEqual(t, s[3].Body, map[string]string{"name": "a", "namespace": "dev"})
}

func TestNamespaces(t *testing.T) {
	t.Parallel()
	r := newRecorder(t, map[string]reply{
		"GET /system/namespaces":       {200, `["openfaas-fn","dev"]`},
		"GET /system/namespace/dev":    {200, `{"name":"dev","labels":{"openfaas":"1"},"annotations":{}}`},
		"POST /system/namespace/":      {201, ""},
		"PUT /system/namespace/dev":    {202, ""},
		"DELETE /system/namespace/dev": {202, ""},
	})
	c := newClient(t, r)
	names, err := c.ListNamespaces(t.Context())
	if err != nil || strings.Join(names, ",") != "openfaas-fn,dev" {
		t.Fatalf("ListNamespaces = %v, %v", names, err)
	}
	ns, err := c.GetNamespace(t.Context(), "dev")
	if err != nil || ns.Labels["openfaas"] != "1" {
		t.Fatalf("GetNamespace = %+v, %v", ns, err)
	}
	in := api.FunctionNamespace{Name: "dev", Labels: map[string]string{"team": "a"}}
	if err := c.CreateNamespace(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	if in.Labels["openfaas"] != "" {
		t.Error("CreateNamespace changed the caller's labels")
	}
	if err := c.UpdateNamespace(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveNamespace(t.Context(), "dev"); err != nil {
		t.Fatal(err)
	}
	s := r.seen()
	marked := map[string]any{"name": "dev", "labels": map[string]string{"team": "a", "openfaas": "1"}, "annotations": map[string]string{"openfaas": "1"}}
	jsonEqual(t, s[2].Body, marked)
	jsonEqual(t, s[3].Body, marked)
	jsonEqual(t, s[4].Body, map[string]any{"name": "dev", "labels": nil, "annotations": nil})
}

func TestInfoAndLogin(t *testing.T) {
	t.Parallel()
	r := newRecorder(t, map[string]reply{
		"GET /system/info":      {200, `{"provider":{"provider":"gofaas","orchestration":"process","version":{"sha":"abc","release":"0.1"}},"version":{"sha":"def","release":"0.2"},"arch":"x86_64"}`},
		"GET /system/functions": {200, `[]`},
	})
	c := newClient(t, r, WithToken("old"))
	info, err := c.Info(t.Context())
	if err != nil || info.Provider.Name != "gofaas" || info.Version.Release != "0.2" {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	if err := c.Login(t.Context(), "admin", "secret"); err != nil {
		t.Fatal(err)
	}
	if got := r.seen()[1].Auth; got != "Basic YWRtaW46c2VjcmV0" {
		t.Errorf("login sent Authorization %q, want the given user and password", got)
	}

	denied := newRecorder(t, map[string]reply{"GET /system/functions": {401, "invalid credentials"}})
	err = newClient(t, denied).Login(t.Context(), "admin", "wrong")
	if !errors.Is(err, ErrWrongCredentials) || !strings.Contains(err.Error(), denied.srv.URL) {
		t.Errorf("Login with a wrong password: %v", err)
	}
}

func TestUnauthorizedHint(t *testing.T) {
	t.Parallel()
	r := newRecorder(t, map[string]reply{"GET /system/functions": {401, "invalid credentials"}})
	_, err := newClient(t, r).ListFunctions(t.Context(), "")
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "gofaas login") {
		t.Errorf("error = %v", err)
	}
}

func TestConnectionRefused(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, err := New("http://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListFunctions(t.Context(), "")
	var ce *ConnectError
	if !errors.As(err, &ce) || !ce.Refused() {
		t.Fatalf("error = %#v, want a refused *ConnectError", err)
	}
	for _, want := range []string{"http://" + addr, "gofaas server", "--gateway"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	c, _ := New(srv.URL, WithTimeout(20*time.Millisecond))
	_, err := c.ListFunctions(t.Context(), "")
	if err == nil || !strings.Contains(err.Error(), "no answer from the gateway") {
		t.Errorf("error = %v", err)
	}
}

func TestDumpRedactsAuthorization(t *testing.T) {
	t.Parallel()
	r := newRecorder(t, map[string]reply{"PUT /system/functions": {202, "ok"}})
	var dump bytes.Buffer
	c := newClient(t, r, WithBasicAuth("admin", "secret"), WithDump(&dump))
	if _, err := c.Deploy(t.Context(), api.FunctionDeployment{Service: "hello", Image: "img"}, true); err != nil {
		t.Fatal(err)
	}
	out := dump.String()
	for _, want := range []string{"> PUT " + r.srv.URL + "/system/functions", "Authorization: Basic [redacted]", `"service":"hello"`, "< HTTP/1.1 202 Accepted", "ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("dump lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "YWRtaW46c2VjcmV0") {
		t.Errorf("dump shows the credentials:\n%s", out)
	}
}
