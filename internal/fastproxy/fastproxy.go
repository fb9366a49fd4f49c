// Package fastproxy owns the fast path of HTTP/1.1 reverse proxying shared
// by the watchdog and the gateway's invocation proxy: ordinary requests (no
// upgrade, a body of at most MaxBody bytes with a known length) are sent
// over a pooled keep-alive connection in the caller's goroutine, with no
// hand-off to transport goroutines, and the response is copied to an
// http.ResponseWriter. Callers send everything else through
// httputil.ReverseProxy.
//
// It is a leaf: it imports the standard library only.
package fastproxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"strconv"
	"sync"
	"time"
)

// MaxBody is the largest request body the fast path takes.
const MaxBody = 64 << 10

// Defaults of Config.
const (
	DefaultMaxIdle     = 256
	DefaultIdleTimeout = 2 * time.Second // below common upstream keep-alive timeouts (Node: 5s)
)

// ErrBeforeResponse marks failures after which no response byte was read
// or written: the caller may still answer with its own error status.
var ErrBeforeResponse = errors.New("connection failed before the response")

// dialError is a failure to get a connection: it is a failure before the
// response and reads as its cause.
type dialError struct{ err error }

func (e dialError) Error() string        { return e.err.Error() }
func (e dialError) Unwrap() error        { return e.err }
func (e dialError) Is(target error) bool { return target == ErrBeforeResponse }

// Eligible reports whether r can take the fast path.
func Eligible(r *http.Request) bool {
	if r.ContentLength < 0 || r.ContentLength > MaxBody || r.Header.Get("Upgrade") != "" {
		return false
	}
	return len(r.TransferEncoding) == 0
}

// IsHop reports the hop-by-hop headers (RFC 9110 §7.6.1), which are not
// forwarded in either direction.
func IsHop(k string) bool {
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
	return IsHop(k) || k == "Content-Length" || k == "Expect" || k == "Host"
}

// ReadBody reads the body of an Eligible request (nil when empty).
func ReadBody(r *http.Request) ([]byte, error) {
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	b := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(r.Body, b); err != nil {
		return nil, fmt.Errorf("reading body: %w", err)
	}
	return b, nil
}

// Request is one outbound request for Pool.Do.
type Request struct {
	// Method is the request method.
	Method string
	// URI is the request target as written on the request line: the
	// escaped path and, if any, "?" and the raw query.
	URI string
	// Host is the Host header.
	Host string
	// Header is sent as is, without hop-by-hop headers, Host,
	// Content-Length and Expect.
	Header http.Header
	// Body is the whole request body.
	Body []byte
	// In, if non-nil, is the inbound request; it becomes the response's
	// Request. Nil means one built from Method.
	In *http.Request
	// ModifyResponse, if non-nil, may edit the response before it is
	// copied; setting its ContentLength to -1 makes the body flush as it
	// arrives. An error is treated as a failure before the response.
	ModifyResponse func(*http.Response) error
	// Deadline, if non-zero, bounds the exchange as a context deadline
	// would, without the cost of a timer context per request; past it, Do
	// fails with an error for which TimedOut reports true.
	Deadline time.Time
}

// TimedOut reports whether err, from Do, means req's Deadline passed.
func TimedOut(req *Request, err error) bool {
	return err != nil && !req.Deadline.IsZero() && !time.Now().Before(req.Deadline)
}

// Do sends req over a pooled connection and copies the response to rw.
// A failure on a reused connection before any response byte is retried
// once on another connection when resending cannot repeat a side effect
// (idempotent method or empty body) and ctx is still alive. Errors that
// wrap ErrBeforeResponse left rw untouched; after any other error the
// response has started and the caller can only cut it.
func (p *Pool) Do(ctx context.Context, rw http.ResponseWriter, req *Request) error {
	for attempt := 0; ; attempt++ {
		uc, err := p.get(ctx, req.Deadline)
		if err != nil {
			return dialError{err}
		}
		err = p.exchange(ctx, rw, req, uc)
		if err == nil {
			return nil
		}
		if attempt == 0 && uc.reused && errors.Is(err, ErrBeforeResponse) && ctx.Err() == nil && retryable(req) &&
			!TimedOut(req, err) {
			continue
		}
		return err
	}
}

// retryable: a request may be resent on a fresh connection when resending
// cannot repeat a side effect the upstream already saw in full.
func retryable(req *Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return len(req.Body) == 0
}

