package builder

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// listTree describes every entry under dir, one per line: "d" folder, "f"
// file, "x" executable file (with short contents quoted), "l" symlink.
func listTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel := filepath.ToSlash(strings.TrimPrefix(p, dir+string(filepath.Separator)))
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
			fmt.Fprintf(&b, "d %s/\n", rel)
		case fi.Mode()&fs.ModeSymlink != 0:
			link, _ := os.Readlink(p)
			fmt.Fprintf(&b, "l %s -> %s\n", rel, link)
		default:
			kind := "f"
			if fi.Mode()&0o100 != 0 {
				kind = "x"
			}
			data, _ := os.ReadFile(p)
			fmt.Fprintf(&b, "%s %s %q\n", kind, rel, data)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	file := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got\n%s--- want\n%s", file, got, want)
	}
}

// testTemplate is a template as internal/templates hands it over: an
// embed.FS reports files as 0444, which MapFS mimics.
var testTemplate = fstest.MapFS{
	"template.yml":         {Data: []byte("language: py\n"), Mode: 0o444},
	"Dockerfile":           {Data: []byte("FROM scratch\n"), Mode: 0o444},
	"index.py":             {Data: []byte("main"), Mode: 0o444},
	"run.sh":               {Data: []byte("#!/bin/sh"), Mode: 0o555},
	"function/handler.py":  {Data: []byte("scaffold"), Mode: 0o444},
	"function/scaffold.md": {Data: []byte("from the template"), Mode: 0o444},
}

// newProject writes a project with a handler and a shared folder and
// returns its folder.
func newProject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"stack.yaml":              "functions: {}",
		"fn/handler.py":           "user handler",
		"fn/tool.sh*":             "#!/bin/sh",
		"fn/sub/data.txt":         "data",
		"fn/sub/build/kept.txt":   "only top-level build folders are skipped",
		"fn/link":                 "-> sub/data.txt",
		"fn/build/old.txt":        "stale output",
		"fn/template/py/index.py": "a pulled template",
		"common/util.py":          "shared",
		"common/deep/more.py":     "deeper",
		"VERSION":                 "1.0",
		"../outside-secret.txt":   "not in the project",
	})
	return dir
}

func TestPrepareLayout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		golden string
		ctx    func(project string) Context
	}{
		{"template", "context-template.golden", func(project string) Context {
			return Context{
				Dir: filepath.Join(project, "build", "fn"), ProjectDir: project,
				HandlerDir: filepath.Join(project, "fn"), Template: testTemplate,
				Copy: []string{"common", "./VERSION"}, Watchdog: fakeWatchdog(t),
			}
		}},
		{"handler folder", "context-handler-folder.golden", func(project string) Context {
			return Context{
				Dir: filepath.Join(project, "build", "fn"), ProjectDir: project,
				HandlerDir: filepath.Join(project, "fn"), HandlerFolder: "src", Template: testTemplate,
			}
		}},
		{"dockerfile", "context-dockerfile.golden", func(project string) Context {
			return Context{
				Dir: filepath.Join(project, "build", "fn"), ProjectDir: project,
				HandlerDir: filepath.Join(project, "fn"), HandlerAtRoot: true, Template: testTemplate,
				Copy: []string{"common/util.py"}, Watchdog: fakeWatchdog(t),
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			project := newProject(t)
			c := tt.ctx(project)
			// Leftovers of an earlier build must go.
			writeFiles(t, c.Dir, map[string]string{"stale.txt": "old"})
			if err := c.Prepare(); err != nil {
				t.Fatalf("Prepare: %v", err)
			}
			checkGolden(t, tt.golden, listTree(t, c.Dir))
		})
	}
}

func TestPrepareHandlerIsProject(t *testing.T) {
	t.Parallel()
	project := t.TempDir()
	writeFiles(t, project, map[string]string{"handler.py": "h", "template/py/index.py": "t", "build/other/x": "x"})
	c := Context{Dir: filepath.Join(project, "build", "fn"), ProjectDir: project, HandlerDir: project}
	if err := c.Prepare(); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	want := "d function/\nf function/handler.py \"h\"\n"
	if got := listTree(t, c.Dir); got != want {
		t.Errorf("context:\n%s\nwant:\n%s", got, want)
	}
}

func TestPrepareRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		edit    func(c *Context, project string)
		wantErr string
	}{
		{"copy escapes with ..", func(c *Context, _ string) { c.Copy = []string{"../outside-secret.txt"} }, "inside the project"},
		{"copy hides .. inside", func(c *Context, _ string) { c.Copy = []string{"common/../../outside-secret.txt"} }, "inside the project"},
		{"copy absolute", func(c *Context, _ string) { c.Copy = []string{"/etc/hostname"} }, "inside the project"},
		{"copy the project itself", func(c *Context, _ string) { c.Copy = []string{"."} }, "inside the project"},
		{"copy symlink out", func(c *Context, project string) {
			writeFiles(t, project, map[string]string{"escape": "-> ../outside-secret.txt"})
			c.Copy = []string{"escape"}
		}, "leads out of the project"},
		{"copy holding the context", func(c *Context, _ string) { c.Copy = []string{"build"} }, "holds the build context"},
		{"copy missing", func(c *Context, _ string) { c.Copy = []string{"nothing"} }, "nothing"},
		{"dir is the project", func(c *Context, project string) { c.Dir = project }, "holds the sources"},
		{"dir above the handler", func(c *Context, project string) { c.Dir = filepath.Dir(project) }, "holds the sources"},
		{"handler missing", func(c *Context, project string) { c.HandlerDir = filepath.Join(project, "nope") }, "not a folder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			project := newProject(t)
			c := Context{Dir: filepath.Join(project, "build", "fn"), ProjectDir: project, HandlerDir: filepath.Join(project, "fn")}
			tt.edit(&c, project)
			err := c.Prepare()
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Prepare error = %v, want one containing %q", err, tt.wantErr)
			}
			if _, err := os.Stat(filepath.Join(project, "fn", "handler.py")); err != nil {
				t.Errorf("sources damaged: %v", err)
			}
		})
	}
}
