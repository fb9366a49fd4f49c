// Package function is the echo function of the gofaas store (template
// golang-http): it answers with the request body.
package function

import (
	"io"
	"net/http"
)

// Handle streams the request body back, with the request's Content-Type.
func Handle(w http.ResponseWriter, r *http.Request) {
	// Without full duplex the HTTP/1 server may close the body once the
	// response starts; an error only means the server cannot, which is
	// fine for small bodies.
	_ = http.NewResponseController(w).EnableFullDuplex()
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, r.Body)
}
