package registry

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// maxIndexDepth bounds how many nested indexes are followed to find the
// platform's image.
const maxIndexDepth = 4

// localImage exposes an image manifest stored in the Registry as a
// go-containerregistry image, reading blobs straight from disk.
type localImage struct {
	reg       *Registry
	raw       []byte
	mediaType string
	manifest  *v1.Manifest
}

var _ partial.CompressedImageCore = (*localImage)(nil)

func (li *localImage) RawManifest() ([]byte, error)        { return li.raw, nil }
func (li *localImage) MediaType() (types.MediaType, error) { return types.MediaType(li.mediaType), nil }
func (li *localImage) RawConfigFile() ([]byte, error) {
	return readAllBlob(li.reg, li.manifest.Config.Digest)
}
func (li *localImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	d := findLayer(li.manifest, h)
	if d == nil {
		return nil, fmt.Errorf("layer %s is not in the manifest", h)
	}
	return &localLayer{reg: li.reg, desc: *d}, nil
}

func findLayer(m *v1.Manifest, h v1.Hash) *v1.Descriptor {
	if m.Config.Digest == h {
		return &m.Config
	}
	for i := range m.Layers {
		if m.Layers[i].Digest == h {
			return &m.Layers[i]
		}
	}
	return nil
}

func readAllBlob(reg *Registry, h v1.Hash) ([]byte, error) {
	f, err := reg.openBlob(h.Hex)
	if err != nil {
		return nil, fmt.Errorf("opening blob %s: %w", h, err)
	}
	defer f.Close()
	return io.ReadAll(f)
}

// localLayer is one compressed layer blob of the Registry.
type localLayer struct {
	reg  *Registry
	desc v1.Descriptor
}

func (l *localLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *localLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *localLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }
func (l *localLayer) Compressed() (io.ReadCloser, error) {
	f, err := l.reg.openBlob(l.desc.Digest.Hex)
	if err != nil {
		return nil, fmt.Errorf("opening layer %s: %w", l.desc.Digest, err)
	}
	return &verifyReader{f: f, h: sha256.New(), want: l.desc.Digest.Hex}, nil
}

// verifyReader fails at the end of a blob whose content does not match its
// digest, so a blob damaged on disk is never unpacked silently.
type verifyReader struct {
	f    io.ReadCloser
	h    hash.Hash
	want string
}

func (v *verifyReader) Read(p []byte) (int, error) {
	n, err := v.f.Read(p)
	v.h.Write(p[:n])
	if errors.Is(err, io.EOF) {
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want {
			return n, fmt.Errorf("blob sha256:%s is damaged on disk: its content has digest sha256:%s", v.want, got)
		}
	}
	return n, err
}

func (v *verifyReader) Close() error { return v.f.Close() }

// localLookup finds repo:ref in the Registry and returns the image for
// platform, following indexes. It returns errNotExist if the repository does
// not hold ref.
func (r *Registry) localLookup(repo, ref string, platform v1.Platform) (v1.Image, error) {
	h, mt, err := r.resolve(repo, ref)
	if err != nil {
		return nil, err
	}
	for depth := 0; ; depth++ {
		raw, err := r.readManifest(h)
		if err != nil {
			return nil, fmt.Errorf("reading manifest sha256:%s: %w", h, err)
		}
		if !isIndexType(mt) {
			return newLocalImage(r, raw, mt)
		}
		if depth == maxIndexDepth {
			return nil, fmt.Errorf("image indexes nest deeper than %d levels", maxIndexDepth)
		}
		if h, mt, err = r.pickPlatform(repo, raw, platform); err != nil {
			return nil, err
		}
	}
}

func newLocalImage(r *Registry, raw []byte, mt string) (v1.Image, error) {
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parsing manifest: %w", err)
	}
	return partial.CompressedToImage(&localImage{reg: r, raw: raw, mediaType: mt, manifest: m})
}

// pickPlatform chooses the child of an index that runs on platform and
// returns its hex digest and media type.
func (r *Registry) pickPlatform(repo string, raw []byte, platform v1.Platform) (string, string, error) {
	idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return "", "", fmt.Errorf("parsing index: %w", err)
	}
	var have []string
	for _, d := range idx.Manifests {
		if d.Platform == nil && len(idx.Manifests) > 1 {
			continue
		}
		if d.Platform == nil || d.Platform.Satisfies(platform) {
			if !r.hasManifest(repo, d.Digest.Hex) {
				return "", "", fmt.Errorf("index names %s, which is not in the registry: %w", d.Digest, errNotExist)
			}
			return d.Digest.Hex, string(d.MediaType), nil
		}
		have = append(have, d.Platform.String())
	}
	return "", "", errors.New("the image has no " + platform.String() + " variant (it has: " + strings.Join(have, ", ") + ")")
}
