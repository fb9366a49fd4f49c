package registry

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// entry is one tar entry of a test layer.
type entry struct {
	name string
	typ  byte
	body string
	mode int64
	link string
}

func dirE(name string, mode int64) entry { return entry{name: name, typ: tar.TypeDir, mode: mode} }
func fileE(name, body string, mode int64) entry {
	return entry{name: name, typ: tar.TypeReg, body: body, mode: mode}
}
func symE(name, target string) entry {
	return entry{name: name, typ: tar.TypeSymlink, link: target, mode: 0o777}
}
func hardE(name, target string) entry {
	return entry{name: name, typ: tar.TypeLink, link: target, mode: 0o644}
}

func tarOf(t *testing.T, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, Size: int64(len(e.body)),
			Uid: os.Getuid(), Gid: os.Getgid(), Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("tar header %s: %v", e.name, err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// gzipLayer is a gzip-compressed OCI layer.
func gzipLayer(t *testing.T, entries ...entry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(tarOf(t, entries))
	zw.Close()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(buf.Bytes())), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// plainLayer is an uncompressed OCI layer.
func plainLayer(t *testing.T, entries ...entry) v1.Layer {
	t.Helper()
	return static.NewLayer(tarOf(t, entries), types.OCIUncompressedLayer)
}

func imageOf(t *testing.T, cfg v1.Config, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layers...)
	if err != nil {
		t.Fatal(err)
	}
	if img, err = mutate.Config(img, cfg); err != nil {
		t.Fatal(err)
	}
	return img
}

func push(t *testing.T, host, repoTag string, img v1.Image) v1.Hash {
	t.Helper()
	if err := remote.Write(mustRef(t, host+"/"+repoTag), img, remote.WithContext(t.Context())); err != nil {
		t.Fatalf("pushing %s: %v", repoTag, err)
	}
	return digestOf(t, img)
}

// failTransport fails the test if the cache talks to a remote registry.
type failTransport struct{ t *testing.T }

func (f failTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.t.Errorf("unexpected remote registry request: %s %s", r.Method, r.URL)
	return nil, errors.New("remote registry disabled in this test")
}

// newLocal returns a cache whose local registry is served on 127.0.0.1;
// pushes go to the returned host, the remote registry is disabled.
func newLocal(t *testing.T) (*Cache, string) {
	t.Helper()
	reg, _, host := newServer(t, t.TempDir())
	c := NewCache(t.TempDir(), reg, testLogger(t))
	c.transport = failTransport{t}
	c.keychain = authn.NewMultiKeychain()
	return c, host
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("reading %s: %v", p, err)
	}
	return string(b)
}

