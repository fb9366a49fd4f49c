package cli

import (
	"strings"
	"testing"
)

const twoFunctions = `version: 1.0
provider:
  name: openfaas
functions:
  hello:
    lang: go
    handler: ./hello
    image: hello:latest
    environment:
      a: from-file
      b: from-file
    labels:
      team: file
    secrets: [s1]
    constraints: ["node=file"]
  world:
    lang: go
    handler: ./world
    image: ${IMAGE_PREFIX:-docker.io}/world:1
    namespace: dev
`

func TestDeployFromStack(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		args  []string
		reply map[string]route
		calls []string
	}{
		{"update existing", []string{"deploy"},
			map[string]route{"PUT /system/functions": {202, "", nil}},
			[]string{"PUT /system/functions", "PUT /system/functions"}},
		{"create missing after PUT 404", []string{"deploy"},
			map[string]route{"POST /system/functions": {202, "", nil}},
			[]string{"PUT /system/functions", "POST /system/functions", "PUT /system/functions", "POST /system/functions"}},
		{"--update=false posts", []string{"deploy", "--update=false"},
			map[string]route{"POST /system/functions": {202, "", nil}, "PUT /system/functions": {202, "", nil}},
			[]string{"POST /system/functions", "POST /system/functions"}},
		{"--replace deletes then posts", []string{"deploy", "--replace"},
			map[string]route{"POST /system/functions": {202, "", nil}, "DELETE /system/functions": {202, "", nil}},
			[]string{"DELETE /system/functions", "POST /system/functions", "DELETE /system/functions", "POST /system/functions"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gw := newFakeGateway(t, tt.reply)
			e := newEnv(t, gw.URL(), "")
			e.write(t, "stack.yaml", twoFunctions)
			out := e.mustRun(t, tt.args...)
			sameList(t, "calls", gw.calls(), tt.calls)
			want := "Deploying: hello.\nDeployed. 202 Accepted.\nURL: " + gw.URL() + "/function/hello\n\n" +
				"Deploying: world.\nDeployed. 202 Accepted.\nURL: " + gw.URL() + "/function/world.dev\n\n"
			if out != want {
				t.Errorf("output:\n%s\nwant:\n%s", out, want)
			}
		})
	}
}

func TestDeployMergesFlags(t *testing.T) {
	t.Parallel()
	gw := newFakeGateway(t, map[string]route{"PUT /system/functions": {202, "", nil}})
	e := newEnv(t, gw.URL(), "")
	e.vars["IMAGE_PREFIX"] = "ghcr.io/me"
	e.write(t, "stack.yml", twoFunctions)
	e.mustRun(t, "deploy", "-e", "b=from-flag", "-e", "c=flag", "--label", "team=flag", "--label", "x=1",
		"--annotation", "note=hi", "--constraint", "node=flag", "--secret", "s2", "--secret", "s1", "--readonly")
	reqs := gw.requests()
	jsonBody(t, reqs[0].Body, map[string]any{
		"service": "hello", "image": "hello:latest",
		"envVars":                map[string]string{"a": "from-file", "b": "from-flag", "c": "flag"},
		"labels":                 map[string]string{"team": "flag", "x": "1"},
		"annotations":            map[string]string{"note": "hi"},
		"constraints":            []string{"node=file"},
		"secrets":                []string{"s1", "s2"},
		"readOnlyRootFilesystem": true,
	})
	jsonBody(t, reqs[1].Body, map[string]any{
		"service": "world", "image": "ghcr.io/me/world:1", "namespace": "dev",
		"envVars":                map[string]string{"b": "from-flag", "c": "flag"},
		"labels":                 map[string]string{"team": "flag", "x": "1"},
		"annotations":            map[string]string{"note": "hi"},
		"constraints":            []string{"node=flag"},
		"secrets":                []string{"s2", "s1"},
		"readOnlyRootFilesystem": true,
	})
}

func TestDeployFilterNamespaceAndFile(t *testing.T) {
	t.Parallel()
	gw := newFakeGateway(t, map[string]route{"PUT /system/functions": {202, "", nil}})
	e := newEnv(t, gw.URL(), "")
	path := e.write(t, "other.yml", twoFunctions)
	e.mustRun(t, "deploy", "-f", path, "--filter", "wor*", "-n", "prod", "--envsubst=false")
	reqs := gw.requests()
	if len(reqs) != 1 {
		t.Fatalf("calls = %v", gw.calls())
	}
	jsonBody(t, reqs[0].Body, map[string]any{"service": "world", "image": "${IMAGE_PREFIX:-docker.io}/world:1", "namespace": "prod"})
}

