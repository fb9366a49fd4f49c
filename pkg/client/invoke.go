package client

import (
	"cmp"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/gofaas/gofaas/pkg/api"
)

// InvokeRequest is one call of a function through the gateway.
type InvokeRequest struct {
	// Name and Namespace pick the function; the path is /function/name.ns,
	// or /function/name when Namespace is empty.
	Name, Namespace string
	// Path is appended after the function's name, such as "items/1".
	Path string
	// Async posts to /async-function/ instead: the gateway queues the call
	// and answers 202 with an X-Call-Id header.
	Async bool
	// Method defaults to POST.
	Method string
	// Query is sent as the query string.
	Query url.Values
	// Header holds the headers to send, such as Content-Type.
	Header http.Header
	// Body is the request body; nil sends none.
	Body io.Reader
	// CallbackURL, for Async, is where the queue worker posts the result
	// (the X-Callback-Url header).
	CallbackURL string
}

// Invoke calls a function and returns the answer, whatever its status, with
// its body unread: the caller must close it. The client's timeout does not
// apply, so streams and long calls end only with ctx. No credentials are
// sent: /function/ and /async-function/ are open routes, and the gateway's
// password must not reach function code.
func (c *Client) Invoke(ctx context.Context, r InvokeRequest) (*http.Response, error) {
	prefix := api.PathInvoke
	if r.Async {
		prefix = api.PathAsyncInvoke
	}
	path := prefix + api.JoinName(r.Name, r.Namespace)
	if p := strings.TrimLeft(r.Path, "/"); p != "" {
		path += "/" + p
	}
	header := r.Header.Clone()
	if header == nil {
		header = http.Header{}
	}
	if r.CallbackURL != "" {
		header.Set(api.HeaderCallbackURL, r.CallbackURL)
	}
	cl := call{
		method: cmp.Or(r.Method, http.MethodPost),
		path:   path,
		query:  r.Query,
		header: header,
		stream: true,
		noAuth: true,
	}
	if r.Body != nil {
		cl.body = r.Body
	}
	return c.send(ctx, cl)
}