func mode(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatalf("lstat %s: %v", p, err)
	}
	return fi.Mode()
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func TestUnpackLayers(t *testing.T) {
	t.Parallel()
	c, host := newLocal(t)
	l1 := gzipLayer(t,
		dirE("./", 0o755),
		dirE("etc/", 0o755), fileE("etc/keep", "v1", 0o644), fileE("etc/gone", "x", 0o644),
		dirE("etc/private/", 0o750),
		fileE("bin/tool", "#!/bin/sh\necho tool\n", 0o755), // parent created implicitly
		hardE("bin/tool2", "bin/tool"),
		symE("bin/sh", "tool"),
		fileE("bin/su", "su", 0o4755),
		dirE("opq/", 0o755), fileE("opq/old", "old", 0o644), dirE("opq/sub/", 0o755), fileE("opq/sub/old2", "old", 0o644),
		dirE("swap/", 0o755), fileE("swap/inner", "x", 0o644),
		symE("usr/lib64", "/usr/lib"),
	)
	l2 := plainLayer(t,
		fileE("etc/.wh.gone", "", 0o644),
		fileE("opq/new", "new", 0o600),
		fileE("opq/.wh..wh..opq", "", 0o644),
		fileE("etc/keep", "v2", 0o640),
		fileE("swap", "now a file", 0o644),
		dirE("ro/", 0o555), fileE("ro/file", "in a read-only dir", 0o444),
		fileE("bin/sh", "no longer a link", 0o755),
	)
	cfg := v1.Config{Entrypoint: []string{"/bin/tool"}, Cmd: []string{"arg"}, Env: []string{"A=1", "PATH=/bin"},
		WorkingDir: "/work", User: "1000:1000"}
	want := push(t, host, "fn/layers:v1", imageOf(t, cfg, l1, l2))

	img, err := c.Unpack(t.Context(), "fn/layers:v1")
	if err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	if img.Digest != want.String() || img.Ref != "fn/layers:v1" {
		t.Fatalf("image %s %s, want digest %s", img.Ref, img.Digest, want)
	}
	if img.Root != filepath.Join(c.dir, want.Hex, "rootfs") {
		t.Fatalf("root %s is not content-addressed under %s", img.Root, c.dir)
	}
	if !slices.Equal(img.Entrypoint, cfg.Entrypoint) || !slices.Equal(img.Cmd, cfg.Cmd) || !slices.Equal(img.Env, cfg.Env) ||
		img.WorkingDir != cfg.WorkingDir || img.User != cfg.User {
		t.Fatalf("config %+v, want %+v", img, cfg)
	}
	root := img.Root
	p := func(s string) string { return filepath.Join(root, s) }
	checks := []struct {
		name string
		ok   bool
	}{
		{"overwritten file has new content", readFile(t, p("etc/keep")) == "v2"},
		{"overwritten file has new mode", mode(t, p("etc/keep")).Perm() == 0o640},
		{"whiteout removes file", !exists(p("etc/gone"))},
		{"dir mode kept", mode(t, p("etc/private")).Perm() == 0o750},
		{"executable mode", mode(t, p("bin/tool")).Perm() == 0o755},
		{"setuid bit", mode(t, p("bin/su"))&os.ModeSetuid != 0},
		{"opaque keeps same-layer file", readFile(t, p("opq/new")) == "new"},
		{"opaque removes lower file", !exists(p("opq/old"))},
		{"opaque removes lower dir", !exists(p("opq/sub"))},
		{"file replaces dir", readFile(t, p("swap")) == "now a file"},
		{"read-only dir mode applied last", mode(t, p("ro")).Perm() == 0o555 && readFile(t, p("ro/file")) == "in a read-only dir"},
		{"file replaces symlink", mode(t, p("bin/sh")).IsRegular() && readFile(t, p("bin/sh")) == "no longer a link"},
		{"absolute symlink kept as written", func() bool { s, _ := os.Readlink(p("usr/lib64")); return s == "/usr/lib" }()},
		{"config on disk", exists(filepath.Join(c.dir, want.Hex, "config.json"))},
	}
	for _, ch := range checks {
		if !ch.ok {
			t.Errorf("%s: failed", ch.name)
		}
	}
	a, _ := os.Stat(p("bin/tool"))
	b, _ := os.Stat(p("bin/tool2"))
	if !os.SameFile(a, b) {
		t.Errorf("bin/tool2 is not a hard link to bin/tool")
	}

	// Unpacking again reuses the directory instead of unpacking anew.
	os.WriteFile(p("marker"), []byte("still here"), 0o644)
	again, err := c.Unpack(t.Context(), "docker.io/fn/layers:v1")
	if err != nil || again.Root != root || !exists(p("marker")) {
		t.Fatalf("second Unpack = %+v, %v; want the same unpacked root", again, err)
	}
}

func TestUnpackSymlinkInLowerLayer(t *testing.T) {
	t.Parallel()
	c, host := newLocal(t)
	// A relative symlink inside the image may be written through.
	l1 := gzipLayer(t, dirE("usr/lib/", 0o755), symE("lib", "usr/lib"))
	l2 := gzipLayer(t, fileE("lib/libc.so", "libc", 0o644))
	push(t, host, "fn/usrmerge:v1", imageOf(t, v1.Config{}, l1, l2))
	img, err := c.Unpack(t.Context(), "fn/usrmerge:v1")
	if err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	if got := readFile(t, filepath.Join(img.Root, "usr/lib/libc.so")); got != "libc" {
		t.Fatalf("usr/lib/libc.so = %q", got)
	}
}

func TestUnpackMaliciousLayers(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	victim := filepath.Join(outside, "victim")
	if err := os.WriteFile(victim, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		entries []entry
		want    string
	}{
		{"dot-dot path", []entry{fileE("../x", "evil", 0o644)}, "leaves the image root"},
		{"dot-dot inside path", []entry{fileE("a/../../x", "evil", 0o644)}, "leaves the image root"},
		{"absolute path", []entry{fileE(filepath.Join(outside, "abs"), "evil", 0o644)}, "is absolute"},
		{"write through absolute symlink", []entry{symE("link", outside), fileE("link/pwned", "evil", 0o644)}, "link/pwned"},
		{"write through relative escaping symlink", []entry{symE("up", "../../../../../../../.."+outside), fileE("up/pwned", "evil", 0o644)}, "up/pwned"},
		{"mkdir through symlink", []entry{symE("link", outside), fileE("link/sub/pwned", "evil", 0o644)}, "link/sub/pwned"},
		{"whiteout through symlink", []entry{symE("link", outside), fileE("link/.wh.victim", "", 0o644)}, "link/.wh.victim"},
		{"opaque through symlink", []entry{symE("link", outside), fileE("link/.wh..wh..opq", "", 0o644)}, "link/.wh..wh..opq"},
		{"hard link out", []entry{hardE("h", "../../../../../../.."+victim)}, "leaves the image root"},
		{"hard link absolute", []entry{hardE("h", victim)}, "is absolute"},
		{"hard link through symlink", []entry{symE("link", outside), hardE("h", "link/victim")}, "entry \"h\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, host := newLocal(t)
			push(t, host, "evil/img:v1", imageOf(t, v1.Config{}, gzipLayer(t, tt.entries...)))
			_, err := c.Unpack(t.Context(), "evil/img:v1")
			if err == nil {
				t.Fatal("Unpack succeeded; want an error")
			}
			t.Log(err)
			if msg := err.Error(); !strings.Contains(msg, tt.want) || !strings.Contains(msg, "evil/img:v1") {
				t.Fatalf("error %q does not name the image and %q", msg, tt.want)
			}
			ents, _ := os.ReadDir(outside)
			if len(ents) != 1 || readFile(t, victim) != "keep me" {
				t.Fatalf("something was written outside the root: %v", ents)
			}
			left, _ := os.ReadDir(c.dir)
			for _, e := range left {
				if e.Name() != cacheTmp && e.Name() != cacheRefs {
					t.Fatalf("failed unpack left %s in the cache", e.Name())
				}
			}
			if tmp, _ := os.ReadDir(filepath.Join(c.dir, cacheTmp)); len(tmp) != 0 {
				t.Fatalf("failed unpack left temp dirs: %v", tmp)
			}
		})
	}
}

