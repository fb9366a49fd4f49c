package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ErrImageNotFound is wrapped when neither the embedded registry nor the
// image's own registry has the image.
var ErrImageNotFound = errors.New("image not found")

// Cache layout under its directory:
//
//	<hex>/rootfs        the unpacked root file system of manifest sha256:<hex>
//	<hex>/config.json   the image config (Entrypoint, Cmd, Env, WorkingDir, User, ...)
//	refs/<sha256(ref)>  {"ref": ..., "digest": ...}: what a reference last resolved to
//	tmp/                unpacks in progress, renamed into place; emptied by NewCache
const (
	cacheRefs = "refs"
	cacheTmp  = "tmp"
)

// Cache pulls images and unpacks each manifest digest once into a
// content-addressed directory. It is safe for concurrent use.
type Cache struct {
	dir      string
	local    *Registry
	log      *slog.Logger
	platform v1.Platform

	// transport, when set, carries every remote registry request (tests).
	transport http.RoundTripper
	keychain  authn.Keychain

	mu       sync.Mutex
	inflight map[string]*flight // unpacks in progress, by manifest hex digest
}

// flight is one unpack shared by concurrent callers.
type flight struct {
	done chan struct{}
	img  Image
	err  error
}

// NewCache returns a cache stored in dir that looks images up in local
// first (local may be nil). Unpacks interrupted by an earlier crash are
// removed.
func NewCache(dir string, local *Registry, log *slog.Logger) *Cache {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if err := os.RemoveAll(filepath.Join(dir, cacheTmp)); err != nil {
		log.Warn("removing interrupted unpacks", "error", err)
	}
	return &Cache{
		dir:      dir,
		local:    local,
		log:      log,
		platform: v1.Platform{OS: "linux", Architecture: runtime.GOARCH},
		keychain: authn.DefaultKeychain,
		inflight: make(map[string]*flight),
	}
}

// source is an image found in a registry, not yet unpacked.
type source struct {
	img    v1.Image
	digest v1.Hash
	from   string // where it was found, for logs
}

// Unpack returns the unpacked image for ref, pulling it first if needed.
//
// Lookup order: the embedded registry under the reference's repository path
// (as written after the registry host, e.g. "functions/alpine", then the
// canonical Docker form, e.g. "library/alpine" for "alpine"), then the named
// remote registry with credentials from the Docker config keychain (plain
// HTTP for localhost, 127.0.0.1 and ::1). Each manifest digest is unpacked
// once; concurrent calls for the same image share one unpack. If the remote
// cannot be reached but ref was unpacked before, the cached image is used.
func (c *Cache) Unpack(ctx context.Context, ref string) (Image, error) {
	r, err := parseReference(ref)
	if err != nil {
		return Image{}, fmt.Errorf("image reference %q is not valid: %w", ref, err)
	}
	if _, isDigest := r.(name.Digest); isDigest {
		if img, ok := c.cachedRef(r); ok {
			return withRef(img, ref), nil
		}
	}
	src, err := c.find(ctx, ref, r)
	if err != nil {
		img, ok := c.cachedRef(r)
		if !ok || !unreachable(err) || ctx.Err() != nil {
			return Image{}, err
		}
		c.log.Warn("registry unreachable; using the image unpacked before", "image", ref, "digest", img.Digest, "error", err)
		return withRef(img, ref), nil
	}
	img, err := c.ensure(ctx, ref, src)
	if err != nil {
		return Image{}, err
	}
	if err := c.saveRef(r, img.Digest); err != nil {
		c.log.Warn("recording image reference", "image", ref, "error", err)
	}
	return withRef(img, ref), nil
}

func withRef(img Image, ref string) Image {
	img.Ref = ref
	return img
}

// parseReference parses ref, allowing plain HTTP for loopback registries.
func parseReference(ref string) (name.Reference, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	if isLoopback(r.Context().RegistryStr()) {
		return name.ParseReference(ref, name.Insecure)
	}
	return r, nil
}

// ensure returns the unpacked image of src, unpacking it unless it is
// already on disk or being unpacked by another caller.
func (c *Cache) ensure(ctx context.Context, ref string, src source) (Image, error) {
	for {
		if img, err := c.load(src.digest.Hex); err == nil {
			return img, nil
		}
		c.mu.Lock()
		f, running := c.inflight[src.digest.Hex]
		if !running {
			f = &flight{done: make(chan struct{})}
			c.inflight[src.digest.Hex] = f
		}
		c.mu.Unlock()
		if !running {
			f.img, f.err = c.unpackOnce(ctx, ref, src)
			c.mu.Lock()
			delete(c.inflight, src.digest.Hex)
			c.mu.Unlock()
			close(f.done)
			return f.img, f.err
		}
		select {
		case <-ctx.Done():
			return Image{}, ctx.Err()
		case <-f.done:
		}
		// The other caller's context may have ended its unpack; if it did
		// not succeed for a reason of its own, try again ourselves.
		if f.err == nil || !errors.Is(f.err, context.Canceled) && !errors.Is(f.err, context.DeadlineExceeded) {
			return f.img, f.err
		}
	}
}

