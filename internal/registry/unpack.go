package registry

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"slices"
	"strings"
)

// OCI layer whiteout markers.
const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// fileModeBits are the mode bits an unpacked entry keeps.
const fileModeBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// sanitizePath turns a tar entry name into a clean path relative to the
// image root. It refuses absolute names, names with a ".." element and names
// with NUL bytes; it returns "" for the root itself ("./", ".").
func sanitizePath(name string) (string, error) {
	switch {
	case strings.IndexByte(name, 0) >= 0:
		return "", fmt.Errorf("path %q contains a NUL byte", name)
	case strings.HasPrefix(name, "/"):
		return "", fmt.Errorf("path %q is absolute", name)
	}
	for elem := range strings.SplitSeq(name, "/") {
		if elem == ".." {
			return "", fmt.Errorf("path %q leaves the image root", name)
		}
	}
	p := path.Clean(name)
	if p == "." {
		return "", nil
	}
	return p, nil
}

// explainEscape adds a plain explanation to os.Root's refusal to follow a
// symlink out of the root.
func explainEscape(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Err.Error() == "path escapes from parent" {
		return fmt.Errorf("refusing to write outside the image root through a symlink: %w", err)
	}
	return err
}

// unpacker applies layers, in order, to one root file system.
type unpacker struct {
	root  *os.Root
	chown bool
	log   *slog.Logger
	// dirModes holds the final mode of every directory; they are applied
	// once all layers are in, so a read-only directory does not stop a later
	// layer from writing into it.
	dirModes map[string]fs.FileMode
}

func newUnpacker(root *os.Root, log *slog.Logger) *unpacker {
	return &unpacker{root: root, chown: os.Geteuid() == 0, log: log, dirModes: make(map[string]fs.FileMode)}
}

// layer applies one uncompressed layer tar stream.
func (u *unpacker) layer(ctx context.Context, r io.Reader) error {
	tr := tar.NewReader(r)
	written := make(map[string]bool) // paths this layer created; opaque markers keep them
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading layer: %w", err)
		}
		if err := u.entry(hdr, tr, written); err != nil {
			return fmt.Errorf("entry %q: %w", hdr.Name, explainEscape(err))
		}
	}
}

// entry applies one tar entry: a whiteout or a file system object.
func (u *unpacker) entry(hdr *tar.Header, r io.Reader, written map[string]bool) error {
	p, err := sanitizePath(hdr.Name)
	if err != nil || p == "" {
		return err
	}
	dir, base := path.Split(p)
	switch {
	case base == whiteoutOpaque:
		return u.clearDir(path.Clean("./"+dir), written)
	case strings.HasPrefix(base, whiteoutPrefix):
		target, err := sanitizePath(dir + strings.TrimPrefix(base, whiteoutPrefix))
		if err != nil || target == "" || path.Base(target) != strings.TrimPrefix(base, whiteoutPrefix) {
			return fmt.Errorf("bad whiteout %q", hdr.Name)
		}
		return u.root.RemoveAll(target)
	}
	if err := u.object(hdr, p, r); err != nil {
		return err
	}
	written[p] = true
	return nil
}

// object creates a directory, file, symlink or hard link at p.
func (u *unpacker) object(hdr *tar.Header, p string, r io.Reader) error {
	if parent := path.Dir(p); parent != "." {
		if err := u.root.MkdirAll(parent, 0o755); err != nil {
			return fmt.Errorf("creating parent directory: %w", err)
		}
	}
	mode := hdr.FileInfo().Mode() & fileModeBits
	switch hdr.Typeflag {
	case tar.TypeDir:
		return u.dir(p, mode, hdr)
	case tar.TypeReg, tar.TypeGNUSparse:
		return u.file(p, mode, hdr, r)
	case tar.TypeSymlink:
		if err := u.replace(p); err != nil {
			return err
		}
		if err := u.root.Symlink(hdr.Linkname, p); err != nil {
			return fmt.Errorf("creating symlink: %w", err)
		}
		return u.owner(p, hdr)
	case tar.TypeLink:
		return u.hardlink(p, hdr)
	default:
		u.log.Debug("skipping layer entry", "path", p, "type", string(hdr.Typeflag))
		return nil
	}
}

