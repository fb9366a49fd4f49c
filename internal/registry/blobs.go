package registry

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"
)

// blobHex validates a blob route's digest and returns its hex part.
func blobHex(rt route) (string, error) {
	h, err := parseDigest(rt.ref)
	if err != nil {
		return "", newAPIError(http.StatusBadRequest, codeDigestInvalid, err.Error(), map[string]string{"digest": rt.ref})
	}
	return h, nil
}

func blobUnknown(rt route) error {
	return newAPIError(http.StatusNotFound, codeBlobUnknown,
		fmt.Sprintf("blob %s is not in repository %s", rt.ref, rt.name), map[string]string{"digest": rt.ref})
}

// getBlob answers GET and HEAD /v2/<name>/blobs/<digest>, with Range support.
func (r *Registry) getBlob(w http.ResponseWriter, req *http.Request, rt route) error {
	h, err := blobHex(rt)
	if err != nil {
		return err
	}
	if !r.hasBlob(rt.name, h) {
		return blobUnknown(rt)
	}
	f, err := r.openBlob(h)
	if errors.Is(err, errNotExist) {
		return blobUnknown(rt)
	}
	if err != nil {
		return fmt.Errorf("opening blob: %w", err)
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Docker-Content-Digest", "sha256:"+h)
	w.Header().Set("Etag", `"sha256:`+h+`"`)
	w.Header().Set("Cache-Control", "max-age=31536000")
	http.ServeContent(w, req, "", time.Time{}, f)
	return nil
}

// deleteBlob answers DELETE /v2/<name>/blobs/<digest>: the blob is unlinked
// from the repository (other repositories may still share its content).
func (r *Registry) deleteBlob(w http.ResponseWriter, _ *http.Request, rt route) error {
	h, err := blobHex(rt)
	if err != nil {
		return err
	}
	if !r.hasBlob(rt.name, h) {
		return blobUnknown(rt)
	}
	if err := os.Remove(r.layerLink(rt.name, h)); err != nil {
		return fmt.Errorf("unlinking blob: %w", err)
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
	return nil
}
