package gateway

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gofaas/gofaas/internal/provider"
	"github.com/gofaas/gofaas/pkg/api"
)

// Enqueuer stores asynchronous calls durably and manages them. cmd wires
// internal/queue behind it; the gateway never imports the queue.
type Enqueuer interface {
	// Enqueue stores the call; when it returns nil the call is durable.
	// It returns an error wrapping ErrCallTooLarge when the call does not
	// fit in one queue message.
	Enqueue(ctx context.Context, call AsyncCall) error
	// Cancel removes a queued call no worker has started: ErrCallNotFound,
	// ErrCallStarted otherwise.
	Cancel(ctx context.Context, callID string) error
	// DeadLetters lists up to limit failed calls, newest first.
	DeadLetters(ctx context.Context, limit int) ([]DeadLetter, error)
	// Replay queues a dead letter again with its X-Call-Id (ErrCallNotFound).
	Replay(ctx context.Context, callID string) error
}

// Errors an Enqueuer returns, wrapped with %w.
var (
	ErrCallNotFound = errors.New("no such queued call")
	ErrCallStarted  = errors.New("call already started")
	ErrCallTooLarge = errors.New("call too large for the queue")
)

// AsyncCall is one /async-function/ request as it is queued.
type AsyncCall struct {
	// Name and Namespace name the function.
	Name, Namespace string
	// Method, Path ("" or "/a/b", escaped) and Query (raw) are replayed.
	Method, Path, Query string
	// Host is the Host the caller used.
	Host string
	// Header holds the request headers with X-Call-Id and X-Start-Time set.
	Header http.Header
	// Body is the request body.
	Body []byte
	// CallbackURL receives the result when non-empty (X-Callback-Url).
	CallbackURL string
	// QueueName is the function's com.openfaas.queue annotation.
	QueueName string
	// Annotations are the function's annotations (retry policy).
	Annotations map[string]string
}

// CallID returns the call's X-Call-Id.
func (c AsyncCall) CallID() string { return c.Header.Get(api.HeaderCallID) }

// DeadLetter is a failed async call as GET /system/async/dead-letters lists it.
type DeadLetter struct {
	CallID   string    `json:"callId"`
	Function string    `json:"function"`
	Method   string    `json:"method"`
	Path     string    `json:"path,omitempty"`
	Status   int       `json:"status"`
	Attempts int       `json:"attempts"`
	Error    string    `json:"error,omitempty"`
	Body     string    `json:"body,omitempty"`
	FailedAt time.Time `json:"failedAt"`
}

// Routes of the async API besides /async-function/.
const (
	pathDeadLetters = "/system/async/dead-letters"
	defaultAsyncMax = 1 << 20
	annotationQueue = "com.openfaas.queue"
	// enqueueTimeout bounds the wait for the queue to store one call.
	enqueueTimeout = 30 * time.Second
)

func (g *Gateway) asyncRoutes(protect func(http.Handler) http.Handler) {
	if g.cfg.Enqueuer == nil {
		g.mux.Handle(api.PathAsyncInvoke, http.HandlerFunc(noAsync))
		g.mux.Handle(pathDeadLetters+"/", protect(http.HandlerFunc(noAsync)))
		return
	}
	g.mux.HandleFunc(api.PathAsyncInvoke, g.async)
	g.mux.Handle("GET "+pathDeadLetters, protect(http.HandlerFunc(g.deadLetters)))
	g.mux.Handle("POST "+pathDeadLetters+"/{id}/replay", protect(http.HandlerFunc(g.replay)))
}

// async serves /async-function/{name}[.{namespace}][/{path}]: it stores
// the call and answers 202 with X-Call-Id, or cancels a queued call on
// DELETE /async-function/{call-id}.
func (g *Gateway) async(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.EscapedPath(), api.PathAsyncInvoke)
	fn, sub, _ := strings.Cut(rest, "/")
	if sub != "" || strings.HasSuffix(rest, "/") {
		sub = "/" + sub
	}
	if r.Method == http.MethodDelete && sub == "" && fn != "" {
		g.cancel(w, r, fn)
		return
	}
	name, ns := api.SplitName(fn)
	if ns == "" && !strings.Contains(fn, ".") {
		ns = g.cfg.DefaultNamespace
	}
	if err := cmp.Or(api.ValidateName("function", name), api.ValidateName("namespace", ns)); err != nil {
		http.Error(w, "Provide a valid function name in the request path, as /async-function/<name>[.<namespace>]: "+err.Error(), http.StatusBadRequest)
		return
	}
	call, code, msg := g.readAsync(w, r, name, ns, sub)
	if code != 0 {
		http.Error(w, msg, code)
		return
	}
	// Once the call is handed to the queue it may be stored even if the
	// caller hangs up, so the wait for the queue's answer is not cut
	// short by the caller: a stored call is always counted and logged as
	// stored, never as failed.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), enqueueTimeout)
	defer cancel()
	if err := g.cfg.Enqueuer.Enqueue(ctx, call); err != nil {
		g.enqueueError(w, err)
		return
	}
	w.Header().Set(api.HeaderCallID, call.CallID())
	w.Header().Set(api.HeaderStartTime, call.Header.Get(api.HeaderStartTime))
	w.WriteHeader(http.StatusAccepted)
}

