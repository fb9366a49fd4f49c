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

// acquire returns the pool of key, creating it to dial u's host through
// key.tr; release it with entry.users.Add(-1). now is the time of the call.
func (ps *pools) acquire(key poolKey, u *url.URL, now time.Time) *poolEntry {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if now.Sub(ps.lastSweep) >= ps.idleFor {
		ps.sweep(now)
	}
	e := ps.m[key]
	if e == nil {
		e = &poolEntry{pool: fastproxy.NewPool(dialer(key.tr, u), fastproxy.Config{IdleTimeout: ps.idleFor, Buffers: ps.buffers})}
		ps.m[key] = e
	}
	e.users.Add(1)
	return e
}

// dialer dials u's host (port 80 when u names none) through tr.
func dialer(tr *http.Transport, u *url.URL) fastproxy.DialFunc {
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	dialContext := tr.DialContext
	return func(ctx context.Context) (net.Conn, error) { return dialContext(ctx, "tcp", addr) }
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

// fastKey reports whether t can take the fast path, with its pool key.
func (p *Proxy) fastKey(t provider.Target) (poolKey, bool) {
	if t.URL.Scheme != "http" || t.URL.Host == "" {
		return poolKey{}, false
	}
	rt := t.Transport
	if rt == nil {
		rt = p.transport
	}
	tr, ok := rt.(*http.Transport)
	if !ok || tr.DialContext == nil || tr.Proxy != nil || tr.DialTLSContext != nil {
		return poolKey{}, false
	}
	return poolKey{host: t.URL.Host, tr: tr}, true
}

// serveFast proxies r to c.target on the fast path, bounded by deadline
// (zero: none) and r's context; ctx, the invocation's context, only
// serves to tell a timeout from other failures.
func (p *Proxy) serveFast(c *call, r *http.Request, ctx context.Context, deadline time.Time, e *poolEntry) {
	defer e.users.Add(-1)
	body, err := fastproxy.ReadBody(r)
	if err != nil {
		p.invokeError(c, ctx, err)
		return
	}
	req := &fastproxy.Request{Method: r.Method, URI: c.requestURI(r), Host: c.target.URL.Host,
		Header: outboundHeader(r), Body: body, In: r, ModifyResponse: modifyFastResponse, Deadline: deadline}
	err = e.pool.Do(r.Context(), c, req)
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

// outboundHeader turns r's headers, in place, into those rewrite sends
// (X-Forwarded-* set, Forwarded and the headers named in Connection
// dropped) but for the hop-by-hop ones, which fastproxy leaves out. The
// proxy owns the inbound request, so editing it saves a copy per call.
func outboundHeader(r *http.Request) http.Header {
	h := r.Header
	delete(h, "Forwarded")
	if len(h["Connection"]) > 0 {
		// X-Forwarded-* are kept even when named there, as rewrite does.
		forwarded := [...]string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"}
		var keep [len(forwarded)][]string
		for i, k := range forwarded {
			keep[i] = h[k]
		}
		removeConnectionHeaders(h, h)
		for i, k := range forwarded {
			if keep[i] != nil {
				h[k] = keep[i]
			}
		}
	}
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
	if isMediaType(res.Header.Get("Content-Type"), "text/event-stream") {
		res.ContentLength = -1 // flush every write; the body keeps its length
	}
	return nil
}

// isMediaType reports whether the Content-Type ct is of the media type
// want (lower case), parameters aside; it parses ct only when its start
// matches.
func isMediaType(ct, want string) bool {
	if len(ct) < len(want) || !strings.EqualFold(ct[:len(want)], want) {
		return false
	}
	base, _, _ := mime.ParseMediaType(ct)
	return base == want
}
