package registry

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// uploadHandler picks the handler of a /blobs/uploads/ route: POST starts
// an upload, the others act on the upload named in the path.
func (r *Registry) uploadHandler(method string) handlerFunc {
	return func(w http.ResponseWriter, req *http.Request, rt route) error {
		if rt.ref == "" {
			if method != http.MethodPost {
				return newAPIError(http.StatusMethodNotAllowed, codeUnsupported, "method "+method+" is not allowed here", nil)
			}
			return r.startUpload(w, req, rt)
		}
		if u, err := uuid.Parse(rt.ref); err != nil || u.String() != rt.ref {
			return uploadUnknown(rt)
		}
		h := map[string]handlerFunc{http.MethodGet: r.uploadStatus, http.MethodPatch: r.patchUpload,
			http.MethodPut: r.finishUpload, http.MethodDelete: r.cancelUpload}[method]
		if h == nil {
			return newAPIError(http.StatusMethodNotAllowed, codeUnsupported, "method "+method+" is not allowed here", nil)
		}
		return h(w, req, rt)
	}
}

func uploadUnknown(rt route) error {
	return newAPIError(http.StatusNotFound, codeBlobUploadUnknown,
		fmt.Sprintf("upload %s of repository %s is unknown", rt.ref, rt.name), nil)
}

func digestInvalid(msg, digest string) error {
	return newAPIError(http.StatusBadRequest, codeDigestInvalid, msg, map[string]string{"digest": digest})
}

// startUpload answers POST /v2/<name>/blobs/uploads/: a cross-repository
// mount, a monolithic upload (?digest=), or a new upload session.
func (r *Registry) startUpload(w http.ResponseWriter, req *http.Request, rt route) error {
	q := req.URL.Query()
	if mount := q.Get("mount"); mount != "" {
		h, err := parseDigest(mount)
		if err != nil {
			return digestInvalid(err.Error(), mount)
		}
		if from := q.Get("from"); validateName(from) == nil && r.hasBlob(from, h) {
			if err := r.linkBlob(rt.name, h); err != nil {
				return fmt.Errorf("mounting blob: %w", err)
			}
			blobCreated(w, rt.name, h)
			return nil
		}
	}
	if d := q.Get("digest"); d != "" {
		return r.monolithicUpload(w, req, rt, d)
	}
	id := uuid.NewString()
	data, repo := r.uploadPaths(id)
	if err := os.MkdirAll(filepath.Dir(data), 0o755); err != nil {
		return fmt.Errorf("creating upload: %w", err)
	}
	if err := os.WriteFile(repo, []byte(rt.name), 0o644); err != nil {
		return fmt.Errorf("creating upload: %w", err)
	}
	if err := os.WriteFile(data, nil, 0o644); err != nil {
		return fmt.Errorf("creating upload: %w", err)
	}
	uploadAccepted(w, rt.name, id, 0, http.StatusAccepted)
	return nil
}

// monolithicUpload stores the request body as one blob, checking its digest.
func (r *Registry) monolithicUpload(w http.ResponseWriter, req *http.Request, rt route, digest string) error {
	want, err := parseDigest(digest)
	if err != nil {
		return digestInvalid(err.Error(), digest)
	}
	f, err := os.CreateTemp(filepath.Join(r.dir, dirTmp), "blob-")
	if err != nil {
		return fmt.Errorf("creating temp blob: %w", err)
	}
	defer os.Remove(f.Name())
	got, _, err := copyHashed(f, req.Body)
	if err != nil {
		f.Close()
		return newAPIError(http.StatusBadRequest, codeBlobUploadInvalid, "reading blob: "+err.Error(), nil)
	}
	if got != want {
		f.Close()
		return digestInvalid(fmt.Sprintf("content has digest sha256:%s, not %s", got, digest), digest)
	}
	if err := r.commitBlob(f, want); err != nil {
		return fmt.Errorf("storing blob: %w", err)
	}
	if err := r.linkBlob(rt.name, want); err != nil {
		return fmt.Errorf("linking blob: %w", err)
	}
	blobCreated(w, rt.name, want)
	return nil
}

// uploadStatus answers GET /v2/<name>/blobs/uploads/<id>.
func (r *Registry) uploadStatus(w http.ResponseWriter, _ *http.Request, rt route) error {
	defer r.lockUpload(rt.ref)()
	size, err := r.uploadSize(rt.name, rt.ref)
	if err != nil {
		return uploadUnknown(rt)
	}
	uploadAccepted(w, rt.name, rt.ref, size, http.StatusNoContent)
	return nil
}

// patchUpload answers PATCH /v2/<name>/blobs/uploads/<id>: the body is
// appended to the upload.
func (r *Registry) patchUpload(w http.ResponseWriter, req *http.Request, rt route) error {
	defer r.lockUpload(rt.ref)()
	size, err := r.appendChunk(req, rt)
	if err != nil {
		return err
	}
	uploadAccepted(w, rt.name, rt.ref, size, http.StatusAccepted)
	return nil
}

