package registry

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Registry serves the OCI distribution API from a directory. Blobs,
// manifests and tags survive restarts: a new Registry on the same directory
// sees everything an earlier one stored. It is safe for concurrent use.
type Registry struct {
	dir string
	log *slog.Logger

	mu      sync.Mutex
	uploads map[string]*uploadLock // per-upload locks, by upload id
}

// uploadLock serialises the requests of one upload; refs counts holders.
type uploadLock struct {
	mu   sync.Mutex
	refs int
}

var _ http.Handler = (*Registry)(nil)

// New opens (creating if needed) a registry stored in dir. Temp files left
// by an earlier crash are removed.
func New(dir string, log *slog.Logger) (*Registry, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolving registry directory: %w", err)
	}
	if err := os.RemoveAll(filepath.Join(abs, dirTmp)); err != nil {
		return nil, fmt.Errorf("clearing registry temp files: %w", err)
	}
	for _, d := range []string{dirBlobs, dirRepos, dirUploads, dirTmp} {
		if err := os.MkdirAll(filepath.Join(abs, d), 0o755); err != nil {
			return nil, fmt.Errorf("creating registry directory: %w", err)
		}
	}
	return &Registry{dir: abs, log: log, uploads: make(map[string]*uploadLock)}, nil
}

// lockUpload takes the lock of upload id and returns its release function.
func (r *Registry) lockUpload(id string) func() {
	r.mu.Lock()
	l := r.uploads[id]
	if l == nil {
		l = &uploadLock{}
		r.uploads[id] = l
	}
	l.refs++
	r.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		r.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(r.uploads, id)
		}
		r.mu.Unlock()
	}
}

// routeKind says which API a /v2/ path addresses.
type routeKind int

const (
	routeBase routeKind = iota
	routeCatalog
	routeTags
	routeManifest
	routeBlob
	routeUpload
)

// route is a parsed /v2/ path.
type route struct {
	kind routeKind
	name string // repository
	ref  string // tag or digest (manifest), digest (blob), upload id ("" starts one)
}

// parseRoute splits a /v2/ path into the API and its parameters. Names may
// contain '/', so the fixed suffixes are matched from the end.
func parseRoute(path string) (route, error) {
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		if path == "/v2" {
			return route{kind: routeBase}, nil
		}
		return route{}, newAPIError(http.StatusNotFound, codeUnsupported, "not a registry API path", path)
	}
	switch rest {
	case "":
		return route{kind: routeBase}, nil
	case "_catalog":
		return route{kind: routeCatalog}, nil
	}
	p := strings.Split(rest, "/")
	n := len(p)
	var rt route
	switch {
	case n >= 3 && p[n-2] == "tags" && p[n-1] == "list":
		rt = route{kind: routeTags, name: strings.Join(p[:n-2], "/")}
	case n >= 3 && p[n-2] == "manifests":
		rt = route{kind: routeManifest, name: strings.Join(p[:n-2], "/"), ref: p[n-1]}
	case n >= 4 && p[n-3] == "blobs" && p[n-2] == "uploads":
		rt = route{kind: routeUpload, name: strings.Join(p[:n-3], "/"), ref: p[n-1]}
	case n >= 3 && p[n-2] == "blobs" && p[n-1] == "uploads":
		rt = route{kind: routeUpload, name: strings.Join(p[:n-2], "/")}
	case n >= 3 && p[n-2] == "blobs":
		rt = route{kind: routeBlob, name: strings.Join(p[:n-2], "/"), ref: p[n-1]}
	default:
		return route{}, newAPIError(http.StatusNotFound, codeUnsupported, "not a registry API path", path)
	}
	if err := validateName(rt.name); err != nil {
		return route{}, newAPIError(http.StatusBadRequest, codeNameInvalid, err.Error(), map[string]string{"name": rt.name})
	}
	return rt, nil
}

// ServeHTTP handles paths starting with /v2/. Authentication is done by the
// caller.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	rt, err := parseRoute(req.URL.Path)
	if err == nil {
		err = r.dispatch(w, req, rt)
	}
	if err != nil {
		r.writeError(w, req, err)
	}
}

// handlerFunc serves one route; an error is answered by writeError, so a
// handler returns an error only before it has written anything.
type handlerFunc func(http.ResponseWriter, *http.Request, route) error

func (r *Registry) dispatch(w http.ResponseWriter, req *http.Request, rt route) error {
	h := r.handler(rt.kind, req.Method)
	if h == nil {
		return newAPIError(http.StatusMethodNotAllowed, codeUnsupported, "method "+req.Method+" is not allowed here", nil)
	}
	return h(w, req, rt)
}

func (r *Registry) handler(kind routeKind, method string) handlerFunc {
	get := method == http.MethodGet || method == http.MethodHead
	switch {
	case kind == routeBase && get:
		return r.serveBase
	case kind == routeCatalog && get:
		return r.serveCatalog
	case kind == routeTags && get:
		return r.serveTags
	case kind == routeManifest:
		return map[string]handlerFunc{http.MethodGet: r.getManifest, http.MethodHead: r.getManifest,
			http.MethodPut: r.putManifestHandler, http.MethodDelete: r.deleteManifestHandler}[method]
	case kind == routeBlob:
		return map[string]handlerFunc{http.MethodGet: r.getBlob, http.MethodHead: r.getBlob,
			http.MethodDelete: r.deleteBlob}[method]
	case kind == routeUpload:
		return r.uploadHandler(method)
	}
	return nil
}

func (r *Registry) serveBase(w http.ResponseWriter, _ *http.Request, _ route) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", "2")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("{}"))
	return nil
}
