package watchdog

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/gofaas/gofaas/internal/fastproxy"
)

// The fast path (internal/fastproxy) proxies ordinary requests (no upgrade,
// a small body with a known length) over a pooled keep-alive connection in
// the request's own goroutine; this is most of http mode's throughput.
// Everything else goes through httputil.ReverseProxy.

// newPool returns the fast path's connection pool to addr.
func newPool(addr string, buffers *fastproxy.BufferPool) *fastproxy.Pool {
	var d net.Dialer
	dial := func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	return fastproxy.NewPool(dial, fastproxy.Config{Buffers: buffers})
}

// serveFast proxies r on the fast path, bounded by deadline (zero: none)
// and r's context; limit is the timeout reported in a 504.
func (u *upstream) serveFast(rw http.ResponseWriter, r *http.Request, deadline time.Time, limit time.Duration) {
	body, err := fastproxy.ReadBody(r)
	if err != nil {
		http.Error(rw, fmt.Sprintf("reading request body: %s", err), http.StatusBadRequest)
		return
	}
	req := &fastproxy.Request{Method: r.Method, URI: u.uri(r.URL), Host: r.Host, Header: r.Header, Body: body, In: r,
		Deadline: deadline}
	err = u.pool.Do(r.Context(), rw, req)
	if err == nil {
		return
	}
	if errors.Is(err, fastproxy.ErrBeforeResponse) {
		u.failed(rw, r, err, fastproxy.TimedOut(req, err), limit)
		return
	}
	u.w.log.Debug("proxying response failed", "path", r.URL.Path, "err", err)
	panic(http.ErrAbortHandler) // the response has started; cut it
}

// uri is the upstream request target for the client's URL: upstream_url's
// path, then the client's path and query.
func (u *upstream) uri(url *url.URL) string {
	uri := u.pathPrefix + url.EscapedPath()
	if url.RawQuery != "" || url.ForceQuery {
		uri += "?" + url.RawQuery
	}
	return uri
}

// failed answers a fast-path call that failed before the response: 504
// when its deadline passed (limit is the timeout reported), else as
// proxyError.
func (u *upstream) failed(rw http.ResponseWriter, r *http.Request, err error, timedOut bool, limit time.Duration) {
	if timedOut {
		u.w.log.Warn("function timed out", "path", r.URL.Path)
		writeTimeout(rw, limit)
		return
	}
	u.proxyError(rw, r, err)
}
