package builder

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// goBuild is the build command of the Go templates.
var goBuild = [][]string{{"go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", "handler", "."}}

// goContext writes a tiny std-only Go program as a build context.
func goContext(t *testing.T, greeting string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "hello")
	writeFiles(t, dir, map[string]string{
		"go.mod":       "module handler\n\ngo 1.22\n",
		"main.go":      "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"" + greeting + "\") }\n",
		"Dockerfile":   "FROM scratch\n",
		"template.yml": "language: go\n",
	})
	return dir
}

func goLocal(dir, watchdog string) Local {
	return Local{
		Context: dir, Build: goBuild, Include: []string{"handler"},
		Env:      map[string]string{"mode": "http", "upstream_url": "http://127.0.0.1:8082"},
		FProcess: "./handler", Watchdog: watchdog, Log: io.Discard,
	}
}

func TestLocalBuildPushPull(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t)
	l := goLocal(goContext(t, "hi from the image"), fakeWatchdog(t))
	var out bytes.Buffer
	l.Progress = NewProgress(&out, false)
	img, err := l.Image(t.Context())
	if err != nil {
		t.Fatalf("Image: %v", err)
	}
	ref := reg.host + "/hello:latest"
	pushed, err := PushImage(t.Context(), img, ref, PushOptions{Progress: l.Progress})
	if err != nil {
		t.Fatalf("PushImage: %v", err)
	}
	for _, step := range []string{"hello: compile ... done\n", "hello: pack: ", "push " + ref + ": "} {
		if !strings.Contains(out.String(), step) {
			t.Errorf("progress %q lacks %q", out.String(), step)
		}
	}

	got := pull(t, ref)
	if d := digest(t, got); d != pushed {
		t.Errorf("pulled digest %s, pushed %s", d, pushed)
	}
	cf, err := got.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	wantEnv := []string{"PATH=" + DefaultPath, "fprocess=./handler", "mode=http", "upstream_url=http://127.0.0.1:8082"}
	if !slices.Equal(cf.Config.Env, wantEnv) {
		t.Errorf("Env = %q, want %q", cf.Config.Env, wantEnv)
	}
	if !slices.Equal(cf.Config.Entrypoint, []string{"/usr/bin/fwatchdog"}) || cf.Config.WorkingDir != "/home/app" {
		t.Errorf("Entrypoint %q, WorkingDir %q", cf.Config.Entrypoint, cf.Config.WorkingDir)
	}
	if cf.Config.Labels[LabelBuilder] != "local" || cf.OS != "linux" || cf.Architecture != runtime.GOARCH {
		t.Errorf("labels %v, platform %s/%s", cf.Config.Labels, cf.OS, cf.Architecture)
	}
	checkGoImageFiles(t, got, "hi from the image")
}

// checkGoImageFiles checks the two layers and runs the packed handler.
func checkGoImageFiles(t *testing.T, img v1.Image, greeting string) {
	t.Helper()
	layers := layersOf(t, img)
	if len(layers) != 2 {
		t.Fatalf("%d layers, want 2", len(layers))
	}
	wd := layerFiles(t, layers[0])
	if len(wd) != 3 || wd["usr/bin/fwatchdog"].mode != 0o755 || !strings.Contains(wd["usr/bin/fwatchdog"].data, "fake watchdog") {
		t.Errorf("layer 1 = %v, want usr/, usr/bin/ and the watchdog", keys(wd))
	}
	app := layerFiles(t, layers[1])
	if got := keys(app); !slices.Equal(got, []string{"home/", "home/app/", "home/app/handler"}) {
		t.Fatalf("layer 2 entries %v", got)
	}
	h := app["home/app/handler"]
	if h.mode != 0o755 || !strings.HasPrefix(h.data, "\x7fELF") {
		t.Fatalf("handler mode %o, starts %q", h.mode, h.data[:min(4, len(h.data))])
	}
	if runtime.GOOS != "linux" {
		return
	}
	bin := filepath.Join(t.TempDir(), "handler")
	if err := os.WriteFile(bin, []byte(h.data), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), bin).Output()
	if err != nil || strings.TrimSpace(string(out)) != greeting {
		t.Errorf("running the packed handler: %q, %v", out, err)
	}
}

