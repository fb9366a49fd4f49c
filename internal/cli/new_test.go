package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gofaas/gofaas/internal/stack"
	"github.com/gofaas/gofaas/internal/templates"
)

// readStack parses the stack file at path as the verbs do.
func readStack(t *testing.T, path string) *stack.File {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	file, err := stack.Parse(path, data, stack.Options{})
	if err != nil {
		t.Fatalf("parsing %s: %v\n%s", path, err, data)
	}
	return file
}

// mustExist fails the test unless every path (relative to dir) exists.
func mustExist(t *testing.T, dir string, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// mustNotExist fails the test if a path (relative to dir) exists.
func mustNotExist(t *testing.T, dir string, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Lstat(filepath.Join(dir, p)); err == nil {
			t.Errorf("%s exists, want it absent", p)
		}
	}
}

// writeTemplate makes the project template template/<lang> with a
// template.yml and one scaffold file.
func writeTemplate(t *testing.T, project, lang, welcome string) {
	t.Helper()
	dir := filepath.Join(project, "template", lang)
	if err := os.MkdirAll(filepath.Join(dir, "function"), 0o755); err != nil {
		t.Fatal(err)
	}
	yml := "language: " + lang + "\nfprocess: cat\nwelcome_message: " + welcome + "\n"
	os.WriteFile(filepath.Join(dir, "template.yml"), []byte(yml), 0o644)
	os.WriteFile(filepath.Join(dir, "function", "handler.txt"), []byte("scaffold of "+lang+"\n"), 0o644)
}

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		args           []string
		vars           map[string]string
		gateway, image string
		lang, scaffold string
		notes          string // "" means no Notes section
	}{
		{"defaults", []string{"new", "hello", "--lang", "python3-http"}, nil,
			"http://127.0.0.1:8080", "hello:latest", "python3-http", "hello/handler.py", "You have created a Python 3 function"},
		{"gateway from OPENFAAS_URL", []string{"new", "hello", "--lang", "python3-http"},
			map[string]string{"OPENFAAS_URL": "https://GW.example.com/"},
			"https://gw.example.com", "hello:latest", "python3-http", "hello/handler.py", "You have created a Python 3 function"},
		{"--gateway wins", []string{"new", "hello", "--lang", "golang-http", "-g", "http://flag:1"},
			map[string]string{"OPENFAAS_URL": "http://env:2"},
			"http://flag:1", "hello:latest", "golang-http", "hello/handler.go", "You have created a Go function served over HTTP"},
		{"-p prefix", []string{"new", "hello", "--lang", "bash-streaming", "-p", "ghcr.io/me/"}, nil,
			"http://127.0.0.1:8080", "ghcr.io/me/hello:latest", "bash-streaming", "hello/handler.sh", "You have created a Bash function"},
		{"OPENFAAS_PREFIX", []string{"new", "hello", "--lang", "node-http"},
			map[string]string{"OPENFAAS_PREFIX": "docker.io/env"},
			"http://127.0.0.1:8080", "docker.io/env/hello:latest", "node-http", "hello/handler.js", "You have created a Node.js function"},
		{"-p beats OPENFAAS_PREFIX", []string{"new", "hello", "--lang", "node-http", "--prefix", "flag"},
			map[string]string{"OPENFAAS_PREFIX": "env"},
			"http://127.0.0.1:8080", "flag/hello:latest", "node-http", "hello/handler.js", "You have created a Node.js function"},
		{"-q hides the welcome message", []string{"new", "hello", "--lang", "python3-http", "-q"}, nil,
			"http://127.0.0.1:8080", "hello:latest", "python3-http", "hello/handler.py", ""},
		{"Dockerfile means dockerfile", []string{"new", "hello", "--lang", "Dockerfile", "-q"}, nil,
			"http://127.0.0.1:8080", "hello:latest", "dockerfile", "hello/Dockerfile", ""},
		{"project template first", []string{"new", "hello", "--lang", "mylang"}, nil,
			"http://127.0.0.1:8080", "hello:latest", "mylang", "hello/handler.txt", "Welcome to mylang"},
		{"--handler and -f", []string{"new", "hello", "--lang", "mylang", "--handler", "./src/hello", "-f", "fns.yml", "-q"}, nil,
			"http://127.0.0.1:8080", "hello:latest", "mylang", "src/hello/handler.txt", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "", "")
			for k, v := range tt.vars {
				e.vars[k] = v
			}
			writeTemplate(t, e.work, "mylang", "Welcome to mylang.")
			out := e.mustRun(t, tt.args...)
			mustExist(t, e.work, tt.scaffold)
			handler, stackName := "./hello", "stack.yaml"
			if strings.Contains(tt.name, "--handler") {
				handler, stackName = "./src/hello", "fns.yml"
			}
			file := readStack(t, filepath.Join(e.work, stackName))
			if file.Version != "1.0" || file.Provider.Name != "openfaas" || file.Provider.Gateway != tt.gateway {
				t.Errorf("stack header = %q %+v; want 1.0, openfaas, %s", file.Version, file.Provider, tt.gateway)
			}
			fn := file.Functions["hello"]
			if len(file.Functions) != 1 || fn.Lang != tt.lang || fn.Handler != handler || fn.Image != tt.image {
				t.Errorf("functions = %+v; want hello: lang %s, handler %s, image %s", file.Functions, tt.lang, handler, tt.image)
			}
			wantOut := "Folder: " + handler + " created.\nFunction created in folder: " + handler + "\nStack file written: " + stackName + "\n"
			if !strings.HasPrefix(out, wantOut) {
				t.Errorf("output:\n%s\nwant it to start with:\n%s", out, wantOut)
			}
			if tt.notes != "" && !strings.Contains(out, "\nNotes:\n"+tt.notes) {
				t.Errorf("output:\n%s\nwant the welcome message %q", out, tt.notes)
			}
			if tt.notes == "" && strings.Contains(out, "Notes:") {
				t.Errorf("output:\n%s\nwant no welcome message", out)
			}
		})
	}
}

