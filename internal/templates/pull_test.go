package templates

import (
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// testRepo is a git repository made with go-git:
//
//	commit 1 (tag v1, annotated; tag light; branch old): template/a, template/b
//	  (b has a link inside the template and one leading out of it)
//	commit 2 (master): template/a changed, template/c added, README
type testRepo struct{ dir string }

func newTestRepo(t *testing.T) testRepo {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	r, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{"template/b/x": ""})
	for link, target := range map[string]string{"template/b/inside": "template.yml", "template/b/outside": "../../../etc/passwd"} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	first := commitFiles(t, r, dir, map[string]string{
		"template/a/template.yml": "language: a\n",
		"template/a/run.sh":       "#!/bin/sh\necho v1\n",
		"template/b/template.yml": "language: b\n",
		"other/ignored.txt":       "not a template",
	})
	sig := &object.Signature{Name: "t", Email: "t@example.com", When: time.Unix(1700000000, 0)}
	if _, err := r.CreateTag("v1", first, &git.CreateTagOptions{Tagger: sig, Message: "v1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.CreateTag("light", first, nil); err != nil {
		t.Fatal(err)
	}
	if err := r.Storer.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName("old"), first)); err != nil {
		t.Fatal(err)
	}
	commitFiles(t, r, dir, map[string]string{
		"template/a/run.sh":       "#!/bin/sh\necho v2\n",
		"template/c/template.yml": "language: c\n",
		"README":                  "templates",
	})
	return testRepo{dir: dir}
}

func commitFiles(t *testing.T, r *git.Repository, dir string, files map[string]string) plumbing.Hash {
	t.Helper()
	writeFiles(t, dir, files)
	for name := range files {
		if strings.HasSuffix(name, ".sh") {
			if err := os.Chmod(filepath.Join(dir, name), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	wt, err := r.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "t", Email: "t@example.com", When: time.Unix(1700000000, 0)}
	h, err := wt.Commit("templates", &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestPull(t *testing.T) {
	repo := newTestRepo(t)
	tests := []struct {
		name    string
		url     string
		want    []string
		wantRun string // content of template/a/run.sh
		wantErr string
	}{
		{name: "plain path, default branch", url: repo.dir, want: []string{"a", "b", "c"}, wantRun: "echo v2"},
		{name: "file URL", url: "file://" + repo.dir, want: []string{"a", "b", "c"}, wantRun: "echo v2"},
		{name: "annotated tag", url: "file://" + repo.dir + "#v1", want: []string{"a", "b"}, wantRun: "echo v1"},
		{name: "lightweight tag", url: repo.dir + "#light", want: []string{"a", "b"}, wantRun: "echo v1"},
		{name: "branch", url: repo.dir + "#old", want: []string{"a", "b"}, wantRun: "echo v1"},
		{name: "unknown ref", url: repo.dir + "#v9", wantErr: `ref "v9" is neither a branch nor a tag of ` + repo.dir + " (branches and tags: light, master, old, v1)"},
		{name: "not a repository", url: t.TempDir(), wantErr: "opening git repository"},
		{name: "no repository", url: "", wantErr: "no repository given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			project := t.TempDir()
			var progress strings.Builder
			got, err := Pull(t.Context(), tt.url, project, false, &progress)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("written %v, want %v", got, tt.want)
			}
			checkPulled(t, project, tt.wantRun)
			if !strings.Contains(progress.String(), "Wrote template a") {
				t.Errorf("progress: %q", progress.String())
			}
		})
	}
}

// checkPulled checks template/a as written: content, executable bit, and
// that it loads with Find.
func checkPulled(t *testing.T, project, wantRun string) {
	t.Helper()
	run := filepath.Join(project, "template", "a", "run.sh")
	if got := readFile(t, run); !strings.Contains(got, wantRun) {
		t.Errorf("run.sh = %q, want %q", got, wantRun)
	}
	if fi, err := os.Stat(run); err != nil || fi.Mode().Perm()&0o100 == 0 {
		t.Errorf("run.sh is not executable: %v %v", fi.Mode(), err)
	}
	if _, err := os.Stat(filepath.Join(project, "template", "other")); err == nil {
		t.Error("a folder outside template/ was copied")
	}
	tpl, err := Find(project, "a")
	if err != nil || tpl.Language != "a" {
		t.Errorf("Find(a) = %+v, %v", tpl, err)
	}
	b := filepath.Join(project, "template", "b")
	if target, err := os.Readlink(filepath.Join(b, "inside")); err != nil || target != "template.yml" {
		t.Errorf("link inside the template: %q, %v", target, err)
	}
	if _, err := os.Lstat(filepath.Join(b, "outside")); err == nil {
		t.Error("a link leading out of the template was written")
	}
}

func TestPullOverwrite(t *testing.T) {
	repo := newTestRepo(t)
	project := t.TempDir()
	writeFiles(t, project, map[string]string{"template/a/run.sh": "mine", "template/a/stale": "old"})

	got, err := Pull(t.Context(), repo.dir, project, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"b", "c"}) {
		t.Errorf("without overwrite wrote %v, want [b c]", got)
	}
	if readFile(t, filepath.Join(project, "template/a/run.sh")) != "mine" {
		t.Error("an existing template was changed without overwrite")
	}

	got, err = Pull(t.Context(), repo.dir, project, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("with overwrite wrote %v, want [a b c]", got)
	}
	checkPulled(t, project, "echo v2")
	if _, err := os.Stat(filepath.Join(project, "template/a/stale")); err == nil {
		t.Error("overwrite kept a file of the old template")
	}
}

func TestPullWithoutTemplateFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	r, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	commitFiles(t, r, dir, map[string]string{"README": "nothing"})
	_, err = Pull(t.Context(), dir, t.TempDir(), false, nil)
	if err == nil || !strings.Contains(err.Error(), "has no template folder") {
		t.Fatalf("error = %v", err)
	}
}

