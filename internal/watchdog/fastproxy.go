package watchdog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// The fast path proxies ordinary requests (no upgrade, a body of at most
// fastBodyMax bytes with a known length) over a pooled keep-alive
// connection in the request's own goroutine, with no hand-off to transport
// goroutines; this is most of http mode's throughput. Everything else goes
// through httputil.ReverseProxy.
const (
	fastBodyMax  = 64 << 10
	poolMaxIdle  = 256
	poolIdleTime = 2 * time.Second // below common upstream keep-alive timeouts (Node: 5s)
)

// isHop reports the hop-by-hop headers (RFC 9110 §7.6.1), which are not
// forwarded in either direction.
func isHop(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// skipRequestHeader reports headers the fast path does not copy into the
// upstream request: hop-by-hop ones, and those it writes itself (Host,
// Content-Length) or makes moot (Expect: the body is sent at once).
func skipRequestHeader(k string) bool {
	return isHop(k) || k == "Content-Length" || k == "Expect" || k == "Host"
}

// errBeforeResponse marks failures after which no response byte was read,
// so a request on a reused connection may be retried.
var errBeforeResponse = errors.New("connection failed before the response")

// fastEligible reports whether r can take the fast path.
func fastEligible(r *http.Request) bool {
	if r.ContentLength < 0 || r.ContentLength > fastBodyMax || r.Header.Get("Upgrade") != "" {
		return false
	}
	return len(r.TransferEncoding) == 0
}

// upConn is one keep-alive connection to the upstream.
type upConn struct {
	c        net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	reused   bool
	lastUsed time.Time
}

// connPool holds idle upstream connections.
type connPool struct {
	addr string
	mu   sync.Mutex
	idle []*upConn
}

func (p *connPool) get(ctx context.Context) (*upConn, error) {
	now := time.Now()
	p.mu.Lock()
	for len(p.idle) > 0 {
		uc := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if now.Sub(uc.lastUsed) < poolIdleTime {
			p.mu.Unlock()
			uc.reused = true
			return uc, nil
		}
		_ = uc.c.Close()
	}
	p.mu.Unlock()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, fmt.Errorf("dialing upstream: %w", err)
	}
	return &upConn{c: c, br: bufio.NewReaderSize(c, 16<<10), bw: bufio.NewWriterSize(c, 16<<10)}, nil
}

func (p *connPool) put(uc *upConn) {
	uc.lastUsed = time.Now()
	p.mu.Lock()
	if len(p.idle) < poolMaxIdle {
		p.idle = append(p.idle, uc)
		uc = nil
	}
	p.mu.Unlock()
	if uc != nil {
		_ = uc.c.Close()
	}
}

// closeAll drops the idle connections.
func (p *connPool) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, uc := range p.idle {
		_ = uc.c.Close()
	}
	p.idle = nil
}

// serveFast proxies r on the fast path.
func (u *upstream) serveFast(rw http.ResponseWriter, r *http.Request) {
	body, err := readSmallBody(r)
	if err != nil {
		http.Error(rw, fmt.Sprintf("reading request body: %s", err), http.StatusBadRequest)
		return
	}
	for attempt := 0; ; attempt++ {
		uc, err := u.pool.get(r.Context())
		if err != nil {
			u.proxyError(rw, r, err)
			return
		}
		err = u.exchange(rw, r, uc, body)
		if err == nil {
			return
		}
		_ = uc.c.Close()
		if attempt == 0 && uc.reused && errors.Is(err, errBeforeResponse) && r.Context().Err() == nil && retryable(r, body) {
			continue
		}
		if errors.Is(err, errBeforeResponse) {
			u.proxyError(rw, r, err)
			return
		}
		u.w.log.Debug("proxying response failed", "path", r.URL.Path, "err", err)
		panic(http.ErrAbortHandler) // the response has started; cut it
	}
}

// retryable: a request may be resent on a fresh connection when resending
// cannot repeat a side effect the upstream already saw in full.
func retryable(r *http.Request, body []byte) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return len(body) == 0
}

