package templates

import (
	"io/fs"
	"path"
	"strings"
)

// storedSuffix marks embedded files stored under another name: go.mod and
// Go sources are kept as go.mod.embed and main.go.embed, because a folder
// holding a go.mod would be a module of its own (which go:embed refuses)
// and Go sources importing the handler module would break `go build ./...`
// of this repository.
const storedSuffix = ".embed"

// unembedFS shows an embedded tree as the template author wrote it: names
// without storedSuffix, and shell scripts (*.sh) executable, since embedded
// files carry no mode bits.
type unembedFS struct{ fsys fs.FS }

func (u unembedFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) || strings.HasSuffix(name, storedSuffix) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	f, err := u.fsys.Open(name + storedSuffix)
	if err != nil {
		f, err = u.fsys.Open(name)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return unembedFile{File: f, name: path.Base(name)}, nil
}

// unembedFile is an open file or folder under its shown name.
type unembedFile struct {
	fs.File
	name string
}

func (f unembedFile) Stat() (fs.FileInfo, error) {
	fi, err := f.File.Stat()
	if err != nil {
		return nil, err
	}
	return unembedInfo{FileInfo: fi, name: f.name}, nil
}

func (f unembedFile) ReadDir(n int) ([]fs.DirEntry, error) {
	d, ok := f.File.(fs.ReadDirFile)
	if !ok {
		return nil, &fs.PathError{Op: "readdir", Path: f.name, Err: fs.ErrInvalid}
	}
	entries, err := d.ReadDir(n)
	for i, e := range entries {
		entries[i] = unembedEntry{e}
	}
	return entries, err
}

type unembedEntry struct{ fs.DirEntry }

func (e unembedEntry) Name() string { return shownName(e.DirEntry.Name()) }

func (e unembedEntry) Info() (fs.FileInfo, error) {
	fi, err := e.DirEntry.Info()
	if err != nil {
		return nil, err
	}
	return unembedInfo{FileInfo: fi, name: e.Name()}, nil
}

type unembedInfo struct {
	fs.FileInfo
	name string
}

func (i unembedInfo) Name() string { return i.name }

func (i unembedInfo) Mode() fs.FileMode {
	m := i.FileInfo.Mode()
	if m.IsRegular() && strings.HasSuffix(i.name, ".sh") {
		m |= 0o555
	}
	return m
}

func shownName(stored string) string {
	return strings.TrimSuffix(stored, storedSuffix)
}
