package store

import (
	"encoding/json"
	"io/fs"
	"strings"
	"testing"
)

// entry is the part of a functions.json entry the CLI relies on.
type entry struct {
	Title       string            `json:"title"`
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Images      map[string]string `json:"images"`
	FProcess    string            `json:"fprocess"`
	RepoURL     string            `json:"repo_url"`
	Gofaas      struct {
		Lang    string `json:"lang"`
		Handler string `json:"handler"`
	} `json:"gofaas"`
}

// handlerFiles names, per template, a file every handler of it must have.
var handlerFiles = map[string]string{
	"golang-http":    "go.mod",
	"go":             "go.mod",
	"python3-http":   "handler.py",
	"bash-streaming": "handler.sh",
}

func loadFunctions(t *testing.T) []entry {
	t.Helper()
	var doc struct {
		Version   string  `json:"version"`
		Functions []entry `json:"functions"`
	}
	if err := json.Unmarshal(Functions(), &doc); err != nil {
		t.Fatalf("functions.json: %v", err)
	}
	if doc.Version != "0.2.1" {
		t.Errorf("version = %q, want 0.2.1", doc.Version)
	}
	return doc.Functions
}

func TestFunctionsJSON(t *testing.T) {
	fns := loadFunctions(t)
	var names []string
	for _, fn := range fns {
		names = append(names, fn.Name)
		if fn.Title == "" || fn.Description == "" || fn.FProcess == "" || fn.RepoURL == "" {
			t.Errorf("%s: title, description, fprocess and repo_url must be set: %+v", fn.Name, fn)
		}
		if got, want := fn.Images["x86_64"], fn.Name+":latest"; got != want {
			t.Errorf("%s: images.x86_64 = %q, want %q", fn.Name, got, want)
		}
		want, ok := handlerFiles[fn.Gofaas.Lang]
		if !ok {
			t.Errorf("%s: gofaas.lang %q is not a template the store uses", fn.Name, fn.Gofaas.Lang)
			continue
		}
		h, err := Handler(fn.Gofaas.Handler)
		if err != nil {
			t.Fatalf("%s: %v", fn.Name, err)
		}
		if _, err := fs.Stat(h, want); err != nil {
			t.Errorf("%s: handler %s lacks %s: %v", fn.Name, fn.Gofaas.Handler, want, err)
		}
	}
	if got := strings.Join(names, ","); got != "echo,sha512sum,banner,markdown,env" {
		t.Errorf("functions = %s", got)
	}
}

func TestHandler(t *testing.T) {
	tests := []struct {
		name    string
		handler string
		file    string
		mode    fs.FileMode
		wantErr bool
	}{
		{name: "go.mod shown under its real name", handler: "echo", file: "go.mod", mode: 0o644},
		{name: "go source", handler: "banner", file: "font.go", mode: 0o644},
		{name: "script executable", handler: "env", file: "handler.sh", mode: 0o755},
		{name: "unknown", handler: "nope", wantErr: true},
		{name: "not a folder", handler: "functions.json", wantErr: true},
		{name: "escape", handler: "../store", wantErr: true},
		{name: "nested", handler: "echo/x", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := Handler(tt.handler)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Handler(%q) = nil error", tt.handler)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			fi, err := fs.Stat(h, tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != tt.mode {
				t.Errorf("mode of %s = %v, want %v", tt.file, fi.Mode().Perm(), tt.mode)
			}
			if _, err := fs.Stat(h, tt.file+storedSuffix); err == nil {
				t.Errorf("%s is also shown under its stored name", tt.file)
			}
		})
	}
}
