package client

import (
	"context"
	"net/http"

	"github.com/gofaas/gofaas/pkg/api"
)

// ListSecrets returns the names of the secrets of namespace ns (values are
// never listed): GET /system/secrets?namespace=ns.
func (c *Client) ListSecrets(ctx context.Context, ns string) ([]api.Secret, error) {
	var secrets []api.Secret
	_, err := c.do(ctx, call{method: http.MethodGet, path: api.PathSecrets, query: namespaceQuery(ns)}, &secrets, http.StatusOK, http.StatusAccepted)
	return secrets, err
}

// CreateSecret creates a secret: POST /system/secrets. An existing secret is
// a *StatusError matching ErrConflict. It returns the status code.
func (c *Client) CreateSecret(ctx context.Context, s api.Secret) (int, error) {
	return c.do(ctx, call{method: http.MethodPost, path: api.PathSecrets, body: s}, nil)
}

// UpdateSecret replaces a secret's value: PUT /system/secrets. It returns
// the status code.
func (c *Client) UpdateSecret(ctx context.Context, s api.Secret) (int, error) {
	return c.do(ctx, call{method: http.MethodPut, path: api.PathSecrets, body: s}, nil)
}

// RemoveSecret deletes a secret: DELETE /system/secrets with
// {"name","namespace"}; the namespace also goes in the query, which some
// providers read.
func (c *Client) RemoveSecret(ctx context.Context, name, ns string) error {
	body := api.Secret{Name: name, Namespace: ns}
	_, err := c.do(ctx, call{method: http.MethodDelete, path: api.PathSecrets, query: namespaceQuery(ns), body: body}, nil)
	return err
}
