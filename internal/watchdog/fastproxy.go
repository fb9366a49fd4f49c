package watchdog

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
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
	uri := u.pathPrefix + r.URL.EscapedPath()
	if r.URL.RawQuery != "" || r.URL.ForceQuery {
		uri += "?" + r.URL.RawQuery
	}
	req := &fastproxy.Request{Method: r.Method, URI: uri, Host: r.Host, Header: r.Header, Body: body, In: r,
		Deadline: deadline}
	err = u.pool.Do(r.Context(), rw, req)
	if err == nil {
		return
	}
	if errors.Is(err, fastproxy.ErrBeforeResponse) {
		if fastproxy.TimedOut(req, err) {
			u.w.log.Warn("function timed out", "path", r.URL.Path)
			writeTimeout(rw, limit)
			return
		}
		u.proxyError(rw, r, err)
		return
	}
	u.w.log.Debug("proxying response failed", "path", r.URL.Path, "err", err)
	panic(http.ErrAbortHandler) // the response has started; cut it
}
