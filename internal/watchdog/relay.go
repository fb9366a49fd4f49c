package watchdog

import (
	"errors"
	"net/http"
	"time"

	"github.com/gofaas/gofaas/internal/fastproxy"
	"github.com/gofaas/gofaas/internal/lane"
	"github.com/gofaas/gofaas/pkg/api"
)

// In http mode the lane offers each request to relay first: an ordinary
// function request that nothing in the chain needs as an http.Request
// (no jwt_auth, max_inflight or access_log, upstream ready) is relayed at
// the byte level by fastproxy.Pool.Relay, with the same metrics,
// X-Duration-Seconds and errors as the handler chain gives.

// relays reports whether the configuration lets relay take requests: http
// mode, and nothing in the chain that needs the http.Request.
func (w *Watchdog) relays() bool {
	return w.up != nil && !w.cfg.JWTAuth && w.cfg.MaxInflight == 0 && !w.cfg.AccessLog
}

// relay is the lane's Shortcut; false leaves ex to the handler chain.
func (w *Watchdog) relay(ex *lane.Exchange) bool {
	u := w.up
	if !w.relays() || !u.isReady() {
		return false
	}
	if p := ex.URL.Path; p == PathHealth || p == PathReady || !fastproxy.Relayable(ex) {
		return false
	}
	m := w.metrics
	start := time.Now()
	m.inflight.Inc()
	w.inflight.Add(1)
	limit := u.timeoutFor(ex.Get(api.HeaderTimeout))
	var deadline time.Time
	if limit > 0 {
		deadline = start.Add(limit)
	}
	hooks := &relayHooks{start: start}
	status, err := u.pool.Relay(ex, &fastproxy.Relay{URI: u.uri(ex.URL), Host: ex.Host, Deadline: deadline}, hooks)
	switch {
	case err == nil:
	case errors.Is(err, fastproxy.ErrBeforeResponse):
		u.failed(hooks.Writer(ex.ResponseWriter()), ex.Request(), err, fastproxy.TimedOutAt(deadline, err), limit)
		status = hooks.rec.code()
	default:
		w.log.Debug("proxying response failed", "path", ex.URL.Path, "err", err)
		ex.CloseAfter() // the response has started; cut it
	}
	w.inflight.Add(-1)
	m.inflight.Dec()
	m.observe(ex.Method, status, time.Since(start))
	return true
}

// relayHooks add X-Duration-Seconds as the recorder does, and leave
// responses without a Content-Type to the lane's sniffing.
type relayHooks struct {
	start   time.Time
	sawType bool
	rec     *recorder // on the http.ResponseWriter path
}

func (h *relayHooks) Field(name, _ []byte) (keep, plain bool) {
	switch string(name) {
	case "Content-Type":
		h.sawType = true
	case api.HeaderDuration:
		return false, true // the recorder sets its own
	}
	return true, true
}

func (h *relayHooks) AppendHeader(b []byte, _ int) ([]byte, bool) {
	if !h.sawType {
		return b, false
	}
	b = append(b, api.HeaderDuration+": "...)
	b = append(b, formatSeconds(time.Since(h.start))...)
	return append(b, "\r\n"...), true
}

func (h *relayHooks) Writer(rw http.ResponseWriter) http.ResponseWriter {
	if h.rec == nil {
		h.rec = &recorder{ResponseWriter: rw, start: h.start, duration: true}
	}
	return h.rec
}

func (h *relayHooks) ModifyResponse(*http.Response) error { return nil }

var _ fastproxy.RelayHooks = (*relayHooks)(nil)
