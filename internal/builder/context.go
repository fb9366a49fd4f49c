package builder

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DefaultHandlerFolder is where a template expects the handler when its
// template.yml names no handler_folder.
const DefaultHandlerFolder = "function"

// Context lays out a faas-cli build context: the folder `docker build` (or
// the local builder) runs in.
type Context struct {
	// Dir is the context folder, normally ./build/<fn>; Prepare deletes and
	// recreates it. It must not hold ProjectDir or HandlerDir.
	Dir string
	// ProjectDir is the folder of the stack file (empty: the current
	// folder); Copy paths are relative to it and must stay inside it.
	ProjectDir string
	// HandlerDir is the function's handler folder.
	HandlerDir string
	// HandlerFolder is the sub-folder of Dir the handler goes to; empty
	// means DefaultHandlerFolder.
	HandlerFolder string
	// Template holds the template's files (template.yml, Dockerfile, the
	// entrypoint program, the function/ scaffold); nil for none.
	Template fs.FS
	// Copy lists the stack's configuration.copy paths.
	Copy []string
	// HandlerAtRoot is set for the dockerfile language: no template, and
	// the handler (and Copy paths) go to Dir itself.
	HandlerAtRoot bool
	// Watchdog is the fwatchdog binary, copied to Dir/fwatchdog where the
	// templates' Dockerfiles COPY it from; empty for none.
	Watchdog string
}

// Prepare recreates Dir and fills it, in this order (later files win):
// the template's files; the handler's entries, except top-level folders
// named build and template, into Dir/<HandlerFolder>/; each Copy path into
// Dir/<HandlerFolder>/<path>; the watchdog as Dir/fwatchdog. File modes are
// kept (made writable by their owner), symlinks are copied as symlinks.
func (c Context) Prepare() error {
	if err := c.check(); err != nil {
		return err
	}
	if err := os.RemoveAll(c.Dir); err != nil {
		return fmt.Errorf("clearing build context: %w", err)
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return fmt.Errorf("creating build context: %w", err)
	}
	fnDir := c.functionDir()
	if c.Template != nil && !c.HandlerAtRoot {
		if err := copyFS(c.Template, c.Dir); err != nil {
			return fmt.Errorf("copying template: %w", err)
		}
	}
	if err := c.copyHandler(fnDir); err != nil {
		return err
	}
	for _, p := range c.Copy {
		if err := c.copyExtra(p, fnDir); err != nil {
			return err
		}
	}
	if c.Watchdog != "" {
		if err := copyFile(c.Watchdog, filepath.Join(c.Dir, "fwatchdog"), 0o755); err != nil {
			return fmt.Errorf("copying fwatchdog: %w", err)
		}
	}
	return nil
}

func (c Context) functionDir() string {
	if c.HandlerAtRoot {
		return c.Dir
	}
	folder := c.HandlerFolder
	if folder == "" {
		folder = DefaultHandlerFolder
	}
	return filepath.Join(c.Dir, folder)
}

// check refuses contexts whose removal would destroy sources.
func (c Context) check() error {
	if c.Dir == "" || c.HandlerDir == "" {
		return errors.New("build context: Dir and HandlerDir must be set")
	}
	dir, err := filepath.Abs(c.Dir)
	if err != nil {
		return fmt.Errorf("resolving build context: %w", err)
	}
	for _, src := range []string{c.ProjectDir, c.HandlerDir} {
		if src == "" {
			continue
		}
		abs, err := filepath.Abs(src)
		if err != nil {
			return fmt.Errorf("resolving %s: %w", src, err)
		}
		if within(dir, abs) {
			return fmt.Errorf("build context %s holds the sources in %s; pick another folder", c.Dir, src)
		}
	}
	if fi, err := os.Stat(c.HandlerDir); err != nil || !fi.IsDir() {
		return fmt.Errorf("handler %s is not a folder", c.HandlerDir)
	}
	return nil
}

