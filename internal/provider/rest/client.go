package rest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gofaas/gofaas/internal/provider"
	"github.com/gofaas/gofaas/internal/proxy"
	"github.com/gofaas/gofaas/pkg/api"
)

// Interface guards.
var (
	_ provider.Provider   = (*Client)(nil)
	_ provider.Informer   = (*Client)(nil)
	_ provider.Secrets    = (*Client)(nil)
	_ provider.Logs       = (*Client)(nil)
	_ provider.Namespaces = (*Client)(nil)
)

// maxErrorBody is how much of an error response is kept in StatusError.
const maxErrorBody = 4 << 10

// ClientConfig configures NewClient.
type ClientConfig struct {
	// Username and Password, when Username is set, are sent as basic auth
	// on /system/* calls.
	Username, Password string
	// HTTPClient makes the calls; nil means a client without a timeout
	// (calls are bounded by their context; log streams run until it ends)
	// over proxy.NewTransport(). Its Transport, if set, also carries
	// invocations resolved by Resolve.
	HTTPClient *http.Client
	// StatusTTL is how long Resolve trusts a function's replica count read
	// from the remote (default DefaultStatusTTL, 1s; a count with no
	// available replica at most 100ms). Changes made through the client
	// and statuses it reads refresh the count at once.
	StatusTTL time.Duration
}

// Client is a provider.Provider backed by a remote faas-provider REST API.
type Client struct {
	base  *url.URL
	cfg   ClientConfig
	http  *http.Client
	cache *replicaCache
}

// StatusError is a non-2xx answer of the remote API. It unwraps to the
// provider sentinel matching its code (404 ErrNotFound, 409 ErrExists,
// 400/422 ErrInvalid, 503 ErrNoReplicas, 501/405 ErrNotSupported).
type StatusError struct {
	// Code is the HTTP status code.
	Code int
	// Body is the remote's error text, trimmed.
	Body string
}

func (e *StatusError) Error() string {
	if e.Body != "" {
		return e.Body
	}
	return fmt.Sprintf("provider answered %d %s", e.Code, http.StatusText(e.Code))
}

// Unwrap returns the sentinel for the status code, or nil.
func (e *StatusError) Unwrap() error {
	switch e.Code {
	case http.StatusNotFound:
		return provider.ErrNotFound
	case http.StatusConflict:
		return provider.ErrExists
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return provider.ErrInvalid
	case http.StatusServiceUnavailable:
		return provider.ErrNoReplicas
	case http.StatusNotImplemented, http.StatusMethodNotAllowed:
		return provider.ErrNotSupported
	}
	return nil
}

// NewClient returns a client of the faas-provider API at baseURL, e.g.
// "http://127.0.0.1:8081" (a trailing slash is fine).
func NewClient(baseURL string, cfg ClientConfig) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("parsing provider URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("provider URL %q: want http:// or https:// and a host", baseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: proxy.NewTransport()}
	}
	return &Client{base: u, cfg: cfg, http: hc, cache: newReplicaCache(cfg.StatusTTL)}, nil
}

// endpoint builds base + path + ?query.
func (c *Client) endpoint(path string, query url.Values) string {
	u := *c.base
	u.Path += path
	u.RawQuery = query.Encode()
	return u.String()
}

// do sends one /system call with an optional JSON body and returns the
// response when it is 2xx, else a *StatusError. The caller closes the body.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encoding request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.endpoint(path, query), body)
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.cfg.Username != "" {
		req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("calling provider: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return nil, &StatusError{Code: resp.StatusCode, Body: strings.TrimSpace(string(b))}
	}
	return resp, nil
}

// call is do for calls whose answer is decoded into out (nil: discarded).
func (c *Client) call(ctx context.Context, method, path string, query url.Values, in, out any) error {
	resp, err := c.do(ctx, method, path, query, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decoding %s %s answer: %w", method, path, err)
	}
	return nil
}

func nsQuery(ns string) url.Values { return url.Values{"namespace": {ns}} }

// Deploy POSTs the deployment.
func (c *Client) Deploy(ctx context.Context, fn api.FunctionDeployment) error {
	defer c.cache.drop(fnKey{fn.Service, fn.Namespace})
	return c.call(ctx, http.MethodPost, api.PathFunctions, nil, fn, nil)
}

// Update PUTs the deployment.
func (c *Client) Update(ctx context.Context, fn api.FunctionDeployment) error {
	defer c.cache.drop(fnKey{fn.Service, fn.Namespace})
	return c.call(ctx, http.MethodPut, api.PathFunctions, nil, fn, nil)
}

