// Package store holds the built-in function store of gofaas:
// functions.json in the OpenFaaS store format v2 (each entry with an extra
// "gofaas" field naming its template and handler folder) and the handler
// source of every function, in a folder named after it, laid out like the
// function/ scaffold of its template. `gofaas store` builds a function
// from these sources when the registry does not have its image.
//
// It imports only the standard library.
package store

import (
	"embed"
	"fmt"
	"io/fs"
	"strings"
	"testing/fstest"
)

// storedSuffix marks files stored under another name: a handler's go.mod
// is kept as go.mod.embed, because a folder holding a go.mod would be a
// module of its own, which go:embed refuses.
const storedSuffix = ".embed"

// Files holds functions.json and one folder of handler sources per
// function, as stored (go.mod files as go.mod.embed; Handler shows them
// under their real names).
//
//go:embed functions.json echo sha512sum banner markdown env
var Files embed.FS

// Functions returns functions.json.
func Functions() []byte {
	data, err := Files.ReadFile("functions.json")
	if err != nil {
		panic("store: functions.json is not embedded: " + err.Error())
	}
	return data
}

// Handler returns the handler folder of the function stored under the
// folder name handler (the "handler" of its "gofaas" field), with every
// file under its real name; shell scripts are executable.
func Handler(handler string) (fs.FS, error) {
	if !fs.ValidPath(handler) || handler == "." || strings.Contains(handler, "/") || handler == "functions.json" {
		return nil, fmt.Errorf("no store handler named %q", handler)
	}
	sub, err := fs.Sub(Files, handler)
	if err != nil {
		return nil, fmt.Errorf("opening store handler %s: %w", handler, err)
	}
	out := fstest.MapFS{}
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if strings.HasSuffix(p, ".sh") {
			mode = 0o755
		}
		out[strings.TrimSuffix(p, storedSuffix)] = &fstest.MapFile{Data: data, Mode: mode}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("no store handler named %q: %w", handler, err)
	}
	return out, nil
}
