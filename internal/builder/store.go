package builder

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
)

// ErrImageNotFound is returned by Load for a reference that was never
// saved.
var ErrImageNotFound = errors.New("image not found")

// refAnnotation is the OCI annotation that names an image in a layout.
const refAnnotation = "org.opencontainers.image.ref.name"

// lockName is the file Save locks so that concurrent saves (parallel
// builds) don't lose each other's index entries.
const lockName = "gofaas.lock"

// Save stores img in the OCI image layout at dir (created if needed) under
// ref, replacing the image ref named before and removing the blobs no
// stored image uses any more. References are compared in full form, so
// "hello" and "index.docker.io/library/hello:latest" are the same.
func Save(dir, ref string, img v1.Image) error {
	key, err := refKey(ref)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating image store: %w", err)
	}
	unlock, err := lockFile(filepath.Join(dir, lockName))
	if err != nil {
		return fmt.Errorf("locking image store: %w", err)
	}
	defer unlock()
	p, err := layout.FromPath(dir)
	if errors.Is(err, fs.ErrNotExist) {
		p, err = layout.Write(dir, empty.Index)
	}
	if err != nil {
		return fmt.Errorf("opening image store: %w", err)
	}
	ann := map[string]string{refAnnotation: key}
	if err := p.ReplaceImage(img, match.Annotation(refAnnotation, key), layout.WithAnnotations(ann)); err != nil {
		return fmt.Errorf("saving %s: %w", ref, err)
	}
	if err := collectGarbage(p); err != nil {
		return fmt.Errorf("cleaning image store: %w", err)
	}
	return nil
}

// Load returns the image saved as ref in the layout at dir. Its blobs are
// read from dir when used. A reference never saved gives an error wrapping
// ErrImageNotFound that tells to run `gofaas build` first.
func Load(dir, ref string) (v1.Image, error) {
	key, err := refKey(ref)
	if err != nil {
		return nil, err
	}
	notFound := fmt.Errorf("%w: %s is not in %s; run `gofaas build` first", ErrImageNotFound, ref, dir)
	p, err := layout.FromPath(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notFound
	}
	if err != nil {
		return nil, fmt.Errorf("opening image store: %w", err)
	}
	unlock, err := lockFile(filepath.Join(dir, lockName)) // a Save may be rewriting the index
	if err != nil {
		return nil, fmt.Errorf("locking image store: %w", err)
	}
	defer unlock()
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("reading image store: %w", err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading image store: %w", err)
	}
	for _, d := range m.Manifests {
		if d.Annotations[refAnnotation] == key {
			img, err := idx.Image(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("loading %s: %w", ref, err)
			}
			return img, nil
		}
	}
	return nil, notFound
}

// refKey is the full form of an image reference.
func refKey(ref string) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("parsing image reference %q: %w", ref, err)
	}
	return r.Name(), nil
}

// collectGarbage removes blobs that no image in the layout's index uses.
func collectGarbage(p layout.Path) error {
	keep, err := usedBlobs(p)
	if err != nil || keep == nil {
		return err
	}
	blobs := filepath.Join(string(p), "blobs")
	return filepath.WalkDir(blobs, func(file string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		alg := filepath.Base(filepath.Dir(file))
		if keep[alg+":"+d.Name()] {
			return nil
		}
		return os.Remove(file)
	})
}

// usedBlobs lists the manifests, configs and layers of the index's images;
// nil when the index holds something else than images (left alone).
func usedBlobs(p layout.Path) (map[string]bool, error) {
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	keep := map[string]bool{}
	for _, d := range m.Manifests {
		if !d.MediaType.IsImage() {
			return nil, nil
		}
		keep[d.Digest.String()] = true
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, err
		}
		im, err := img.Manifest()
		if err != nil {
			return nil, err
		}
		keep[im.Config.Digest.String()] = true
		for _, l := range im.Layers {
			keep[l.Digest.String()] = true
		}
	}
	return keep, nil
}
