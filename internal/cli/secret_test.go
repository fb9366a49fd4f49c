package cli

import (
	"strings"
	"testing"
)

func TestSecretCreate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		stdin   string
		create  int
		calls   []string
		body    map[string]any
		out     string
		wantErr string
	}{
		{"literal", []string{"secret", "create", "api-key", "--from-literal", " s3cr3t "}, "", 202,
			[]string{"POST /system/secrets"}, map[string]any{"name": "api-key", "value": "s3cr3t"},
			"Creating secret: api-key\nCreated: 202 Accepted\n", ""},
		{"stdin untrimmed in a namespace", []string{"secret", "create", "k", "--trim=false", "-n", "dev"}, "v\n", 201,
			[]string{"POST /system/secrets"}, map[string]any{"name": "k", "namespace": "dev", "value": "v\n"},
			"Creating secret: k.dev\nCreated: 201 Created\n", ""},
		{"exists", []string{"secret", "create", "k", "--from-literal", "v"}, "", 409,
			[]string{"POST /system/secrets"}, map[string]any{"name": "k", "value": "v"}, "Creating secret: k\n", "already exists; pass --replace"},
		{"exists with --replace", []string{"secret", "create", "k", "--from-literal", "v", "--replace"}, "", 409,
			[]string{"POST /system/secrets", "PUT /system/secrets"}, map[string]any{"name": "k", "value": "v"},
			"Creating secret: k\nThe secret exists; updating it.\nUpdated: 202 Accepted\n", ""},
		{"update", []string{"secret", "update", "k", "--from-literal", "v2"}, "", 0,
			[]string{"PUT /system/secrets"}, map[string]any{"name": "k", "value": "v2"},
			"Updating secret: k\nUpdated: 202 Accepted\n", ""},
		{"empty", []string{"secret", "create", "k"}, "  \n", 202, nil, nil, "", "the secret is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gw := newFakeGateway(t, map[string]route{
				"POST /system/secrets": {tt.create, "", nil},
				"PUT /system/secrets":  {202, "", nil},
			})
			e := newEnv(t, gw.URL(), tt.stdin)
			err := e.run(t, tt.args...)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error = %v, want %q", err, tt.wantErr)
			}
			sameList(t, "calls", gw.calls(), tt.calls)
			for _, r := range gw.requests() {
				jsonBody(t, r.Body, tt.body)
			}
			if e.out.String() != tt.out {
				t.Errorf("output %q, want %q", e.out, tt.out)
			}
		})
	}
}

func TestSecretFromFileIsRaw(t *testing.T) {
	t.Parallel()
	gw := newFakeGateway(t, map[string]route{"POST /system/secrets": {202, "", nil}})
	e := newEnv(t, gw.URL(), "")
	path := e.write(t, "key.bin", "\x00\x01 raw\n")
	e.mustRun(t, "secret", "create", "bin", "--from-file", path)
	jsonBody(t, gw.requests()[0].Body, map[string]any{"name": "bin", "rawValue": "AAEgcmF3Cg=="})
}

func TestSecretUsage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "", "")
	for _, args := range [][]string{
		{"secret", "create"},
		{"secret", "create", "Bad_Name", "--from-literal", "x"},
		{"secret", "create", "a", "--from-literal", "x", "--from-file", "f"},
		{"secret", "update", "a", "--replace"},
		{"secret", "remove"},
	} {
		if err := e.run(t, args...); !isUsage(err) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}

func TestSecretListAndRemove(t *testing.T) {
	t.Parallel()
	gw := newFakeGateway(t, map[string]route{
		"GET /system/secrets":    {200, `[{"name":"api-key","namespace":"dev"},{"name":"db"}]`, nil},
		"DELETE /system/secrets": {202, "", nil},
	})
	e := newEnv(t, gw.URL(), "")
	out := e.mustRun(t, "secret", "ls", "-n", "dev")
	want := "NAME                          \tNAMESPACE\napi-key                       \tdev\ndb                            \t\n"
	if out != want {
		t.Errorf("list output:\n%q\nwant:\n%q", out, want)
	}
	e.out.Reset()
	if out := e.mustRun(t, "secret", "rm", "api-key", "-n", "dev"); out != "Removed.. OK.\n" {
		t.Errorf("remove output %q", out)
	}
	reqs := gw.requests()
	if reqs[0].Query != "namespace=dev" {
		t.Errorf("list query %q", reqs[0].Query)
	}
	jsonBody(t, reqs[1].Body, map[string]string{"name": "api-key", "namespace": "dev"})

	empty := newFakeGateway(t, map[string]route{"GET /system/secrets": {200, `[]`, nil}})
	e = newEnv(t, empty.URL(), "")
	if out := e.mustRun(t, "secret", "list"); out != "No secrets found.\n" {
		t.Errorf("empty list output %q", out)
	}
}