// Remove DELETEs a function (namespace in the body and the query).
func (c *Client) Remove(ctx context.Context, name, namespace string) error {
	defer c.cache.drop(fnKey{name, namespace})
	req := api.DeleteFunctionRequest{FunctionName: name, Namespace: namespace}
	return c.call(ctx, http.MethodDelete, api.PathFunctions, nsQuery(namespace), req, nil)
}

// Functions lists a namespace's functions.
func (c *Client) Functions(ctx context.Context, namespace string) ([]api.FunctionStatus, error) {
	list := []api.FunctionStatus{}
	err := c.call(ctx, http.MethodGet, api.PathFunctions, nsQuery(namespace), nil, &list)
	for _, st := range list {
		c.cache.put(fnKey{st.Name, cmp.Or(st.Namespace, namespace)}, countOf(st))
	}
	return list, err
}

// Function reads one function.
func (c *Client) Function(ctx context.Context, name, namespace string, usage bool) (api.FunctionStatus, error) {
	st, err := c.status(ctx, name, namespace, usage)
	if err == nil {
		c.cache.put(fnKey{name, namespace}, countOf(st))
	}
	return st, err
}

// status is GET /system/function/{name}.
func (c *Client) status(ctx context.Context, name, namespace string, usage bool) (api.FunctionStatus, error) {
	q := nsQuery(namespace)
	if usage {
		q.Set("usage", "1")
	}
	var st api.FunctionStatus
	err := c.call(ctx, http.MethodGet, api.PathFunction+url.PathEscape(name), q, nil, &st)
	return st, err
}

// Scale POSTs a ScaleServiceRequest (namespace in the body and the query).
func (c *Client) Scale(ctx context.Context, name, namespace string, replicas uint64) error {
	defer c.cache.drop(fnKey{name, namespace})
	req := api.ScaleServiceRequest{ServiceName: name, Replicas: replicas, Namespace: namespace}
	return c.call(ctx, http.MethodPost, api.PathScaleFunction+url.PathEscape(name), nsQuery(namespace), req, nil)
}

// Resolve returns the remote's /function/{name}.{namespace} URL, through
// which the remote proxies the invocation. It first checks the function's
// replica count, read with GET /system/function/{name} at most once per
// StatusTTL (the count is cached): a function the remote does not know
// gives ErrNotFound, one with no available replica ErrNoReplicas, so the
// gateway can start a replica and hold the call.
func (c *Client) Resolve(ctx context.Context, name, namespace string) (provider.Target, error) {
	if err := api.ValidateName("function", name); err != nil {
		return provider.Target{}, fmt.Errorf("%w: %w", provider.ErrInvalid, err)
	}
	n, err := c.replicas(ctx, name, namespace)
	if err != nil {
		return provider.Target{}, err
	}
	if n.available == 0 {
		return provider.Target{}, noReplicas(name, namespace, n)
	}
	u := *c.base
	u.Path += api.PathInvoke + api.JoinName(name, namespace)
	return provider.Target{URL: &u, Transport: c.cfg.transport()}, nil
}

func (cfg ClientConfig) transport() http.RoundTripper {
	if cfg.HTTPClient == nil {
		return nil
	}
	return cfg.HTTPClient.Transport
}

// Info reads GET /system/info; it understands a provider's answer and a
// gateway's (whose "provider" is an object). On failure it reports the
// error as the orchestration.
func (c *Client) Info(ctx context.Context) api.ProviderInfo {
	var raw map[string]json.RawMessage
	if err := c.call(ctx, http.MethodGet, api.PathInfo, nil, nil, &raw); err != nil {
		return api.ProviderInfo{Name: "unknown", Orchestration: "unreachable: " + err.Error(), Version: &api.VersionInfo{}}
	}
	var info api.ProviderInfo
	if p := raw["provider"]; len(p) > 0 && p[0] == '{' {
		_ = json.Unmarshal(p, &info)
	} else {
		b, _ := json.Marshal(raw)
		_ = json.Unmarshal(b, &info)
	}
	if info.Version == nil {
		info.Version = &api.VersionInfo{}
	}
	return info
}

// errNotFoundRoute turns a 404 from a list route into ErrNotSupported: the
// remote has no such route.
func errNotFoundRoute(err error) error {
	var se *StatusError
	if errors.As(err, &se) && se.Code == http.StatusNotFound {
		return fmt.Errorf("%w: %w", provider.ErrNotSupported, err)
	}
	return err
}