func TestNewAppend(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "http://gw:8080", "")
	e.mustRun(t, "new", "first", "--lang", "python3-http", "-q")
	e.mustRun(t, "new", "second", "--lang", "bash-streaming", "-p", "me", "--append", "stack.yaml", "-q")
	mustExist(t, e.work, "first/handler.py", "second/handler.sh")
	file := readStack(t, filepath.Join(e.work, "stack.yaml"))
	if file.Provider.Gateway != "http://gw:8080" {
		t.Errorf("gateway = %q after --append", file.Provider.Gateway)
	}
	want := map[string]stack.Function{
		"first":  {Name: "first", Lang: "python3-http", Handler: "./first", Image: "first:latest"},
		"second": {Name: "second", Lang: "bash-streaming", Handler: "./second", Image: "me/second:latest"},
	}
	for name, w := range want {
		got := file.Functions[name]
		if got.Name != w.Name || got.Lang != w.Lang || got.Handler != w.Handler || got.Image != w.Image {
			t.Errorf("%s = %+v, want %+v", name, got, w)
		}
	}
	if len(file.Functions) != 2 {
		t.Errorf("functions = %v", file.Names())
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(t *testing.T, e *env)
		args  []string
		usage bool
		want  []string
		// absent lists paths the failed command must not have created.
		absent []string
	}{
		{"stack file exists", func(t *testing.T, e *env) { e.write(t, "stack.yaml", "functions: {}\n") },
			[]string{"new", "hello", "--lang", "python3-http"}, false,
			[]string{"stack.yaml already exists", "--append stack.yaml"}, []string{"hello"}},
		{"folder exists", func(t *testing.T, e *env) { os.Mkdir(filepath.Join(e.work, "hello"), 0o755) },
			[]string{"new", "hello", "--lang", "python3-http"}, false,
			[]string{"folder ./hello already exists"}, []string{"stack.yaml"}},
		{"invalid name", nil, []string{"new", "Hello_World", "--lang", "python3-http"}, false,
			[]string{`"Hello_World" is not valid`}, []string{"Hello_World", "stack.yaml"}},
		{"unknown lang lists the languages", nil, []string{"new", "hello", "--lang", "cobol"}, false,
			append([]string{`unknown template language "cobol"`}, templates.Embedded()...), []string{"hello", "stack.yaml"}},
		{"--append to a missing file", nil, []string{"new", "hello", "--lang", "python3-http", "--append", "nope.yml"}, false,
			[]string{"stack file nope.yml does not exist; drop --append"}, []string{"hello", "nope.yml"}},
		{"function already in the appended file", func(t *testing.T, e *env) {
			e.write(t, "stack.yaml", "provider:\n  name: openfaas\nfunctions:\n  hello:\n    image: x:1\n")
		}, []string{"new", "hello", "--lang", "python3-http", "--append", "stack.yaml"}, false,
			[]string{"already has hello"}, []string{"hello"}},
		{"missing --lang", nil, []string{"new", "hello"}, true, nil, []string{"hello", "stack.yaml"}},
		{"missing name", nil, []string{"new", "--lang", "python3-http"}, true, nil, []string{"stack.yaml"}},
		{"--append with -f", nil, []string{"new", "hello", "--lang", "python3-http", "--append", "a.yml", "-f", "b.yml"}, true, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "", "")
			if tt.setup != nil {
				tt.setup(t, e)
			}
			err := e.run(t, tt.args...)
			if err == nil {
				t.Fatal("no error")
			}
			if isUsage(err) != tt.usage {
				t.Errorf("error = %v; usage error: %v, want %v", err, isUsage(err), tt.usage)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error = %v\nwant it to mention %q", err, w)
				}
			}
			if tt.usage && !strings.Contains(e.errOut.String(), "Usage:") {
				t.Errorf("usage error without usage on stderr:\n%s", e.errOut)
			}
			mustNotExist(t, e.work, tt.absent...)
		})
	}
}

func TestNewList(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "", "")
	writeTemplate(t, e.work, "mylang", "hi")
	writeTemplate(t, e.work, "python3-http", "shadows the built-in one")
	out := e.mustRun(t, "new", "--list")
	want := "Languages available as templates:\n"
	for _, n := range []string{"bash-streaming", "dockerfile", "go", "golang-http", "mylang", "node-http", "python3-http"} {
		want += "- " + n + "\n"
	}
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
	if err := e.run(t, "new", "--list", "extra"); !isUsage(err) {
		t.Errorf("--list with a name: %v, want a usage error", err)
	}
}