func TestNamespaces(t *testing.T) {
	t.Parallel()
	gw := newFakeGateway(t, map[string]route{
		"GET /system/namespaces":       {200, `["openfaas-fn","dev"]`, nil},
		"GET /system/namespace/dev":    {200, `{"name":"dev","labels":{"openfaas":"1","team":"a"},"annotations":{}}`, nil},
		"POST /system/namespace/":      {201, "", nil},
		"PUT /system/namespace/dev":    {202, "", nil},
		"DELETE /system/namespace/dev": {202, "", nil},
	})
	e := newEnv(t, gw.URL(), "")
	tests := []struct {
		args []string
		out  string
	}{
		{[]string{"namespaces"}, "Namespaces:\n - openfaas-fn\n - dev\n"},
		{[]string{"namespace", "ls"}, "Namespaces:\n - openfaas-fn\n - dev\n"},
		{[]string{"namespace", "get", "dev"}, "Name:               dev\nLabels:\n  openfaas: 1\n  team:     a\nAnnotations:        <none>\n"},
		{[]string{"namespace", "create", "dev", "--label", "team=a", "--annotation", "note=x"}, "Creating Namespace: dev\nNamespace Created: dev\n"},
		{[]string{"namespace", "update", "dev", "-l", "team=b"}, "Updating Namespace: dev\nNamespace Updated: dev\n"},
		{[]string{"namespace", "delete", "dev"}, "Namespace Removed: dev\n"},
	}
	for _, tt := range tests {
		e.out.Reset()
		if got := e.mustRun(t, tt.args...); got != tt.out {
			t.Errorf("%v output:\n%q\nwant:\n%q", tt.args, got, tt.out)
		}
	}
	reqs := gw.requests()
	jsonBody(t, reqs[3].Body, map[string]any{"name": "dev", "labels": map[string]string{"team": "a", "openfaas": "1"}, "annotations": map[string]string{"note": "x", "openfaas": "1"}})
	jsonBody(t, reqs[4].Body, map[string]any{"name": "dev", "labels": map[string]string{"team": "b", "openfaas": "1"}, "annotations": map[string]string{"openfaas": "1"}})
	if err := e.run(t, "namespace", "create", "Not_Valid"); !isUsage(err) {
		t.Errorf("bad namespace name: %v", err)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	info := `{"provider":{"provider":"gofaas","orchestration":"process","version":{"sha":"psha","release":"0.9"}},"version":{"sha":"gsha","release":"1.0"},"arch":"x86_64"}`
	gw := newFakeGateway(t, map[string]route{"GET /system/info": {200, info, nil}})
	e := newEnv(t, gw.URL(), "")
	out := e.mustRun(t, "version")
	for _, want := range []string{"gofaas 1.2.3\n", "commit: ", "Gateway\n uri:     " + gw.URL() + "\n version: 1.0\n sha:     gsha\n",
		"Provider\n name:          gofaas\n orchestration: process\n version:       0.9\n sha:           psha\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("version output lacks %q:\n%s", want, out)
		}
	}
	e.out.Reset()
	if out := e.mustRun(t, "version", "--short-version"); out != "1.2.3\n" {
		t.Errorf("--short-version printed %q", out)
	}
	if len(gw.requests()) != 1 {
		t.Errorf("--short-version called the gateway")
	}
}

func TestVersionWithoutGateway(t *testing.T) {
	t.Parallel()
	gw := newFakeGateway(t, nil)
	url := gw.URL()
	gw.srv.Close()
	e := newEnv(t, url, "")
	out := e.mustRun(t, "version")
	if !strings.Contains(out, "gofaas 1.2.3") || strings.Contains(out, "Gateway") {
		t.Errorf("stdout:\n%s", out)
	}
	if !strings.Contains(e.errOut.String(), "cannot reach the gateway at "+url) {
		t.Errorf("stderr:\n%s", e.errOut)
	}
}
