package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
)

// Manifest media types the registry accepts.
const (
	mediaOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	mediaOCIIndex       = "application/vnd.oci.image.index.v1+json"
	mediaDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mediaDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// maxManifestBytes limits a manifest body, as the reference registry does.
const maxManifestBytes = 4 << 20

func isIndexType(mt string) bool { return mt == mediaOCIIndex || mt == mediaDockerList }

func isManifestType(mt string) bool { return mt == mediaOCIManifest || mt == mediaDockerManifest }

// manifestDoc holds the fields of an image manifest or index that the
// registry checks.
type manifestDoc struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        *descriptor  `json:"config"`
	Layers        []descriptor `json:"layers"`
	Manifests     []descriptor `json:"manifests"`
}

type descriptor struct {
	MediaType string   `json:"mediaType"`
	Digest    string   `json:"digest"`
	Size      int64    `json:"size"`
	URLs      []string `json:"urls"`
}

// checkManifestRef validates a manifest reference (a tag or a digest).
func checkManifestRef(ref string) error {
	if isDigest(ref) {
		if _, err := parseDigest(ref); err != nil {
			return digestInvalid(err.Error(), ref)
		}
		return nil
	}
	if !validTag(ref) {
		return newAPIError(http.StatusBadRequest, codeTagInvalid,
			fmt.Sprintf("tag %q is not valid: use up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'", ref), nil)
	}
	return nil
}

func manifestUnknown(rt route) error {
	return newAPIError(http.StatusNotFound, codeManifestUnknown,
		fmt.Sprintf("manifest %s is not in repository %s", rt.ref, rt.name), map[string]string{"name": rt.name, "reference": rt.ref})
}

// getManifest answers GET and HEAD /v2/<name>/manifests/<reference>.
func (r *Registry) getManifest(w http.ResponseWriter, req *http.Request, rt route) error {
	if err := checkManifestRef(rt.ref); err != nil {
		return err
	}
	h, mt, err := r.resolve(rt.name, rt.ref)
	if errors.Is(err, errNotExist) {
		return manifestUnknown(rt)
	}
	if err != nil {
		return fmt.Errorf("resolving manifest: %w", err)
	}
	body, err := r.readManifest(h)
	if errors.Is(err, errNotExist) {
		return manifestUnknown(rt)
	}
	if err != nil {
		return fmt.Errorf("reading manifest: %w", err)
	}
	w.Header().Set("Content-Type", mt)
	w.Header().Set("Docker-Content-Digest", "sha256:"+h)
	w.Header().Set("Etag", `"sha256:`+h+`"`)
	w.Header().Set("Content-Length", itoa(int64(len(body))))
	w.WriteHeader(http.StatusOK)
	if req.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
	return nil
}

// putManifestHandler answers PUT /v2/<name>/manifests/<reference>.
func (r *Registry) putManifestHandler(w http.ResponseWriter, req *http.Request, rt route) error {
	if err := checkManifestRef(rt.ref); err != nil {
		return err
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxManifestBytes+1))
	if err != nil {
		return newAPIError(http.StatusBadRequest, codeManifestInvalid, "reading manifest: "+err.Error(), nil)
	}
	if len(body) > maxManifestBytes {
		return newAPIError(http.StatusRequestEntityTooLarge, codeSizeInvalid,
			fmt.Sprintf("manifest is larger than %d bytes", maxManifestBytes), nil)
	}
	mt, doc, err := parseManifest(req.Header.Get("Content-Type"), body)
	if err != nil {
		return err
	}
	if err := r.verifyReferences(rt.name, mt, doc); err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	if got := hex.EncodeToString(sum[:]); isDigest(rt.ref) && "sha256:"+got != rt.ref {
		return digestInvalid(fmt.Sprintf("manifest has digest sha256:%s, not %s", got, rt.ref), rt.ref)
	}
	tag := rt.ref
	if isDigest(tag) {
		tag = ""
	}
	h, err := r.putManifest(rt.name, body, mt, tag)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v2/"+rt.name+"/manifests/sha256:"+h)
	w.Header().Set("Docker-Content-Digest", "sha256:"+h)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

// parseManifest decodes a manifest body and settles its media type from the
// Content-Type header and the body's mediaType field.
func parseManifest(contentType string, body []byte) (string, manifestDoc, error) {
	invalid := func(msg string) error { return newAPIError(http.StatusBadRequest, codeManifestInvalid, msg, nil) }
	var doc manifestDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", doc, invalid("manifest is not valid JSON: " + err.Error())
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case mt == "" || mt == "application/json" || mt == "application/octet-stream":
		mt = doc.MediaType
	case doc.MediaType != "" && doc.MediaType != mt:
		return "", doc, invalid(fmt.Sprintf("Content-Type %s does not match the manifest's mediaType %s", mt, doc.MediaType))
	}
	if mt == "" {
		mt = mediaOCIManifest
		if doc.Manifests != nil {
			mt = mediaOCIIndex
		}
	}
	if !isIndexType(mt) && !isManifestType(mt) {
		return "", doc, invalid("unsupported manifest media type " + mt + "; use an OCI or Docker v2 schema 2 manifest or index")
	}
	if doc.SchemaVersion != 2 {
		return "", doc, invalid(fmt.Sprintf("schemaVersion is %d; only 2 is supported", doc.SchemaVersion))
	}
	if isManifestType(mt) && doc.Config == nil {
		return "", doc, invalid("image manifest has no config")
	}
	return mt, doc, nil
}

// verifyReferences checks that every blob an image manifest names, or every
// manifest an index names, is already in the repository.
func (r *Registry) verifyReferences(name, mt string, doc manifestDoc) error {
	if isIndexType(mt) {
		for _, d := range doc.Manifests {
			if err := r.checkDescriptor(d, r.hasManifest, name); err != nil {
				return err
			}
		}
		return nil
	}
	for _, d := range append([]descriptor{*doc.Config}, doc.Layers...) {
		if len(d.URLs) > 0 {
			continue // non-distributable layer, fetched from its URLs
		}
		if err := r.checkDescriptor(d, r.hasBlob, name); err != nil {
			return err
		}
	}
	return nil
}

func (r *Registry) checkDescriptor(d descriptor, has func(name, hex string) bool, name string) error {
	h, err := parseDigest(d.Digest)
	if err != nil {
		return newAPIError(http.StatusBadRequest, codeManifestInvalid, "manifest references a bad digest: "+err.Error(), nil)
	}
	if !has(name, h) {
		return newAPIError(http.StatusBadRequest, codeManifestBlobUnknown,
			fmt.Sprintf("manifest references %s, which is not in repository %s; push it first", d.Digest, name),
			map[string]string{"digest": d.Digest})
	}
	return nil
}

// deleteManifestHandler answers DELETE /v2/<name>/manifests/<reference>: a
// digest removes the manifest and its tags, a tag removes only the tag.
func (r *Registry) deleteManifestHandler(w http.ResponseWriter, _ *http.Request, rt route) error {
	if err := checkManifestRef(rt.ref); err != nil {
		return err
	}
	var err error
	if isDigest(rt.ref) {
		h, _ := parseDigest(rt.ref)
		err = r.deleteManifest(rt.name, h)
	} else {
		err = notExist(os.Remove(filepath.Join(r.tagsDir(rt.name), rt.ref)))
	}
	if errors.Is(err, errNotExist) {
		return manifestUnknown(rt)
	}
	if err != nil {
		return fmt.Errorf("deleting manifest: %w", err)
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
	return nil
}
