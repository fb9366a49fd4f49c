package proxy

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gofaas/gofaas/internal/fastproxy"
	"github.com/gofaas/gofaas/internal/lane"
	"github.com/gofaas/gofaas/internal/provider"
	"github.com/gofaas/gofaas/pkg/api"
)

// Relaying answers an ordinary invocation the lane read (lane.Exchange)
// with fastproxy.Pool.Relay, without an http.Request: the function must
// resolve at once to a replica the fast path reaches, the path must need
// no unescaping, and the method must carry its own framing. Anything else,
// or any resolve failure, is left to ServeHTTP, which answers as always.
// Both answer alike: same upstream request, same response headers, same
// errors, same metrics.

// Decoration is what the caller (the gateway) adds to a relayed
// invocation: call ID and timing headers.
type Decoration interface {
	// RequestHeader appends request header lines for the function.
	RequestHeader(b []byte) []byte
	// DropRequest reports client request headers (canonical names) that
	// RequestHeader replaces.
	DropRequest(name []byte) bool
	// ResponseHeader appends response header lines; hasDuration reports
	// a non-empty X-Duration-Seconds from the function.
	ResponseHeader(b []byte, hasDuration bool) []byte
	// DropResponse reports function response headers (canonical names)
	// that ResponseHeader replaces.
	DropResponse(name []byte) bool
	// Wrap decorates the http.ResponseWriter of answers made through one.
	Wrap(http.ResponseWriter) http.ResponseWriter
}

// Relay answers ex, an invocation that arrived at start, or returns false,
// having done nothing, to leave it to ServeHTTP.
func (p *Proxy) Relay(ex *lane.Exchange, start time.Time, dec Decoration) bool {
	if ex.URL.RawPath != "" || !allowed(ex.Method) || !fastproxy.Relayable(ex) {
		return false
	}
	fn, sub, ok := splitPath(ex.URL.Path)
	if !ok {
		return false
	}
	name, ns := p.names(fn)
	if validate(name, ns) != nil {
		return false
	}
	var deadline time.Time
	rctx := context.Background()
	if p.cfg.Timeout > 0 {
		// Bounded as ServeHTTP's resolve is; the context is made only if a
		// resolver looks at it (the process back-end does not).
		deadline = start.Add(p.cfg.Timeout)
		dc := newDeadlineContext(rctx, deadline)
		defer dc.release()
		rctx = dc
	}
	t, err := p.quick.Resolve(rctx, name, ns)
	if err != nil {
		return false
	}
	key, ok := poolKey{}, false
	if t.URL != nil { // ServeHTTP answers 500 to a target without one
		key, ok = p.fastKey(t)
	}
	if !ok {
		if t.Done != nil {
			t.Done()
		}
		return false
	}
	if t.Done != nil {
		defer t.Done()
	}
	c := &call{name: name, namespace: ns, fn: api.JoinName(name, ns), sub: sub, target: t}
	if p.cfg.Observer != nil {
		p.cfg.Observer.Started(c.fn)
		defer func() { p.cfg.Observer.Finished(c.fn, c.code, time.Since(start)) }()
	}
	e := p.pools.acquire(key, t.URL, start)
	defer e.users.Add(-1)

	dropClose := ex.ClosesConnection()
	rl := &fastproxy.Relay{URI: relayURI(t, sub, ex), Host: t.URL.Host, Deadline: deadline,
		Header: forwardedHeader(dec.RequestHeader(nil), ex), Drop: func(k []byte) bool {
			// outboundHeader drops Forwarded, and the headers Connection
			// names (Relayable leaves only close and keep-alive, a hop).
			return string(k) == "Forwarded" || (dropClose && string(k) == "Close") || dec.DropRequest(k)
		}}
	hooks := &relayHooks{ex: ex, dec: dec, c: c}
	status, err := e.pool.Relay(ex, rl, hooks)
	switch {
	case err == nil:
		if c.code == 0 {
			c.code = status
		}
	case errors.Is(err, fastproxy.ErrBeforeResponse):
		c.ResponseWriter = dec.Wrap(ex.ResponseWriter())
		p.failed(c, fastproxy.TimedOutAt(deadline, err) || ex.Gone(), err)
	default:
		p.log.Debug("copying function response", "function", c.fn, "error", err)
		if c.code == 0 {
			c.code = status
		}
		ex.CloseAfter() // the response has started; cut it
	}
	return true
}

