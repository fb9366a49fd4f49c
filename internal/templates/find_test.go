package templates

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var builtIn = []string{"bash-streaming", "dockerfile", "go", "golang-http", "node-http", "python3-http"}

// writeFiles creates files (path → content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestEmbedded(t *testing.T) {
	if got := Embedded(); !slices.Equal(got, builtIn) {
		t.Errorf("Embedded() = %v, want %v", got, builtIn)
	}
}

func TestFind(t *testing.T) {
	project := t.TempDir()
	writeFiles(t, project, map[string]string{
		"template/golang-http/template.yml": "language: golang-http\nfprocess: ./mine\n",
		"template/custom/template.yml":      "fprocess: ./custom\n",
		"template/broken/template.yml":      "gofaas: [\n",
		"template/empty/README":             "no template.yml here",
	})
	tests := []struct {
		name, lang   string
		wantLang     string
		wantFProcess string
		wantSource   string
		wantErr      string
	}{
		{name: "built in", lang: "python3-http", wantLang: "python3-http", wantFProcess: "python3 index.py", wantSource: SourceEmbedded},
		{name: "project folder wins", lang: "golang-http", wantLang: "golang-http", wantFProcess: "./mine", wantSource: filepath.Join(project, "template", "golang-http")},
		{name: "language from folder name", lang: "custom", wantLang: "custom", wantFProcess: "./custom", wantSource: filepath.Join(project, "template", "custom")},
		{name: "Dockerfile spelled as in faas-cli", lang: "Dockerfile", wantLang: "dockerfile", wantSource: SourceEmbedded},
		{name: "broken template.yml", lang: "broken", wantErr: "template broken from"},
		{name: "no template.yml", lang: "empty", wantErr: "reading template empty"},
		{name: "unknown", lang: "cobol", wantErr: `unknown template language "cobol"; built in: bash-streaming, dockerfile, go, golang-http, node-http, python3-http; in ` + filepath.Join(project, "template") + ": broken, custom, empty, golang-http"},
		{name: "path in name", lang: "../template/custom", wantErr: "unknown template language"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tpl, err := Find(project, tt.lang)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tpl.Language != tt.wantLang || tpl.FProcess != tt.wantFProcess || tpl.Source != tt.wantSource {
				t.Errorf("got language %q fprocess %q source %q", tpl.Language, tpl.FProcess, tpl.Source)
			}
			if _, err := fs.Stat(tpl.FS, "template.yml"); err != nil {
				t.Errorf("FS lacks template.yml: %v", err)
			}
		})
	}
	_, err := Find(project, "cobol")
	if !errors.Is(err, ErrUnknownLanguage) {
		t.Errorf("Find(cobol) error %v does not wrap ErrUnknownLanguage", err)
	}
}

// dockerEnv reads the ENV name="value" pairs of a Dockerfile's last stage.
func dockerEnv(dockerfile string) map[string]string {
	env := map[string]string{}
	re := regexp.MustCompile(`(\w+)="([^"]*)"`)
	for _, line := range strings.Split(dockerfile, "\n") {
		if strings.HasPrefix(line, "FROM ") {
			clear(env)
		}
		if strings.HasPrefix(line, "ENV ") {
			for _, m := range re.FindAllStringSubmatch(line, -1) {
				env[m[1]] = m[2]
			}
		}
	}
	return env
}

// TestBuiltInTemplates checks what the builders rely on in every built-in
// template: the files faas-cli expects, a Dockerfile that takes fwatchdog
// from the build context and sets the same environment as the gofaas
// block, and a welcome message naming both builders.
func TestBuiltInTemplates(t *testing.T) {
	for _, lang := range builtIn {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			tpl, err := Find(t.TempDir(), lang)
			if err != nil {
				t.Fatal(err)
			}
			if tpl.Language != lang || tpl.Source != SourceEmbedded || tpl.HandlerFolder != DefaultHandlerFolder {
				t.Errorf("language %q source %q handler folder %q", tpl.Language, tpl.Source, tpl.HandlerFolder)
			}
			if !strings.Contains(tpl.WelcomeMessage, "--builder docker") {
				t.Errorf("welcome message does not mention --builder docker:\n%s", tpl.WelcomeMessage)
			}
			if lang == "dockerfile" {
				checkDockerfileTemplate(t, tpl)
				return
			}
			checkBuildable(t, tpl)
		})
	}
}

func checkDockerfileTemplate(t *testing.T, tpl *Template) {
	if tpl.Local != nil {
		t.Errorf("the dockerfile template has a gofaas block; the local builder cannot build it")
	}
	df, err := fs.ReadFile(tpl.FS, "function/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(df), "COPY fwatchdog ") || strings.Contains(string(df), "ghcr.io") {
		t.Errorf("function/Dockerfile must COPY fwatchdog from the context:\n%s", df)
	}
}

func checkBuildable(t *testing.T, tpl *Template) {
	if tpl.Local == nil {
		t.Fatal("no gofaas block")
	}
	for _, f := range append([]string{"Dockerfile", "function"}, tpl.Local.Include...) {
		if _, err := fs.Stat(tpl.FS, f); err != nil && !slices.ContainsFunc(tpl.Local.Build, func(argv []string) bool { return slices.Contains(argv, f) }) {
			t.Errorf("%s is neither in the template nor built: %v", f, err)
		}
	}
	data, err := fs.ReadFile(tpl.FS, "Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	for _, want := range []string{"COPY fwatchdog /usr/bin/fwatchdog", "ARG ADDITIONAL_PACKAGE", `CMD ["fwatchdog"]`} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if strings.Contains(df, "ghcr.io") {
		t.Error("Dockerfile pulls a watchdog image")
	}
	env := dockerEnv(df)
	if env["fprocess"] != tpl.FProcess {
		t.Errorf("Dockerfile fprocess %q, template.yml %q", env["fprocess"], tpl.FProcess)
	}
	for k, v := range tpl.Local.Env {
		if env[k] != v {
			t.Errorf("Dockerfile sets %s=%q, the gofaas block %q", k, env[k], v)
		}
	}
	if req := tpl.Local.Requires; req != "" && !strings.Contains(tpl.WelcomeMessage, req) {
		t.Errorf("welcome message does not say the host's %s runs the function:\n%s", req, tpl.WelcomeMessage)
	}
}

func TestEmbeddedNames(t *testing.T) {
	tpl, err := Find("", "golang-http")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	err = fs.WalkDir(tpl.FS, ".", func(p string, d fs.DirEntry, err error) error {
		names = append(names, p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{".", "Dockerfile", "function", "function/go.mod", "function/handler.go", "go.mod", "main.go", "template.yml"}
	if !slices.Equal(names, want) {
		t.Errorf("files = %v, want %v", names, want)
	}
	if _, err := tpl.FS.Open("go.mod" + storedSuffix); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the stored name is visible: %v", err)
	}
	fi, err := fs.Stat(tpl.FS, "function/go.mod")
	if err != nil || fi.Name() != "go.mod" {
		t.Errorf("Stat(function/go.mod) = %v, %v", fi, err)
	}
}
