package builder

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzCopyPath checks that no configuration.copy path, however written,
// brings a file from outside the project into the build context or
// touches anything outside the context.
func FuzzCopyPath(f *testing.F) {
	for _, seed := range []string{
		"common", "./VERSION", "../outside-secret.txt", "common/../../outside-secret.txt",
		"/etc/passwd", "escape", "build", "build/fn", "escape/../VERSION", ".", "", "..", "common//deep/./more.py", `..\outside-secret.txt`,
	} {
		f.Add(seed)
	}
	root := f.TempDir()
	project := filepath.Join(root, "project")
	if err := os.MkdirAll(filepath.Join(project, "fn"), 0o755); err != nil {
		f.Fatal(err)
	}
	files := map[string]string{
		"fn/handler.py": "h", "common/util.py": "u", "common/deep/more.py": "m", "VERSION": "1",
	}
	for name, data := range files {
		p := filepath.Join(project, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	secret := filepath.Join(root, "outside-secret.txt")
	if err := os.WriteFile(secret, []byte("not in the project"), 0o644); err != nil {
		f.Fatal(err)
	}
	if err := os.Symlink("../outside-secret.txt", filepath.Join(project, "escape")); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, p string) {
		c := Context{Dir: filepath.Join(project, "build", "fn"), ProjectDir: project,
			HandlerDir: filepath.Join(project, "fn"), Copy: []string{p}}
		_ = c.Prepare() // refusing is fine; leaking is not
		if data, err := os.ReadFile(secret); err != nil || string(data) != "not in the project" {
			t.Fatalf("copy path %q damaged the file outside: %v", p, err)
		}
		_ = filepath.WalkDir(c.Dir, func(q string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			if data, _ := os.ReadFile(q); strings.Contains(string(data), "not in the project") {
				t.Fatalf("copy path %q brought the outside file in as %s", p, q)
			}
			return nil
		})
	})
}