// unpackOnce unpacks src into a temp directory and renames it into place.
func (c *Cache) unpackOnce(ctx context.Context, ref string, src source) (Image, error) {
	start := time.Now()
	tmpRoot := filepath.Join(c.dir, cacheTmp)
	if err := os.MkdirAll(tmpRoot, 0o755); err != nil {
		return Image{}, fmt.Errorf("creating image cache: %w", err)
	}
	tmp, err := os.MkdirTemp(tmpRoot, src.digest.Hex+"-")
	if err != nil {
		return Image{}, fmt.Errorf("creating image cache: %w", err)
	}
	defer os.RemoveAll(tmp) // no-op once renamed
	if err := c.unpackInto(ctx, tmp, src); err != nil {
		return Image{}, fmt.Errorf("unpacking image %q (%s): %w", ref, src.digest, err)
	}
	final := filepath.Join(c.dir, src.digest.Hex)
	if err := os.Rename(tmp, final); err != nil {
		if img, lerr := c.load(src.digest.Hex); lerr == nil {
			return img, nil // another process got there first
		}
		return Image{}, fmt.Errorf("storing unpacked image: %w", err)
	}
	if err := syncDir(c.dir); err != nil {
		return Image{}, err
	}
	c.log.Info("image unpacked", "image", ref, "digest", src.digest.String(), "from", src.from, "duration", time.Since(start))
	return c.load(src.digest.Hex)
}

// unpackInto writes the image's root file system and config under dir.
func (c *Cache) unpackInto(ctx context.Context, dir string, src source) error {
	cfg, err := src.img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("reading image config: %w", err)
	}
	if _, err := v1.ParseConfigFile(bytes.NewReader(cfg)); err != nil {
		return fmt.Errorf("parsing image config: %w", err)
	}
	layers, err := src.img.Layers()
	if err != nil {
		return fmt.Errorf("listing layers: %w", err)
	}
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		return fmt.Errorf("creating root file system: %w", err)
	}
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return fmt.Errorf("opening root file system: %w", err)
	}
	defer root.Close()
	u := newUnpacker(root, c.log)
	for i, l := range layers {
		if err := applyLayer(ctx, u, l); err != nil {
			return fmt.Errorf("layer %d of %d: %w", i+1, len(layers), err)
		}
	}
	if err := u.finish(); err != nil {
		return err
	}
	return writeSynced(filepath.Join(dir, "config.json"), cfg)
}

func applyLayer(ctx context.Context, u *unpacker, l v1.Layer) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return fmt.Errorf("opening layer: %w", err)
	}
	defer rc.Close()
	if err := u.layer(ctx, rc); err != nil {
		return err
	}
	// Read to the end so the compressed stream's digest is checked even
	// when the tar archive ends before it.
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return fmt.Errorf("verifying layer: %w", err)
	}
	return nil
}

// load returns the image unpacked under hex, if it is complete.
func (c *Cache) load(hex string) (Image, error) {
	dir := filepath.Join(c.dir, hex)
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return Image{}, err
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(b))
	if err != nil {
		return Image{}, fmt.Errorf("parsing cached image config: %w", err)
	}
	return Image{
		Digest:     "sha256:" + hex,
		Root:       filepath.Join(dir, "rootfs"),
		Entrypoint: cf.Config.Entrypoint,
		Cmd:        cf.Config.Cmd,
		Env:        cf.Config.Env,
		WorkingDir: cf.Config.WorkingDir,
		User:       cf.Config.User,
	}, nil
}

// refRecord is what the ref index stores for one reference.
type refRecord struct {
	Ref    string `json:"ref"`
	Digest string `json:"digest"`
}

func (c *Cache) refPath(r name.Reference) string {
	sum := sha256.Sum256([]byte(r.Name()))
	return filepath.Join(c.dir, cacheRefs, hex.EncodeToString(sum[:]))
}

// saveRef records that r resolved to digest.
func (c *Cache) saveRef(r name.Reference, digest string) error {
	b, err := json.Marshal(refRecord{Ref: r.Name(), Digest: digest})
	if err != nil {
		return err
	}
	path := c.refPath(r)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // no-op once renamed
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// cachedRef returns the image r resolved to last time, if still unpacked.
func (c *Cache) cachedRef(r name.Reference) (Image, bool) {
	b, err := os.ReadFile(c.refPath(r))
	if err != nil {
		return Image{}, false
	}
	var rec refRecord
	if json.Unmarshal(b, &rec) != nil || rec.Ref != r.Name() {
		return Image{}, false
	}
	h, err := parseDigest(rec.Digest)
	if err != nil {
		return Image{}, false
	}
	img, err := c.load(h)
	return img, err == nil
}

// writeSynced writes data to path and fsyncs it.
func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
