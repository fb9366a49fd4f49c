package proxy

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"time"

	"github.com/gofaas/gofaas/internal/fastproxy"
	"github.com/gofaas/gofaas/internal/provider"
	"github.com/gofaas/gofaas/pkg/api"
)

// call is the state of one invocation, carried to the ReverseProxy hooks in
// the request context. It also records the status sent to the client.
type call struct {
	http.ResponseWriter
	name, namespace string
	fn              string // "name.namespace"
	sub, rawSub     string
	target          provider.Target
	code            int
}

type callKey struct{}

func (c *call) WriteHeader(code int) {
	if c.code == 0 && code >= 200 || code == http.StatusSwitchingProtocols {
		c.code = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *call) Write(b []byte) (int, error) {
	if c.code == 0 {
		c.code = http.StatusOK
	}
	return c.ResponseWriter.Write(b)
}

// Flush supports callers that assert http.Flusher.
func (c *call) Flush() {
	if c.code == 0 {
		c.code = http.StatusOK
	}
	http.NewResponseController(c.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach Flush, Hijack and deadlines.
func (c *call) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func (c *call) function() string { return c.fn }

func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, name, namespace, sub, rawSub string) {
	if !allowed(r.Method) {
		w.Header().Set("Allow", allowedMethods)
		proxyError(w, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed for functions")
		return
	}
	if err := validate(name, namespace); err != nil {
		proxyError(w, http.StatusBadRequest, err.Error())
		return
	}
	c := &call{ResponseWriter: w, name: name, namespace: namespace, fn: api.JoinName(name, namespace), sub: sub, rawSub: rawSub}
	start := time.Now()
	if p.cfg.Observer != nil {
		p.cfg.Observer.Started(c.fn)
		defer func() { p.cfg.Observer.Finished(c.fn, c.code, time.Since(start)) }()
	}
	ctx, deadline := r.Context(), time.Time{}
	if p.cfg.Timeout > 0 {
		deadline = start.Add(p.cfg.Timeout)
		dc := newDeadlineContext(ctx, deadline)
		defer dc.release()
		ctx = dc
	}
	t, err := p.resolver.Resolve(ctx, name, namespace)
	if err != nil {
		p.resolveError(c, ctx, err)
		return
	}
	if t.Done != nil {
		defer t.Done()
	}
	if t.URL == nil {
		proxyError(c, http.StatusInternalServerError, "function "+c.function()+" resolved to no URL")
		return
	}
	c.target = t
	if fastproxy.Eligible(r) {
		if key, ok := p.fastKey(t); ok {
			p.serveFast(c, r, ctx, deadline, p.pools.acquire(key, t.URL, start))
			return
		}
	}
	p.rp.ServeHTTP(c, r.WithContext(context.WithValue(ctx, callKey{}, c)))
}

func allowed(method string) bool {
	switch method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodHead:
		return true
	}
	return false
}

func validate(name, namespace string) error {
	if err := api.ValidateName("function", name); err != nil {
		return err
	}
	return api.ValidateName("namespace", namespace)
}

// resolveError answers an invocation whose function could not be resolved.
func (p *Proxy) resolveError(c *call, ctx context.Context, err error) {
	switch {
	case errors.Is(err, provider.ErrNotFound):
		proxyError(c, http.StatusNotFound, fmt.Sprintf("function %q not found in namespace %q", c.name, c.namespace))
	case errors.Is(err, provider.ErrNoReplicas):
		proxyError(c, http.StatusServiceUnavailable, err.Error())
	case errors.Is(err, provider.ErrInvalid):
		proxyError(c, http.StatusBadRequest, err.Error())
	case ctx.Err() != nil:
		p.timedOut(c)
	default:
		p.log.Debug("resolving function", "function", c.function(), "error", err)
		proxyError(c, http.StatusInternalServerError, fmt.Sprintf("cannot resolve function %s: %s", c.function(), err))
	}
}

// upstreamError is the ReverseProxy ErrorHandler: 504 when the deadline
// passed or the client left, 502 for every other transport failure.
func (p *Proxy) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	c, _ := r.Context().Value(callKey{}).(*call)
	if c == nil { // not reached: every request carries its call
		proxyError(w, http.StatusBadGateway, "cannot reach function: "+err.Error())
		return
	}
	p.invokeError(c, r.Context(), err)
}

// invokeError answers an invocation that failed before the response
// started: 504 when ctx ended, 502 otherwise.
func (p *Proxy) invokeError(c *call, ctx context.Context, err error) {
	p.failed(c, ctx.Err() != nil, err)
}

// failed answers an invocation that failed before the response started:
// 504 when it timed out or the client left, 502 otherwise.
func (p *Proxy) failed(c *call, timedOut bool, err error) {
	p.log.Debug("invoking function", "function", c.function(), "error", err)
	if timedOut {
		p.timedOut(c)
		return
	}
	proxyError(c, http.StatusBadGateway, fmt.Sprintf("cannot reach function %s: %s", c.function(), reason(err)))
}

func (p *Proxy) timedOut(c *call) {
	msg := "function " + c.function() + " did not answer before the client went away"
	if p.cfg.Timeout > 0 {
		msg = "function " + c.function() + " did not answer within " + p.timeoutIn
	}
	proxyError(c, http.StatusGatewayTimeout, msg)
}

// reason shortens a transport error to its cause ("connection refused").
func reason(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	return err.Error()
}

// proxyError writes a plain-text error flagged as coming from the proxy.
func proxyError(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set(api.HeaderInternal, "proxy")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(msg + "\n"))
}