// replace removes whatever is at p so a new object can take its place.
func (u *unpacker) replace(p string) error {
	if _, err := u.root.Lstat(p); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("inspecting existing path: %w", err)
	}
	if err := u.root.RemoveAll(p); err != nil {
		return fmt.Errorf("replacing existing path: %w", err)
	}
	return nil
}

func (u *unpacker) dir(p string, mode fs.FileMode, hdr *tar.Header) error {
	fi, err := u.root.Lstat(p)
	if err != nil || !fi.IsDir() {
		if err := u.replace(p); err != nil {
			return err
		}
		if err := u.root.Mkdir(p, 0o755); err != nil {
			return fmt.Errorf("creating directory: %w", err)
		}
	}
	u.dirModes[p] = mode
	return u.owner(p, hdr)
}

func (u *unpacker) file(p string, mode fs.FileMode, hdr *tar.Header, r io.Reader) error {
	if err := u.replace(p); err != nil {
		return err
	}
	f, err := u.root.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("creating file: %w", err)
	}
	_, err = io.Copy(f, r)
	if err == nil && u.chown {
		err = f.Chown(hdr.Uid, hdr.Gid) // before Chmod: chown clears set-id bits
	}
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing file: %w", err)
	}
	if err := u.root.Chtimes(p, hdr.ModTime, hdr.ModTime); err != nil {
		return fmt.Errorf("setting file times: %w", err)
	}
	return nil
}

func (u *unpacker) hardlink(p string, hdr *tar.Header) error {
	target, err := sanitizePath(hdr.Linkname)
	if err != nil {
		return fmt.Errorf("hard link target: %w", err)
	}
	if target == "" || target == p {
		return fmt.Errorf("hard link target %q is not valid", hdr.Linkname)
	}
	if err := u.replace(p); err != nil {
		return err
	}
	if err := u.root.Link(target, p); err != nil {
		return fmt.Errorf("creating hard link: %w", err)
	}
	return nil
}

// owner sets the entry's owner when running as root.
func (u *unpacker) owner(p string, hdr *tar.Header) error {
	if !u.chown {
		return nil
	}
	if err := u.root.Lchown(p, hdr.Uid, hdr.Gid); err != nil {
		return fmt.Errorf("setting owner: %w", err)
	}
	return nil
}

// clearDir applies an opaque whiteout: everything in dir that lower layers
// put there goes; what this layer wrote stays.
func (u *unpacker) clearDir(dir string, written map[string]bool) error {
	f, err := u.root.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("opening opaque directory: %w", err)
	}
	ents, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return fmt.Errorf("reading opaque directory: %w", err)
	}
	for _, e := range ents {
		p := path.Join(dir, e.Name())
		switch {
		case !written[p]:
			if err := u.root.RemoveAll(p); err != nil {
				return fmt.Errorf("clearing opaque directory: %w", err)
			}
		case e.IsDir():
			if err := u.clearDir(p, written); err != nil {
				return err
			}
		}
	}
	return nil
}

// finish applies the directory modes, deepest first.
func (u *unpacker) finish() error {
	dirs := make([]string, 0, len(u.dirModes))
	for p := range u.dirModes {
		dirs = append(dirs, p)
	}
	slices.SortFunc(dirs, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	for _, p := range dirs {
		if fi, err := u.root.Lstat(p); err != nil || !fi.IsDir() {
			continue // replaced or removed by a later layer
		}
		if err := u.root.Chmod(p, u.dirModes[p]); err != nil {
			return fmt.Errorf("setting mode of %s: %w", p, err)
		}
	}
	return nil
}
