package templates

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Scaffold copies the template's handler folder (the starting handler of
// `gofaas new`) into dir, which must not exist or be empty. Executable
// files stay executable; other files get mode 0644 (less the umask).
func (t *Template) Scaffold(dir string) error {
	folder := t.HandlerFolder
	if folder == "" {
		folder = DefaultHandlerFolder
	}
	src, err := fs.Sub(t.FS, folder)
	if err != nil {
		return fmt.Errorf("opening the %s scaffold: %w", t.Language, err)
	}
	if fi, err := fs.Stat(src, "."); err != nil || !fi.IsDir() {
		return fmt.Errorf("template %s (from %s) has no %s folder to start a handler from", t.Language, t.Source, folder)
	}
	if err := checkEmpty(dir); err != nil {
		return err
	}
	if err := os.CopyFS(dir, src); err != nil {
		return fmt.Errorf("writing the %s scaffold: %w", t.Language, err)
	}
	return nil
}

// checkEmpty accepts a dir that does not exist or is an empty folder.
func checkEmpty(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("checking %s: %w", dir, err)
	case len(entries) > 0:
		return fmt.Errorf("%s already exists and is not empty", dir)
	}
	return nil
}
