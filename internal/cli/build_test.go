package cli

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/gofaas/gofaas/internal/builder"
	"github.com/gofaas/gofaas/internal/stack"
)

// pythonStack is a project with one python3-http function: the local
// builder packs its sources, so building it needs no toolchain.
const pythonStack = `version: 1.0
provider:
  name: openfaas
functions:
  hello:
    lang: python3-http
    handler: ./hello
    image: hello:latest
`

// fakeWatchdog writes an executable file standing in for fwatchdog: the
// builders only copy it into contexts and images, nothing runs it.
func fakeWatchdog(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fwatchdog")
	if err := os.WriteFile(p, []byte("#!/bin/sh\necho fake fwatchdog\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// newBuildEnv is newEnv with GOFAAS_FWATCHDOG set, through the fake
// environment only.
func newBuildEnv(t *testing.T, gw string) *env {
	t.Helper()
	e := newEnv(t, gw, "")
	e.vars["GOFAAS_FWATCHDOG"] = fakeWatchdog(t)
	return e
}

// writeFiles creates files (path → content) under the project folder.
func (e *env) writeFiles(t *testing.T, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(e.work, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// pythonProject writes pythonStack and its handler.
func (e *env) pythonProject(t *testing.T) {
	t.Helper()
	e.writeFiles(t, map[string]string{
		"stack.yaml":       pythonStack,
		"hello/handler.py": "def handle(event, context):\n    return {'statusCode': 200, 'body': 'hi'}\n",
	})
}

// loadBuilt returns the image the local builder saved in the project.
func loadBuilt(t *testing.T, e *env, ref string) v1.Image {
	t.Helper()
	img, err := builder.Load(filepath.Join(e.work, "build", ".images"), ref)
	if err != nil {
		t.Fatalf("loading %s from the project's image store: %v", ref, err)
	}
	return img
}

// imageFiles lists the regular files of img's flattened file system.
func imageFiles(t *testing.T, img v1.Image) []string {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			names = append(names, h.Name)
		}
	}
}

// imageEnv returns the image's environment.
func imageEnv(t *testing.T, img v1.Image) []string {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cf.Config.Env
}

func TestBuildShrinkwrap(t *testing.T) {
	t.Parallel()
	e := newBuildEnv(t, "")
	e.pythonProject(t)
	e.writeFiles(t, map[string]string{
		"hello/data/words.txt":      "kept\n",
		"hello/build/old.txt":       "a handler's build folder is not copied\n",
		"hello/template/x/tpl.yml":  "nor its template folder\n",
		"hello/requirements.txt":    "requests\n",
		"build/hello/stale-file.py": "removed: the context is recreated\n",
	})
	out := e.mustRun(t, "build", "--shrinkwrap", "--builder", "local")
	if out != "[0] > Building hello.\nhello shrink-wrapped to build/hello\n" {
		t.Errorf("output %q", out)
	}
	ctx := filepath.Join(e.work, "build", "hello")
	mustExist(t, ctx, "Dockerfile", "template.yml", "index.py", "fwatchdog",
		"function/handler.py", "function/requirements.txt", "function/data/words.txt")
	mustNotExist(t, ctx, "function/build", "function/template", "stale-file.py")
	mustNotExist(t, e.work, "build/.images")
	if strings.Contains(e.errOut.String(), "Builder:") {
		t.Errorf("--shrinkwrap chose a builder:\n%s", e.errOut)
	}
	got, _ := os.ReadFile(filepath.Join(ctx, "function", "handler.py"))
	want, _ := os.ReadFile(filepath.Join(e.work, "hello", "handler.py"))
	if string(got) != string(want) {
		t.Errorf("build/hello/function/handler.py = %q, want the handler's %q", got, want)
	}
}

func TestBuildLocalSources(t *testing.T) {
	t.Parallel()
	e := newBuildEnv(t, "")
	e.pythonProject(t)
	e.writeFiles(t, map[string]string{"stack.yaml": pythonStack + `  prebuilt:
    image: ghcr.io/me/prebuilt:1
    skip_build: true
`})
	out := e.mustRun(t, "build", "--builder", "local")
	for _, want := range []string{"[0] > Building hello.\n", "Skipping build of: prebuilt.\n", "Image: hello:latest built.\n", "\nTotal build time: "} {
		if !strings.Contains(out, want) {
			t.Errorf("output:\n%s\nwant %q", out, want)
		}
	}
	img := loadBuilt(t, e, "hello:latest")
	files := imageFiles(t, img)
	for _, want := range []string{"usr/bin/fwatchdog", "home/app/index.py", "home/app/function/handler.py"} {
		if !slices.Contains(files, want) {
			t.Errorf("image files %v lack %s", files, want)
		}
	}
	if env := imageEnv(t, img); !slices.Contains(env, "fprocess=python3 index.py") {
		t.Errorf("image env %v lacks the template's fprocess", env)
	}
	if _, err := builder.Load(filepath.Join(e.work, "build", ".images"), "ghcr.io/me/prebuilt:1"); err == nil {
		t.Error("skip_build function was built")
	}
}

func TestBuildKeepsGoingAfterAFailure(t *testing.T) {
	t.Parallel()
	e := newBuildEnv(t, "")
	e.pythonProject(t)
	e.writeFiles(t, map[string]string{
		"stack.yaml":      pythonStack + "  bad:\n    lang: cobol\n    handler: ./bad\n    image: bad:latest\n",
		"bad/handler.cob": "DISPLAY 'HI'.\n",
	})
	err := e.run(t, "build", "--builder", "local")
	if err == nil || !strings.Contains(err.Error(), "building bad: function bad:") || !strings.Contains(err.Error(), `unknown template language "cobol"`) {
		t.Fatalf("error = %v", err)
	}
	if out := e.out.String(); !strings.Contains(out, "[0] < Building bad failed.\n") || !strings.Contains(out, "Image: hello:latest built.\n") {
		t.Errorf("output:\n%s", out)
	}
	loadBuilt(t, e, "hello:latest")
}

func TestBuildGolangHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a Go handler")
	}
	t.Parallel()
	e := newBuildEnv(t, "")
	e.mustRun(t, "new", "hello", "--lang", "golang-http", "-q")
	e.mustRun(t, "build", "--builder", "local")
	img := loadBuilt(t, e, "hello:latest")
	if files := imageFiles(t, img); !slices.Equal(files, []string{"usr/bin/fwatchdog", "home/app/handler"}) &&
		!slices.Equal(files, []string{"home/app/handler", "usr/bin/fwatchdog"}) {
		t.Errorf("image files = %v, want the watchdog and the compiled handler only", files)
	}
	env := imageEnv(t, img)
	for _, want := range []string{"fprocess=./handler", "mode=http", "upstream_url=http://127.0.0.1:8082"} {
		if !slices.Contains(env, want) {
			t.Errorf("image env %v lacks %s", env, want)
		}
	}
	cf, _ := img.ConfigFile()
	if !slices.Equal(cf.Config.Entrypoint, []string{builder.WatchdogPath}) {
		t.Errorf("entrypoint = %v", cf.Config.Entrypoint)
	}
}

func TestBuildCompileError(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the Go compiler")
	}
	t.Parallel()
	e := newBuildEnv(t, "")
	e.mustRun(t, "new", "hello", "--lang", "go", "-q")
	e.writeFiles(t, map[string]string{"hello/handler.go": "package function\n\nfunc Handle(req []byte) string {\n\treturn undefinedThing\n}\n"})
	err := e.run(t, "build", "--builder", "local")
	if err == nil {
		t.Fatal("a handler that does not compile was built")
	}
	for _, want := range []string{"building hello:", "handler.go:4:9: undefined: undefinedThing"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error:\n%v\nwant it to name %q", err, want)
		}
	}
	if !strings.Contains(e.errOut.String(), "undefinedThing") {
		t.Errorf("the compiler's output did not reach stderr:\n%s", e.errOut)
	}
}

