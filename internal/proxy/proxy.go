// Package proxy owns the invocation proxy: it serves /function/{name}[.{ns}][/{path}],
// resolves the function to a replica through a Resolver (a provider.Provider
// fits) and streams the request and response both ways, mapping failures to
// 404/503/502/504. Ordinary requests take internal/fastproxy's pooled
// connections; the rest go through httputil.ReverseProxy.
//
// It imports internal/provider, internal/fastproxy and pkg/api only. The gateway and the
// faas-provider REST handler (internal/provider/rest) both mount it.
package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"time"

	"github.com/gofaas/gofaas/internal/provider"
	"github.com/gofaas/gofaas/pkg/api"
)

// Resolver picks the replica one invocation goes to. provider.Provider
// satisfies it.
type Resolver interface {
	Resolve(ctx context.Context, name, namespace string) (provider.Target, error)
}

// Observer receives one Started and one Finished call per invocation whose
// function name was valid. It must be safe for concurrent use.
type Observer interface {
	// Started is called before the function is resolved; function is
	// "name.namespace".
	Started(function string)
	// Finished is called when the response is complete; code is the status
	// sent to the client (502/504 on proxy errors).
	Finished(function string, code int, d time.Duration)
}

// Config configures a Proxy. The zero value works.
type Config struct {
	// DefaultNamespace is used when the path has no ".namespace"
	// (default api.DefaultNamespace).
	DefaultNamespace string
	// Timeout is the deadline of one invocation, resolve included
	// (upstream_timeout); 0 means none, only the client's own.
	Timeout time.Duration
	// Transport reaches replicas whose Target has no Transport; nil means
	// a tuned *http.Transport (keep-alives, 1024 idle connections per host,
	// 5s dial timeout, no transparent compression).
	Transport http.RoundTripper
	// Observer, if non-nil, is told about every invocation (metrics).
	Observer Observer
	// Log receives debug lines for failed invocations; nil discards them.
	Log *slog.Logger
	// Quick, if non-nil, resolves for Relay, which must not wait (the
	// resolver may hold a call until a replica starts); nil means the
	// resolver.
	Quick Resolver
}

// Proxy is the invocation proxy. It is safe for concurrent use.
type Proxy struct {
	resolver  Resolver
	cfg       Config
	transport http.RoundTripper
	rp        *httputil.ReverseProxy
	pools     *pools // fast-path connections per replica endpoint
	quick     Resolver
	log       *slog.Logger
	timeoutIn string // Timeout as shown in 504 bodies
}

// allowedMethods is the Allow header of a 405.
const allowedMethods = "GET, POST, PUT, PATCH, DELETE, OPTIONS, HEAD"

// New returns a proxy that resolves functions through r.
func New(r Resolver, cfg Config) *Proxy {
	if cfg.DefaultNamespace == "" {
		cfg.DefaultNamespace = api.DefaultNamespace
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{resolver: r, cfg: cfg, transport: cfg.Transport, log: log, timeoutIn: formatTimeout(cfg.Timeout),
		pools: newPools()}
	if p.transport == nil {
		p.transport = NewTransport()
	}
	p.quick = cfg.Quick
	if p.quick == nil {
		p.quick = r
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        rewrite,
		Transport:      roundTripper{p},
		ModifyResponse: modifyResponse,
		ErrorHandler:   p.upstreamError,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	return p
}

// NewTransport returns the transport a Proxy uses by default.
func NewTransport() *http.Transport {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
	}
}

func formatTimeout(d time.Duration) string {
	if d > 0 && d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}

// ServeHTTP serves /function/{name}[.{namespace}][/{path}]: the function
// sees "/" or "/{path}" and the raw query.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fn, sub, ok := splitPath(r.URL.Path)
	if !ok {
		proxyError(w, http.StatusBadRequest, "Provide function name in the request path, as /function/<name>[.<namespace>]")
		return
	}
	rawSub := ""
	if r.URL.RawPath != "" {
		if _, rs, ok := splitPath(r.URL.EscapedPath()); ok {
			rawSub = rs
		}
	}
	name, ns := p.names(fn)
	p.forward(w, r, name, ns, sub, rawSub)
}

// names splits "name[.namespace]"; no dot means the default namespace.
func (p *Proxy) names(fn string) (name, namespace string) {
	name, namespace = api.SplitName(fn)
	if namespace == "" && strings.IndexByte(fn, '.') < 0 {
		namespace = p.cfg.DefaultNamespace
	}
	return name, namespace
}

// splitPath splits "/function/fn.ns/a/b" into "fn.ns" and "/a/b".
func splitPath(path string) (fn, sub string, ok bool) {
	rest, found := strings.CutPrefix(path, api.PathInvoke)
	if !found {
		return "", "", false
	}
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		fn, sub = rest[:i], rest[i:]
	} else {
		fn = rest
	}
	return fn, sub, fn != ""
}

// Forward proxies r to the function name in namespace ("" means the
// default one); the function sees subPath ("" means "/") and r's raw query.
// The gateway uses it when it has parsed the path itself.
func (p *Proxy) Forward(w http.ResponseWriter, r *http.Request, name, namespace, subPath string) {
	if namespace == "" {
		namespace = p.cfg.DefaultNamespace
	}
	p.forward(w, r, name, namespace, subPath, "")
}
