package rest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gofaas/gofaas/internal/provider"
	"github.com/gofaas/gofaas/pkg/api"
)

// logWriteTimeout bounds each write of a log stream; it is pushed forward
// before every line so a long follow outlives the server's WriteTimeout.
const logWriteTimeout = 30 * time.Second

// logs serves GET /system/logs?name=&namespace=&instance=&tail=&follow=&since=
// as NDJSON, flushing every line.
func (h *handler) logs(w http.ResponseWriter, r *http.Request) {
	lp, ok := h.p.(provider.Logs)
	if !ok {
		h.fail(w, r, fmt.Errorf("logs: %w", provider.ErrNotSupported))
		return
	}
	req, err := h.logRequest(r)
	if err != nil {
		var bad *badQueryError
		if errors.As(err, &bad) {
			writeText(w, http.StatusUnprocessableEntity, err.Error())
			return
		}
		h.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	ch, err := lp.Logs(ctx, req)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	streamLogs(w, ch, cancel)
}

// streamLogs writes every message of ch as one JSON line. When a write
// fails it cancels the stream and drains ch until the back-end closes it.
func streamLogs(w http.ResponseWriter, ch <-chan api.LogMessage, cancel context.CancelFunc) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_ = rc.SetWriteDeadline(time.Now().Add(logWriteTimeout))
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	enc := json.NewEncoder(w)
	for msg := range ch {
		_ = rc.SetWriteDeadline(time.Now().Add(logWriteTimeout))
		if err := enc.Encode(msg); err != nil {
			break
		}
		if err := rc.Flush(); err != nil {
			break
		}
	}
	cancel()
	for range ch {
	}
}

// badQueryError is a malformed logs query parameter (422).
type badQueryError struct{ param, value, why string }

func (e *badQueryError) Error() string {
	return fmt.Sprintf("invalid %s %q: %s", e.param, e.value, e.why)
}

// logRequest parses the logs query.
func (h *handler) logRequest(r *http.Request) (api.LogRequest, error) {
	q := r.URL.Query()
	req := api.LogRequest{Name: q.Get("name"), Instance: q.Get("instance")}
	if req.Name == "" {
		return req, fmt.Errorf("%w: name is required", provider.ErrInvalid)
	}
	if err := validName("function", req.Name); err != nil {
		return req, err
	}
	ns, err := h.namespace(q.Get("namespace"))
	if err != nil {
		return req, err
	}
	req.Namespace = ns
	return req, parseLogOptions(q.Get("tail"), q.Get("since"), q.Get("follow"), &req)
}

// parseLogOptions parses tail, since (RFC 3339) and follow into req.
func parseLogOptions(tail, since, follow string, req *api.LogRequest) error {
	if tail != "" {
		n, err := strconv.Atoi(tail)
		if err != nil {
			return &badQueryError{"tail", tail, "want a whole number of lines"}
		}
		req.Tail = n
	}
	if since != "" {
		t, err := time.Parse(time.RFC3339, since)
		if err != nil {
			return &badQueryError{"since", since, "want an RFC 3339 time such as 2024-01-02T15:04:05Z"}
		}
		req.Since = &t
	}
	if follow != "" {
		f, err := strconv.ParseBool(follow)
		if err != nil {
			return &badQueryError{"follow", follow, "want true or false"}
		}
		req.Follow = f
	}
	return nil
}
