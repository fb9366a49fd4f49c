package templates

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func TestScaffold(t *testing.T) {
	tests := []struct {
		name    string
		lang    string
		setup   func(t *testing.T, dir string)
		files   map[string]os.FileMode // file → permission bits expected
		wantErr string
	}{
		{name: "go module", lang: "golang-http", files: map[string]os.FileMode{"handler.go": 0o644, "go.mod": 0o644}},
		{name: "script executable", lang: "bash-streaming", files: map[string]os.FileMode{"handler.sh": 0o755}},
		{name: "python", lang: "python3-http", files: map[string]os.FileMode{"handler.py": 0o644}},
		{name: "dockerfile", lang: "dockerfile", files: map[string]os.FileMode{"Dockerfile": 0o644}},
		{
			name: "empty folder", lang: "node-http", files: map[string]os.FileMode{"handler.js": 0o644},
			setup: func(t *testing.T, dir string) {
				if err := os.Mkdir(dir, 0o755); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "folder not empty", lang: "go", wantErr: "already exists and is not empty",
			setup: func(t *testing.T, dir string) { writeFiles(t, dir, map[string]string{"x": "keep me"}) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tpl, err := Find("", tt.lang)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "fn")
			if tt.setup != nil {
				tt.setup(t, dir)
			}
			err = tpl.Scaffold(dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for name, perm := range tt.files {
				fi, err := os.Stat(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				if got := fi.Mode().Perm() &^ 0o022; got != perm {
					t.Errorf("%s has mode %v, want %v", name, got, perm)
				}
			}
		})
	}
}

func TestScaffoldWithoutHandlerFolder(t *testing.T) {
	tpl := &Template{Language: "x", Source: "test", HandlerFolder: "function", FS: fstest.MapFS{"template.yml": {}}}
	err := tpl.Scaffold(filepath.Join(t.TempDir(), "fn"))
	if err == nil || !strings.Contains(err.Error(), "has no function folder") {
		t.Fatalf("error = %v", err)
	}
}
