package rest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofaas/gofaas/internal/provider"
	"github.com/gofaas/gofaas/internal/provider/memory"
	"github.com/gofaas/gofaas/internal/provider/providertest"
	"github.com/gofaas/gofaas/pkg/api"
)

func newMemory(t testing.TB) *memory.Memory {
	t.Helper()
	echo := httptest.NewServer(providertest.Echo)
	t.Cleanup(echo.Close)
	u, err := url.Parse(echo.URL)
	if err != nil {
		t.Fatal(err)
	}
	return memory.New(u)
}

// newServer serves NewHandler(p) on a loopback port.
func newServer(t testing.TB, p provider.Provider, cfg HandlerConfig) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(NewHandler(p, cfg))
	t.Cleanup(srv.Close)
	return srv
}

// TestConformance runs the provider suite through the REST round trip:
// Client -> HTTP -> NewHandler -> memory.
func TestConformance(t *testing.T) {
	providertest.Run(t, providertest.Harness{
		New: func(t *testing.T) provider.Provider {
			srv := newServer(t, newMemory(t), HandlerConfig{})
			c, err := NewClient(srv.URL+"/", ClientConfig{})
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
		Image: "ghcr.io/gofaas/echo:latest",
	})
}

// step is one HTTP call and what faas-cli expects back.
type step struct {
	method, path, body string
	code               int
	want               string // substring of the response body
}

func run(t *testing.T, srv *httptest.Server, steps []step) {
	t.Helper()
	for _, s := range steps {
		var body io.Reader
		if s.body != "" {
			body = strings.NewReader(s.body)
		}
		req, err := http.NewRequestWithContext(t.Context(), s.method, srv.URL+s.path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("User-Agent", "faas-cli/0.17.0")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != s.code || !strings.Contains(string(got), s.want) {
			t.Errorf("%s %s %s: got %d %q, want %d containing %q", s.method, s.path, s.body, resp.StatusCode, got, s.code, s.want)
		}
	}
}

func TestFunctionRoutes(t *testing.T) {
	t.Parallel()
	m := newMemory(t)
	_ = m.CreateNamespace(t.Context(), api.FunctionNamespace{Name: "dev", Labels: map[string]string{"openfaas": "1"}})
	srv := newServer(t, m, HandlerConfig{Status: func(_ context.Context, st *api.FunctionStatus) { st.InvocationCount = 7 }})
	run(t, srv, []step{
		{"GET", "/system/functions", "", 200, "[]"},
		{"PUT", "/system/functions", `{"service":"fn","image":"img:1"}`, 404, `function fn.openfaas-fn: not found`},
		{"POST", "/system/functions", `{"service":"fn","image":"img:1","envVars":{"A":"1"},"future":true}`, 202, ""},
		{"POST", "/system/functions", `{"service":"fn","image":"img:1"}`, 409, "already exists"},
		{"PUT", "/system/functions", `{"service":"fn","image":"img:2"}`, 202, ""},
		{"POST", "/system/functions", `{"service":"fn","image":"img:1","namespace":"dev"}`, 202, ""},
		{"POST", "/system/functions", `{"service":"fn","image":`, 400, "invalid JSON in request body: unexpected EOF"},
		{"POST", "/system/functions", `{"service":"fn","image":"x"} trailing`, 400, "invalid JSON in request body"},
		{"POST", "/system/functions", `{"service":1}`, 400, "cannot unmarshal number"},
		{"POST", "/system/functions", ``, 400, "request body is empty"},
		{"POST", "/system/functions", `{"image":"img"}`, 400, "service is required"},
		{"POST", "/system/functions", `{"service":"fn2"}`, 400, "image is required"},
		{"POST", "/system/functions", `{"service":"Fn_2","image":"i"}`, 400, "not valid"},
		{"POST", "/system/functions", `{"service":"fn2","image":"i","namespace":"kube-system"}`, 400, "reserved"},
		{"POST", "/system/functions", `{"service":"fn2","image":"i","secrets":["nope"]}`, 400, `secret "nope" does not exist`},
		{"GET", "/system/functions", "", 200, `"image":"img:2"`},
		{"GET", "/system/functions?namespace=dev", "", 200, `"namespace":"dev"`},
		{"GET", "/system/functions?namespace=nowhere", "", 404, "nowhere"},
		{"GET", "/system/function/fn", "", 200, `"invocationCount":7`},
		{"GET", "/system/function/fn?namespace=dev&usage=1", "", 200, `"usage":{"cpu":0,"totalMemoryBytes":0}`},
		{"GET", "/system/function/absent", "", 404, "absent.openfaas-fn: not found"},
		{"POST", "/system/scale-function/fn?namespace=dev", `{"serviceName":"fn","replicas":3}`, 202, ""},
		{"GET", "/system/function/fn?namespace=dev", "", 200, `"replicas":3`},
		{"POST", "/system/scale-function/fn", `{"serviceName":"fn","replicas":0,"namespace":"dev"}`, 202, ""},
		{"GET", "/system/function/fn?namespace=dev", "", 200, `"name":"fn"`},
		{"POST", "/system/scale-function/fn", `{"serviceName":"other","replicas":1}`, 400, "does not match"},
		{"POST", "/system/scale-function/fn", `{"service":"fn","replicas":"2"}`, 400, "cannot unmarshal string"},
		{"POST", "/system/scale-function/absent", `{"replicas":1}`, 404, "not found"},
		{"DELETE", "/system/functions?namespace=dev", `{"functionName":"fn"}`, 202, ""},
		{"GET", "/system/function/fn?namespace=dev", "", 404, ""},
		{"DELETE", "/system/functions", `{"functionName":"fn","namespace":""}`, 202, ""},
		{"DELETE", "/system/functions", `{"functionName":"fn"}`, 404, "not found"},
		{"DELETE", "/system/functions", `{}`, 400, "functionName is required"},
		{"PATCH", "/system/functions", `{}`, 405, ""},
		{"GET", "/system/info", "", 200, `"provider":"gofaas-memory"`},
		{"GET", "/healthz", "", 200, "OK"},
		{"HEAD", "/healthz", "", 200, ""},
		{"GET", "/system/nope", "", 404, ""},
	})
}

func TestDeleteBodyNamespaceWins(t *testing.T) {
	t.Parallel()
	m := newMemory(t)
	ctx := t.Context()
	_ = m.CreateNamespace(ctx, api.FunctionNamespace{Name: "dev", Labels: map[string]string{"openfaas": "1"}})
	for _, ns := range []string{api.DefaultNamespace, "dev"} {
		_ = m.Deploy(ctx, api.FunctionDeployment{Service: "fn", Image: "i", Namespace: ns})
	}
	srv := newServer(t, m, HandlerConfig{})
	run(t, srv, []step{{"DELETE", "/system/functions?namespace=openfaas-fn", `{"functionName":"fn","namespace":"dev"}`, 202, ""}})
	if _, err := m.Function(ctx, "fn", "dev", false); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("dev/fn still there: %v", err)
	}
	if _, err := m.Function(ctx, "fn", api.DefaultNamespace, false); err != nil {
		t.Errorf("the query's namespace was used instead of the body's: %v", err)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	srv := newServer(t, newMemory(t), HandlerConfig{})
	req, _ := http.NewRequestWithContext(t.Context(), "PATCH", srv.URL+"/system/functions", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if allow := resp.Header.Get("Allow"); resp.StatusCode != 405 || !strings.Contains(allow, "POST") {
		t.Errorf("got %d Allow %q, want 405 listing POST", resp.StatusCode, allow)
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	srv := newServer(t, newMemory(t), HandlerConfig{MaxBodyBytes: 64})
	big := `{"service":"fn","image":"img","envVars":{"A":"` + strings.Repeat("x", 100) + `"}}`
	run(t, srv, []step{{"POST", "/system/functions", big, 413, "larger than the limit of 64 bytes"}})
}

func TestSecretRoutes(t *testing.T) {
	t.Parallel()
	m := newMemory(t)
	srv := newServer(t, m, HandlerConfig{})
	run(t, srv, []step{
		{"GET", "/system/secrets", "", 200, "[]"},
		{"POST", "/system/secrets", `{"name":"key","value":"v1"}`, 201, ""},
		{"POST", "/system/secrets", `{"name":"key","value":"v1"}`, 409, "already exists"},
		{"POST", "/system/secrets", `{"name":"raw","rawValue":"AAEC"}`, 201, ""},
		{"POST", "/system/secrets", `{"value":"v1"}`, 400, "name is required"},
		{"GET", "/system/secrets?namespace=openfaas-fn", "", 200, `[{"name":"key","namespace":"openfaas-fn"},{"name":"raw","namespace":"openfaas-fn"}]`},
		{"PUT", "/system/secrets", `{"name":"key","value":"v2"}`, 200, ""},
		{"PUT", "/system/secrets", `{"name":"absent","value":"v2"}`, 404, ""},
		{"DELETE", "/system/secrets?namespace=openfaas-fn", `{"name":"raw"}`, 200, ""},
		{"DELETE", "/system/secrets", `{"name":"raw"}`, 404, ""},
		{"GET", "/system/secrets?namespace=nowhere", "", 404, ""},
	})
	if v, err := m.SecretValue("key", api.DefaultNamespace); err != nil || string(v) != "v2" {
		t.Errorf("stored secret = %q, %v; want v2", v, err)
	}
}

func TestNamespaceRoutes(t *testing.T) {
	t.Parallel()
	srv := newServer(t, newMemory(t), HandlerConfig{})
	run(t, srv, []step{
		{"GET", "/system/namespaces", "", 200, `["openfaas-fn"]`},
		{"POST", "/system/namespace/", `{"name":"dev","labels":{"openfaas":"1"},"annotations":{}}`, 201, ""},
		{"POST", "/system/namespace/", `{"name":"dev","labels":{"openfaas":"1"}}`, 409, "already exists"},
		{"POST", "/system/namespace/", `{"name":"staging","labels":{}}`, 400, `needs the label openfaas="1"`},
		{"POST", "/system/namespace/", `{"name":"kube-system","labels":{"openfaas":"1"}}`, 400, "reserved"},
		{"POST", "/system/namespace/qa", `{"labels":{"openfaas":"1"}}`, 201, ""},
		{"GET", "/system/namespaces", "", 200, `["dev","openfaas-fn","qa"]`},
		{"GET", "/system/namespace/dev", "", 200, `{"name":"dev","annotations":{},"labels":{"openfaas":"1"}}`},
		{"GET", "/system/namespace/absent", "", 404, ""},
		{"PUT", "/system/namespace/dev", `{"name":"qa","labels":{"openfaas":"1"}}`, 400, "does not match"},
		{"PUT", "/system/namespace/dev", `{"name":"dev","labels":{"openfaas":"1"},"annotations":{"a":"b"}}`, 202, ""},
		{"GET", "/system/namespace/dev", "", 200, `"annotations":{"a":"b"}`},
		{"DELETE", "/system/namespace/dev", `{"name":"qa"}`, 400, "does not match"},
		{"DELETE", "/system/namespace/dev", `{"name":"dev"}`, 202, ""},
		{"DELETE", "/system/namespace/qa", "", 202, ""},
		{"DELETE", "/system/namespace/qa", "", 404, ""},
	})
}

// bare hides every optional interface of the memory back-end.
type bare struct{ provider.Provider }

func TestNotImplemented(t *testing.T) {
	t.Parallel()
	srv := newServer(t, bare{newMemory(t)}, HandlerConfig{DefaultNamespace: "fns", Info: api.ProviderInfo{Name: "custom", Orchestration: "none"}})
	run(t, srv, []step{
		{"GET", "/system/namespaces", "", 200, `["fns"]`},
		{"GET", "/system/namespace/x", "", 501, "Feature not implemented in this version of OpenFaaS"},
		{"POST", "/system/namespace/", `{"name":"x"}`, 501, "Feature not implemented"},
		{"GET", "/system/secrets", "", 501, "not supported"},
		{"POST", "/system/secrets", `{"name":"x"}`, 501, "not supported"},
		{"GET", "/system/logs?name=fn", "", 501, "not supported"},
		{"GET", "/system/info", "", 200, `{"provider":"custom","orchestration":"none","version":{"sha":"","release":""}}`},
	})
}

func TestInvokeThroughHandler(t *testing.T) {
	t.Parallel()
	m := newMemory(t)
	_ = m.Deploy(t.Context(), api.FunctionDeployment{Service: "fn", Image: "i", Namespace: api.DefaultNamespace})
	srv := newServer(t, m, HandlerConfig{})
	resp, err := http.Post(srv.URL+"/function/fn/x/y?q=1", "text/plain", strings.NewReader("ping"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ping" || resp.Header.Get("X-Echo-Path") != "/x/y" || resp.Header.Get("X-Echo-Query") != "q=1" {
		t.Errorf("got %d %q path %q", resp.StatusCode, body, resp.Header.Get("X-Echo-Path"))
	}
	run(t, srv, []step{{"GET", "/function/absent", "", 404, `function "absent" not found in namespace "openfaas-fn"`}})
}

func TestLogRoutes(t *testing.T) {
	t.Parallel()
	m := newMemory(t)
	ns := api.DefaultNamespace
	_ = m.Deploy(t.Context(), api.FunctionDeployment{Service: "fn", Image: "i", Namespace: ns})
	ts := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	for _, text := range []string{"one", "two", "three"} {
		m.AppendLog(api.LogMessage{Name: "fn", Namespace: ns, Instance: "fn-1", Timestamp: ts, Text: text})
	}
	srv := newServer(t, m, HandlerConfig{})
	run(t, srv, []step{
		{"GET", "/system/logs?name=fn&tail=2&follow=false", "", 200,
			`{"name":"fn","namespace":"openfaas-fn","instance":"fn-1","timestamp":"2024-05-06T07:08:09.123456789Z","text":"two"}` + "\n" +
				`{"name":"fn","namespace":"openfaas-fn","instance":"fn-1","timestamp":"2024-05-06T07:08:09.123456789Z","text":"three"}` + "\n"},
		{"GET", "/system/logs?name=fn&tail=many", "", 422, `invalid tail "many"`},
		{"GET", "/system/logs?name=fn&since=yesterday", "", 422, `invalid since "yesterday"`},
		{"GET", "/system/logs?name=fn&follow=maybe", "", 422, `invalid follow`},
		{"GET", "/system/logs", "", 400, "name is required"},
		{"GET", "/system/logs?name=absent", "", 404, ""},
	})
	resp, err := http.Get(srv.URL + "/system/logs?name=fn&since=2024-05-06T07:08:09Z")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("Content-Type = %q", ct)
	}
}

// TestLogFollow streams a followed log over a server whose WriteTimeout is
// shorter than the stream, through the Client.
func TestLogFollow(t *testing.T) {
	if testing.Short() {
		t.Skip("waits past a server write timeout")
	}
	t.Parallel()
	m := newMemory(t)
	ns := api.DefaultNamespace
	_ = m.Deploy(t.Context(), api.FunctionDeployment{Service: "fn", Image: "i", Namespace: ns})
	srv := httptest.NewUnstartedServer(NewHandler(m, HandlerConfig{}))
	srv.Config.WriteTimeout = 300 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	c, err := NewClient(srv.URL, ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ch, err := c.Logs(ctx, api.LogRequest{Name: "fn", Namespace: ns, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	m.AppendLog(api.LogMessage{Name: "fn", Namespace: ns, Text: "early"})
	if msg := <-ch; msg.Text != "early" {
		t.Fatalf("got %+v", msg)
	}
	time.Sleep(2 * srv.Config.WriteTimeout) // deliberately outlive the server's WriteTimeout
	m.AppendLog(api.LogMessage{Name: "fn", Namespace: ns, Text: "late"})
	select {
	case msg, ok := <-ch:
		if !ok || msg.Text != "late" {
			t.Fatalf("got %+v (open %v), want the late line", msg, ok)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("late line never arrived")
	}
	cancel()
	for range ch {
	}
}

func TestClientErrors(t *testing.T) {
	t.Parallel()
	var gotUser, gotPass string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotUser, gotPass, _ = r.BasicAuth()
		switch r.URL.Path {
		case "/system/info": // a gateway's answer
			_, _ = io.WriteString(w, `{"provider":{"provider":"faas-netes","orchestration":"kubernetes","version":{"sha":"abc","release":"0.18"}},"version":{"sha":"g","release":"1"},"arch":"x86_64"}`)
		case "/system/namespaces":
			http.NotFound(w, r)
		case "/system/functions":
			http.Error(w, "boom", map[string]int{"POST": 409, "PUT": 404, "DELETE": 500, "GET": 400}[r.Method])
		case "/system/scale-function/fn":
			http.Error(w, "no", 503)
		case "/system/secrets":
			http.Error(w, "", 405)
		}
	}))
	t.Cleanup(srv.Close)
	c, err := NewClient(srv.URL, ClientConfig{Username: "admin", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	fn := api.FunctionDeployment{Service: "fn", Image: "i", Namespace: "ns"}
	_, listErr := c.Functions(ctx, "ns")
	_, nsErr := c.NamespaceList(ctx)
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"deploy exists", c.Deploy(ctx, fn), provider.ErrExists},
		{"update absent", c.Update(ctx, fn), provider.ErrNotFound},
		{"list invalid", listErr, provider.ErrInvalid},
		{"scale no replicas", c.Scale(ctx, "fn", "ns", 1), provider.ErrNoReplicas},
		{"secrets 405", c.UpdateSecret(ctx, api.Secret{Name: "s"}), provider.ErrNotSupported},
		{"namespaces missing route", nsErr, provider.ErrNotSupported},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, tt.err, tt.want)
		}
	}
	err = c.Remove(ctx, "fn", "ns")
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 500 || err.Error() != "boom" {
		t.Errorf("Remove: %v, want StatusError 500 boom", err)
	}
	if gotUser != "admin" || gotPass != "pw" {
		t.Errorf("basic auth sent %q:%q", gotUser, gotPass)
	}
	info := c.Info(ctx)
	if info.Name != "faas-netes" || info.Orchestration != "kubernetes" || info.Version.Release != "0.18" {
		t.Errorf("Info from a gateway = %+v", info)
	}
}

func TestNewClientRejectsBadURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "127.0.0.1:8080", "ftp://x", "http://", "://"} {
		if _, err := NewClient(u, ClientConfig{}); err == nil {
			t.Errorf("NewClient(%q) accepted", u)
		}
	}
}

// ndjsonLines parses an NDJSON body, for tests.
func ndjsonLines(t *testing.T, r io.Reader) []api.LogMessage {
	t.Helper()
	var out []api.LogMessage
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var m api.LogMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestClientLogsRoundTrip(t *testing.T) {
	t.Parallel()
	m := newMemory(t)
	ns := api.DefaultNamespace
	_ = m.Deploy(t.Context(), api.FunctionDeployment{Service: "fn", Image: "i", Namespace: ns})
	since := time.Date(2024, 1, 1, 0, 0, 1, 500, time.UTC)
	for i, text := range []string{"a", "b", "c"} {
		m.AppendLog(api.LogMessage{Name: "fn", Namespace: ns, Instance: "i1", Timestamp: since.Add(time.Duration(i-1) * time.Nanosecond * 100), Text: text})
	}
	srv := newServer(t, m, HandlerConfig{})
	c, _ := NewClient(srv.URL, ClientConfig{})
	ch, err := c.Logs(t.Context(), api.LogRequest{Name: "fn", Namespace: ns, Since: &since, Instance: "i1"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for msg := range ch {
		got = append(got, msg.Text)
	}
	if strings.Join(got, ",") != "b,c" {
		t.Errorf("got %v, want b,c (since with nanoseconds kept)", got)
	}
	resp, err := http.Get(srv.URL + "/system/logs?name=fn")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if lines := ndjsonLines(t, resp.Body); len(lines) != 3 {
		t.Errorf("%d lines, want 3", len(lines))
	}
}

func TestStartedHook(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []string
	srv := newServer(t, newMemory(t), HandlerConfig{Started: func(name, ns string) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, name+"."+ns)
	}})
	run(t, srv, []step{
		{"POST", "/system/functions", `{"service":"fn","image":"i"}`, 202, ""},
		{"POST", "/system/functions", `{"service":"fn","image":"i"}`, 409, ""},
		{"PUT", "/system/functions", `{"service":"fn","image":"j","namespace":"openfaas-fn"}`, 202, ""},
		{"POST", "/system/scale-function/fn", `{"serviceName":"fn","replicas":0}`, 202, ""},
		{"POST", "/system/scale-function/fn", `{"serviceName":"fn","replicas":2}`, 202, ""},
		{"POST", "/system/scale-function/absent", `{"serviceName":"absent","replicas":2}`, 404, ""},
	})
	mu.Lock()
	defer mu.Unlock()
	want := []string{"fn.openfaas-fn", "fn.openfaas-fn", "fn.openfaas-fn"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Started calls = %v, want deploy, update and the scale to 2: %v", got, want)
	}
}