// appendChunk checks the request's Content-Range against the upload and
// appends the body; it returns the new size. The caller holds the lock.
func (r *Registry) appendChunk(req *http.Request, rt route) (int64, error) {
	size, err := r.uploadSize(rt.name, rt.ref)
	if err != nil {
		return 0, uploadUnknown(rt)
	}
	if cr := req.Header.Get("Content-Range"); cr != "" {
		if err := checkContentRange(cr, size, req.ContentLength); err != nil {
			return 0, err
		}
	}
	data, _ := r.uploadPaths(rt.ref)
	f, err := os.OpenFile(data, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return 0, fmt.Errorf("opening upload: %w", err)
	}
	n, err := io.Copy(f, req.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, newAPIError(http.StatusBadRequest, codeBlobUploadInvalid, "reading chunk: "+err.Error(), nil)
	}
	return size + n, nil
}

// checkContentRange accepts "<start>-<end>" only when start is the upload's
// current size and the range matches the body length.
func checkContentRange(cr string, size, contentLength int64) error {
	s, e, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(cr), "bytes="), "-")
	start, err1 := strconv.ParseInt(s, 10, 64)
	end, err2 := strconv.ParseInt(e, 10, 64)
	if !ok || err1 != nil || err2 != nil || end < start {
		return newAPIError(http.StatusRequestedRangeNotSatisfiable, codeBlobUploadInvalid,
			fmt.Sprintf("Content-Range %q is not of the form <start>-<end>", cr), nil)
	}
	if start != size {
		return newAPIError(http.StatusRequestedRangeNotSatisfiable, codeBlobUploadInvalid,
			fmt.Sprintf("chunk starts at %d but the upload has %d bytes", start, size), nil)
	}
	if contentLength >= 0 && end-start+1 != contentLength {
		return newAPIError(http.StatusRequestedRangeNotSatisfiable, codeBlobUploadInvalid,
			fmt.Sprintf("Content-Range %q does not match Content-Length %d", cr, contentLength), nil)
	}
	return nil
}

// finishUpload answers PUT /v2/<name>/blobs/uploads/<id>?digest=: the last
// chunk (if any) is appended, the digest verified and the blob stored.
func (r *Registry) finishUpload(w http.ResponseWriter, req *http.Request, rt route) error {
	defer r.lockUpload(rt.ref)()
	digest := req.URL.Query().Get("digest")
	want, err := parseDigest(digest)
	if err != nil {
		return digestInvalid("the digest query parameter is missing or invalid: "+err.Error(), digest)
	}
	if req.ContentLength != 0 {
		if _, err := r.appendChunk(req, rt); err != nil {
			return err
		}
	} else if _, err := r.uploadSize(rt.name, rt.ref); err != nil {
		return uploadUnknown(rt)
	}
	if err := r.commitUpload(rt.ref, want, digest); err != nil {
		return err
	}
	if err := r.linkBlob(rt.name, want); err != nil {
		return fmt.Errorf("linking blob: %w", err)
	}
	blobCreated(w, rt.name, want)
	return nil
}

// commitUpload verifies the upload's content against want and moves it into
// the blob store. The upload is removed either way.
func (r *Registry) commitUpload(id, want, digest string) error {
	data, _ := r.uploadPaths(id)
	defer os.RemoveAll(filepath.Dir(data))
	f, err := os.OpenFile(data, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("opening upload: %w", err)
	}
	got, _, err := copyHashed(io.Discard, f)
	if err != nil {
		f.Close()
		return fmt.Errorf("hashing upload: %w", err)
	}
	if got != want {
		f.Close()
		return digestInvalid(fmt.Sprintf("uploaded content has digest sha256:%s, not %s", got, digest), digest)
	}
	if err := r.commitBlob(f, want); err != nil {
		return fmt.Errorf("storing blob: %w", err)
	}
	return nil
}

// cancelUpload answers DELETE /v2/<name>/blobs/uploads/<id>.
func (r *Registry) cancelUpload(w http.ResponseWriter, _ *http.Request, rt route) error {
	defer r.lockUpload(rt.ref)()
	if _, err := r.uploadSize(rt.name, rt.ref); err != nil {
		return uploadUnknown(rt)
	}
	data, _ := r.uploadPaths(rt.ref)
	if err := os.RemoveAll(filepath.Dir(data)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing upload: %w", err)
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// uploadAccepted writes the headers describing an upload in progress.
func uploadAccepted(w http.ResponseWriter, name, id string, size int64, status int) {
	end := size - 1
	if end < 0 {
		end = 0
	}
	w.Header().Set("Location", "/v2/"+name+"/blobs/uploads/"+id)
	w.Header().Set("Docker-Upload-UUID", id)
	w.Header().Set("Range", "0-"+itoa(end))
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(status)
}

// blobCreated writes the 201 answer of a stored blob.
func blobCreated(w http.ResponseWriter, name, hex string) {
	w.Header().Set("Location", "/v2/"+name+"/blobs/sha256:"+hex)
	w.Header().Set("Docker-Content-Digest", "sha256:"+hex)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}
