package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/gofaas/gofaas/pkg/api"
)

// ListFunctions returns the functions of namespace ns (the gateway's
// default namespace when empty): GET /system/functions?namespace=ns.
func (c *Client) ListFunctions(ctx context.Context, ns string) ([]api.FunctionStatus, error) {
	var fns []api.FunctionStatus
	_, err := c.do(ctx, call{method: http.MethodGet, path: api.PathFunctions, query: namespaceQuery(ns)}, &fns, http.StatusOK)
	return fns, err
}

// GetFunction returns one function: GET
// /system/function/{name}?namespace=ns[&usage=1]. A missing function is a
// *StatusError matching ErrNotFound.
func (c *Client) GetFunction(ctx context.Context, name, ns string, usage bool) (api.FunctionStatus, error) {
	q := namespaceQuery(ns)
	if usage {
		if q == nil {
			q = url.Values{}
		}
		q.Set("usage", "1")
	}
	var fn api.FunctionStatus
	_, err := c.do(ctx, call{method: http.MethodGet, path: api.PathFunction + name, query: q}, &fn, http.StatusOK)
	return fn, err
}

// Deploy creates or updates a function and returns the gateway's status
// code. With update it sends PUT /system/functions and, when the function
// does not exist yet (404), POST, as `faas-cli deploy` does; without update
// it sends POST only.
func (c *Client) Deploy(ctx context.Context, spec api.FunctionDeployment, update bool) (int, error) {
	if update {
		code, err := c.do(ctx, call{method: http.MethodPut, path: api.PathFunctions, body: spec}, nil)
		if !errors.Is(err, ErrNotFound) {
			return code, err
		}
	}
	return c.do(ctx, call{method: http.MethodPost, path: api.PathFunctions, body: spec}, nil)
}

// Replace removes the function, if it exists, then creates it again (what
// `faas-cli deploy --replace` does) and returns the status of the POST.
func (c *Client) Replace(ctx context.Context, spec api.FunctionDeployment) (int, error) {
	err := c.RemoveFunction(ctx, spec.Service, spec.Namespace)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return 0, err
	}
	return c.do(ctx, call{method: http.MethodPost, path: api.PathFunctions, body: spec}, nil)
}

// RemoveFunction deletes a function: DELETE /system/functions with
// {"functionName","namespace"}.
func (c *Client) RemoveFunction(ctx context.Context, name, ns string) error {
	body := api.DeleteFunctionRequest{FunctionName: name, Namespace: ns}
	_, err := c.do(ctx, call{method: http.MethodDelete, path: api.PathFunctions, body: body}, nil)
	return err
}

// Scale sets the desired replica count: POST /system/scale-function/{name}
// with {"serviceName","replicas","namespace"}; the namespace also goes in
// the query, which older providers read.
func (c *Client) Scale(ctx context.Context, name, ns string, replicas uint64) error {
	body := api.ScaleServiceRequest{ServiceName: name, Replicas: replicas, Namespace: ns}
	_, err := c.do(ctx, call{method: http.MethodPost, path: api.PathScaleFunction + name, query: namespaceQuery(ns), body: body}, nil)
	return err
}
