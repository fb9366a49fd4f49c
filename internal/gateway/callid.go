package gateway

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofaas/gofaas/pkg/api"
)

// callID gives every invocation an X-Call-Id (kept when the caller sent one)
// and an X-Start-Time in Unix nanoseconds, on the request and the response,
// and X-Duration-Seconds on the response when the function did not set it.
func (g *Gateway) callID(next http.Handler) http.Handler {
	ids := g.ids
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &callWriter{ResponseWriter: w, call: g.newCall(r.Header.Get(api.HeaderCallID))}
		// The keys are in canonical form: plain assignments skip Set's
		// canonicalization, and the values share one array.
		if c.id == "" {
			c.id = ids.next()
			r.Header[api.HeaderCallID] = c.value(0, c.id)
		}
		r.Header[api.HeaderStartTime] = c.value(1, c.startText)
		next.ServeHTTP(c, r)
	})
}

// callIDs makes call ids shaped as version 4 UUIDs without reading the
// system's random source per call (uuid.NewString did, and it showed in
// profiles): 60 random bits drawn once, so ids from different gateways or
// from one across restarts do not meet, then a counter that starts at a
// random value.
type callIDs struct {
	prefix [8]byte
	n      atomic.Uint64
}

func newCallIDs() *callIDs {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	ids := &callIDs{prefix: [8]byte(b[:8])}
	ids.prefix[6] = ids.prefix[6]&0x0f | 0x40 // version 4
	ids.n.Store(binary.BigEndian.Uint64(b[8:]))
	return ids
}

// next returns a new id such as "8f0c1a2b-3c4d-4e5f-a071-8293a4b5c6d7".
func (ids *callIDs) next() string {
	var u [16]byte
	copy(u[:8], ids.prefix[:])
	binary.BigEndian.PutUint64(u[8:], ids.n.Add(1))
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	var s [36]byte
	hex.Encode(s[0:8], u[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], u[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], u[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], u[8:10])
	s[23] = '-'
	hex.Encode(s[24:], u[10:])
	return string(s[:])
}

// call is what the gateway adds to one invocation, through callWriter or
// relayCall: its ID (the client's X-Call-Id, or a new one), its start and
// the X-Served-By value.
type call struct {
	id, startText, servedBy string
	start                   time.Time
}

// newCall starts a call now, with the client's id ("" for none).
func (g *Gateway) newCall(id string) call {
	start := time.Now()
	return call{id: id, start: start, startText: strconv.FormatInt(start.UnixNano(), 10), servedBy: g.servedBy}
}

// duration is X-Duration-Seconds: the time since the start.
func (c *call) duration() string {
	return strconv.FormatFloat(time.Since(c.start).Seconds(), 'f', 6, 64)
}

// callWriter sets the gateway's response headers just before the status
// line goes out, overriding copies the function may have sent.
type callWriter struct {
	http.ResponseWriter
	call
	wrote  bool
	values [6]string // of the headers set, see value
}

// value returns a one-element header value backed by c.values[i]: slots 0
// and 1 for the request's headers, 2 to 5 for the response's.
func (c *callWriter) value(i int, v string) []string {
	c.values[i] = v
	return c.values[i : i+1 : i+1]
}

func (c *callWriter) WriteHeader(code int) {
	if !c.wrote {
		c.wrote = true
		h := c.ResponseWriter.Header()
		h[api.HeaderCallID] = c.value(2, c.id)
		h[api.HeaderStartTime] = c.value(3, c.startText)
		h[api.HeaderServedBy] = c.value(4, c.servedBy)
		if v := h[api.HeaderDuration]; len(v) == 0 || v[0] == "" {
			h[api.HeaderDuration] = c.value(5, c.duration())
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

// isInvoke reports whether ServeHTTP may hand r straight to the invocation
// handler: the mux would route it there without a redirect (a clean
// /function/ path, not CONNECT). Skipping the mux's matching saves a few
// percent of the proxy's time per call.
func isInvoke(r *http.Request) bool { return isInvokePath(r.Method, r.URL.Path, r.URL.RawPath) }

// isInvokePath is isInvoke on a request's method and URL path.
func isInvokePath(method, p, rawPath string) bool {
	if method == http.MethodConnect || rawPath != "" || !strings.HasPrefix(p, api.PathInvoke) {
		return false
	}
	np := path.Clean(p) // no allocation when p is clean
	if p[len(p)-1] == '/' {
		return len(p) == len(np)+1 && strings.HasPrefix(p, np)
	}
	return np == p
}