// relayURI is the upstream request target, as requestURI builds it.
func relayURI(t provider.Target, sub string, ex *lane.Exchange) string {
	if sub == "" {
		sub = "/"
	}
	base := strings.TrimSuffix(t.URL.Path, "/")
	if t.URL.RawPath != "" || !isPlainPath(base) || !isPlainPath(sub) {
		c := &call{target: t, sub: sub}
		return c.requestURI(&http.Request{URL: ex.URL})
	}
	if ex.URL.RawQuery != "" || ex.URL.ForceQuery {
		return base + sub + "?" + ex.URL.RawQuery
	}
	return base + sub
}

// isPlainPath reports a path url.URL.EscapedPath leaves as it is.
func isPlainPath(p string) bool {
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-_.~$&+,/:;=@", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// forwardedHeader appends X-Forwarded-For and X-Forwarded-Host unless the
// client sent them (its own are forwarded as they are), as setForwarded.
func forwardedHeader(b []byte, ex *lane.Exchange) []byte {
	hasFor, hasHost := false, false
	for k := range ex.Fields {
		hasFor = hasFor || bytes.EqualFold(k, []byte(api.HeaderForwardedFor))
		hasHost = hasHost || bytes.EqualFold(k, []byte(api.HeaderForwardedHost))
	}
	if !hasFor {
		if ip, _, err := net.SplitHostPort(ex.RemoteAddr()); err == nil {
			b = append(b, api.HeaderForwardedFor+": "...)
			b = append(b, ip...)
			b = append(b, "\r\n"...)
		}
	}
	if !hasHost {
		b = append(b, api.HeaderForwardedHost+": "...)
		b = append(b, ex.Host...)
		b = append(b, "\r\n"...)
	}
	return b
}

// connectionHasClose reports whether a Connection header of ex lists
// relayHooks give a relayed response what modifyFastResponse and the
// decoration give a proxied one.
type relayHooks struct {
	ex          *lane.Exchange
	dec         Decoration
	c           *call
	types       int // Content-Type lines
	sawType     bool
	hasDuration bool
}

func (h *relayHooks) Field(name, value []byte) (keep, plain bool) {
	switch string(name) {
	case "Content-Type":
		// modifyResponse and the lane look at the first value only: leave
		// several to the ResponseWriter path.
		if h.types++; h.types > 1 {
			return false, false
		}
		if len(value) == 0 {
			return false, true // modifyResponse replaces an empty one
		}
		if hasPrefixFold(value, "text/event-stream") || hasPrefixFold(value, "application/x-ndjson") {
			return false, false // streamed: the ResponseWriter path flushes as it goes
		}
		h.sawType = true
	case api.HeaderDuration:
		// An empty one is not plain: what a decoration does with it is
		// its Wrap's to say (the gateway's replaces it).
		if len(value) == 0 {
			return false, false
		}
		h.hasDuration = true
	}
	return !h.dec.DropResponse(name), true
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && bytes.EqualFold(b[:len(prefix)], []byte(prefix))
}

func (h *relayHooks) AppendHeader(b []byte, _ int) ([]byte, bool) {
	if !h.sawType {
		ct := h.ex.Get("Content-Type")
		if ct == "" {
			ct = "text/plain"
		}
		b = append(b, "Content-Type: "...)
		b = append(b, ct...)
		b = append(b, "\r\n"...)
	}
	return h.dec.ResponseHeader(b, h.hasDuration), true
}

func (h *relayHooks) Writer(rw http.ResponseWriter) http.ResponseWriter {
	h.c.ResponseWriter = h.dec.Wrap(rw)
	return h.c
}

func (h *relayHooks) ModifyResponse(res *http.Response) error { return modifyFastResponse(res) }

var _ fastproxy.RelayHooks = (*relayHooks)(nil)