// exchange sends req on uc and copies the response to rw; it returns uc to
// the pool when it can be reused and closes it otherwise. Errors before the response started wrap
// ErrBeforeResponse.
func (p *Pool) exchange(ctx context.Context, rw http.ResponseWriter, req *Request, uc *conn) error {
	if err := uc.setDeadlines(req); err != nil {
		p.discard(uc)
		return fmt.Errorf("%w: setting deadline: %w", ErrBeforeResponse, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = uc.c.SetDeadline(time.Unix(1, 0)) })
	if err := writeRequest(uc.bw, req); err != nil {
		stop()
		p.discard(uc)
		return fmt.Errorf("%w: writing request: %w", ErrBeforeResponse, err)
	}
	in := req.In
	if in == nil {
		in = &http.Request{Method: req.Method}
	}
	resp, err := readResponse(uc.br, in)
	if err == nil && req.ModifyResponse != nil {
		if err = req.ModifyResponse(resp); err != nil {
			_ = resp.Body.Close()
		}
	}
	if err != nil {
		stop()
		p.discard(uc)
		return fmt.Errorf("%w: reading response: %w", ErrBeforeResponse, err)
	}
	copyErr := p.copyResponse(rw, resp)
	if stop() && copyErr == nil && !resp.Close {
		p.put(uc)
	} else {
		p.discard(uc)
	}
	return copyErr
}

// smallWrite is the most an exchange writes without a write deadline:
// into an idle connection's empty send buffer (4.5 KiB at the least) such
// a write cannot block.
const smallWrite = 4 << 10

// setDeadlines bounds the exchange of req on uc by req.Deadline. A conn
// keeps its deadlines between exchanges (an idle one is neither read nor
// written), so an exchange costs one runtime timer update, for the read
// deadline; Write sets the write deadline when the exchange writes more
// than smallWrite bytes, or one is already set.
func (uc *conn) setDeadlines(req *Request) error {
	uc.deadline, uc.sent = req.Deadline, 0
	if uc.deadline.Equal(uc.readDeadline) {
		return nil
	}
	if err := uc.c.SetReadDeadline(uc.deadline); err != nil {
		return err
	}
	uc.readDeadline = uc.deadline
	return nil
}

// Write writes to the connection (under its bufio.Writer), with the
// exchange's write deadline set when the write could block.
func (uc *conn) Write(p []byte) (int, error) {
	if !uc.writeDeadline.Equal(uc.deadline) && (uc.sent+len(p) > smallWrite || !uc.writeDeadline.IsZero()) {
		if err := uc.c.SetWriteDeadline(uc.deadline); err != nil {
			return 0, err
		}
		uc.writeDeadline = uc.deadline
	}
	n, err := uc.c.Write(p)
	uc.sent += n
	return n, err
}

// writeRequest writes req as an HTTP/1.1 request.
func writeRequest(bw *bufio.Writer, req *Request) error {
	writeStart(bw, req.Method, req.URI, req.Host)
	for k, vs := range req.Header {
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
	return writeEnd(bw, req.Method, req.Body)
}

// writeStart writes a request line and the Host header.
func writeStart(bw *bufio.Writer, method, uri, host string) {
	bw.WriteString(method)
	bw.WriteByte(' ')
	bw.WriteString(uri)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")
}

// writeEnd writes the Content-Length when due, the blank line and the
// body, and flushes.
func writeEnd(bw *bufio.Writer, method string, body []byte) error {
	if len(body) > 0 || methodWantsLength(method) {
		var b [20]byte
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(b[:0], int64(len(body)), 10))
		bw.WriteString("\r\n")
	}
	bw.WriteString("\r\n")
	bw.Write(body)
	return bw.Flush()
}

func methodWantsLength(m string) bool {
	return m == http.MethodPost || m == http.MethodPut || m == http.MethodPatch
}

// copyResponse copies resp's headers, body and trailers to rw, flushing as
// data arrives when the length is unknown (streams, SSE, NDJSON).
func (p *Pool) copyResponse(rw http.ResponseWriter, resp *http.Response) error {
	dst := rw.Header()
	for k, vs := range resp.Header {
		if !IsHop(k) {
			dst[k] = vs
		}
	}
	rw.WriteHeader(resp.StatusCode)
	buf := p.buffers.Get()
	defer p.buffers.Put(buf)
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

// BufferPool lends 32 KiB copy buffers; it satisfies httputil.BufferPool
// so a fallback ReverseProxy can share it.
type BufferPool struct{ p sync.Pool }

// NewBufferPool returns an empty BufferPool.
func NewBufferPool() *BufferPool {
	return &BufferPool{p: sync.Pool{New: func() any { b := make([]byte, 32*1024); return &b }}}
}

// Get returns a 32 KiB buffer.
func (b *BufferPool) Get() []byte { return *(b.p.Get().(*[]byte)) }

// Put returns a buffer to the pool.
func (b *BufferPool) Put(buf []byte) { b.p.Put(&buf) }

var _ httputil.BufferPool = (*BufferPool)(nil)