// within reports whether p is root or inside it (both absolute and clean).
func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// copyHandler copies the handler's entries into fnDir, skipping the
// build and template folders (faas-cli does the same, so that a handler
// at the project root does not copy itself).
func (c Context) copyHandler(fnDir string) error {
	entries, err := os.ReadDir(c.HandlerDir)
	if err != nil {
		return fmt.Errorf("reading handler: %w", err)
	}
	if err := os.MkdirAll(fnDir, 0o755); err != nil {
		return fmt.Errorf("creating handler folder: %w", err)
	}
	dir, err := filepath.Abs(c.Dir)
	if err != nil {
		return fmt.Errorf("resolving build context: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() && (e.Name() == "build" || e.Name() == "template") {
			continue
		}
		src, err := filepath.Abs(filepath.Join(c.HandlerDir, e.Name()))
		if err != nil {
			return fmt.Errorf("resolving handler: %w", err)
		}
		if within(src, dir) {
			continue // the context itself lives in the handler
		}
		if err := copyTree(src, filepath.Join(fnDir, e.Name())); err != nil {
			return fmt.Errorf("copying handler: %w", err)
		}
	}
	return nil
}

// copyExtra copies one configuration.copy path to fnDir/<p>, refusing
// paths (or symlinks) that lead out of the project.
func (c Context) copyExtra(p, fnDir string) error {
	project, err := filepath.Abs(c.ProjectDir)
	if err != nil {
		return fmt.Errorf("resolving project folder: %w", err)
	}
	clean := filepath.Clean(filepath.FromSlash(p))
	src := filepath.Join(project, clean)
	if filepath.IsAbs(clean) || !within(project, src) || src == project {
		return fmt.Errorf("copy path %q must name something inside the project folder %s", p, c.ProjectDir)
	}
	realProject, err := filepath.EvalSymlinks(project)
	if err != nil {
		return fmt.Errorf("resolving project folder: %w", err)
	}
	realSrc, err := filepath.EvalSymlinks(src)
	if err != nil {
		return fmt.Errorf("copy path %q: %w", p, err)
	}
	if !within(realProject, realSrc) {
		return fmt.Errorf("copy path %q leads out of the project folder %s", p, c.ProjectDir)
	}
	if realDir, err := filepath.EvalSymlinks(c.Dir); err == nil && within(realSrc, realDir) {
		return fmt.Errorf("copy path %q holds the build context %s", p, c.Dir)
	}
	if err := copyTree(src, filepath.Join(fnDir, clean)); err != nil {
		return fmt.Errorf("copying %s: %w", p, err)
	}
	return nil
}

// copyTree copies src (a file, symlink or folder, walked whole) to dst.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch t := d.Type(); {
		case t.IsDir():
			return os.MkdirAll(target, 0o755)
		case t&fs.ModeSymlink != 0:
			return copyLink(p, target)
		case t.IsRegular():
			fi, err := d.Info()
			if err != nil {
				return err
			}
			return copyFile(p, target, fi.Mode().Perm())
		default:
			return fmt.Errorf("%s is a %s; only files, folders and symlinks can be copied", p, t.Type())
		}
	})
}

func copyLink(src, dst string) error {
	link, err := os.Readlink(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	_ = os.Remove(dst) // an earlier layer of the context may hold the name
	return os.Symlink(link, dst)
}

// copyFile copies a host file to dst with mode perm (plus owner write).
func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return writeFile(dst, in, perm)
}

// writeFile writes r to dst, replacing what is there, creating the
// folders above it.
func writeFile(dst string, r io.Reader, perm fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	_ = os.Remove(dst) // may be a read-only file or a symlink from the template
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm|0o200)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// copyFS copies every file of fsys into dst; modes come from fsys (an
// embed.FS reports 0444, which becomes 0644).
func copyFS(fsys fs.FS, dst string) error {
	return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dst, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		fi, err := fs.Stat(fsys, p) // follows symlinks of an os.DirFS
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("template file %s is not a regular file", p)
		}
		f, err := fsys.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return writeFile(target, f, fi.Mode().Perm())
	})
}