// rewrite points the outbound request at the resolved replica.
func rewrite(pr *httputil.ProxyRequest) {
	c := pr.In.Context().Value(callKey{}).(*call)
	u, out := c.target.URL, pr.Out
	out.URL.Scheme, out.URL.Host, out.URL.User = u.Scheme, u.Host, nil
	base := strings.TrimSuffix(u.Path, "/")
	sub := c.sub
	if sub == "" {
		sub = "/"
	}
	out.URL.Path = base + sub
	out.URL.RawPath = ""
	if c.rawSub != "" {
		out.URL.RawPath = strings.TrimSuffix(u.EscapedPath(), "/") + c.rawSub
	}
	out.URL.RawQuery = pr.In.URL.RawQuery
	out.Host = ""
	setForwarded(pr.In, out.Header)
}

// setForwarded sets X-Forwarded-For (kept, else the client's address),
// X-Forwarded-Host (kept, else the request's Host) and X-Forwarded-Proto
// (kept) in out.
func setForwarded(in *http.Request, out http.Header) {
	if v := in.Header["X-Forwarded-For"]; len(v) > 0 {
		out["X-Forwarded-For"] = v
	} else if ip, _, err := net.SplitHostPort(in.RemoteAddr); err == nil {
		out.Set("X-Forwarded-For", ip)
	}
	if v := in.Header["X-Forwarded-Host"]; len(v) > 0 {
		out["X-Forwarded-Host"] = v
	} else {
		out.Set("X-Forwarded-Host", in.Host)
	}
	if v := in.Header["X-Forwarded-Proto"]; len(v) > 0 {
		out["X-Forwarded-Proto"] = v
	}
}

// modifyResponse fills in a missing Content-Type as faas-provider does
// (the request's, else text/plain) and streams NDJSON line by line.
func modifyResponse(res *http.Response) error {
	ct := res.Header.Get("Content-Type")
	if ct == "" && mayHaveBody(res) {
		ct = res.Request.Header.Get("Content-Type")
		if ct == "" {
			ct = "text/plain"
		}
		res.Header.Set("Content-Type", ct)
	}
	if strings.HasPrefix(ct, "application/x-ndjson") && res.ContentLength >= 0 {
		if base, _, _ := mime.ParseMediaType(ct); base == "application/x-ndjson" {
			// An unknown length makes ReverseProxy flush every write.
			res.ContentLength = -1
			res.Header.Del("Content-Length")
		}
	}
	return nil
}

func mayHaveBody(res *http.Response) bool {
	return res.StatusCode >= 200 && res.StatusCode != http.StatusNoContent &&
		res.StatusCode != http.StatusNotModified && res.Request.Method != http.MethodHead
}

// roundTripper sends each request over its target's transport, or the
// proxy's own.
type roundTripper struct{ p *Proxy }

func (rt roundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	if c, _ := r.Context().Value(callKey{}).(*call); c != nil && c.target.Transport != nil {
		return c.target.Transport.RoundTrip(r)
	}
	return rt.p.transport.RoundTrip(r)
}