func readSmallBody(r *http.Request) ([]byte, error) {
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	b := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(r.Body, b); err != nil {
		return nil, fmt.Errorf("reading body: %w", err)
	}
	return b, nil
}

// exchange sends r on uc and copies the response to rw. On success uc is
// back in the pool. Errors before the response started wrap
// errBeforeResponse.
func (u *upstream) exchange(rw http.ResponseWriter, r *http.Request, uc *upConn, body []byte) error {
	ctx := r.Context()
	stop := context.AfterFunc(ctx, func() { _ = uc.c.SetDeadline(time.Unix(1, 0)) })
	if err := u.writeRequest(uc.bw, r, body); err != nil {
		stop()
		return fmt.Errorf("%w: writing request: %w", errBeforeResponse, err)
	}
	resp, err := readResponse(uc.br, r)
	if err != nil {
		stop()
		return fmt.Errorf("%w: reading response: %w", errBeforeResponse, err)
	}
	copyErr := copyResponse(rw, resp, u.buffers)
	reusable := stop() && copyErr == nil && !resp.Close
	if reusable {
		u.pool.put(uc)
	} else {
		_ = uc.c.Close()
	}
	if copyErr != nil {
		return copyErr
	}
	return nil
}

// writeRequest writes r as an HTTP/1.1 request to the upstream.
func (u *upstream) writeRequest(bw *bufio.Writer, r *http.Request, body []byte) error {
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	bw.WriteString(u.pathPrefix)
	bw.WriteString(r.URL.EscapedPath())
	if r.URL.RawQuery != "" || r.URL.ForceQuery {
		bw.WriteByte('?')
		bw.WriteString(r.URL.RawQuery)
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(r.Host)
	bw.WriteString("\r\n")
	for k, vs := range r.Header {
		if skipRequestHeader(k) {
			continue
		}
		for _, v := range vs {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	if len(body) > 0 || methodWantsLength(r.Method) {
		bw.WriteString("Content-Length: ")
		bw.WriteString(strconv.Itoa(len(body)))
		bw.WriteString("\r\n")
	}
	bw.WriteString("\r\n")
	bw.Write(body)
	return bw.Flush()
}

func methodWantsLength(m string) bool {
	return m == http.MethodPost || m == http.MethodPut || m == http.MethodPatch
}

// readResponse reads the final response, skipping 1xx interim ones.
func readResponse(br *bufio.Reader, r *http.Request) (*http.Response, error) {
	for {
		resp, err := http.ReadResponse(br, r)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, nil
		}
	}
}

// copyResponse copies resp's headers, body and trailers to rw, flushing as
// data arrives when the length is unknown (streams, SSE, NDJSON).
func copyResponse(rw http.ResponseWriter, resp *http.Response, buffers *bufferPool) error {
	dst := rw.Header()
	for k, vs := range resp.Header {
		if !isHop(k) {
			dst[k] = vs
		}
	}
	rw.WriteHeader(resp.StatusCode)
	buf := buffers.Get()
	defer buffers.Put(buf)
	var err error
	if resp.ContentLength >= 0 {
		_, err = io.CopyBuffer(onlyWriter{rw}, resp.Body, buf)
	} else {
		err = copyFlushing(rw, resp.Body, buf)
	}
	if err != nil {
		_ = resp.Body.Close()
		return fmt.Errorf("copying response body: %w", err)
	}
	for k, vs := range resp.Trailer {
		dst[http.TrailerPrefix+k] = vs
	}
	return resp.Body.Close()
}

// onlyWriter hides ReadFrom so CopyBuffer uses the pooled buffer.
type onlyWriter struct{ io.Writer }

func copyFlushing(rw http.ResponseWriter, src io.Reader, buf []byte) error {
	rc := http.NewResponseController(rw)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := rw.Write(buf[:n]); werr != nil {
				return werr
			}
			if ferr := rc.Flush(); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