func TestBuildBuilderChoice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  string
		args []string
	}{
		{"GOFAAS_BUILDER=local", "local", []string{"build"}},
		{"--builder beats GOFAAS_BUILDER", "docker", []string{"build", "--builder", "local"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newBuildEnv(t, "")
			e.vars["GOFAAS_BUILDER"] = tt.env
			e.pythonProject(t)
			e.mustRun(t, tt.args...)
			loadBuilt(t, e, "hello:latest")
			if strings.Contains(e.errOut.String(), "Builder:") {
				t.Errorf("the builder was chosen, not taken as given:\n%s", e.errOut)
			}
		})
	}
	e := newEnv(t, "", "")
	for _, choice := range []string{"local", "docker"} {
		e.vars["GOFAAS_BUILDER"] = choice
		got, err := e.f.chooseBuilder(t.Context(), "", GatewayFlags{}, &stack.File{})
		if err != nil || got != choice {
			t.Errorf("GOFAAS_BUILDER=%s: builder %q, %v", choice, got, err)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		vars  map[string]string
		stack string // "" means pythonStack
		args  []string
		usage bool
		want  string
	}{
		{"unknown --builder", nil, "", []string{"build", "--builder", "podman"}, true, ""},
		{"unknown --tag", nil, "", []string{"build", "--tag", "v1"}, true, ""},
		{"--filter and --regex", nil, "", []string{"build", "--filter", "a", "--regex", "b"}, true, ""},
		{"push: unknown --tag", nil, "", []string{"push", "--tag", "describe"}, true, ""},
		{"up: unknown --builder", nil, "", []string{"up", "--builder", "kaniko"}, true, ""},
		{"unknown GOFAAS_BUILDER", map[string]string{"GOFAAS_BUILDER": "podman"}, "", []string{"build"}, false,
			`GOFAAS_BUILDER="podman": want local or docker`},
		{"GOFAAS_FWATCHDOG not a file", map[string]string{"GOFAAS_FWATCHDOG": "/nonexistent/fwatchdog"}, "", []string{"build", "--builder", "local"}, false,
			"GOFAAS_FWATCHDOG=/nonexistent/fwatchdog is not an executable file"},
		{"no fwatchdog anywhere", map[string]string{"GOFAAS_FWATCHDOG": ""}, "", []string{"build", "--shrinkwrap"}, false,
			"fwatchdog binary not found"},
		{"no stack file", nil, "-", []string{"build"}, false, "create one with gofaas new NAME --lang LANG"},
		{"--tag sha outside git", nil, "", []string{"build", "--builder", "local", "--tag", "sha"}, false, "--tag sha needs a git repository"},
		{"no lang", nil, "provider: {name: openfaas}\nfunctions:\n  hello:\n    handler: ./hello\n    image: hello:1\n",
			[]string{"build", "--builder", "local"}, false, "function hello has no lang"},
		{"dockerfile needs docker", nil, "provider: {name: openfaas}\nfunctions:\n  hello:\n    lang: dockerfile\n    handler: ./hello\n    image: hello:1\n",
			[]string{"build", "--builder", "local"}, false, "cannot be built without Docker; use --builder docker"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newBuildEnv(t, "")
			for k, v := range tt.vars {
				e.vars[k] = v
			}
			switch tt.stack {
			case "":
				e.pythonProject(t)
			case "-":
			default:
				e.writeFiles(t, map[string]string{"stack.yaml": tt.stack, "hello/Dockerfile": "FROM scratch\n"})
			}
			err := e.run(t, tt.args...)
			if err == nil {
				t.Fatal("no error")
			}
			if isUsage(err) != tt.usage {
				t.Errorf("error = %v; usage error: %v, want %v", err, isUsage(err), tt.usage)
			}
			if tt.want != "" && !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v\nwant %q", err, tt.want)
			}
			mustNotExist(t, e.work, "build/.images")
		})
	}
}

