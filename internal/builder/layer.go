package builder

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Ownership and modes of layer entries. Every entry belongs to root (uid and
// gid 0) and is readable by everyone, so whichever user a runtime picks can
// read and run the function. Permission bits are reduced to what matters
// and what survives a checkout on another machine whatever its umask:
// folders get 0755, files 0755 when their owner may execute them and 0644
// otherwise.
const (
	modeDir  = 0o755
	modeExec = 0o755
	modeFile = 0o644
	modeLink = 0o777
)

// ErrContextChanged is returned while reading a layer whose source files
// changed after the image was built: its digest no longer matches.
var ErrContextChanged = errors.New("build context changed since the image was built; build it again")

// entry is one member of a layer tar.
type entry struct {
	name string // path in the image, relative, no trailing slash
	kind byte   // tar.TypeReg, tar.TypeDir or tar.TypeSymlink
	mode int64
	src  string // host file of a regular entry, read when data is nil
	data []byte // content of a regular entry
	link string // target of a symlink
	size int64  // size of a regular entry when listed (for progress)
}

// fileLayer is a reproducible gzip'd tar layer streamed from its entries:
// its digests are computed once when it is made, and every later read
// regenerates the same bytes from the sources (checking they still match).
type fileLayer struct {
	entries        []entry
	digest, diffID v1.Hash
	size           int64
}

var _ v1.Layer = (*fileLayer)(nil)

// newFileLayer sorts entries (the first of several with one name wins) and
// computes the layer's digests in one pass. count, when not nil, is told
// how many content bytes were read.
func newFileLayer(entries []entry, count func(int64)) (*fileLayer, error) {
	entries = slices.Clone(entries)
	slices.SortStableFunc(entries, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	entries = slices.CompactFunc(entries, func(a, b entry) bool { return a.name == b.name })
	l := &fileLayer{entries: entries}
	diff, dig, n := sha256.New(), sha256.New(), &countWriter{}
	zw, err := gzip.NewWriterLevel(io.MultiWriter(dig, n), gzip.BestSpeed)
	if err != nil {
		return nil, fmt.Errorf("starting compression: %w", err)
	}
	if err := writeTar(io.MultiWriter(diff, zw), entries, count); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compressing layer: %w", err)
	}
	l.diffID, l.digest, l.size = sumOf(diff), sumOf(dig), n.n
	return l, nil
}

func sumOf(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", h.Sum(nil))}
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

func (l *fileLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *fileLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *fileLayer) Size() (int64, error)                { return l.size, nil }
func (l *fileLayer) MediaType() (types.MediaType, error) { return types.OCILayer, nil }

// Uncompressed streams the layer tar.
func (l *fileLayer) Uncompressed() (io.ReadCloser, error) {
	return l.stream(false), nil
}

// Compressed streams the gzip'd layer tar.
func (l *fileLayer) Compressed() (io.ReadCloser, error) {
	return l.stream(true), nil
}

// stream writes the layer into a pipe from a goroutine that ends when the
// reader is closed or everything is written. The stream fails with
// ErrContextChanged when its bytes don't match the digest.
func (l *fileLayer) stream(compressed bool) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		h := sha256.New()
		var out io.Writer = io.MultiWriter(pw, h)
		want := l.diffID
		var zw *gzip.Writer
		if compressed {
			zw, _ = gzip.NewWriterLevel(out, gzip.BestSpeed) // the level is valid
			out, want = zw, l.digest
		}
		err := writeTar(out, l.entries, nil)
		if err == nil && zw != nil {
			err = zw.Close()
		}
		if err == nil && sumOf(h) != want {
			err = ErrContextChanged
		}
		pw.CloseWithError(err)
	}()
	return pr
}

// writeTar writes entries (sorted by name), each preceded by the folders
// above it that no entry names, as a tar with fixed times and owners.
func writeTar(w io.Writer, entries []entry, count func(int64)) error {
	tw := tar.NewWriter(w)
	done := map[string]bool{}
	for _, e := range entries {
		if err := writeParents(tw, done, path.Dir(e.name)); err != nil {
			return err
		}
		if e.kind == tar.TypeDir {
			if err := writeParents(tw, done, e.name); err != nil {
				return err
			}
			continue
		}
		if err := writeEntry(tw, e, count); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("closing layer: %w", err)
	}
	return nil
}