func keys(m map[string]tarFile) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestLocalCompileError(t *testing.T) {
	t.Parallel()
	dir := goContext(t, "x")
	writeFiles(t, dir, map[string]string{"main.go": "package main\n\nfunc main() { notDefined() }\n"})
	var log bytes.Buffer
	l := goLocal(dir, fakeWatchdog(t))
	l.Log = &log
	_, err := l.Image(t.Context())
	var be *BuildError
	if !errors.As(err, &be) {
		t.Fatalf("error %v is not a *BuildError", err)
	}
	for _, want := range []string{"running go build", "main.go:3", "undefined: notDefined"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if !strings.Contains(log.String(), "undefined: notDefined") {
		t.Errorf("the compiler's output did not reach Log: %q", log.String())
	}
}

func TestLocalReproducible(t *testing.T) {
	t.Parallel()
	wd := fakeWatchdog(t)
	var digests []v1.Hash
	for range 2 {
		img, err := goLocal(goContext(t, "same"), wd).Image(t.Context())
		if err != nil {
			t.Fatalf("Image: %v", err)
		}
		digests = append(digests, digest(t, img))
	}
	if digests[0] != digests[1] {
		t.Errorf("two builds of the same sources in different folders: %s and %s", digests[0], digests[1])
	}
}

// pyContext is an interpreted function's context: nothing to compile.
func pyContext(t *testing.T, handler string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "py")
	writeFiles(t, dir, map[string]string{
		"index.py":             "import handler",
		"function/handler.py":  handler,
		"function/run.sh*":     "#!/bin/sh",
		"function/link":        "-> handler.py",
		"function/empty/.keep": "",
		"Dockerfile":           "FROM python",
		"template.yml":         "language: py",
		"fwatchdog":            "the docker builder's copy",
	})
	return dir
}

func TestLocalDefaultInclude(t *testing.T) {
	t.Parallel()
	dir := pyContext(t, "def handle(): pass")
	if err := os.Chmod(filepath.Join(dir, "index.py"), 0o600); err != nil {
		t.Fatal(err)
	}
	img, err := Local{Context: dir, Watchdog: fakeWatchdog(t), FProcess: "python3 index.py"}.Image(t.Context())
	if err != nil {
		t.Fatalf("Image: %v", err)
	}
	app := layerFiles(t, appLayer(t, img))
	want := map[string]tarFile{
		"home/":                         {kind: tar.TypeDir, mode: 0o755},
		"home/app/":                     {kind: tar.TypeDir, mode: 0o755},
		"home/app/index.py":             {kind: tar.TypeReg, mode: 0o644, data: "import handler"},
		"home/app/function/":            {kind: tar.TypeDir, mode: 0o755},
		"home/app/function/handler.py":  {kind: tar.TypeReg, mode: 0o644, data: "def handle(): pass"},
		"home/app/function/run.sh":      {kind: tar.TypeReg, mode: 0o755, data: "#!/bin/sh"},
		"home/app/function/link":        {kind: tar.TypeSymlink, mode: 0o777, link: "handler.py"},
		"home/app/function/empty/":      {kind: tar.TypeDir, mode: 0o755},
		"home/app/function/empty/.keep": {kind: tar.TypeReg, mode: 0o644},
	}
	if len(app) != len(want) {
		t.Errorf("entries %v, want %d", keys(app), len(want))
	}
	for name, w := range want {
		if app[name] != w {
			t.Errorf("%s = %+v, want %+v", name, app[name], w)
		}
	}
}

func TestLocalIncludeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		l       Local
		wantErr string
	}{
		{"escape", Local{Include: []string{"../x"}}, "inside the build context"},
		{"absolute", Local{Include: []string{"/etc"}}, "inside the build context"},
		{"missing", Local{Include: []string{"handler"}}, "did the build make it"},
		{"through a symlink", Local{Include: []string{"out/passwd"}}, "leads out of the build context"},
		{"no watchdog", Local{Watchdog: "-"}, "not a file"},
		{"no context", Local{Context: "-"}, "not a folder"},
		{"empty command", Local{Build: [][]string{{}}}, "empty build command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := tt.l
			if l.Context == "" {
				l.Context = pyContext(t, "x")
				writeFiles(t, l.Context, map[string]string{"out": "-> /etc"})
			}
			if l.Watchdog == "" {
				l.Watchdog = fakeWatchdog(t)
			}
			_, err := l.Image(t.Context())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestLocalEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		env      map[string]string
		fprocess string
		want     []string
	}{
		{"defaults", nil, "", []string{"PATH=" + DefaultPath}},
		{"sorted after fprocess", map[string]string{"z": "1", "a": "2"}, "cat", []string{"PATH=" + DefaultPath, "fprocess=cat", "a=2", "z=1"}},
		{"env PATH and fprocess", map[string]string{"PATH": "/bin", "fprocess": "env"}, "", []string{"PATH=/bin", "fprocess=env"}},
		{"FProcess wins", map[string]string{"fprocess": "env"}, "cat", []string{"PATH=" + DefaultPath, "fprocess=cat"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := (Local{Env: tt.env, FProcess: tt.fprocess}).env(); !slices.Equal(got, tt.want) {
				t.Errorf("env = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestRepushUploadsChangedLayer checks that a handler change sends only the
// function layer and the config: the watchdog layer is already there.
func TestRepushUploadsChangedLayer(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t)
	wd := fakeWatchdog(t)
	ref := reg.host + "/py:latest"
	var first []v1.Layer
	for i, handler := range []string{"def handle(): return 1", "def handle(): return 2"} {
		img, err := Local{Context: pyContext(t, handler), Watchdog: wd}.Image(t.Context())
		if err != nil {
			t.Fatalf("Image: %v", err)
		}
		if _, err := PushImage(t.Context(), img, ref, PushOptions{}); err != nil {
			t.Fatalf("PushImage: %v", err)
		}
		layers := []v1.Layer{layersOf(t, img)[0], appLayer(t, img)}
		cfg, err := img.ConfigName()
		if err != nil {
			t.Fatal(err)
		}
		want := []string{digest(t, layers[1]).String(), cfg.String()}
		if i == 0 {
			first = layers
			want = append(want, digest(t, layers[0]).String())
		} else if digest(t, layers[0]) != digest(t, first[0]) {
			t.Fatal("the watchdog layer changed with the handler")
		}
		slices.Sort(want)
		if got := reg.takeUploads(); !slices.Equal(got, want) {
			t.Errorf("push %d uploaded %v, want %v", i+1, got, want)
		}
	}
}

func TestLayerNoticesChangedSources(t *testing.T) {
	t.Parallel()
	dir := pyContext(t, "before")
	img, err := Local{Context: dir, Watchdog: fakeWatchdog(t)}.Image(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{"function/handler.py": "after!"})
	rc, err := appLayer(t, img).Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.Copy(io.Discard, rc); !errors.Is(err, ErrContextChanged) {
		t.Errorf("reading a layer whose sources changed: %v, want ErrContextChanged", err)
	}
}

func BenchmarkLocalImage(b *testing.B) {
	dir := b.TempDir()
	// About 5 MB: 40 files of 128 KiB that compress poorly, and a watchdog.
	seed := uint32(1)
	for i := range 40 {
		data := make([]byte, 128<<10)
		for j := range data {
			seed = seed*1664525 + 1013904223
			data[j] = byte(seed >> 24)
		}
		p := filepath.Join(dir, "function", "data", string(rune('a'+i%26))+string(rune('a'+i/26))+".bin")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	wd := filepath.Join(b.TempDir(), "fwatchdog")
	if err := os.WriteFile(wd, bytes.Repeat([]byte("watchdog"), 1<<15), 0o755); err != nil {
		b.Fatal(err)
	}
	l := Local{Context: dir, Watchdog: wd}
	b.SetBytes(40<<17 + 8<<15)
	for b.Loop() {
		if _, err := l.Image(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}
