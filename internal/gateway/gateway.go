// Package gateway owns the OpenFaaS gateway HTTP API: it composes the
// faas-provider routes served over a back-end (internal/provider/rest) with
// what only a gateway does — basic auth on /system/* and /v2/, the
// invocation proxy with X-Call-Id and metrics, /system/info, the
// AlertManager webhook, /metrics and the embedded registry mount.
//
// It imports internal/provider (the interface), internal/provider/rest and
// internal/proxy (the shared HTTP handlers), internal/auth, internal/metrics
// and pkg/api; never a concrete back-end.
package gateway

import (
	"cmp"
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gofaas/gofaas/internal/metrics"
	"github.com/gofaas/gofaas/internal/provider"
	"github.com/gofaas/gofaas/internal/provider/rest"
	"github.com/gofaas/gofaas/internal/proxy"
	"github.com/gofaas/gofaas/pkg/api"
)

// Config configures a Gateway. The zero value is usable: no auth, no
// registry, OpenFaaS defaults for the rest.
type Config struct {
	// DefaultNamespace is used when a request names none (api.DefaultNamespace).
	DefaultNamespace string
	// UpstreamTimeout bounds one invocation (upstream_timeout; default 60s).
	UpstreamTimeout time.Duration
	// MaxBodyBytes bounds JSON bodies on /system/* (default 1 MiB).
	MaxBodyBytes int64
	// Auth guards /system/* and /v2/; nil leaves them open.
	Auth interface {
		Wrap(http.Handler) http.Handler
	}
	// Registry serves /v2/ when non-nil.
	Registry http.Handler
	// Version is reported by /system/info and X-Served-By.
	Version api.VersionInfo
	// Log receives the gateway's logs; nil discards them.
	Log *slog.Logger
	// ScaleFromZero holds calls to functions with no ready replica while
	// one starts (at zero replicas, or after a deploy, update or scale
	// through the gateway); off in the zero value (see zero.go).
	ScaleFromZero ScaleFromZero
	// Enqueuer stores /async-function/ calls; nil answers 501 there.
	Enqueuer Enqueuer
	// AsyncMaxBytes bounds an async request body (default 1 MiB).
	AsyncMaxBytes int64
}

// Gateway is the gateway's HTTP handler.
type Gateway struct {
	p        provider.Provider
	m        *metrics.Gateway
	cfg      Config
	log      *slog.Logger
	mux      *http.ServeMux
	proxy    *proxy.Proxy
	invoke   http.Handler // /function/, also reached past the mux (isInvoke)
	waker    *waker       // nil unless ScaleFromZero.Enabled
	ids      *callIDs
	servedBy string
}

// New returns a gateway in front of p that records into m.
func New(p provider.Provider, m *metrics.Gateway, cfg Config) *Gateway {
	cfg.DefaultNamespace = cmp.Or(cfg.DefaultNamespace, api.DefaultNamespace)
	cfg.UpstreamTimeout = cmp.Or(cfg.UpstreamTimeout, 60*time.Second)
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{
		p: p, m: m, cfg: cfg,
		log:      log.With("component", "gateway"),
		mux:      http.NewServeMux(),
		servedBy: "gofaas/" + cmp.Or(cfg.Version.Release, "dev"),
		ids:      newCallIDs(),
	}
	var resolver proxy.Resolver = p
	if cfg.ScaleFromZero.Enabled {
		g.waker = newWaker(p, cfg.ScaleFromZero, g.log)
		resolver = g.waker
	}
	g.proxy = proxy.New(resolver, proxy.Config{
		DefaultNamespace: cfg.DefaultNamespace,
		Timeout:          cfg.UpstreamTimeout,
		Observer:         m,
		Log:              g.log,
		Quick:            p,
	})
	g.routes()
	return g
}

func (g *Gateway) routes() {
	var started func(name, namespace string)
	if g.waker != nil {
		started = g.waker.started
	}
	system := rest.NewHandler(g.p, rest.HandlerConfig{
		DefaultNamespace: g.cfg.DefaultNamespace,
		Proxy:            g.proxy,
		MaxBodyBytes:     g.cfg.MaxBodyBytes,
		Status:           g.addInvocationCount,
		Started:          started,
		Log:              g.log,
	})
	protect := func(h http.Handler) http.Handler {
		if g.cfg.Auth == nil {
			return h
		}
		return g.cfg.Auth.Wrap(h)
	}
	g.invoke = g.callID(g.proxy)
	g.mux.Handle("/function/", g.invoke)
	g.asyncRoutes(protect)
	g.mux.Handle("GET /system/info", protect(http.HandlerFunc(g.info)))
	g.mux.Handle("POST /system/alert", protect(http.HandlerFunc(g.alert)))
	g.mux.Handle("/system/", protect(system))
	g.mux.Handle("/healthz", system)
	g.mux.Handle("GET /metrics", g.m.Handler())
	if g.cfg.Registry != nil {
		// Registry clients tell a registry by this header, on a 401 too.
		reg := protect(g.cfg.Registry)
		g.mux.Handle("/v2/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
			reg.ServeHTTP(w, r)
		}))
	}
	g.mux.HandleFunc("GET /{$}", g.index)
}

// ServeHTTP serves the gateway API.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if isInvoke(r) {
		r.Pattern = api.PathInvoke
		g.invoke.ServeHTTP(w, r)
		return
	}
	g.mux.ServeHTTP(w, r)
}

// addInvocationCount mixes the gateway's own invocation count into a
// function status, as OpenFaaS does from Prometheus.
func (g *Gateway) addInvocationCount(_ context.Context, st *api.FunctionStatus) {
	ns := cmp.Or(st.Namespace, g.cfg.DefaultNamespace)
	st.InvocationCount = g.m.InvocationCount(api.JoinName(st.Name, ns))
}

func noAsync(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, "asynchronous invocation is not enabled on this gateway", http.StatusNotImplemented)
}

func (g *Gateway) index(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte(g.servedBy + "\n\nREST API:   /system/functions (basic auth)\nInvoke:     /function/<name>[.<namespace>]\nAsync:      /async-function/<name>[.<namespace>]\nRegistry:   /v2/\nMetrics:    /metrics\n"))
}
