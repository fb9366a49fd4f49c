package registry

import (
	"encoding/json"
	"errors"
	"net/http"
)

// OCI distribution error codes used by the server.
const (
	codeBlobUnknown         = "BLOB_UNKNOWN"
	codeBlobUploadInvalid   = "BLOB_UPLOAD_INVALID"
	codeBlobUploadUnknown   = "BLOB_UPLOAD_UNKNOWN"
	codeDigestInvalid       = "DIGEST_INVALID"
	codeManifestBlobUnknown = "MANIFEST_BLOB_UNKNOWN"
	codeManifestInvalid     = "MANIFEST_INVALID"
	codeManifestUnknown     = "MANIFEST_UNKNOWN"
	codeNameInvalid         = "NAME_INVALID"
	codeNameUnknown         = "NAME_UNKNOWN"
	codeSizeInvalid         = "SIZE_INVALID"
	codeTagInvalid          = "TAG_INVALID"
	codeUnsupported         = "UNSUPPORTED"
	codeUnknown             = "UNKNOWN"
)

// apiError is an error answered to the client as an OCI error body.
type apiError struct {
	status  int
	code    string
	message string
	detail  any
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func newAPIError(status int, code, message string, detail any) *apiError {
	return &apiError{status: status, code: code, message: message, detail: detail}
}

type errorBody struct {
	Errors []errorEntry `json:"errors"`
}

type errorEntry struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// writeError answers err as an OCI error body. Errors that are not
// *apiError are internal: they are logged and answered as 500 UNKNOWN.
func (r *Registry) writeError(w http.ResponseWriter, req *http.Request, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		r.log.Error("registry request", "method", req.Method, "path", req.URL.Path, "error", err)
		ae = newAPIError(http.StatusInternalServerError, codeUnknown, "internal registry error", nil)
	} else {
		r.log.Debug("registry request refused", "method", req.Method, "path", req.URL.Path, "code", ae.code, "message", ae.message)
	}
	body, _ := json.Marshal(errorBody{Errors: []errorEntry{{Code: ae.code, Message: ae.message, Detail: ae.detail}}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", itoa(int64(len(body))))
	w.WriteHeader(ae.status)
	if req.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