func TestOfflineLookup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		pushed string
		ref    string
	}{
		{"registry host stripped", "functions/alpine:latest", "docker.io/functions/alpine:latest"},
		{"canonical library form", "library/alpine:3", "alpine:3"},
		{"path as written", "alpine:edge", "alpine:edge"},
		{"default tag", "library/busybox:latest", "docker.io/busybox"},
		{"other registry", "acme/tool:1.0", "ghcr.io/acme/tool:1.0"},
		{"registry with port", "acme/tool:1.0", "registry.example.com:5000/acme/tool:1.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, host := newLocal(t)
			want := push(t, host, tt.pushed, imageOf(t, v1.Config{Cmd: []string{"sh"}}, gzipLayer(t, fileE("hello", "hi", 0o644))))
			img, err := c.Unpack(t.Context(), tt.ref)
			if err != nil {
				t.Fatalf("Unpack(%q): %v", tt.ref, err)
			}
			if img.Digest != want.String() || readFile(t, filepath.Join(img.Root, "hello")) != "hi" {
				t.Fatalf("Unpack(%q) = %+v, want digest %s", tt.ref, img, want)
			}
		})
	}
	t.Run("by digest", func(t *testing.T) {
		t.Parallel()
		c, host := newLocal(t)
		want := push(t, host, "functions/echo:v1", imageOf(t, v1.Config{}, gzipLayer(t, fileE("a", "b", 0o644))))
		img, err := c.Unpack(t.Context(), "docker.io/functions/echo@"+want.String())
		if err != nil || img.Digest != want.String() {
			t.Fatalf("Unpack by digest = %+v, %v", img, err)
		}
	})
}