// readAsync builds the call from the request; a non-zero code is the
// answer to give instead.
func (g *Gateway) readAsync(w http.ResponseWriter, r *http.Request, name, ns, sub string) (AsyncCall, int, string) {
	cb := r.Header.Get(api.HeaderCallbackURL)
	if cb != "" {
		if u, err := url.Parse(cb); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return AsyncCall{}, http.StatusBadRequest, fmt.Sprintf("%s %q is not an absolute http(s) URL", api.HeaderCallbackURL, cb)
		}
	}
	limit := cmp.Or(g.cfg.AsyncMaxBytes, defaultAsyncMax)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return AsyncCall{}, http.StatusRequestEntityTooLarge, fmt.Sprintf("async request body is larger than the limit of %d bytes (gofaas server --async-max-bytes)", limit)
	} else if err != nil {
		return AsyncCall{}, http.StatusBadRequest, "reading request body: " + err.Error()
	}
	st, err := g.p.Function(r.Context(), name, ns, false)
	if errors.Is(err, provider.ErrNotFound) {
		return AsyncCall{}, http.StatusNotFound, fmt.Sprintf("function %s not found", api.JoinName(name, ns))
	} else if err != nil {
		g.log.Error("looking up function for async call", "function", api.JoinName(name, ns), "err", err)
		return AsyncCall{}, http.StatusInternalServerError, "looking up the function failed"
	}
	h := asyncHeader(r.Header)
	return AsyncCall{
		Name: name, Namespace: ns, Method: r.Method, Path: sub, Query: r.URL.RawQuery, Host: r.Host,
		Header: h, Body: body, CallbackURL: cb, QueueName: st.Annotations[annotationQueue], Annotations: st.Annotations,
	}, 0, ""
}

// asyncHeader copies the headers to queue, without hop-by-hop ones, and
// sets X-Call-Id (kept when the caller sent one) and X-Start-Time.
func asyncHeader(in http.Header) http.Header {
	h := in.Clone()
	for _, k := range []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length"} {
		h.Del(k)
	}
	if h.Get(api.HeaderCallID) == "" {
		h.Set(api.HeaderCallID, uuid.NewString())
	}
	h.Set(api.HeaderStartTime, strconv.FormatInt(time.Now().UnixNano(), 10))
	return h
}

func (g *Gateway) enqueueError(w http.ResponseWriter, err error) {
	if errors.Is(err, ErrCallTooLarge) {
		http.Error(w, "async call is too large for the queue: "+err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	g.log.Error("queueing async call", "err", err)
	http.Error(w, "queueing the call failed", http.StatusInternalServerError)
}

// cancel serves DELETE /async-function/{call-id}.
func (g *Gateway) cancel(w http.ResponseWriter, r *http.Request, id string) {
	id, _ = url.PathUnescape(id)
	err := g.cfg.Enqueuer.Cancel(r.Context(), id)
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, ErrCallNotFound):
		http.Error(w, fmt.Sprintf("no queued call %q (unknown, cancelled or finished)", id), http.StatusNotFound)
	case errors.Is(err, ErrCallStarted):
		http.Error(w, fmt.Sprintf("call %q has already started", id), http.StatusConflict)
	default:
		g.log.Error("cancelling async call", api.HeaderCallID, id, "err", err)
		http.Error(w, "cancelling the call failed", http.StatusInternalServerError)
	}
}

// deadLetters serves GET /system/async/dead-letters[?limit=N] (default 100).
func (g *Gateway) deadLetters(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			http.Error(w, "limit must be a positive integer", http.StatusBadRequest)
			return
		}
		limit = min(n, 10_000)
	}
	list, err := g.cfg.Enqueuer.DeadLetters(r.Context(), limit)
	if err != nil {
		g.log.Error("listing dead letters", "err", err)
		http.Error(w, "listing dead letters failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(list)
}

// replay serves POST /system/async/dead-letters/{call-id}/replay.
func (g *Gateway) replay(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	err := g.cfg.Enqueuer.Replay(r.Context(), id)
	switch {
	case err == nil:
		w.Header().Set(api.HeaderCallID, id)
		w.WriteHeader(http.StatusAccepted)
	case errors.Is(err, ErrCallNotFound):
		http.Error(w, fmt.Sprintf("no dead letter %q", id), http.StatusNotFound)
	default:
		g.log.Error("replaying dead letter", api.HeaderCallID, id, "err", err)
		http.Error(w, "replaying failed", http.StatusInternalServerError)
	}
}
