package stack

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestWriteNewRoundTrip(t *testing.T) {
	t.Parallel()
	full, err := Load(t.Context(), filepath.Join("testdata", "good", "full.yml"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	fns := []Function{
		full.Functions["hello"],
		{Name: "tricky", Image: "r/tricky", Lang: "dockerfile", Handler: "./tricky", Environment: map[string]string{
			"number": "5", "bool": "true", "null": "null", "empty": "", "<<": "merge", "dollar": "${X}",
			"multi": "line one\nline two", "spaces": "  padded  ", "colon": "a: b", "hash": "# c"}},
	}
	path := filepath.Join(t.TempDir(), "stack.yaml")
	if err := WriteNew(path, "http://127.0.0.1:8080", fns...); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	wantStart := "version: 1.0\nprovider:\n  name: openfaas\n  gateway: http://127.0.0.1:8080\nfunctions:\n"
	if !strings.HasPrefix(string(data), wantStart) {
		t.Errorf("file starts with\n%s\nwant\n%s", data, wantStart)
	}
	f, err := Load(t.Context(), path, Options{})
	if err != nil {
		t.Fatalf("reading back: %v\n%s", err, data)
	}
	if f.Version != "1.0" || f.Provider != (Provider{Name: "openfaas", Gateway: "http://127.0.0.1:8080"}) {
		t.Errorf("version %q, provider %+v", f.Version, f.Provider)
	}
	for _, fn := range fns {
		if !reflect.DeepEqual(f.Functions[fn.Name], fn) {
			t.Errorf("function %s read back as\n%+v\nwant\n%+v", fn.Name, f.Functions[fn.Name], fn)
		}
	}
}

func TestWriteNewRefuses(t *testing.T) {
	t.Parallel()
	ok := Function{Name: "a", Image: "r/a"}
	tests := []struct {
		name    string
		exists  bool
		fns     []Function
		wantIs  error
		wantMsg string
	}{
		{name: "existing file", exists: true, fns: []Function{ok}, wantIs: fs.ErrExist},
		{name: "same name twice", fns: []Function{ok, ok}, wantIs: ErrFunctionExists},
		{name: "bad name", fns: []Function{{Name: "A_b", Image: "x"}}, wantMsg: `functions.A_b: function name "A_b" is not valid`},
		{name: "no image", fns: []Function{{Name: "a", Lang: "go", Handler: "./a"}}, wantMsg: "functions.a.image: required"},
		{name: "bad memory", fns: []Function{{Name: "a", Image: "x", Limits: &Resources{Memory: "1x"}}},
			wantMsg: `functions.a.limits.memory: "1x" has an unknown unit`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "stack.yaml")
			if tt.exists {
				if err := os.WriteFile(path, []byte("keep me"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err := WriteNew(path, "", tt.fns...)
			if err == nil {
				t.Fatal("WriteNew succeeded, want an error")
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("got %v, want errors.Is %v", err, tt.wantIs)
			}
			if tt.wantMsg != "" && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("got %v, want it to contain %q", err, tt.wantMsg)
			}
			data, _ := os.ReadFile(path)
			if tt.exists && string(data) != "keep me" || !tt.exists && data != nil {
				t.Errorf("the file was written: %q", data)
			}
		})
	}
}

const appendBase = `# My functions.
version: 1.0
provider:
  name: openfaas # the only one
  gateway: ${OPENFAAS_URL:-http://127.0.0.1:8080}
functions:
  # The first function.
  first:
    image: r/first
configuration:
  copy: [./common]
`

func TestAppend(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "stack.yaml")
	if err := os.WriteFile(path, []byte(appendBase), 0o600); err != nil {
		t.Fatal(err)
	}
	second := Function{Name: "second", Lang: "go", Handler: "./second", Image: "r/second:latest"}
	if err := Append(path, second); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# My functions.", "# the only one", "# The first function.",
		"gateway: ${OPENFAAS_URL:-http://127.0.0.1:8080}", "version: 1.0\n", "copy: [./common]"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the file lost %q:\n%s", want, data)
		}
	}
	f, err := Parse(path, data, Options{Envsubst: true, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if got := strings.Join(f.Names(), ","); got != "first,second" {
		t.Errorf("functions %s, want first,second", got)
	}
	if !reflect.DeepEqual(f.Functions["second"], second) {
		t.Errorf("appended function read back as %+v", f.Functions["second"])
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("mode after Append: %v, %v; want 0600", info.Mode(), err)
	}

	err = Append(path, Function{Name: "first", Image: "r/other"})
	if !errors.Is(err, ErrFunctionExists) || !strings.Contains(err.Error(), "line 8") {
		t.Errorf("appending an existing name: got %v, want ErrFunctionExists naming line 8", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(data) {
		t.Errorf("a refused Append changed the file")
	}
}

func TestAppendShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
		wantErr string
	}{
		{name: "no functions key", content: "provider:\n  name: openfaas\n"},
		{name: "null functions", content: "provider:\n  name: openfaas\nfunctions:\n"},
		{name: "empty flow functions", content: "provider: {name: openfaas}\nfunctions: {}\n"},
		{name: "a list", content: "- a\n- b\n", wantErr: "cannot append"},
		{name: "empty file", content: "", wantErr: "cannot append"},
		{name: "functions is a list", content: "provider: {name: openfaas}\nfunctions: [a]\n", wantErr: "cannot append"},
		{name: "bad YAML", content: "a: [\n", wantErr: "invalid YAML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "stack.yml")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			err := Append(path, Function{Name: "added", Image: "r/added"})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			f, err := Load(t.Context(), path, Options{})
			if err != nil {
				data, _ := os.ReadFile(path)
				t.Fatalf("%v\n%s", err, data)
			}
			if f.Functions["added"].Image != "r/added" {
				t.Errorf("got %+v", f.Functions)
			}
		})
	}
}
