package watchdog

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/gofaas/gofaas/pkg/api"
)

// Paths the watchdog answers itself; everything else goes to the function.
const (
	PathHealth = "/_/health"
	PathReady  = "/_/ready"
)

// Values of the X-OpenFaaS-Internal header on responses the watchdog makes
// itself rather than the function.
const (
	internalWatchdog = "of-watchdog"
	internalLimiter  = "faas-middleware"
)

// routes composes the main API: health and readiness, and the function
// behind its middleware (metrics, access log, max_inflight, jwt_auth). A
// plain switch, not a ServeMux, so function paths reach the function
// exactly as sent (no cleaning or redirects).
func (w *Watchdog) routes(fn http.Handler) http.Handler {
	chain := fn
	if w.cfg.JWTAuth {
		chain = newJWTAuth(w, chain)
	}
	chain = w.limit(chain)
	function := w.instrument(chain)
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case PathHealth:
			w.serveHealth(rw, r)
		case PathReady:
			w.serveReady(rw, r)
		default:
			function.ServeHTTP(rw, r)
		}
	})
}

// healthy reports whether the watchdog is ready, not draining, and its lock
// file is present (or suppressed).
func (w *Watchdog) healthy() bool {
	if !w.serving.Load() {
		return false
	}
	if w.cfg.SuppressLock {
		return true
	}
	_, err := os.Stat(w.cfg.LockPath())
	return err == nil
}

func (w *Watchdog) serveHealth(rw http.ResponseWriter, _ *http.Request) {
	if !w.healthy() {
		http.Error(rw, "not ready", http.StatusServiceUnavailable)
		return
	}
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = rw.Write([]byte("OK"))
}

func (w *Watchdog) serveReady(rw http.ResponseWriter, r *http.Request) {
	switch {
	case !w.healthy():
		http.Error(rw, "not ready", http.StatusServiceUnavailable)
	case w.cfg.MaxInflight > 0 && w.inflight.Load() >= int64(w.cfg.MaxInflight):
		w.tooMany(rw)
	case w.cfg.ReadyPath != "":
		r2 := r.Clone(r.Context())
		r2.URL.Path, r2.URL.RawPath = w.cfg.ReadyPath, ""
		r2.RequestURI = r2.URL.RequestURI()
		w.fn.ServeHTTP(rw, r2)
	default:
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = rw.Write([]byte("OK"))
	}
}

// limit answers 429 once max_inflight requests are running.
func (w *Watchdog) limit(next http.Handler) http.Handler {
	limit := int64(w.cfg.MaxInflight)
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		n := w.inflight.Add(1)
		defer w.inflight.Add(-1)
		if limit > 0 && n > limit {
			w.tooMany(rw)
			return
		}
		next.ServeHTTP(rw, r)
	})
}

func (w *Watchdog) tooMany(rw http.ResponseWriter) {
	rw.Header().Set(api.HeaderInternal, internalLimiter)
	http.Error(rw, fmt.Sprintf("Concurrent request limit exceeded. Max concurrent requests: %d", w.cfg.MaxInflight), http.StatusTooManyRequests)
}

// instrument records the Prometheus metrics and, with access_log, logs one
// line per request.
func (w *Watchdog) instrument(next http.Handler) http.Handler {
	m := w.metrics
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		m.inflight.Inc()
		rec := &recorder{ResponseWriter: rw, start: start, duration: w.cfg.Mode == ModeHTTP}
		defer func() {
			m.inflight.Dec()
			d := time.Since(start)
			m.observe(r.Method, rec.code(), d)
			if w.cfg.AccessLog {
				w.accessLog(r, rec.code(), d)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

func (w *Watchdog) accessLog(r *http.Request, code int, d time.Duration) {
	attrs := []any{"method", r.Method, "path", r.URL.Path, "status", code, "duration", d}
	if w.cfg.LogCallID {
		attrs = append(attrs, "call_id", r.Header.Get(api.HeaderCallID))
	}
	w.log.Info("request", attrs...)
}

// recorder remembers the status code and whether the response started; in
// http mode it adds X-Duration-Seconds when the headers go out.
type recorder struct {
	http.ResponseWriter
	start    time.Time
	status   int
	duration bool
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 {
		r.status = code
		if r.duration {
			r.Header().Set(api.HeaderDuration, formatSeconds(time.Since(r.start)))
		}
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	return r.ResponseWriter.Write(b)
}

// Flush sends buffered data to the client.
func (r *recorder) Flush() {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(r.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) code() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

// formatSeconds formats d as X-Duration-Seconds does ("%f").
func formatSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 6, 64)
}