func writeParents(tw *tar.Writer, done map[string]bool, dir string) error {
	if dir == "." || dir == "/" || dir == "" || done[dir] {
		return nil
	}
	if err := writeParents(tw, done, path.Dir(dir)); err != nil {
		return err
	}
	done[dir] = true
	if err := tw.WriteHeader(header(dir+"/", tar.TypeDir, modeDir, 0)); err != nil {
		return fmt.Errorf("writing folder %s: %w", dir, err)
	}
	return nil
}

func header(name string, kind byte, mode, size int64) *tar.Header {
	return &tar.Header{Typeflag: kind, Name: name, Mode: mode, Size: size, ModTime: epoch, Format: tar.FormatPAX}
}

// writeEntry writes a regular file or a symlink.
func writeEntry(tw *tar.Writer, e entry, count func(int64)) error {
	if e.kind == tar.TypeSymlink {
		h := header(e.name, tar.TypeSymlink, modeLink, 0)
		h.Linkname = e.link
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("writing %s: %w", e.name, err)
		}
		return nil
	}
	if e.data != nil {
		if err := tw.WriteHeader(header(e.name, tar.TypeReg, e.mode, int64(len(e.data)))); err != nil {
			return fmt.Errorf("writing %s: %w", e.name, err)
		}
		_, err := tw.Write(e.data)
		if err == nil && count != nil {
			count(int64(len(e.data)))
		}
		return err
	}
	return copyFileEntry(tw, e, count)
}

// copyFileEntry copies the host file of e into the tar.
func copyFileEntry(tw *tar.Writer, e entry, count func(int64)) error {
	f, err := os.Open(e.src)
	if err != nil {
		return fmt.Errorf("reading %s: %w", e.src, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("reading %s: %w", e.src, err)
	}
	if err := tw.WriteHeader(header(e.name, tar.TypeReg, e.mode, fi.Size())); err != nil {
		return fmt.Errorf("writing %s: %w", e.name, err)
	}
	var r io.Reader = f
	if count != nil {
		r = &countReader{r: f, count: count}
	}
	if _, err := io.CopyN(tw, r, fi.Size()); err != nil {
		return fmt.Errorf("copying %s: %w", e.src, err)
	}
	return nil
}

type countReader struct {
	r     io.Reader
	count func(int64)
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.count(int64(n))
	return n, err
}

// fileMode reduces host permission bits to the two modes files get.
func fileMode(m fs.FileMode) int64 {
	if m&0o100 != 0 {
		return modeExec
	}
	return modeFile
}

// treeEntries lists src (a file, folder or symlink on the host) as entries
// named under dst in the image; folders are walked whole.
func treeEntries(src, dst string) ([]entry, error) {
	var out []entry
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		name := path.Join(dst, filepath.ToSlash(rel))
		e, err := hostEntry(p, name, d)
		if err != nil {
			return err
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", src, err)
	}
	return out, nil
}

// hostEntry describes one host file system object as a layer entry.
func hostEntry(p, name string, d fs.DirEntry) (entry, error) {
	switch t := d.Type(); {
	case t.IsDir():
		return entry{name: name, kind: tar.TypeDir, mode: modeDir}, nil
	case t&fs.ModeSymlink != 0:
		link, err := os.Readlink(p)
		if err != nil {
			return entry{}, err
		}
		return entry{name: name, kind: tar.TypeSymlink, link: link}, nil
	case t.IsRegular():
		fi, err := d.Info()
		if err != nil {
			return entry{}, err
		}
		return entry{name: name, kind: tar.TypeReg, mode: fileMode(fi.Mode()), src: p, size: fi.Size()}, nil
	default:
		return entry{}, fmt.Errorf("%s is a %s; only files, folders and symlinks can go in an image", p, t.Type())
	}
}

// contentSize sums the sizes of the regular entries.
func contentSize(entries []entry) int64 {
	var n int64
	for _, e := range entries {
		if e.data != nil {
			n += int64(len(e.data))
		} else {
			n += e.size
		}
	}
	return n
}
