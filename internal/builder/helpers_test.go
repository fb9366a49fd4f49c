package builder

import (
	"archive/tar"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gofaas/gofaas/internal/registry"
)

// testRegistry is gofaas's embedded registry on 127.0.0.1, recording the
// digest of every blob upload it completes.
type testRegistry struct {
	host string

	mu      sync.Mutex
	uploads []string
}

func newTestRegistry(t *testing.T) *testRegistry {
	t.Helper()
	reg, err := registry.New(t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("registry.New: %v", err)
	}
	tr := &testRegistry{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// An upload completes with PUT (or a monolithic POST) carrying ?digest=.
		if strings.Contains(r.URL.Path, "/blobs/uploads/") && (r.Method == http.MethodPut || r.Method == http.MethodPost) {
			if d := r.URL.Query().Get("digest"); d != "" {
				tr.mu.Lock()
				tr.uploads = append(tr.uploads, d)
				tr.mu.Unlock()
			}
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	tr.host = strings.TrimPrefix(srv.URL, "http://")
	return tr
}

// takeUploads returns the digests uploaded since the last call, sorted.
func (tr *testRegistry) takeUploads() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := tr.uploads
	tr.uploads = nil
	slices.Sort(out)
	return out
}

func pull(t *testing.T, ref string) v1.Image {
	t.Helper()
	r, err := parseRef(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r, remote.WithContext(t.Context()))
	if err != nil {
		t.Fatalf("pulling %s: %v", ref, err)
	}
	return img
}

// tarFile is one entry read back from a layer.
type tarFile struct {
	kind byte
	mode int64
	uid  int
	link string
	data string
}

// layerFiles reads every entry of a layer, checking fixed times and owners.
func layerFiles(t *testing.T, l v1.Layer) map[string]tarFile {
	t.Helper()
	return readLayer(t, l, true)
}

// layerFilesAnyOwner reads a layer made by another builder.
func layerFilesAnyOwner(t *testing.T, l v1.Layer) map[string]tarFile {
	t.Helper()
	return readLayer(t, l, false)
}

func readLayer(t *testing.T, l v1.Layer, strict bool) map[string]tarFile {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]tarFile{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("reading layer: %v", err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("reading %s: %v", h.Name, err)
		}
		if strict && (!h.ModTime.Equal(epoch) || h.Uid != 0 || h.Gid != 0) {
			t.Errorf("%s: time %v, owner %d:%d; want the epoch and 0:0", h.Name, h.ModTime, h.Uid, h.Gid)
		}
		out[h.Name] = tarFile{kind: h.Typeflag, mode: h.Mode, uid: h.Uid, link: h.Linkname, data: string(data)}
	}
}

func layersOf(t *testing.T, img v1.Image) []v1.Layer {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

// appLayer returns the function layer of a local image, checking there are
// two layers.
func appLayer(t *testing.T, img v1.Image) v1.Layer {
	t.Helper()
	ls := layersOf(t, img)
	if len(ls) != 2 {
		t.Fatalf("%d layers, want the watchdog's and the function's", len(ls))
	}
	return ls[1]
}

func digest(t *testing.T, d interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatalf("Digest: %v", err)
	}
	return h
}

// writeFiles creates files under dir; a name ending in "*" is made
// executable, one of the form "name -> target" is a symlink.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		mode := os.FileMode(0o644)
		if n, ok := strings.CutSuffix(name, "*"); ok {
			name, mode = n, 0o755
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(data, "-> "); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
	}
}

// fakeWatchdog writes a stand-in fwatchdog binary and returns its path.
func fakeWatchdog(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fwatchdog")
	if err := os.WriteFile(p, []byte("#!/bin/sh\necho fake watchdog\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}
