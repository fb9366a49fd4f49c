package proxy

import (
	"context"
	"errors"
	"mime"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofaas/gofaas/internal/fastproxy"
	"github.com/gofaas/gofaas/internal/provider"
)

// Ordinary invocations (no upgrade, a small body with a known length) to a
// replica reached over plain HTTP with an *http.Transport that only dials
// take internal/fastproxy's path: a pooled keep-alive connection used in
// the request's own goroutine. Everything else goes through
// httputil.ReverseProxy. Both paths answer alike.

// poolKey identifies one replica endpoint: its host and the transport
// that reaches it (Unix-socket replicas share a host name scheme but not
// a transport).
type poolKey struct {
	host string
	tr   *http.Transport
}

// poolEntry is one endpoint's pool and how many invocations use it.
type poolEntry struct {
	pool  *fastproxy.Pool
	users atomic.Int64
}

// pools holds one fastproxy.Pool per replica endpoint and drops the ones
// idle for longer than their idle timeout, checked as invocations arrive.
type pools struct {
	mu        sync.Mutex
	m         map[poolKey]*poolEntry
	lastSweep time.Time
	idleFor   time.Duration
	buffers   *fastproxy.BufferPool
}

func newPools() *pools {
	return &pools{m: make(map[poolKey]*poolEntry), idleFor: fastproxy.DefaultIdleTimeout,
		buffers: fastproxy.NewBufferPool()}
}

// acquire returns the pool of key, creating it with dial; release it with
// entry.users.Add(-1).
func (ps *pools) acquire(key poolKey, dial fastproxy.DialFunc) *poolEntry {
	now := time.Now()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if now.Sub(ps.lastSweep) >= ps.idleFor {
		ps.sweep(now)
	}
	e := ps.m[key]
	if e == nil {
		e = &poolEntry{pool: fastproxy.NewPool(dial, fastproxy.Config{IdleTimeout: ps.idleFor, Buffers: ps.buffers})}
		ps.m[key] = e
	}
	e.users.Add(1)
	return e
}

// sweep closes stale idle connections and forgets unused pools; ps.mu is
// held.
func (ps *pools) sweep(now time.Time) {
	ps.lastSweep = now
	for k, e := range ps.m {
		if e.pool.Prune(now) && e.users.Load() == 0 {
			delete(ps.m, k)
		}
	}
}

// len reports how many endpoints have a pool.
func (ps *pools) len() int {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return len(ps.m)
}

// fastKey reports whether t can take the fast path, with its pool key and
// dial function.
func (p *Proxy) fastKey(t provider.Target) (poolKey, fastproxy.DialFunc, bool) {
	if t.URL.Scheme != "http" || t.URL.Host == "" {
		return poolKey{}, nil, false
	}
	rt := t.Transport
	if rt == nil {
		rt = p.transport
	}
	tr, ok := rt.(*http.Transport)
	if !ok || tr.DialContext == nil || tr.Proxy != nil || tr.DialTLSContext != nil {
		return poolKey{}, nil, false
	}
	addr := t.URL.Host
	if t.URL.Port() == "" {
		addr = net.JoinHostPort(t.URL.Hostname(), "80")
	}
	dialContext := tr.DialContext
	dial := func(ctx context.Context) (net.Conn, error) { return dialContext(ctx, "tcp", addr) }
	return poolKey{host: t.URL.Host, tr: tr}, dial, true
}

// serveFast proxies r to c.target on the fast path, bounded by ctx.
func (p *Proxy) serveFast(c *call, r *http.Request, ctx context.Context, e *poolEntry) {
	defer e.users.Add(-1)
	body, err := fastproxy.ReadBody(r)
	if err != nil {
		p.invokeError(c, ctx, err)
		return
	}
	req := &fastproxy.Request{Method: r.Method, URI: c.requestURI(r), Host: c.target.URL.Host,
		Header: outboundHeader(r), Body: body, In: r, ModifyResponse: modifyFastResponse}
	err = e.pool.Do(ctx, c, req)
	if err == nil {
		return
	}
	if errors.Is(err, fastproxy.ErrBeforeResponse) {
		p.invokeError(c, ctx, err)
		return
	}
	p.log.Debug("copying function response", "function", c.function(), "error", err)
	if r.Context().Value(http.ServerContextKey) != nil {
		panic(http.ErrAbortHandler) // the response has started; cut it
	}
}

// requestURI is the outbound request target, as rewrite builds it.
func (c *call) requestURI(r *http.Request) string {
	u := c.target.URL
	sub := c.sub
	if sub == "" {
		sub = "/"
	}
	out := url.URL{Path: strings.TrimSuffix(u.Path, "/") + sub, RawQuery: r.URL.RawQuery, ForceQuery: r.URL.ForceQuery}
	if c.rawSub != "" {
		out.RawPath = strings.TrimSuffix(u.EscapedPath(), "/") + c.rawSub
	}
	return out.RequestURI()
}

// outboundHeader copies r's headers without hop-by-hop ones (those named
// in Connection included) and with X-Forwarded-* set as rewrite does.
func outboundHeader(r *http.Request) http.Header {
	h := make(http.Header, len(r.Header)+2)
	for k, vs := range r.Header {
		switch k {
		case "Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto":
			continue
		}
		if !fastproxy.IsHop(k) {
			h[k] = vs
		}
	}
	removeConnectionHeaders(h, r.Header)
	setForwarded(r, h)
	return h
}

// removeConnectionHeaders deletes from h the headers listed in from's
// Connection header.
func removeConnectionHeaders(h, from http.Header) {
	for _, v := range from["Connection"] {
		for sf := range strings.SplitSeq(v, ",") {
			if sf = textproto.TrimString(sf); sf != "" {
				h.Del(sf)
			}
		}
	}
}

// modifyFastResponse is modifyResponse plus what ReverseProxy does on its
// own: drop the headers named in Connection and flush event streams as
// they arrive.
func modifyFastResponse(res *http.Response) error {
	removeConnectionHeaders(res.Header, res.Header)
	if err := modifyResponse(res); err != nil {
		return err
	}
	if base, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); base == "text/event-stream" {
		res.ContentLength = -1 // flush every write; the body keeps its length
	}
	return nil
}
