package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// On-disk layout under the registry directory:
//
//	blobs/sha256/<hex>                                    every blob and manifest, by digest
//	repositories/<name>/_layers/sha256/<hex>              empty file: the blob belongs to the repository
//	repositories/<name>/_manifests/revisions/sha256/<hex> the manifest's media type
//	repositories/<name>/_manifests/tags/<tag>             the digest the tag points at
//	uploads/<uuid>/data, uploads/<uuid>/repo              an upload in progress and its repository
//	tmp/                                                  temp files, renamed into place; emptied by New
const (
	dirBlobs   = "blobs/sha256"
	dirRepos   = "repositories"
	dirUploads = "uploads"
	dirTmp     = "tmp"
)

// errNotExist is what store look-ups return for a missing blob, manifest,
// tag or repository; it wraps fs.ErrNotExist.
var errNotExist = fmt.Errorf("registry: %w", fs.ErrNotExist)

func (r *Registry) blobPath(hex string) string {
	return filepath.Join(r.dir, dirBlobs, hex)
}

func (r *Registry) repoDir(name string) string {
	return filepath.Join(r.dir, dirRepos, filepath.FromSlash(name))
}

func (r *Registry) layerLink(name, hex string) string {
	return filepath.Join(r.repoDir(name), "_layers", "sha256", hex)
}

func (r *Registry) revisionPath(name, hex string) string {
	return filepath.Join(r.repoDir(name), "_manifests", "revisions", "sha256", hex)
}

func (r *Registry) tagsDir(name string) string {
	return filepath.Join(r.repoDir(name), "_manifests", "tags")
}

// writeFileAtomic writes data to path through a synced temp file and a
// rename, then syncs the parent directory.
func (r *Registry) writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Join(r.dir, dirTmp), "file-")
	if err != nil {
		return fmt.Errorf("creating temp file: %w", err)
	}
	defer os.Remove(f.Name()) // no-op once renamed
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return r.commitFile(f, path)
}

