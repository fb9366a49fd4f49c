package stack

import (
	"encoding/json"
	"errors"
	"io/fs"
	"maps"
	"path/filepath"
	"strings"
	"testing"
)

func TestEnvironmentPrecedence(t *testing.T) {
	t.Parallel()
	f, err := Load(t.Context(), filepath.Join("testdata", "env", "stack.yml"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		fn    string
		extra map[string]string
		want  map[string]string
	}{
		{
			name: "files over environment, later file wins",
			fn:   "hello",
			want: map[string]string{"A": "stack", "B": "common", "C": "hello", "D": "stack", "N": "5"},
		},
		{
			name:  "flags over files and environment",
			fn:    "hello",
			extra: map[string]string{"C": "flag", "D": "flag", "E": "flag"},
			want:  map[string]string{"A": "stack", "B": "common", "C": "flag", "D": "flag", "E": "flag", "N": "5"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := f.Environment(f.Functions[tt.fn], tt.extra)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEnvironmentDoesNotChangeTheFunction(t *testing.T) {
	t.Parallel()
	fn := Function{Name: "a", Image: "x", Environment: map[string]string{"A": "1"}}
	f := &File{Path: "stack.yaml"}
	env, err := f.Environment(fn, map[string]string{"A": "2"})
	if err != nil {
		t.Fatal(err)
	}
	env["B"] = "3"
	if len(fn.Environment) != 1 || fn.Environment["A"] != "1" {
		t.Errorf("the function's environment changed: %v", fn.Environment)
	}
	empty, err := f.Environment(Function{Name: "b"}, nil)
	if err != nil || empty == nil {
		t.Errorf("no environment: got %v, %v; want an empty map", empty, err)
	}
}

func TestEnvironmentErrors(t *testing.T) {
	t.Parallel()
	f, err := Load(t.Context(), filepath.Join("testdata", "env", "stack.yml"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		file   *File
		fn     Function
		want   string
		wantIs error
	}{
		{name: "missing file", file: f, fn: f.Functions["missing"],
			want: "function missing: reading environment file: open testdata/env/nope.yml", wantIs: fs.ErrNotExist},
		{name: "unknown key with its line", file: f, fn: f.Functions["broken"],
			want: `function broken: testdata/env/broken.yml:3: enviroment: unknown key (did you mean "environment"?)`},
		{name: "relative to a URL", file: &File{Path: "https://example.com/stack.yml"},
			fn:   Function{Name: "u", EnvironmentFile: []string{"env.yml"}},
			want: `function u: environment_file: "env.yml" is relative, but the stack file came from https://example.com/stack.yml`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tt.file.Environment(tt.fn, nil)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error starting with %q", err, tt.want)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.wantIs)
			}
		})
	}
}

// TestDeployment checks the wire body field by field, by its JSON names.
func TestDeployment(t *testing.T) {
	t.Parallel()
	f, err := Load(t.Context(), filepath.Join("testdata", "good", "full.yml"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	fn := f.Functions["hello"]
	fn.EnvironmentFile = nil // full.yml names files that exist only in its text
	dep, err := f.Deployment(fn, map[string]string{"greeting": "hello from a flag"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(dep)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"service":"hello","image":"ghcr.io/me/hello:0.1.0","namespace":"staging",` +
		`"envProcess":"python3 index.py","envVars":{"greeting":"hello from a flag","write_debug":"true"},` +
		`"constraints":["node.platform.os == linux"],"secrets":["api-key","db-password"],` +
		`"labels":{"com.openfaas.scale.min":"2","team":"web"},"annotations":{"topic":"orders"},` +
		`"limits":{"memory":"128Mi","cpu":"100m"},"requests":{"memory":"64Mi","cpu":"50m"},` +
		`"readOnlyRootFilesystem":true,"registryAuth":"dXNlcjpwYXNz"}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	dep.Labels["team"] = "changed"
	dep.Secrets[0] = "changed"
	if fn.Labels["team"] != "web" || fn.Secrets[0] != "api-key" {
		t.Errorf("changing the deployment changed the function")
	}
}

func TestDeploymentMinimal(t *testing.T) {
	t.Parallel()
	f := &File{Path: "stack.yaml"}
	dep, err := f.Deployment(Function{Name: "a", Image: "r/a", Limits: &Resources{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(dep)
	if want := `{"service":"a","image":"r/a"}`; string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
	for _, fn := range []Function{{Name: "Bad_Name", Image: "x"}, {Name: "no-image"}} {
		if _, err := f.Deployment(fn, nil); err == nil {
			t.Errorf("Deployment(%+v) succeeded, want an error", fn)
		}
	}
}
