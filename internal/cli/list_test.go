package cli

import (
	"strings"
	"testing"
)

const listBody = `[
 {"name":"zeta","image":"ghcr.io/example/zeta:latest","invocationCount":5,"replicas":1,"availableReplicas":1},
 {"name":"alpha","image":"registry.example.com/a/very/long/path/to/the/image/alpha:1.0.0","invocationCount":12,"replicas":2}
]`

func TestList(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		args  []string
		query string
		want  string
	}{
		{"default", []string{"list"}, "",
			"Function                      \tInvocations    \tReplicas\n" +
				"alpha                         \t12             \t2    \n" +
				"zeta                          \t5              \t1    \n"},
		{"verbose", []string{"ls", "-v", "-n", "dev"}, "namespace=dev",
			"Function                      \tImage                                   \tInvocations    \tReplicas\n" +
				"alpha                         \tregistry.example.com/a/very/long/path/..\t12             \t2    \n" +
				"zeta                          \tghcr.io/example/zeta:latest             \t5              \t1    \n"},
		{"quiet sorted by invocations", []string{"list", "-q", "--sort", "invocations"}, "", "alpha\nzeta\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gw := newFakeGateway(t, map[string]route{"GET /system/functions": {200, listBody, nil}})
			e := newEnv(t, gw.URL(), "")
			if got := e.mustRun(t, tt.args...); got != tt.want {
				t.Errorf("output:\n%s\nwant:\n%s", got, tt.want)
			}
			if q := gw.requests()[0].Query; q != tt.query {
				t.Errorf("query = %q, want %q", q, tt.query)
			}
		})
	}
}

func TestListUsesStackGateway(t *testing.T) {
	t.Parallel()
	gw := newFakeGateway(t, map[string]route{"GET /system/functions": {200, "[]", nil}})
	e := newEnv(t, "http://127.0.0.1:1", "")
	e.write(t, "stack.yaml", "version: 1.0\nprovider:\n  name: openfaas\n  gateway: "+gw.URL()+"\nfunctions: {}\n")
	e.mustRun(t, "list")
	if len(gw.calls()) != 1 {
		t.Errorf("the stack file's gateway was not called")
	}
}

func TestListErrors(t *testing.T) {
	t.Parallel()
	gw := newFakeGateway(t, map[string]route{"GET /system/functions": {401, "invalid credentials", nil}})
	e := newEnv(t, gw.URL(), "")
	err := e.run(t, "list")
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "gofaas login") {
		t.Errorf("error = %v", err)
	}
	if err := e.run(t, "list", "--sort", "size"); !isUsage(err) {
		t.Errorf("--sort size: %v, want a usage error", err)
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	fn := `{"name":"hello","image":"hello:latest","envProcess":"./handler","replicas":2,"availableReplicas":1,
		"labels":{"com.openfaas.scale.min":"1","team":"a"},"envVars":{"greeting":"hi"},"secrets":["api-key"],
		"usage":{"cpu":12,"totalMemoryBytes":20971520}}`
	gw := newFakeGateway(t, map[string]route{
		"GET /system/function/hello": {200, fn, nil},
		"GET /system/functions":      {200, `[{"name":"hello","image":"hello:latest","invocationCount":42}]`, nil},
	})
	e := newEnv(t, gw.URL(), "")
	got := e.mustRun(t, "describe", "hello", "-n", "dev")
	u := gw.URL()
	want := "Name:               hello\n" +
		"Status:             Ready\n" +
		"Replicas:           2\n" +
		"Available Replicas: 1\n" +
		"Invocations:        42\n" +
		"Image:              hello:latest\n" +
		"Function Process:   ./handler\n" +
		"URL:                " + u + "/function/hello.dev\n" +
		"Async URL:          " + u + "/async-function/hello.dev\n" +
		"Labels:\n" +
		"  com.openfaas.scale.min: 1\n" +
		"  team:                   a\n" +
		"Annotations:        <none>\n" +
		"Env:\n" +
		"  greeting: hi\n" +
		"Secrets:\n" +
		"  - api-key\n" +
		"Constraints:        <none>\n" +
		"Usage:\n" +
		"  RAM: 20.00 MiB\n" +
		"  CPU: 12 millicores\n"
	if got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
	if q := gw.requests()[0].Query; q != "namespace=dev&usage=1" {
		t.Errorf("query = %q", q)
	}
}

func TestDescribeNotReadyAndMissing(t *testing.T) {
	t.Parallel()
	gw := newFakeGateway(t, map[string]route{
		"GET /system/function/idle": {200, `{"name":"idle","image":"i"}`, nil},
		"GET /system/functions":     {200, `[]`, nil},
	})
	e := newEnv(t, gw.URL(), "")
	if out := e.mustRun(t, "describe", "idle"); !strings.Contains(out, "Status:             Not Ready\n") || !strings.Contains(out, gw.URL()+"/function/idle\n") {
		t.Errorf("output:\n%s", out)
	}
	err := e.run(t, "describe", "gone")
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("describe of a missing function: %v", err)
	}
	if err := e.run(t, "describe"); !isUsage(err) {
		t.Errorf("describe without a name: %v", err)
	}
}