// commitFile syncs and closes f, then renames it to path, creating the
// parent directory if needed and syncing it after the rename.
func (r *Registry) commitFile(f *os.File, path string) error {
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("syncing %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", f.Name(), err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating directory: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("renaming into place: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}

// commitBlob moves a fully written temp file whose content has digest hex
// into the blob store. If the blob is already there, f is discarded.
func (r *Registry) commitBlob(f *os.File, hex string) error {
	path := r.blobPath(hex)
	if _, err := os.Stat(path); err == nil {
		f.Close()
		return os.Remove(f.Name())
	}
	return r.commitFile(f, path)
}

// storeBlobBytes stores a small blob (a manifest) and returns its hex digest.
func (r *Registry) storeBlobBytes(data []byte) (string, error) {
	sum := sha256.Sum256(data)
	h := hex.EncodeToString(sum[:])
	if _, err := os.Stat(r.blobPath(h)); err == nil {
		return h, nil
	}
	return h, r.writeFileAtomic(r.blobPath(h), data)
}

// hasBlob reports whether the blob exists and is linked to the repository.
func (r *Registry) hasBlob(name, hex string) bool {
	if _, err := os.Stat(r.layerLink(name, hex)); err != nil {
		return false
	}
	_, err := os.Stat(r.blobPath(hex))
	return err == nil
}

// linkBlob records that the blob belongs to the repository.
func (r *Registry) linkBlob(name, hex string) error {
	if _, err := os.Stat(r.layerLink(name, hex)); err == nil {
		return nil
	}
	return r.writeFileAtomic(r.layerLink(name, hex), nil)
}

// openBlob opens a stored blob by hex digest, whatever its repository.
func (r *Registry) openBlob(hex string) (*os.File, error) {
	f, err := os.Open(r.blobPath(hex))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNotExist
	}
	return f, err
}

// hasManifest reports whether the repository holds the manifest.
func (r *Registry) hasManifest(name, hex string) bool {
	_, err := os.Stat(r.revisionPath(name, hex))
	return err == nil
}

// resolve turns a tag or digest of a repository into the manifest's hex
// digest and media type. It returns errNotExist if either is unknown.
func (r *Registry) resolve(name, ref string) (hex, mediaType string, err error) {
	if isDigest(ref) {
		if hex, err = parseDigest(ref); err != nil {
			return "", "", errNotExist
		}
	} else {
		b, err := os.ReadFile(filepath.Join(r.tagsDir(name), ref))
		if err != nil {
			return "", "", notExist(err)
		}
		if hex, err = parseDigest(strings.TrimSpace(string(b))); err != nil {
			return "", "", fmt.Errorf("tag %s:%s is corrupt: %w", name, ref, err)
		}
	}
	mt, err := os.ReadFile(r.revisionPath(name, hex))
	if err != nil {
		return "", "", notExist(err)
	}
	return hex, strings.TrimSpace(string(mt)), nil
}

// readManifest returns the manifest bytes of a resolved digest.
func (r *Registry) readManifest(hex string) ([]byte, error) {
	b, err := os.ReadFile(r.blobPath(hex))
	return b, notExist(err)
}

func notExist(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return errNotExist
	}
	return err
}

// putManifest stores a verified manifest in the repository, and tags it when
// tag is not empty.
func (r *Registry) putManifest(name string, body []byte, mediaType, tag string) (string, error) {
	h, err := r.storeBlobBytes(body)
	if err != nil {
		return "", fmt.Errorf("storing manifest: %w", err)
	}
	if err := r.writeFileAtomic(r.revisionPath(name, h), []byte(mediaType)); err != nil {
		return "", fmt.Errorf("storing manifest revision: %w", err)
	}
	if tag != "" {
		if err := r.writeFileAtomic(filepath.Join(r.tagsDir(name), tag), []byte("sha256:"+h)); err != nil {
			return "", fmt.Errorf("storing tag: %w", err)
		}
	}
	return h, nil
}

// deleteManifest removes a manifest revision and every tag pointing at it.
func (r *Registry) deleteManifest(name, hex string) error {
	if err := os.Remove(r.revisionPath(name, hex)); err != nil {
		return notExist(err)
	}
	tags, err := r.tags(name)
	if err != nil {
		return err
	}
	for _, t := range tags {
		if h, _, err := r.resolveTag(name, t); err == nil && h == hex {
			if err := os.Remove(filepath.Join(r.tagsDir(name), t)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("removing tag %s: %w", t, err)
			}
		}
	}
	return syncDir(r.tagsDir(name))
}

// resolveTag reads a tag file without checking the revision.
func (r *Registry) resolveTag(name, tag string) (string, string, error) {
	b, err := os.ReadFile(filepath.Join(r.tagsDir(name), tag))
	if err != nil {
		return "", "", notExist(err)
	}
	h, err := parseDigest(strings.TrimSpace(string(b)))
	return h, "", err
}

// tags lists a repository's tags in lexical order; errNotExist if the
// repository has no manifests.
func (r *Registry) tags(name string) ([]string, error) {
	if _, err := os.Stat(filepath.Join(r.repoDir(name), "_manifests")); err != nil {
		return nil, notExist(err)
	}
	ents, err := os.ReadDir(r.tagsDir(name))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("listing tags: %w", err)
	}
	tags := make([]string, 0, len(ents))
	for _, e := range ents {
		if validTag(e.Name()) {
			tags = append(tags, e.Name())
		}
	}
	slices.Sort(tags)
	return tags, nil
}

// repositories lists every repository that holds a manifest, sorted.
func (r *Registry) repositories() ([]string, error) {
	root := filepath.Join(r.dir, dirRepos)
	names := []string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() || path == root {
			return nil
		}
		if strings.HasPrefix(d.Name(), "_") {
			if d.Name() == "_manifests" {
				rel, _ := filepath.Rel(root, filepath.Dir(path))
				names = append(names, filepath.ToSlash(rel))
			}
			return fs.SkipDir
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing repositories: %w", err)
	}
	slices.Sort(names)
	return names, nil
}

// uploadPaths returns the data and repository files of an upload.
func (r *Registry) uploadPaths(id string) (data, repo string) {
	d := filepath.Join(r.dir, dirUploads, id)
	return filepath.Join(d, "data"), filepath.Join(d, "repo")
}

// uploadSize returns the bytes received so far by an upload of repository
// name; errNotExist if there is no such upload for that repository.
func (r *Registry) uploadSize(name, id string) (int64, error) {
	data, repo := r.uploadPaths(id)
	b, err := os.ReadFile(repo)
	if err != nil || string(b) != name {
		return 0, errNotExist
	}
	fi, err := os.Stat(data)
	if err != nil {
		return 0, notExist(err)
	}
	return fi.Size(), nil
}

// copyHashed copies src to dst and returns the hex sha256 and byte count of
// what was copied.
func copyHashed(dst io.Writer, src io.Reader) (string, int64, error) {
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(dst, h), src)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
