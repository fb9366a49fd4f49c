package client

import (
	"context"
	"maps"
	"net/http"

	"github.com/gofaas/gofaas/pkg/api"
)

// ListNamespaces returns the namespaces functions may use: GET
// /system/namespaces.
func (c *Client) ListNamespaces(ctx context.Context) ([]string, error) {
	var names []string
	_, err := c.do(ctx, call{method: http.MethodGet, path: api.PathNamespaces}, &names, http.StatusOK)
	return names, err
}

// GetNamespace returns one namespace: GET /system/namespace/{name}.
func (c *Client) GetNamespace(ctx context.Context, name string) (api.FunctionNamespace, error) {
	var ns api.FunctionNamespace
	_, err := c.do(ctx, call{method: http.MethodGet, path: api.PathNamespace + name}, &ns, http.StatusOK)
	return ns, err
}

// CreateNamespace creates a namespace: POST /system/namespace/ with the
// openfaas=1 label and annotation added, as faas-cli adds them. An existing
// namespace is a *StatusError matching ErrConflict.
func (c *Client) CreateNamespace(ctx context.Context, ns api.FunctionNamespace) error {
	_, err := c.do(ctx, call{method: http.MethodPost, path: api.PathNamespace, body: marked(ns)}, nil)
	return err
}

// UpdateNamespace replaces a namespace's labels and annotations: PUT
// /system/namespace/{name}, with the openfaas=1 marker kept.
func (c *Client) UpdateNamespace(ctx context.Context, ns api.FunctionNamespace) error {
	_, err := c.do(ctx, call{method: http.MethodPut, path: api.PathNamespace + ns.Name, body: marked(ns)}, nil)
	return err
}

// RemoveNamespace deletes a namespace: DELETE /system/namespace/{name} with
// {"name"} as the body.
func (c *Client) RemoveNamespace(ctx context.Context, name string) error {
	body := api.FunctionNamespace{Name: name}
	_, err := c.do(ctx, call{method: http.MethodDelete, path: api.PathNamespace + name, body: body}, nil)
	return err
}

// marked returns a copy of ns carrying the OpenFaaS namespace marker.
func marked(ns api.FunctionNamespace) api.FunctionNamespace {
	ns.Labels = maps.Clone(ns.Labels)
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	ns.Annotations = maps.Clone(ns.Annotations)
	if ns.Annotations == nil {
		ns.Annotations = map[string]string{}
	}
	ns.Labels[api.NamespaceMarkerLabel] = api.NamespaceMarkerValue
	ns.Annotations[api.NamespaceMarkerLabel] = api.NamespaceMarkerValue
	return ns
}
