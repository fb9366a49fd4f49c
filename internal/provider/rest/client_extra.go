package rest

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gofaas/gofaas/pkg/api"
)

// SecretList lists a namespace's secrets (names only).
func (c *Client) SecretList(ctx context.Context, namespace string) ([]api.Secret, error) {
	list := []api.Secret{}
	err := c.call(ctx, http.MethodGet, api.PathSecrets, nsQuery(namespace), nil, &list)
	return list, err
}

// CreateSecret POSTs a secret.
func (c *Client) CreateSecret(ctx context.Context, s api.Secret) error {
	return c.call(ctx, http.MethodPost, api.PathSecrets, nil, s, nil)
}

// UpdateSecret PUTs a secret.
func (c *Client) UpdateSecret(ctx context.Context, s api.Secret) error {
	return c.call(ctx, http.MethodPut, api.PathSecrets, nil, s, nil)
}

// DeleteSecret DELETEs a secret (namespace in the body and the query).
func (c *Client) DeleteSecret(ctx context.Context, name, namespace string) error {
	return c.call(ctx, http.MethodDelete, api.PathSecrets, nsQuery(namespace), api.Secret{Name: name, Namespace: namespace}, nil)
}

// NamespaceList lists the remote's namespaces; a remote without the route
// gives ErrNotSupported.
func (c *Client) NamespaceList(ctx context.Context) ([]string, error) {
	list := []string{}
	err := c.call(ctx, http.MethodGet, api.PathNamespaces, nil, nil, &list)
	return list, errNotFoundRoute(err)
}

// Namespace reads one namespace.
func (c *Client) Namespace(ctx context.Context, name string) (api.FunctionNamespace, error) {
	var ns api.FunctionNamespace
	err := c.call(ctx, http.MethodGet, api.PathNamespace+url.PathEscape(name), nil, nil, &ns)
	return ns, err
}

// CreateNamespace POSTs /system/namespace/.
func (c *Client) CreateNamespace(ctx context.Context, ns api.FunctionNamespace) error {
	return c.call(ctx, http.MethodPost, api.PathNamespace, nil, ns, nil)
}

// UpdateNamespace PUTs /system/namespace/{name}.
func (c *Client) UpdateNamespace(ctx context.Context, ns api.FunctionNamespace) error {
	return c.call(ctx, http.MethodPut, api.PathNamespace+url.PathEscape(ns.Name), nil, ns, nil)
}

// DeleteNamespace DELETEs /system/namespace/{name}.
func (c *Client) DeleteNamespace(ctx context.Context, name string) error {
	return c.call(ctx, http.MethodDelete, api.PathNamespace+url.PathEscape(name), nil, api.FunctionNamespace{Name: name}, nil)
}

// Logs streams GET /system/logs; the channel closes at the end of the
// stream or when ctx ends.
func (c *Client) Logs(ctx context.Context, req api.LogRequest) (<-chan api.LogMessage, error) {
	resp, err := c.do(ctx, http.MethodGet, api.PathLogs, logQuery(req), nil)
	if err != nil {
		return nil, err
	}
	out := make(chan api.LogMessage)
	go readLogs(ctx, resp.Body, out)
	return out, nil
}

func logQuery(req api.LogRequest) url.Values {
	q := url.Values{
		"name":      {req.Name},
		"namespace": {req.Namespace},
		"follow":    {strconv.FormatBool(req.Follow)},
	}
	if req.Instance != "" {
		q.Set("instance", req.Instance)
	}
	if req.Tail > 0 {
		q.Set("tail", strconv.Itoa(req.Tail))
	}
	if req.Since != nil {
		q.Set("since", req.Since.Format(time.RFC3339Nano))
	}
	return q
}

// readLogs owns body and out: it decodes NDJSON lines until the stream
// ends, a line is malformed, or ctx ends (which also aborts the read).
func readLogs(ctx context.Context, body io.ReadCloser, out chan<- api.LogMessage) {
	defer close(out)
	defer body.Close()
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var msg api.LogMessage
		if err := json.Unmarshal(sc.Bytes(), &msg); err != nil {
			return
		}
		select {
		case out <- msg:
		case <-ctx.Done():
			return
		}
	}
}
