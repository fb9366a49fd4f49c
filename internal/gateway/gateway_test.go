package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gofaas/gofaas/internal/auth"
	"github.com/gofaas/gofaas/internal/metrics"
	"github.com/gofaas/gofaas/internal/provider/memory"
	"github.com/gofaas/gofaas/pkg/api"
)

type fixture struct {
	gw  *httptest.Server
	mem *memory.Memory
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Seen-Call-Id", r.Header.Get(api.HeaderCallID))
		w.Header().Set("X-Seen-Start", r.Header.Get(api.HeaderStartTime))
		w.Header().Set(api.HeaderCallID, "from-function") // the gateway's id must win
		w.Write([]byte(r.Method + " " + r.URL.RequestURI() + " " + string(body)))
	}))
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	mem := memory.New(u)
	reg := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	g := New(mem, metrics.NewGateway(), Config{
		Auth:     auth.NewBasic(auth.Credentials{User: "admin", Password: "pw"}),
		Registry: reg,
		Version:  api.VersionInfo{Release: "test", SHA: "abc"},
	})
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return &fixture{gw: srv, mem: mem}
}

func (f *fixture) do(t *testing.T, method, path, body string, authed bool) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, f.gw.URL+path, strings.NewReader(body))
	if authed {
		req.SetBasicAuth("admin", "pw")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

func TestAuthCoversSystemAndRegistryOnly(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.do(t, "POST", "/system/functions", `{"service":"echo","image":"x"}`, true)
	tests := []struct {
		method, path string
		want         int
	}{
		{"GET", "/system/functions", 401},
		{"GET", "/system/info", 401},
		{"POST", "/system/alert", 401},
		{"GET", "/system/secrets", 401},
		{"GET", "/v2/", 401},
		{"GET", "/healthz", 200},
		{"GET", "/metrics", 200},
		{"GET", "/function/echo", 200},
		{"GET", "/", 200},
	}
	for _, tt := range tests {
		if res := f.do(t, tt.method, tt.path, "", false); res.StatusCode != tt.want {
			t.Errorf("%s %s without auth: %d, want %d", tt.method, tt.path, res.StatusCode, tt.want)
		}
	}
	if res := f.do(t, "GET", "/v2/", "", true); res.StatusCode != 200 {
		t.Errorf("GET /v2/ with auth: %d", res.StatusCode)
	}
	// docker login and the CLI tell a registry by this header, 401 or not.
	for _, auth := range []bool{false, true} {
		if res := f.do(t, "GET", "/v2/", "", auth); res.Header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
			t.Errorf("GET /v2/ (auth %v): no Docker-Distribution-API-Version header", auth)
		}
	}
}

func TestInvocationHeadersAndCounts(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if res := f.do(t, "POST", "/system/functions", `{"service":"echo","image":"x"}`, true); res.StatusCode != 202 {
		t.Fatalf("deploy: %d", res.StatusCode)
	}
	res := f.do(t, "PUT", "/function/echo/a/b?q=1", "body", false)
	got, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || string(got) != "PUT /a/b?q=1 body" {
		t.Fatalf("invoke: %d %q", res.StatusCode, got)
	}
	id := res.Header.Values(api.HeaderCallID)
	if len(id) != 1 || id[0] == "" || id[0] == "from-function" || res.Header.Get("X-Seen-Call-Id") != id[0] {
		t.Errorf("X-Call-Id response %v, function saw %q", id, res.Header.Get("X-Seen-Call-Id"))
	}
	if res.Header.Get(api.HeaderStartTime) == "" || res.Header.Get("X-Seen-Start") != res.Header.Get(api.HeaderStartTime) {
		t.Errorf("X-Start-Time response %q, function saw %q", res.Header.Get(api.HeaderStartTime), res.Header.Get("X-Seen-Start"))
	}
	if res.Header.Get(api.HeaderDuration) == "" {
		t.Error("no X-Duration-Seconds")
	}
	// A caller's own call id is kept.
	res = f.do(t, "GET", "/function/echo.openfaas-fn", "", false)
	_ = res
	req, _ := http.NewRequest("GET", f.gw.URL+"/function/echo", nil)
	req.Header.Set(api.HeaderCallID, "mine")
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.Header.Get(api.HeaderCallID) != "mine" || r2.Header.Get("X-Seen-Call-Id") != "mine" {
		t.Errorf("caller's call id not kept: %q / %q", r2.Header.Get(api.HeaderCallID), r2.Header.Get("X-Seen-Call-Id"))
	}

	var list []api.FunctionStatus
	json.NewDecoder(f.do(t, "GET", "/system/functions", "", true).Body).Decode(&list)
	if len(list) != 1 || list[0].InvocationCount != 3 {
		t.Fatalf("list = %+v, want echo with invocationCount 3", list)
	}
	var one api.FunctionStatus
	json.NewDecoder(f.do(t, "GET", "/system/function/echo", "", true).Body).Decode(&one)
	if one.InvocationCount != 3 {
		t.Errorf("status invocationCount = %v, want 3", one.InvocationCount)
	}
	body, _ := io.ReadAll(f.do(t, "GET", "/metrics", "", false).Body)
	if !strings.Contains(string(body), `gateway_function_invocation_total{code="200",function_name="echo.openfaas-fn"} 3`) {
		t.Errorf("metrics:\n%s", body)
	}
}

func TestInfo(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var info map[string]any
	json.NewDecoder(f.do(t, "GET", "/system/info", "", true).Body).Decode(&info)
	v, _ := info["version"].(map[string]any)
	if info["arch"] == "" || v["release"] != "test" || v["sha"] != "abc" || info["provider"] == nil {
		t.Errorf("info = %v", info)
	}
}

func TestAlertScales(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.do(t, "POST", "/system/functions", `{"service":"echo","image":"x","labels":{"com.openfaas.scale.max":"10","com.openfaas.scale.factor":"50"}}`, true)
	firing := `{"status":"firing","receiver":"scale-up","alerts":[{"status":"firing","labels":{"alertname":"APIHighInvocationRate","function_name":"echo.openfaas-fn"}}]}`
	if res := f.do(t, "POST", "/system/alert", firing, true); res.StatusCode != 200 {
		t.Fatalf("alert: %d", res.StatusCode)
	}
	st, _ := f.mem.Function(t.Context(), "echo", api.DefaultNamespace, false)
	if st.Replicas != 6 {
		t.Errorf("after firing: %d replicas, want 1+5", st.Replicas)
	}
	resolved := strings.ReplaceAll(firing, `"firing"`, `"resolved"`)
	f.do(t, "POST", "/system/alert", resolved, true)
	st, _ = f.mem.Function(t.Context(), "echo", api.DefaultNamespace, false)
	if st.Replicas != 1 {
		t.Errorf("after resolved: %d replicas, want 1", st.Replicas)
	}
	for _, tt := range []struct{ body, want string }{
		{"", "A body is required for this endpoint"},
		{"{bad", "Unable to parse alert, bad format."},
	} {
		res := f.do(t, "POST", "/system/alert", tt.body, true)
		got, _ := io.ReadAll(res.Body)
		if res.StatusCode != 400 || strings.TrimSpace(string(got)) != tt.want {
			t.Errorf("alert %q: %d %q", tt.body, res.StatusCode, got)
		}
	}
	missing := strings.ReplaceAll(firing, "echo.openfaas-fn", "nope")
	if res := f.do(t, "POST", "/system/alert", missing, true); res.StatusCode != 500 {
		t.Errorf("alert for missing function: %d, want 500", res.StatusCode)
	}
}
