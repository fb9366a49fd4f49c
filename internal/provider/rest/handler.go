// Package rest serves any provider.Provider as the faas-provider REST API
// (the /system/* routes, /healthz and the /function/ proxy that faas-cli and
// the OpenFaaS gateway call), and implements a provider.Provider backed by a
// remote faas-provider API (a gofaas provider, faas-netes or faasd), which
// keeps each function's replica count for a moment so that Resolve can
// report a function with no replica ready without a round trip per call.
//
// It imports internal/provider, internal/proxy and pkg/api only.
package rest

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/gofaas/gofaas/internal/provider"
	"github.com/gofaas/gofaas/internal/proxy"
	"github.com/gofaas/gofaas/pkg/api"
)

// DefaultMaxBodyBytes is the request body limit of the /system/* JSON routes
// when HandlerConfig.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 1 << 20

// HandlerConfig configures NewHandler. The zero value works.
type HandlerConfig struct {
	// DefaultNamespace is used when a request names none
	// (default api.DefaultNamespace).
	DefaultNamespace string
	// Proxy serves /function/...; nil means proxy.New(p, ...) with the
	// default namespace and no timeout.
	Proxy http.Handler
	// MaxBodyBytes limits /system/* JSON request bodies (default 1 MiB);
	// larger bodies get 413.
	MaxBodyBytes int64
	// Info is reported by GET /system/info when p is not a
	// provider.Informer (default: provider "gofaas").
	Info api.ProviderInfo
	// Status, if non-nil, may amend every function status before it is
	// sent (the gateway adds invocationCount).
	Status func(ctx context.Context, st *api.FunctionStatus)
	// Started, if non-nil, is called after a deploy, an update or a scale
	// to one replica or more succeeded: replicas of the function may be
	// starting (the gateway holds calls to them for a while).
	Started func(name, namespace string)
	// Log receives one line per failed request (Debug for client errors,
	// Error for 500s); nil discards them.
	Log *slog.Logger
}

// handler serves the faas-provider API over p.
type handler struct {
	p   provider.Provider
	cfg HandlerConfig
	log *slog.Logger
}

// NewHandler returns the faas-provider REST API over p.
func NewHandler(p provider.Provider, cfg HandlerConfig) http.Handler {
	if cfg.DefaultNamespace == "" {
		cfg.DefaultNamespace = api.DefaultNamespace
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	cfg.Info.Name = cmp.Or(cfg.Info.Name, "gofaas")
	cfg.Info.Orchestration = cmp.Or(cfg.Info.Orchestration, "unknown")
	if cfg.Info.Version == nil {
		cfg.Info.Version = &api.VersionInfo{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Proxy == nil {
		cfg.Proxy = proxy.New(p, proxy.Config{DefaultNamespace: cfg.DefaultNamespace, Log: cfg.Log})
	}
	h := &handler{p: p, cfg: cfg, log: cfg.Log}
	return h.routes()
}

func (h *handler) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.PathFunctions, h.listFunctions)
	mux.HandleFunc("POST "+api.PathFunctions, h.deploy)
	mux.HandleFunc("PUT "+api.PathFunctions, h.update)
	mux.HandleFunc("DELETE "+api.PathFunctions, h.remove)
	mux.HandleFunc("GET "+api.PathFunction+"{name}", h.getFunction)
	mux.HandleFunc("POST "+api.PathScaleFunction+"{name}", h.scale)
	mux.HandleFunc("GET "+api.PathInfo, h.info)
	mux.HandleFunc("GET "+api.PathSecrets, h.listSecrets)
	mux.HandleFunc("POST "+api.PathSecrets, h.createSecret)
	mux.HandleFunc("PUT "+api.PathSecrets, h.updateSecret)
	mux.HandleFunc("DELETE "+api.PathSecrets, h.deleteSecret)
	mux.HandleFunc("GET "+api.PathLogs, h.logs)
	mux.HandleFunc("GET "+api.PathNamespaces, h.listNamespaces)
	for _, path := range []string{api.PathNamespace + "{name}", api.PathNamespace + "{$}"} {
		mux.HandleFunc("GET "+path, h.getNamespace)
		mux.HandleFunc("POST "+path, h.createNamespace)
		mux.HandleFunc("PUT "+path, h.updateNamespace)
		mux.HandleFunc("DELETE "+path, h.deleteNamespace)
	}
	mux.HandleFunc("GET "+api.PathHealthz, healthz)
	mux.Handle(api.PathInvoke, h.cfg.Proxy)
	return mux
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "OK\n")
}

// WriteError is the one place errors become status codes: ErrNotFound 404,
// ErrExists 409, ErrInvalid 400, ErrNoReplicas 503, ErrNotSupported 501,
// a body over the limit 413, anything else 500. The body is err's text.
func WriteError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, provider.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, provider.ErrExists):
		code = http.StatusConflict
	case errors.Is(err, provider.ErrInvalid):
		code = http.StatusBadRequest
	case errors.Is(err, provider.ErrNoReplicas):
		code = http.StatusServiceUnavailable
	case errors.Is(err, provider.ErrNotSupported):
		code = http.StatusNotImplemented
	case errors.As(err, &tooBig):
		code = http.StatusRequestEntityTooLarge
	}
	writeText(w, code, err.Error())
}

func writeText(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg+"\n")
}

// fail logs err once and answers with WriteError.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	level := slog.LevelDebug
	if !isClientError(err) {
		level = slog.LevelError
	}
	h.log.Log(r.Context(), level, "request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	WriteError(w, err)
}

func isClientError(err error) bool {
	var tooBig *http.MaxBytesError
	for _, s := range []error{provider.ErrNotFound, provider.ErrExists, provider.ErrInvalid, provider.ErrNoReplicas, provider.ErrNotSupported} {
		if errors.Is(err, s) {
			return true
		}
	}
	return errors.As(err, &tooBig)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads a JSON body of at most MaxBodyBytes into v, tolerating
// unknown fields. Errors wrap ErrInvalid (or are *http.MaxBytesError).
func (h *handler) decode(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	return decodeJSON(body, v)
}

// readBody reads the whole request body, up to MaxBodyBytes.
func (h *handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, fmt.Errorf("request body is larger than the limit of %d bytes: %w", tooBig.Limit, err)
		}
		return nil, fmt.Errorf("%w: reading request body: %w", provider.ErrInvalid, err)
	}
	return body, nil
}

// decodeJSON parses body into v; it is the fuzzed core of decode.
func decodeJSON(body []byte, v any) error {
	if len(body) == 0 {
		return fmt.Errorf("%w: request body is empty; expected JSON", provider.ErrInvalid)
	}
	if err := json.Unmarshal(body, v); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) && syn.Offset >= int64(len(body)) {
			return fmt.Errorf("%w: invalid JSON in request body: unexpected EOF", provider.ErrInvalid)
		}
		return fmt.Errorf("%w: invalid JSON in request body: %w", provider.ErrInvalid, err)
	}
	return nil
}

// namespace applies the namespace rules: empty means the default, the name
// must be valid, kube-system is refused.
func (h *handler) namespace(ns string) (string, error) {
	if ns == "" {
		return h.cfg.DefaultNamespace, nil
	}
	if ns == api.ReservedNamespaceKube {
		return "", fmt.Errorf("%w: namespace %q is reserved", provider.ErrInvalid, ns)
	}
	if err := api.ValidateName("namespace", ns); err != nil {
		return "", fmt.Errorf("%w: %w", provider.ErrInvalid, err)
	}
	return ns, nil
}
