//go:build e2e

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gofaas/gofaas/pkg/api"
)

// echoed is what examples/hello answers.
type echoed struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Query   string            `json:"query"`
	Body    string            `json:"body"`
	CallID  string            `json:"callId"`
	Env     map[string]string `json:"env"`
	Secrets map[string]string `json:"secrets"`
	Pid     int               `json:"pid"`
}

func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("decoding %s: %v", r, err)
	}
	return v
}

// waitAvailable waits until name.ns has n available replicas.
func waitAvailable(t *testing.T, s *server, name, ns string, n uint64) api.FunctionStatus {
	t.Helper()
	var st api.FunctionStatus
	checkFor(t, 30*time.Second, 100*time.Millisecond, func() error {
		r := s.call("GET", "/system/function/"+name+"?namespace="+ns, nil, true)
		if r.Code != 200 {
			return fmt.Errorf("status: %s", r)
		}
		st = decode[api.FunctionStatus](t, r)
		if st.AvailableReplicas != n {
			return fmt.Errorf("%s: %d of %d replicas available, want %d", name, st.AvailableReplicas, st.Replicas, n)
		}
		return nil
	})
	return st
}

func TestServer(t *testing.T) {
	dataDir := t.TempDir()
	// Scale from zero is off here so that a function at zero replicas
	// answers 503; autoscale_test.go covers waking it.
	s := startServer(t, dataDir, "server", "--port", "0", "--data-dir", dataDir, "--scale-from-zero=false")

	t.Run("health and auth", func(t *testing.T) {
		want(t, "healthz", s.call("GET", "/healthz", nil, false), 200)
		r := s.call("GET", "/system/functions", nil, false)
		want(t, "list without auth", r, 401)
		if got := r.Header.Get("WWW-Authenticate"); got != `Basic realm="Restricted"` {
			t.Errorf("WWW-Authenticate = %q", got)
		}
		want(t, "registry without auth", s.call("GET", "/v2/", nil, false), 401)
		r = s.call("GET", "/system/functions", nil, true)
		want(t, "list", r, 200)
		if strings.TrimSpace(string(r.Body)) != "[]" {
			t.Errorf("empty list = %s, want []", r.Body)
		}
		info := decode[api.GatewayInfo](t, s.call("GET", "/system/info", nil, true))
		if info.Provider == nil || info.Provider.Orchestration != "process" || info.Arch == "" {
			t.Errorf("info = %+v", info)
		}
	})

	s.publish() // hello:latest, http mode
	s.publish("-image", "functions/cat:latest", "-handler", "", "-fprocess", "cat", "-mode", "")
	s.publish("-image", "crash:latest", "-handler", "", "-fprocess", "false", "-mode", "http")

	t.Run("secrets", func(t *testing.T) {
		want(t, "create", s.call("POST", "/system/secrets", api.Secret{Name: "api-key", Value: "s3cret"}, true), 201)
		want(t, "create again", s.call("POST", "/system/secrets", api.Secret{Name: "api-key", Value: "x"}, true), 409)
		r := s.call("GET", "/system/secrets", nil, true)
		want(t, "list", r, 200)
		if strings.Contains(string(r.Body), "s3cret") || !strings.Contains(string(r.Body), `"api-key"`) {
			t.Errorf("secret list = %s: want names, never values", r.Body)
		}
	})

	deploy := api.FunctionDeployment{
		Service: "hello", Image: strings.TrimPrefix(s.URL, "http://") + "/hello:latest",
		EnvVars:     map[string]string{"greeting": "hi"},
		Labels:      map[string]string{"team": "a", "com.openfaas.scale.min": "1"},
		Annotations: map[string]string{"topic": "t1"},
		Secrets:     []string{"api-key"},
		Limits:      &api.FunctionResources{Memory: "128Mi", CPU: "100m"},
		Constraints: []string{"node.platform.os == linux"},
	}
	t.Run("deploy as faas-cli does", func(t *testing.T) {
		want(t, "PUT of a new function", s.call("PUT", "/system/functions", deploy, true), 404)
		want(t, "POST", s.call("POST", "/system/functions", deploy, true), 202)
		st := waitAvailable(t, s, "hello", api.DefaultNamespace, 1)
		if st.Image != deploy.Image || st.EnvVars["greeting"] != "hi" || st.Labels["team"] != "a" ||
			st.Annotations["topic"] != "t1" || st.Limits == nil || st.Limits.Memory != "128Mi" ||
			len(st.Secrets) != 1 || len(st.Constraints) != 1 || st.CreatedAt.IsZero() || st.Namespace != api.DefaultNamespace {
			t.Errorf("status does not match the deployment: %+v", st)
		}
		if len(st.Labels) != 2 || len(st.Annotations) != 1 {
			t.Errorf("labels/annotations changed: %v %v", st.Labels, st.Annotations)
		}
	})

	t.Run("invoke", func(t *testing.T) {
		r := s.call("POST", "/function/hello/sub/path?x=1&y=2", "hello body", false, "X-Call-Id", "call-123")
		want(t, "invoke", r, 200)
		e := decode[echoed](t, r)
		if e.Method != "POST" || e.Path != "/sub/path" || e.Query != "x=1&y=2" || e.Body != "hello body" {
			t.Errorf("function saw %+v", e)
		}
		if e.CallID != "call-123" || r.Header.Get("X-Call-Id") != "call-123" {
			t.Errorf("call id: function saw %q, response has %q", e.CallID, r.Header.Get("X-Call-Id"))
		}
		if r.Header.Get("X-Start-Time") == "" || r.Header.Get("X-Duration-Seconds") == "" {
			t.Errorf("missing X-Start-Time / X-Duration-Seconds: %v", r.Header)
		}
		if e.Env["greeting"] != "hi" {
			t.Errorf("env greeting = %q", e.Env["greeting"])
		}
		if e.Secrets["api-key"] != "s3cret" {
			t.Errorf("function read secrets %v, want api-key=s3cret", e.Secrets)
		}
		r = s.call("GET", "/function/hello.openfaas-fn", nil, false)
		want(t, "invoke with namespace", r, 200)
		if got := r.Header.Get("X-Call-Id"); got == "" {
			t.Error("no X-Call-Id generated")
		}
		r = s.call("GET", "/function/hello?status=418", nil, false)
		want(t, "function's own status passes through", r, 418)
	})

	t.Run("classic watchdog from an offline docker.io reference", func(t *testing.T) {
		d := api.FunctionDeployment{Service: "cat", Image: "docker.io/functions/cat:latest"}
		want(t, "deploy", s.call("POST", "/system/functions", d, true), 202)
		waitAvailable(t, s, "cat", api.DefaultNamespace, 1)
		r := s.call("POST", "/function/cat", "meow", false)
		want(t, "invoke", r, 200)
		if string(r.Body) != "meow" {
			t.Errorf("cat answered %q", r.Body)
		}
	})

	t.Run("scale", func(t *testing.T) {
		want(t, "scale to 3", s.call("POST", "/system/scale-function/hello", api.ScaleServiceRequest{ServiceName: "hello", Replicas: 3}, true), 202)
		waitAvailable(t, s, "hello", api.DefaultNamespace, 3)
		pids := map[int]bool{}
		for range 30 {
			pids[decode[echoed](t, s.call("GET", "/function/hello", nil, false)).Pid] = true
		}
		if len(pids) < 2 {
			t.Errorf("30 calls reached %d replica(s), want them spread", len(pids))
		}
		want(t, "scale to 1", s.call("POST", "/system/scale-function/hello", api.ScaleServiceRequest{ServiceName: "hello", Replicas: 1}, true), 202)
		waitAvailable(t, s, "hello", api.DefaultNamespace, 1)
	})

	t.Run("logs", func(t *testing.T) {
		want(t, "invoke that logs", s.call("GET", "/function/hello?log=first-line", nil, false), 200)
		checkFor(t, 10*time.Second, 100*time.Millisecond, func() error {
			r := s.call("GET", "/system/logs?name=hello&tail=50", nil, true)
			if r.Code != 200 || r.Header.Get("Content-Type") != "application/x-ndjson" {
				return fmt.Errorf("logs: %s (%s)", r, r.Header.Get("Content-Type"))
			}
			if !strings.Contains(string(r.Body), "first-line") {
				return fmt.Errorf("logs lack the line: %s", r.Body)
			}
			return nil
		})
		want(t, "bad tail", s.call("GET", "/system/logs?name=hello&tail=abc", nil, true), 422)

		req, _ := http.NewRequest("GET", s.URL+"/system/logs?name=hello&follow=true&tail=0", nil)
		req.SetBasicAuth(s.User, s.Pass)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		lines := make(chan api.LogMessage, 100)
		go func() {
			sc := bufio.NewScanner(res.Body)
			for sc.Scan() {
				var m api.LogMessage
				if json.Unmarshal(sc.Bytes(), &m) == nil {
					lines <- m
				}
			}
			close(lines)
		}()
		time.Sleep(200 * time.Millisecond) // let the follower attach; the line below is sent later
		want(t, "invoke that logs", s.call("GET", "/function/hello?log=followed-line", nil, false), 200)
		deadline := time.After(10 * time.Second)
		for {
			select {
			case m, ok := <-lines:
				if !ok {
					t.Fatal("follow stream ended early")
				}
				if strings.Contains(m.Text, "followed-line") {
					if m.Name != "hello" || m.Namespace != api.DefaultNamespace || m.Instance == "" || m.Timestamp.IsZero() {
						t.Errorf("log message fields: %+v", m)
					}
					return
				}
			case <-deadline:
				t.Fatal("followed line never arrived")
			}
		}
	})

	t.Run("namespaces", func(t *testing.T) {
		want(t, "create without marker", s.call("POST", "/system/namespace/", api.FunctionNamespace{Name: "nolabel"}, true), 400)
		ns := api.FunctionNamespace{Name: "dev", Labels: map[string]string{"openfaas": "1"}}
		want(t, "create", s.call("POST", "/system/namespace/", ns, true), 201)
		want(t, "create again", s.call("POST", "/system/namespace/", ns, true), 409)
		r := s.call("GET", "/system/namespaces", nil, true)
		if !strings.Contains(string(r.Body), `"dev"`) || !strings.Contains(string(r.Body), `"openfaas-fn"`) {
			t.Errorf("namespaces = %s", r)
		}
		d := deploy
		d.Namespace, d.Secrets = "dev", nil
		want(t, "deploy into dev", s.call("POST", "/system/functions", d, true), 202)
		waitAvailable(t, s, "hello", "dev", 1)
		want(t, "invoke hello.dev", s.call("GET", "/function/hello.dev", nil, false), 200)
		list := decode[[]api.FunctionStatus](t, s.call("GET", "/system/functions?namespace=dev", nil, true))
		if len(list) != 1 || list[0].Namespace != "dev" {
			t.Errorf("dev lists %+v", list)
		}
		want(t, "deploy into unknown namespace", s.call("POST", "/system/functions", api.FunctionDeployment{Service: "x", Image: deploy.Image, Namespace: "nope"}, true), 400)

		got := decode[api.FunctionNamespace](t, s.call("GET", "/system/namespace/dev", nil, true))
		if got.Name != "dev" || got.Labels["openfaas"] != "1" {
			t.Errorf("GET namespace = %+v", got)
		}
		ns.Annotations = map[string]string{"owner": "team-a"}
		want(t, "update", s.call("PUT", "/system/namespace/dev", ns, true), 202)
		if got := decode[api.FunctionNamespace](t, s.call("GET", "/system/namespace/dev", nil, true)); got.Annotations["owner"] != "team-a" {
			t.Errorf("after update: %+v", got)
		}
		scratch := api.FunctionNamespace{Name: "scratch", Labels: map[string]string{"openfaas": "1"}}
		want(t, "create scratch", s.call("POST", "/system/namespace/", scratch, true), 201)
		want(t, "delete scratch", s.call("DELETE", "/system/namespace/scratch", scratch, true), 202)
		want(t, "get deleted", s.call("GET", "/system/namespace/scratch", nil, true), 404)
	})

	t.Run("secret update and delete", func(t *testing.T) {
		want(t, "create", s.call("POST", "/system/secrets", api.Secret{Name: "temp", RawValue: []byte{0, 1, 2}}, true), 201)
		want(t, "update", s.call("PUT", "/system/secrets", api.Secret{Name: "temp", Value: "v2"}, true), 200)
		want(t, "update absent", s.call("PUT", "/system/secrets", api.Secret{Name: "absent", Value: "x"}, true), 404)
		want(t, "delete in use", s.call("DELETE", "/system/secrets", api.Secret{Name: "api-key"}, true), 400)
		want(t, "delete", s.call("DELETE", "/system/secrets", api.Secret{Name: "temp"}, true), 200)
		if r := s.call("GET", "/system/secrets", nil, true); strings.Contains(string(r.Body), `"temp"`) {
			t.Errorf("deleted secret still listed: %s", r)
		}
	})

	t.Run("usage", func(t *testing.T) {
		st := decode[api.FunctionStatus](t, s.call("GET", "/system/function/hello?usage=1", nil, true))
		if st.Usage == nil || st.Usage.TotalMemoryBytes <= 0 {
			t.Errorf("usage = %+v, want the replicas' memory", st.Usage)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		cases := []struct {
			name         string
			method, path string
			body         any
			code         int
		}{
			{"bad name", "POST", "/system/functions", api.FunctionDeployment{Service: "Bad_Name", Image: deploy.Image}, 400},
			{"long name", "POST", "/system/functions", api.FunctionDeployment{Service: strings.Repeat("a", 64), Image: deploy.Image}, 400},
			{"malformed JSON", "POST", "/system/functions", `{"service": "x",`, 400},
			{"no image", "POST", "/system/functions", api.FunctionDeployment{Service: "noimage"}, 400},
			{"missing image", "POST", "/system/functions", api.FunctionDeployment{Service: "ghost", Image: strings.TrimPrefix(s.URL, "http://") + "/ghost:latest"}, 400},
			{"missing secret", "POST", "/system/functions", api.FunctionDeployment{Service: "sec", Image: deploy.Image, Secrets: []string{"nope"}}, 400},
			{"exists", "POST", "/system/functions", deploy, 409},
			{"oversize body", "POST", "/system/functions", `{"service":"big","image":"x","envVars":{"a":"` + strings.Repeat("x", 2<<20) + `"}}`, 413},
			{"wrong method", "PATCH", "/system/functions", nil, 405},
			{"unknown function", "GET", "/system/function/nope", nil, 404},
			{"scale unknown", "POST", "/system/scale-function/nope", api.ScaleServiceRequest{ServiceName: "nope", Replicas: 1}, 404},
			{"invoke unknown", "GET", "/function/nope", nil, 404},
		}
		for _, c := range cases {
			r := s.call(c.method, c.path, c.body, !strings.HasPrefix(c.path, "/function/"))
			if r.Code != c.code {
				t.Errorf("%s: got %s, want %d", c.name, r, c.code)
			} else if c.code >= 400 && len(strings.TrimSpace(string(r.Body))) < 5 {
				t.Errorf("%s: status %d with no explanation", c.name, r.Code)
			}
		}
		// Nothing stored was lost: hello still serves and lists.
		want(t, "hello still serves", s.call("GET", "/function/hello", nil, false), 200)
		list := decode[[]api.FunctionStatus](t, s.call("GET", "/system/functions", nil, true))
		if len(list) != 2 {
			t.Errorf("after bad input the default namespace lists %d functions, want 2 (hello, cat)", len(list))
		}
	})

	t.Run("crashing function and zero replicas give 503", func(t *testing.T) {
		d := api.FunctionDeployment{Service: "crash", Image: strings.TrimPrefix(s.URL, "http://") + "/crash:latest"}
		want(t, "deploy", s.call("POST", "/system/functions", d, true), 202)
		time.Sleep(time.Second) // let it fail a few times
		r := s.call("GET", "/function/crash", nil, false)
		want(t, "invoke crashing", r, 503)
		want(t, "hello unaffected", s.call("GET", "/function/hello", nil, false), 200)
		want(t, "remove crash", s.call("DELETE", "/system/functions", api.DeleteFunctionRequest{FunctionName: "crash"}, true), 202)

		want(t, "scale cat to 0", s.call("POST", "/system/scale-function/cat", api.ScaleServiceRequest{ServiceName: "cat", Replicas: 0}, true), 202)
		checkFor(t, 10*time.Second, 100*time.Millisecond, func() error {
			if r := s.call("GET", "/function/cat", nil, false); r.Code != 503 {
				return fmt.Errorf("cat at 0 replicas: %s, want 503", r)
			}
			return nil
		})
		want(t, "scale cat to 1", s.call("POST", "/system/scale-function/cat", api.ScaleServiceRequest{ServiceName: "cat", Replicas: 1}, true), 202)
	})

	t.Run("metrics", func(t *testing.T) {
		r := s.call("GET", "/metrics", nil, false)
		want(t, "metrics", r, 200)
		if !strings.Contains(string(r.Body), `gateway_function_invocation_total{code="200",function_name="hello.openfaas-fn"}`) {
			t.Errorf("metrics lack hello's invocations")
		}
		list := decode[[]api.FunctionStatus](t, s.call("GET", "/system/functions", nil, true))
		for _, f := range list {
			if f.Name == "hello" && f.InvocationCount < 5 {
				t.Errorf("hello invocationCount = %v", f.InvocationCount)
			}
		}
	})

	t.Run("kill -9 and restart", func(t *testing.T) {
		want(t, "scale hello to 2", s.call("POST", "/system/scale-function/hello", api.ScaleServiceRequest{ServiceName: "hello", Replicas: 2}, true), 202)
		waitAvailable(t, s, "hello", api.DefaultNamespace, 2)
		s.kill9()
		checkFor(t, 15*time.Second, 100*time.Millisecond, func() error {
			if pids := processesUsing(dataDir); len(pids) > 0 {
				return fmt.Errorf("processes of the killed server still alive: %v", pids)
			}
			return nil
		})
		s2 := startServer(t, dataDir, "server", "--port", "0", "--data-dir", dataDir)
		waitAvailable(t, s2, "hello", api.DefaultNamespace, 2)
		waitAvailable(t, s2, "hello", "dev", 1)
		waitAvailable(t, s2, "cat", api.DefaultNamespace, 1)
		r := s2.call("POST", "/function/hello", "after restart", false)
		want(t, "invoke after restart", r, 200)
		if e := decode[echoed](t, r); e.Body != "after restart" || e.Secrets["api-key"] != "s3cret" {
			t.Errorf("after restart the function saw %+v", e)
		}
		want(t, "remove", s2.call("DELETE", "/system/functions", api.DeleteFunctionRequest{FunctionName: "hello"}, true), 202)
		want(t, "invoke removed", s2.call("GET", "/function/hello", nil, false), 404)
		want(t, "remove again", s2.call("DELETE", "/system/functions", api.DeleteFunctionRequest{FunctionName: "hello"}, true), 404)
		want(t, "the dev copy is untouched", s2.call("GET", "/function/hello.dev", nil, false), 200)
	})
}
