// Package client is a Go client of the OpenFaaS gateway REST API, spoken the
// way faas-cli speaks it: the same paths, bodies, query parameters and
// fallbacks (PUT then POST on deploy, DELETE then POST on replace). The gofaas
// CLI, the e2e tests and any Go program may use it against gofaas or a real
// OpenFaaS gateway.
//
// It imports only the standard library and pkg/api.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultTimeout bounds every call except Invoke and Logs, as faas-cli's
// 60-second HTTP timeout does.
const DefaultTimeout = 60 * time.Second

// Client calls one gateway. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	hc        *http.Client
	timeout   time.Duration
	userAgent string
	user      string
	password  string
	token     string
	dump      io.Writer
}

// Option configures a Client.
type Option func(*Client)

// WithBasicAuth sends user and password as basic auth on /system/* calls.
func WithBasicAuth(user, password string) Option {
	return func(c *Client) { c.user, c.password = user, password }
}

// WithToken sends token as a bearer token on /system/* calls; it wins over
// basic auth.
func WithToken(token string) Option {
	return func(c *Client) { c.token = token }
}

// WithHTTPClient sets the HTTP client; its Timeout should be zero, as the
// Client bounds calls itself (see WithTimeout). The default is a client on
// a clone of http.DefaultTransport.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.hc = hc }
}

// WithTimeout bounds each call but Invoke and Logs; zero means no bound.
// The default is DefaultTimeout.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) { c.timeout = d }
}

// WithUserAgent sets the User-Agent header; the default is "gofaas/dev".
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.userAgent = ua }
}

// WithDump writes every request and response to w, with the Authorization
// header redacted (what OPENFAAS_DUMP_HTTP=true turns on in the CLI).
func WithDump(w io.Writer) Option {
	return func(c *Client) { c.dump = w }
}

// New returns a client of the gateway at the given URL, such as
// "http://127.0.0.1:8080". A URL without a scheme gets http://.
func New(gateway string, opts ...Option) (*Client, error) {
	raw := strings.TrimSpace(gateway)
	if raw == "" {
		return nil, errors.New("gateway URL is empty")
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("parsing gateway URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("gateway URL %q must be http:// or https:// and name a host", gateway)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	c := &Client{base: u, timeout: DefaultTimeout, userAgent: "gofaas/dev"}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		c.hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	return c, nil
}

// Gateway returns the gateway's URL, without a trailing slash.
func (c *Client) Gateway() string { return c.base.String() }

// call is one request to the gateway.
type call struct {
	method string
	path   string // unescaped, appended to the gateway URL's path
	query  url.Values
	body   any // marshalled as JSON when non-nil
	header http.Header
	// stream skips the client's timeout and leaves the body to the caller.
	stream bool
	// noAuth leaves the Authorization header out (function invocations).
	noAuth bool
}

// newRequest builds the HTTP request of a call.
func (c *Client) newRequest(ctx context.Context, cl call, body io.Reader) (*http.Request, error) {
	u := *c.base
	u.Path = strings.TrimRight(c.base.Path, "/") + cl.path
	u.RawPath = ""
	if len(cl.query) > 0 {
		u.RawQuery = cl.query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	for k, vs := range cl.header {
		req.Header[k] = vs
	}
	req.Header.Set("User-Agent", c.userAgent)
	if !cl.noAuth {
		c.authorize(req)
	}
	return req, nil
}

func (c *Client) authorize(req *http.Request) {
	switch {
	case c.token != "":
		req.Header.Set("Authorization", "Bearer "+c.token)
	case c.user != "" || c.password != "":
		req.SetBasicAuth(c.user, c.password)
	}
}

// send runs a call and returns the response whatever its status. Unless the
// call streams, the body is read in full before the call's deadline ends.
func (c *Client) send(ctx context.Context, cl call) (*http.Response, error) {
	var body io.Reader
	if cl.body != nil {
		if r, ok := cl.body.(io.Reader); ok {
			body = r
		} else {
			b, err := json.Marshal(cl.body)
			if err != nil {
				return nil, fmt.Errorf("encoding request body: %w", err)
			}
			body = bytes.NewReader(b)
			if cl.header == nil {
				cl.header = http.Header{}
			}
			cl.header.Set("Content-Type", "application/json")
		}
	}
	cancel := context.CancelFunc(func() {})
	if !cl.stream && c.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
	}
	defer cancel()
	req, err := c.newRequest(ctx, cl, body)
	if err != nil {
		return nil, err
	}
	c.dumpRequest(req)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, cl, err)
	}
	if !cl.stream {
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("reading the answer to %s %s: %w", cl.method, cl.path, err)
		}
		resp.Body = io.NopCloser(bytes.NewReader(data))
		c.dumpResponse(resp, data)
	} else {
		c.dumpResponse(resp, nil)
	}
	return resp, nil
}

// do runs a non-streaming call, checks that the status is one of ok (any
// 2xx when ok is empty) and decodes a JSON answer into out when non-nil.
func (c *Client) do(ctx context.Context, cl call, out any, ok ...int) (int, error) {
	resp, err := c.send(ctx, cl)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if !statusOK(resp.StatusCode, ok) {
		return resp.StatusCode, newStatusError(resp.StatusCode, cl.method, cl.path, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decoding the answer to %s %s: %w", cl.method, cl.path, err)
		}
	}
	return resp.StatusCode, nil
}

func statusOK(code int, ok []int) bool {
	if len(ok) == 0 {
		return code >= 200 && code < 300
	}
	for _, c := range ok {
		if c == code {
			return true
		}
	}
	return false
}

// namespaceQuery returns ?namespace=ns, or nothing when ns is empty.
func namespaceQuery(ns string) url.Values {
	if ns == "" {
		return nil
	}
	return url.Values{"namespace": {ns}}
}

// transportError explains a request that got no answer: the deadline, the
// caller's cancellation or an unreachable gateway.
func (c *Client) transportError(ctx context.Context, cl call, err error) error {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) && !cl.stream && c.timeout > 0:
		return fmt.Errorf("%s %s: no answer from the gateway at %s within %s: %w", cl.method, cl.path, c.Gateway(), c.timeout, err)
	case ctx.Err() != nil:
		return fmt.Errorf("%s %s: %w", cl.method, cl.path, ctx.Err())
	}
	return &ConnectError{Gateway: c.Gateway(), Err: err}
}
