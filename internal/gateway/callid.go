package gateway

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/gofaas/gofaas/pkg/api"
)

// callID gives every invocation an X-Call-Id (kept when the caller sent one)
// and an X-Start-Time in Unix nanoseconds, on the request and the response,
// and X-Duration-Seconds on the response when the function did not set it.
func (g *Gateway) callID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get(api.HeaderCallID)
		if id == "" {
			id = uuid.NewString()
			r.Header.Set(api.HeaderCallID, id)
		}
		startText := strconv.FormatInt(start.UnixNano(), 10)
		r.Header.Set(api.HeaderStartTime, startText)
		next.ServeHTTP(&callWriter{ResponseWriter: w, id: id, startText: startText, start: start, servedBy: g.servedBy}, r)
	})
}

// callWriter sets the gateway's response headers just before the status
// line goes out, overriding copies the function may have sent.
type callWriter struct {
	http.ResponseWriter
	id, startText, servedBy string
	start                   time.Time
	wrote                   bool
}

func (c *callWriter) WriteHeader(code int) {
	if !c.wrote {
		c.wrote = true
		h := c.ResponseWriter.Header()
		h.Set(api.HeaderCallID, c.id)
		h.Set(api.HeaderStartTime, c.startText)
		h.Set(api.HeaderServedBy, c.servedBy)
		if h.Get(api.HeaderDuration) == "" {
			h.Set(api.HeaderDuration, strconv.FormatFloat(time.Since(c.start).Seconds(), 'f', 6, 64))
		}
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *callWriter) Write(b []byte) (int, error) {
	if !c.wrote {
		c.WriteHeader(http.StatusOK)
	}
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush, deadlines and Hijack.
func (c *callWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// Flush keeps streaming responses streaming for code that asserts http.Flusher.
func (c *callWriter) Flush() {
	if !c.wrote {
		c.WriteHeader(http.StatusOK)
	}
	http.NewResponseController(c.ResponseWriter).Flush()
}

// Hijack supports websocket upgrades through the proxy.
func (c *callWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(c.ResponseWriter).Hijack()
}