// gitCommitAll makes dir a git repository (when it is not one) and commits
// everything in it; it returns the commit.
func gitCommitAll(t *testing.T, dir string) plumbing.Hash {
	t.Helper()
	r, err := git.PlainOpen(dir)
	if err != nil {
		r, err = git.PlainInit(dir, false)
	}
	if err != nil {
		t.Fatal(err)
	}
	w, err := r.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.AddGlob("."); err != nil {
		t.Fatal(err)
	}
	h, err := w.Commit("commit", &git.CommitOptions{Author: &object.Signature{Name: "T", Email: "t@example.com", When: time.Unix(1700000000, 0)}})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// gitCheckout moves HEAD to a new branch, or detaches it at hash when
// branch is "".
func gitCheckout(t *testing.T, dir, branch string, hash plumbing.Hash) {
	t.Helper()
	r, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	w, err := r.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	opts := &git.CheckoutOptions{Hash: hash}
	if branch != "" {
		opts = &git.CheckoutOptions{Branch: plumbing.NewBranchReferenceName(branch), Create: true}
	}
	if err := w.Checkout(opts); err != nil {
		t.Fatal(err)
	}
}

func TestBuildTagFromGit(t *testing.T) {
	t.Parallel()
	e := newBuildEnv(t, "")
	e.pythonProject(t)
	sha := gitCommitAll(t, e.work).String()[:7]
	out := e.mustRun(t, "build", "--builder", "local", "--tag", "sha")
	if want := "Image: hello:latest-" + sha + " built.\n"; !strings.Contains(out, want) {
		t.Errorf("output:\n%s\nwant %q", out, want)
	}
	loadBuilt(t, e, "hello:latest-"+sha)
	gitCheckout(t, e.work, "feature", plumbing.ZeroHash)
	e.mustRun(t, "build", "--builder", "local", "--tag", "branch")
	loadBuilt(t, e, "hello:latest-feature-"+sha)
}

func TestTagged(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "stack.yaml"), []byte(pythonStack), 0o644)
	os.Mkdir(filepath.Join(dir, "fn"), 0o755) // a sub-folder finds the repository above it
	head := gitCommitAll(t, dir)
	sha := head.String()[:7]
	tests := []struct {
		image, mode, want string
	}{
		{"hello", "latest", "hello:latest"},
		{"hello:1.0", "", "hello:1.0"},
		{"hello", "sha", "hello:latest-" + sha},
		{"ghcr.io/me/hello:1.0", "sha", "ghcr.io/me/hello:1.0-" + sha},
		{"localhost:5000/hello", "sha", "localhost:5000/hello:latest-" + sha},
		{"hello:1.0", "branch", "hello:1.0-master-" + sha},
		{"hello@sha256:" + strings.Repeat("a", 64), "sha", "hello:latest-" + sha},
	}
	for _, sub := range []string{dir, filepath.Join(dir, "fn")} {
		p := &project{dir: sub}
		for _, tt := range tests {
			got, err := p.tagged(tt.image, tt.mode)
			if err != nil || got != tt.want {
				t.Errorf("tagged(%q, %q) in %s = %q, %v; want %q", tt.image, tt.mode, sub, got, err, tt.want)
			}
		}
	}
	gitCheckout(t, dir, "feature/x", head)
	if got, err := (&project{dir: dir}).tagged("hello", "branch"); got != "hello:latest-feature-x-"+sha {
		t.Errorf("--tag branch on feature/x = %q, %v; want a valid tag hello:latest-feature-x-%s", got, err, sha)
	}
	gitCheckout(t, dir, "", head)
	if _, err := (&project{dir: dir}).tagged("hello", "branch"); err == nil || !strings.Contains(err.Error(), "HEAD is detached") {
		t.Errorf("--tag branch on a detached HEAD: %v", err)
	}
}
