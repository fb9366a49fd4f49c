package builder

import (
	"archive/tar"
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// File is one file of an image layer.
type File struct {
	// Path inside the image, relative or absolute ("usr/bin/fwatchdog").
	Path string
	// Mode holds the permission bits; 0 means 0644.
	Mode fs.FileMode
	// Source is a file on the host to copy; used when Data is nil.
	Source string
	// Data is the file's content.
	Data []byte
}

// Config is the image configuration a runtime reads.
type Config struct {
	Entrypoint []string
	Cmd        []string
	Env        []string
	WorkingDir string
	User       string
	Labels     map[string]string
}

// epoch is the timestamp of every entry and of the image itself.
var epoch = time.Unix(0, 0).UTC()

// Image builds a one-layer image holding files, with cfg as its config.
func Image(files []File, cfg Config) (v1.Image, error) {
	entries := make([]entry, 0, len(files))
	for _, f := range files {
		mode := int64(f.Mode.Perm())
		if mode == 0 {
			mode = modeFile
		}
		name := strings.TrimPrefix(path.Clean("/"+f.Path), "/")
		entries = append(entries, entry{name: name, kind: tar.TypeReg, mode: mode, src: f.Source, data: f.Data})
	}
	layer, err := newFileLayer(entries, nil)
	if err != nil {
		return nil, fmt.Errorf("making layer: %w", err)
	}
	return assemble([]mutate.Addendum{{Layer: layer, History: history("gofaas builder")}}, cfg)
}

func history(createdBy string) v1.History {
	return v1.History{Created: v1.Time{Time: epoch}, CreatedBy: createdBy}
}

// assemble stacks layers into an OCI image for linux on this machine's
// architecture, with cfg as its config and fixed timestamps.
func assemble(layers []mutate.Addendum, cfg Config) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.Append(img, layers...)
	if err != nil {
		return nil, fmt.Errorf("adding layers: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = runtime.GOARCH, "linux"
	cf.Created = v1.Time{Time: epoch}
	cf.Config = v1.Config{
		Entrypoint: cfg.Entrypoint, Cmd: cfg.Cmd, Env: cfg.Env,
		WorkingDir: cfg.WorkingDir, User: cfg.User, Labels: cfg.Labels,
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("writing config: %w", err)
	}
	return img, nil
}