func TestDeployFromFlags(t *testing.T) {
	t.Parallel()
	gw := newFakeGateway(t, map[string]route{"PUT /system/functions": {202, "", nil}})
	e := newEnv(t, gw.URL(), "")
	e.write(t, "stack.yaml", twoFunctions) // ignored: --image wins
	out := e.mustRun(t, "deploy", "--image", "figlet:1", "--name", "figlet", "--fprocess", "figlet", "-e", "k=v", "--secret", "s", "-n", "dev")
	jsonBody(t, gw.requests()[0].Body, map[string]any{
		"service": "figlet", "image": "figlet:1", "namespace": "dev", "envProcess": "figlet",
		"envVars": map[string]string{"k": "v"}, "secrets": []string{"s"},
	})
	if !strings.Contains(out, "URL: "+gw.URL()+"/function/figlet.dev\n") {
		t.Errorf("output:\n%s", out)
	}
}

func TestDeployErrors(t *testing.T) {
	t.Parallel()
	gw := newFakeGateway(t, map[string]route{"PUT /system/functions": {400, "image is not valid", nil}})
	tests := []struct {
		name  string
		args  []string
		stack bool
		usage bool
		want  string
	}{
		{"no stack file", []string{"deploy"}, false, false, "no stack.yaml or stack.yml in"},
		{"image without name", []string{"deploy", "--image", "x"}, false, true, ""},
		{"image with -f", []string{"deploy", "--image", "x", "--name", "y", "-f", "s.yml"}, false, true, ""},
		{"filter and regex", []string{"deploy", "--filter", "a", "--regex", "b"}, true, true, ""},
		{"bad env", []string{"deploy", "-e", "novalue"}, true, false, `--env "novalue": want KEY=VALUE`},
		{"gateway refuses", []string{"deploy"}, true, false, "deploying hello: gateway answered 400 Bad Request for PUT /system/functions: image is not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, gw.URL(), "")
			if tt.stack {
				e.write(t, "stack.yaml", twoFunctions)
			}
			err := e.run(t, tt.args...)
			if tt.usage != isUsage(err) {
				t.Fatalf("error = %v, usage = %v", err, tt.usage)
			}
			if tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestDeployOptions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "", "")
	var got *DeployOptions
	cmd := NewCmdDeploy(e.f, func(o *DeployOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--filter", "a*", "--env", "k=v", "--replace"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !got.Stack.Envsubst || !got.Deploy.Update || !got.Deploy.Replace || got.Stack.Filter != "a*" || got.Deploy.Env[0] != "k=v" {
		t.Errorf("options = %+v", got)
	}
}

func TestRemove(t *testing.T) {
	t.Parallel()
	gw := newFakeGateway(t, map[string]route{"DELETE /system/functions": {202, "", nil}})
	e := newEnv(t, gw.URL(), "")
	out := e.mustRun(t, "remove", "a", "b", "-n", "dev")
	if out != "Deleting: a.\nRemoved.\nDeleting: b.\nRemoved.\n" {
		t.Errorf("output %q", out)
	}
	reqs := gw.requests()
	jsonBody(t, reqs[0].Body, map[string]string{"functionName": "a", "namespace": "dev"})
	jsonBody(t, reqs[1].Body, map[string]string{"functionName": "b", "namespace": "dev"})
}

func TestRemoveStackFunctions(t *testing.T) {
	t.Parallel()
	gw := newFakeGateway(t, map[string]route{"DELETE /system/functions": {202, "", nil}})
	e := newEnv(t, gw.URL(), "")
	e.write(t, "stack.yaml", twoFunctions)
	e.mustRun(t, "rm")
	reqs := gw.requests()
	if len(reqs) != 2 {
		t.Fatalf("calls = %v", gw.calls())
	}
	jsonBody(t, reqs[0].Body, map[string]string{"functionName": "hello"})
	jsonBody(t, reqs[1].Body, map[string]string{"functionName": "world", "namespace": "dev"})
}

func TestRemoveMissing(t *testing.T) {
	t.Parallel()
	gw := newFakeGateway(t, map[string]route{})
	e := newEnv(t, gw.URL(), "")
	err := e.run(t, "remove", "gone")
	if err == nil || !strings.Contains(err.Error(), "no function gone to remove") {
		t.Errorf("error = %v", err)
	}
	e = newEnv(t, gw.URL(), "")
	if err := e.run(t, "remove"); err == nil || !strings.Contains(err.Error(), "name the functions to remove") {
		t.Errorf("remove without names or stack file: %v", err)
	}
}

func TestScale(t *testing.T) {
	t.Parallel()
	gw := newFakeGateway(t, map[string]route{"POST /system/scale-function/hello": {202, "", nil}})
	e := newEnv(t, gw.URL(), "")
	out := e.mustRun(t, "scale", "hello", "--replicas", "3", "-n", "dev")
	if out != "Function hello scaled to 3 replica(s)\n" {
		t.Errorf("output %q", out)
	}
	r := gw.requests()[0]
	jsonBody(t, r.Body, map[string]any{"serviceName": "hello", "replicas": 3, "namespace": "dev"})
	if err := e.run(t, "scale", "hello"); !isUsage(err) {
		t.Errorf("scale without --replicas: %v", err)
	}
	if err := e.run(t, "scale", "hello", "--replicas", "-1"); !isUsage(err) {
		t.Errorf("scale --replicas -1: %v", err)
	}
}
