package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
)

// templateRepo makes a git repository holding template/mylang and
// template/other; the commit tagged v1 has "version 1" in
// mylang/template.yml's welcome message, HEAD has "version 2".
func templateRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	write := func(version string) {
		for _, lang := range []string{"mylang", "other"} {
			p := filepath.Join(dir, "template", lang)
			os.MkdirAll(filepath.Join(p, "function"), 0o755)
			os.WriteFile(filepath.Join(p, "template.yml"), []byte("language: "+lang+"\nfprocess: cat\nwelcome_message: "+lang+" "+version+"\n"), 0o644)
			os.WriteFile(filepath.Join(p, "function", "handler.txt"), []byte(version+"\n"), 0o644)
		}
		os.WriteFile(filepath.Join(dir, "README.md"), []byte("not a template\n"), 0o644)
	}
	write("version 1")
	first := gitCommitAll(t, dir)
	r, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.CreateTag("v1", first, nil); err != nil {
		t.Fatal(err)
	}
	write("version 2")
	gitCommitAll(t, dir)
	return dir
}

// templateYML reads template/<lang>/template.yml of the project.
func templateYML(t *testing.T, e *env, lang string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(e.work, "template", lang, "template.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestTemplatePull(t *testing.T) {
	t.Parallel()
	repo := templateRepo(t)
	e := newEnv(t, "", "")
	out := e.mustRun(t, "template", "pull", repo)
	if out != "Wrote 2 template(s) to ./template: [mylang other]\n" {
		t.Errorf("output %q", out)
	}
	mustExist(t, e.work, "template/mylang/function/handler.txt", "template/other/template.yml")
	mustNotExist(t, e.work, "template/README.md", "README.md")
	if y := templateYML(t, e, "mylang"); !strings.Contains(y, "mylang version 2") {
		t.Errorf("template.yml = %q, want HEAD's", y)
	}

	// A pulled template is what new uses.
	e.out.Reset()
	out = e.mustRun(t, "new", "fn", "--lang", "mylang")
	if !strings.Contains(out, "Notes:\nmylang version 2\n") {
		t.Errorf("new from the pulled template:\n%s", out)
	}
	mustExist(t, e.work, "fn/handler.txt")

	// Existing templates are kept unless --overwrite.
	e.out.Reset()
	if out := e.mustRun(t, "template", "pull", repo+"#v1"); !strings.HasPrefix(out, "No new templates") {
		t.Errorf("second pull: %q", out)
	}
	if y := templateYML(t, e, "mylang"); !strings.Contains(y, "version 2") {
		t.Errorf("template replaced without --overwrite: %q", y)
	}
	e.out.Reset()
	e.mustRun(t, "template", "pull", repo+"#v1", "--overwrite")
	if y := templateYML(t, e, "mylang"); !strings.Contains(y, "mylang version 1") {
		t.Errorf("--overwrite at #v1 left %q", y)
	}
}

func TestTemplatePullSources(t *testing.T) {
	t.Parallel()
	repo := templateRepo(t)
	e := newEnv(t, "", "")
	e.vars["OPENFAAS_TEMPLATE_URL"] = repo + "#v1"
	e.mustRun(t, "template", "pull")
	if y := templateYML(t, e, "other"); !strings.Contains(y, "other version 1") {
		t.Errorf("pull from OPENFAAS_TEMPLATE_URL: %q", y)
	}
	for _, tt := range []struct{ arg, want string }{
		{repo + "#nope", `ref "nope" is neither a branch nor a tag`},
		{t.TempDir(), "opening git repository"},
	} {
		if err := e.run(t, "template", "pull", tt.arg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("pull %s: %v, want %q", tt.arg, err, tt.want)
		}
	}
}

// templateStore serves a templates.json whose mylang entry points at repo.
func templateStore(t *testing.T, repo string) string {
	t.Helper()
	list := []map[string]any{
		{"template": "mylang", "platform": "x86_64", "language": "My", "source": "me", "description": "My language",
			"repo": repo, "official": "false", "recommended": true},
		{"template": "other", "platform": "x86_64", "language": "Other", "source": "openfaas", "description": "Another one",
			"repo": repo + "#v1", "official": "true", "recommended": false},
		{"template": "armonly", "platform": "armhf", "language": "Arm", "source": "me", "description": "For Raspberry Pi",
			"repo": repo, "official": "false", "recommended": false},
	}
	data, _ := json.Marshal(list)
	return serveFile(t, string(data))
}

func TestTemplateStoreList(t *testing.T) {
	t.Parallel()
	u := templateStore(t, "https://example.com/t.git")
	tests := []struct {
		name string
		args []string
		vars map[string]string
		want [][]string
	}{
		{"x86_64 by default", []string{"template", "store", "list", "--url", u}, nil, [][]string{
			{"NAME", "RECOMMENDED", "DESCRIPTION", "SOURCE"},
			{"mylang", "true", "My", "language", "me"},
			{"other", "false", "Another", "one", "openfaas"},
		}},
		{"-p armhf", []string{"template", "store", "ls", "-u", u, "-p", "armhf"}, nil, [][]string{
			{"NAME", "RECOMMENDED", "DESCRIPTION", "SOURCE"},
			{"armonly", "false", "For", "Raspberry", "Pi", "me"},
		}},
		{"OPENFAAS_TEMPLATE_STORE_URL", []string{"template", "store", "list", "--platform", "armhf"},
			map[string]string{"OPENFAAS_TEMPLATE_STORE_URL": u}, [][]string{
				{"NAME", "RECOMMENDED", "DESCRIPTION", "SOURCE"},
				{"armonly", "false", "For", "Raspberry", "Pi", "me"},
			}},
	}
	for _, tt := range tests {
		e := newEnv(t, "", "")
		for k, v := range tt.vars {
			e.vars[k] = v
		}
		got := columns(e.mustRun(t, tt.args...))
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(tt.want)
		if string(gj) != string(wj) {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, gj, wj)
		}
	}
}

func TestTemplateStorePull(t *testing.T) {
	t.Parallel()
	repo := templateRepo(t)
	u := templateStore(t, repo)
	e := newEnv(t, "", "")
	e.mustRun(t, "template", "store", "pull", "other", "--url", u)
	if y := templateYML(t, e, "other"); !strings.Contains(y, "other version 1") {
		t.Errorf("store pull of other (repo#v1): %q", y)
	}
	e.mustRun(t, "template", "store", "pull", "mylang", "--url", u, "--overwrite")
	if y := templateYML(t, e, "mylang"); !strings.Contains(y, "mylang version 2") {
		t.Errorf("store pull of mylang: %q", y)
	}
	for _, args := range [][]string{
		{"template", "store", "pull", "nope", "--url", u},
		{"template", "store", "pull", "armonly", "--url", u},
	} {
		err := e.run(t, args...)
		if err == nil || !strings.Contains(err.Error(), "gofaas template store list") {
			t.Errorf("%v: %v", args, err)
		}
	}
}