func TestImageNotFound(t *testing.T) {
	t.Parallel()
	c, _ := newLocal(t)
	_, _, remoteHost := newServer(t, t.TempDir()) // an empty remote registry
	c.transport = nil
	ref := remoteHost + "/nope/missing:v1"
	_, err := c.Unpack(t.Context(), ref)
	if !errors.Is(err, ErrImageNotFound) {
		t.Fatalf("Unpack = %v, want ErrImageNotFound", err)
	}
	t.Log(err)
	for _, s := range []string{ref, "embedded registry", "nope/missing:v1", "registry " + remoteHost, "MANIFEST_UNKNOWN"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

func TestBadReference(t *testing.T) {
	t.Parallel()
	c, _ := newLocal(t)
	_, err := c.Unpack(t.Context(), "UPPER/case:tag")
	if err == nil || !strings.Contains(err.Error(), `"UPPER/case:tag" is not valid`) {
		t.Fatalf("Unpack of a bad reference = %v", err)
	}
}

func TestRemotePullAndOfflineRestart(t *testing.T) {
	t.Parallel()
	_, remoteSrv, remoteHost := newServer(t, t.TempDir())
	want := push(t, remoteHost, "team/fn:v1", imageOf(t, v1.Config{Cmd: []string{"run"}}, gzipLayer(t, fileE("data", "remote", 0o644))))
	local, err := New(t.TempDir(), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	cacheDir := t.TempDir()
	c := NewCache(cacheDir, local, testLogger(t))
	c.keychain = authn.NewMultiKeychain()
	ref := remoteHost + "/team/fn:v1"
	img, err := c.Unpack(t.Context(), ref)
	if err != nil {
		t.Fatalf("pulling from the remote: %v", err)
	}
	if img.Digest != want.String() || readFile(t, filepath.Join(img.Root, "data")) != "remote" {
		t.Fatalf("pulled %+v", img)
	}

	// The remote goes away and the process restarts: the image is still
	// served from the cache.
	remoteSrv.Close()
	var warned atomic.Int32
	c2 := NewCache(cacheDir, local, slog.New(countHandler{msg: "registry unreachable; using the image unpacked before", n: &warned}))
	c2.keychain = authn.NewMultiKeychain()
	again, err := c2.Unpack(t.Context(), ref)
	if err != nil || again.Digest != want.String() || again.Root != img.Root {
		t.Fatalf("offline Unpack = %+v, %v; want the cached image", again, err)
	}
	if warned.Load() != 1 {
		t.Fatalf("offline fallback logged %d warnings, want 1", warned.Load())
	}
	// A reference never pulled before fails, and says why.
	_, err = c2.Unpack(t.Context(), remoteHost+"/team/other:v1")
	t.Log(err)
	if err == nil || errors.Is(err, ErrImageNotFound) || !strings.Contains(err.Error(), remoteHost) {
		t.Fatalf("offline Unpack of a new image = %v; want an unreachable-registry error", err)
	}
}

// countHandler counts log records with one message.
type countHandler struct {
	msg string
	n   *atomic.Int32
}

func (h countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.n.Add(1)
	}
	return nil
}
func (h countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countHandler) WithGroup(string) slog.Handler      { return h }

func TestConcurrentUnpackSharesOne(t *testing.T) {
	t.Parallel()
	reg, _, host := newServer(t, t.TempDir())
	var unpacks atomic.Int32
	c := NewCache(t.TempDir(), reg, slog.New(countHandler{msg: "image unpacked", n: &unpacks}))
	c.transport = failTransport{t}
	var entries []entry
	for i := range 200 {
		entries = append(entries, fileE("f/"+strings.Repeat("x", i%50)+string(rune('a'+i%26))+itoa(int64(i)), strings.Repeat("data", 100), 0o644))
	}
	want := push(t, host, "busy/img:v1", imageOf(t, v1.Config{}, gzipLayer(t, entries...)))
	const callers = 8
	var wg sync.WaitGroup
	roots := make([]string, callers)
	errs := make([]error, callers)
	for i := range callers {
		wg.Go(func() {
			img, err := c.Unpack(t.Context(), "busy/img:v1")
			roots[i], errs[i] = img.Root, err
		})
	}
	wg.Wait()
	for i := range callers {
		if errs[i] != nil || roots[i] != filepath.Join(c.dir, want.Hex, "rootfs") {
			t.Fatalf("caller %d: root %q, %v", i, roots[i], errs[i])
		}
	}
	if n := unpacks.Load(); n != 1 {
		t.Fatalf("image unpacked %d times, want once", n)
	}
}

func TestIndexPlatform(t *testing.T) {
	t.Parallel()
	c, host := newLocal(t)
	other := "s390x"
	if runtime.GOARCH == other {
		other = "amd64"
	}
	mine := imageOf(t, v1.Config{}, gzipLayer(t, fileE("arch", runtime.GOARCH, 0o644)))
	theirs := imageOf(t, v1.Config{}, gzipLayer(t, fileE("arch", other, 0o644)))
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: theirs, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: other}}},
		mutate.IndexAddendum{Add: mine, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}},
	)
	if err := remote.WriteIndex(mustRef(t, host+"/multi/arch:v1"), idx, remote.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
	img, err := c.Unpack(t.Context(), "multi/arch:v1")
	if err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	if img.Digest != digestOf(t, mine).String() || readFile(t, filepath.Join(img.Root, "arch")) != runtime.GOARCH {
		t.Fatalf("picked %s, want the linux/%s image", img.Digest, runtime.GOARCH)
	}

	only := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: theirs, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: other}}})
	if err := remote.WriteIndex(mustRef(t, host+"/multi/foreign:v1"), only, remote.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
	_, err = c.Unpack(t.Context(), "multi/foreign:v1")
	if err == nil || !strings.Contains(err.Error(), "no linux/"+runtime.GOARCH+" variant") || !strings.Contains(err.Error(), "linux/"+other) {
		t.Fatalf("Unpack of a foreign-only index = %v", err)
	}
}

func TestUnpackDamagedBlob(t *testing.T) {
	t.Parallel()
	c, host := newLocal(t)
	layer := plainLayer(t, fileE("data", "original content", 0o644))
	push(t, host, "fn/damaged:v1", imageOf(t, v1.Config{}, layer))
	d := digestOf(t, layer)
	path := c.local.blobPath(d.Hex)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte("original"))
	b[i] = 'O' // same size, different content
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = c.Unpack(t.Context(), "fn/damaged:v1")
	if err == nil || !strings.Contains(err.Error(), "damaged on disk") {
		t.Fatalf("Unpack of a damaged blob = %v", err)
	}
}