// TestPullHTTP clones over HTTP from `git http-backend` (the only use of
// the git binary, to serve; Pull itself uses go-git).
func TestPullHTTP(t *testing.T) {
	gitBin, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git is not installed; it serves the repository over HTTP")
	}
	repo := newTestRepo(t)
	srv := httptest.NewServer(&cgi.Handler{
		Path: gitBin, Args: []string{"http-backend"},
		Env: []string{"GIT_PROJECT_ROOT=" + filepath.Dir(repo.dir), "GIT_HTTP_EXPORT_ALL=1"},
	})
	t.Cleanup(srv.Close)
	url := srv.URL + "/repo"
	tests := []struct {
		name, ref, wantRun, wantErr string
		want                        []string
	}{
		{name: "default branch", want: []string{"a", "b", "c"}, wantRun: "echo v2"},
		{name: "tag", ref: "#v1", want: []string{"a", "b"}, wantRun: "echo v1"},
		{name: "branch", ref: "#old", want: []string{"a", "b"}, wantRun: "echo v1"},
		{name: "unknown ref", ref: "#nope", wantErr: `ref "nope" is neither a branch nor a tag of ` + url},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			project := t.TempDir()
			got, err := Pull(t.Context(), url+tt.ref, project, false, nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("written %v, want %v", got, tt.want)
			}
			checkPulled(t, project, tt.wantRun)
		})
	}
}

func TestSplitRef(t *testing.T) {
	tests := []struct{ in, url, ref string }{
		{"https://github.com/openfaas/templates.git", "https://github.com/openfaas/templates.git", ""},
		{"https://github.com/x/y#0.7.0", "https://github.com/x/y", "0.7.0"},
		{" git@github.com:x/y.git#main ", "git@github.com:x/y.git", "main"},
	}
	for _, tt := range tests {
		if url, ref := splitRef(tt.in); url != tt.url || ref != tt.ref {
			t.Errorf("splitRef(%q) = %q, %q", tt.in, url, ref)
		}
	}
	for in, want := range map[string]string{"/tmp/r": "/tmp/r", "file:///tmp/r": "/tmp/r", "https://x/y": "", "git@h:x/y": "", "ssh://h/x": ""} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:secret@example.com/x.git": "https://user:xxxxx@example.com/x.git",
		"https://example.com/x.git":             "https://example.com/x.git",
		"git@github.com:x/y.git":                "git@github.com:x/y.git",
		"/tmp/repo":                             "/tmp/repo",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}
