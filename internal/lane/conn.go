package lane

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Connection states, for Shutdown: only an idle connection may be closed
// under a client.
const (
	stateIdle int32 = iota
	stateActive
	stateClosed
)

// watchAfter is how long a request runs before the lane starts reading
// the connection to learn whether the client went away. Shorter calls
// never pay for that read.
const watchAfter = 50 * time.Millisecond

// bufSize is the size of a connection's read and write buffers; a request
// head that does not fit goes to net/http.
const bufSize = 4 << 10

// aLongTimeAgo is a deadline in the past, to abort a blocked read.
var aLongTimeAgo = time.Unix(1, 0)

// conn is one client connection served on the lane.
type conn struct {
	s     *Server
	nc    net.Conn
	cr    *connReader
	br    *bufio.Reader
	bw    *bufio.Writer
	state atomic.Int32
	base  context.Context
	watch *time.Timer

	// The deadlines set on nc; a zero time with dirty set means unknown.
	// Deadlines are moved forward in steps (see arm), so most requests
	// change none.
	readDL, writeDL time.Time
	dirty           bool

	ex     Exchange // the request under way, when offered to the Shortcut
	exGone func()   // ex.gone, bound once

	headBuf  []byte                   // a response's frozen header lines, reused
	hw       appendWriter             // writes them
	dateBuf  [64]byte                 // a response's Date line
	wbuf     [bufferBeforeCommit]byte // a response's body buffer
	lastPOST bool                     // the last request was a POST
	hijacked bool                     // a handler took the connection
}

var (
	readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, bufSize) }}
	writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, bufSize) }}
)

func (s *Server) newConn(nc net.Conn) *conn {
	c := &conn{s: s, nc: nc}
	c.cr = &connReader{c: c}
	c.cr.cond = sync.NewCond(&c.cr.mu)
	c.br = readers.Get().(*bufio.Reader)
	c.br.Reset(c.cr)
	c.bw = writers.Get().(*bufio.Writer)
	c.bw.Reset(nc)
	c.base = context.WithValue(context.WithValue(context.Background(), http.ServerContextKey, s.HTTP),
		http.LocalAddrContextKey, nc.LocalAddr())
	c.exGone = c.ex.gone
	c.watch = time.AfterFunc(time.Hour, c.cr.startWatch)
	c.watch.Stop()
	return c
}

// serve runs the connection's request loop until it closes or is handed
// to net/http.
func (c *conn) serve() {
	handed := false
	defer func() {
		c.s.track(c, false)
		c.watch.Stop()
		if c.hijacked {
			return // the handler's now, reader and writer included
		}
		if !handed {
			_ = c.nc.Close()
			c.br.Reset(nil)
			readers.Put(c.br)
		}
		c.bw.Reset(nil)
		writers.Put(c.bw)
	}()
	cfg := c.s.HTTP
	for first := true; ; first = false {
		wait := cmp(cfg.IdleTimeout, cfg.ReadTimeout)
		if first {
			wait = cmp(cfg.ReadHeaderTimeout, cfg.ReadTimeout)
		}
		c.armRead(wait)
		if _, err := c.br.Peek(1); err != nil {
			return
		}
		if !c.state.CompareAndSwap(stateIdle, stateActive) {
			return // Shutdown closed it
		}
		if c.lastPOST {
			// As net/http: tolerate the CRLF old clients send after a POST.
			peek, _ := c.br.Peek(4)
			n := 0
			for n < len(peek) && (peek[n] == '\r' || peek[n] == '\n') {
				n++
			}
			_, _ = c.br.Discard(n)
		}
		h, ok := c.readHead()
		if !ok {
			handed = c.handOff()
			return
		}
		if c.s.Shortcut != nil && int(h.length) > c.br.Buffered() {
			// Reading the body refills the buffer the head is in.
			off := len(h.raw) - len(h.lines) - 2
			h.raw = bytes.Clone(h.raw)
			h.lines = h.raw[off : off+len(h.lines)]
		}
		body, ok := c.readBody(h.length)
		if !ok {
			return
		}
		c.arm(&c.writeDL, cfg.WriteTimeout, c.nc.SetWriteDeadline)
		keep := false
		if c.s.Shortcut != nil {
			var taken bool
			if taken, keep = c.shortcut(h, body); !taken {
				h, _ = parseHead(h.raw, c.s.MaxBody, true) // it parsed once already
				keep = c.handle(h, body)
			}
		} else {
			keep = c.handle(h, body)
		}
		if !keep || c.s.shutting.Load() {
			return
		}
		if !c.state.CompareAndSwap(stateActive, stateIdle) {
			return
		}
	}
}

// cmp returns the first non-zero duration.
func cmp(a, b time.Duration) time.Duration {
	if a != 0 {
		return a
	}
	return b
}

// readHead peeks at the next request head and parses it; ok=false means
// the connection goes to net/http, the head still unread.
func (c *conn) readHead() (head, bool) {
	for {
		buf, _ := c.br.Peek(c.br.Buffered())
		n, more := endOfHead(buf)
		if n > 0 {
			h, ok := parseHead(buf[:n], c.s.MaxBody, c.s.Shortcut == nil)
			if !ok || (c.s.Accept != nil && !c.s.Accept(h.method, h.url.Path)) {
				return head{}, false
			}
			_, _ = c.br.Discard(n)
			c.lastPOST = h.method == http.MethodPost
			return h, true
		}
		if !more || len(buf) == c.br.Size() {
			return head{}, false // bare-LF framing or a head too large: net/http's to judge
		}
		// The head came in parts: bound the rest as net/http does.
		cfg := c.s.HTTP
		c.setRead(time.Now().Add(cmp(cfg.ReadHeaderTimeout, cfg.ReadTimeout)), cmp(cfg.ReadHeaderTimeout, cfg.ReadTimeout))
		if _, err := c.br.Peek(len(buf) + 1); err != nil {
			return head{}, false // let net/http answer what it makes of the bytes
		}
	}
}

// readBody reads a body of n bytes; ok=false means the connection failed.
func (c *conn) readBody(n int64) ([]byte, bool) {
	if n == 0 {
		return nil, true
	}
	body := make([]byte, n)
	if int(n) > c.br.Buffered() {
		c.setRead(time.Now().Add(c.s.HTTP.ReadTimeout), c.s.HTTP.ReadTimeout)
	}
	if _, err := io.ReadFull(c.br, body); err != nil {
		return nil, false
	}
	return body, true
}

// setRead sets an exact read deadline (none when d is 0, as net/http
// reads then without one), for the slow paths; the next arm sets the usual
// one again.
func (c *conn) setRead(t time.Time, d time.Duration) {
	if d <= 0 {
		t = time.Time{}
	}
	_ = c.nc.SetReadDeadline(t)
	c.readDL, c.dirty = time.Time{}, true
}

// armRead bounds the wait for the next request by d (0: none).
func (c *conn) armRead(d time.Duration) { c.arm(&c.readDL, d, c.nc.SetReadDeadline) }

// arm makes the deadline *dl at least d from now (none when d is 0). To
// spare a runtime timer update per request, a deadline it moves goes d/8
// further than needed, so it stays good for a while.
func (c *conn) arm(dl *time.Time, d time.Duration, set func(time.Time) error) {
	if c.dirty {
		c.readDL, c.writeDL, c.dirty = time.Time{}, time.Time{}, false
		_ = c.nc.SetDeadline(time.Time{})
	}
	if d <= 0 {
		if !dl.IsZero() { // a deadline left by another timeout
			*dl = time.Time{}
			_ = set(time.Time{})
		}
		return
	}
	want := time.Now().Add(d)
	if !dl.IsZero() && !dl.Before(want) && !dl.After(want.Add(d/8)) {
		return // good for a while yet, and not left by a longer timeout
	}
	*dl = want.Add(d / 8)
	if err := set(*dl); err != nil {
		*dl = time.Time{}
	}
}

// handOff gives the connection, with what was read of it, to net/http.
func (c *conn) handOff() bool {
	c.s.track(c, false)
	_ = c.nc.SetDeadline(time.Time{})
	c.s.handed.Add(1) // before net/http may answer, so Stats never lags an answer
	if !c.s.handoff.give(&handedConn{Conn: c.nc, r: c.br}) {
		c.s.handed.Add(-1)
		return false
	}
	return true
}

// handedConn is a connection net/http serves after the lane: reads drain
// the lane's buffer first.
type handedConn struct {
	net.Conn
	r *bufio.Reader
}

func (h *handedConn) Read(p []byte) (int, error) { return h.r.Read(p) }

// ReadFrom and CloseWrite keep what net/http finds on a *net.TCPConn: it
// copies a response body with ReadFrom and half-closes with CloseWrite.
func (h *handedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := h.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(writerOnly{h.Conn}, r)
}

func (h *handedConn) CloseWrite() error {
	if cw, ok := h.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// handle serves one request; it reports whether the connection may serve
// another.
func (c *conn) handle(h head, body []byte) bool {
	ctx, cancel := context.WithCancel(c.base)
	defer cancel()
	r := c.newRequest(ctx, h, body)
	w := newResponse(c, r, h.wantsClose || serverHasToken(h.conn0, "close"))

	c.cr.begin(cancel)
	ok := c.run(w, r)
	c.cr.end()
	if c.hijacked {
		return false
	}
	if !ok {
		_ = c.bw.Flush() // as net/http, what reached the connection's buffer goes out
		return false
	}
	c.s.served.Add(1)
	return w.finish() && !c.cr.gone
}

// newRequest builds the http.Request of h, with ctx.
func (c *conn) newRequest(ctx context.Context, h head, body []byte) *http.Request {
	r := &http.Request{
		Method:        h.method,
		URL:           h.url,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h.header,
		ContentLength: h.length,
		Host:          h.host,
		RemoteAddr:    c.nc.RemoteAddr().String(),
		RequestURI:    h.target,
		Close:         h.wantsClose,
		Body:          http.NoBody,
	}
	if len(body) > 0 {
		r.Body = &bodyReader{b: body}
	}
	return r.WithContext(ctx)
}

// run calls the handler, recovering a panic as net/http does: the
// connection is closed, and the panic logged unless it is
// http.ErrAbortHandler.
func (c *conn) run(w *response, r *http.Request) (ok bool) {
	defer func() {
		if err := recover(); err != nil {
			if err != http.ErrAbortHandler {
				buf := make([]byte, 64<<10)
				buf = buf[:runtime.Stack(buf, false)]
				c.s.logf("http: panic serving %v: %v\n%s", c.nc.RemoteAddr(), err, buf)
			}
			ok = false
		}
	}()
	handler := c.s.HTTP.Handler
	if handler == nil {
		handler = http.DefaultServeMux
	}
	handler.ServeHTTP(w, r)
	return true
}

// bodyReader is a request body the lane read in full. Like net/http's,
// it has no WriteTo (io.Copy to the response goes through ReadFrom) and
// fails reads once closed.
type bodyReader struct {
	b      []byte
	off    int
	closed atomic.Bool // set by the response, maybe while another goroutine reads
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.closed.Load() {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.off >= len(b.b) {
		return 0, io.EOF
	}
	n := copy(p, b.b[b.off:])
	b.off += n
	return n, nil
}

func (b *bodyReader) Close() error {
	b.closed.Store(true)
	return nil
}

// connReader reads the connection for the request loop and, while a
// request runs past watchAfter, in the background, to learn whether the
// client went away (its request context is then cancelled).
type connReader struct {
	c    *conn
	mu   sync.Mutex
	cond *sync.Cond

	cancel   context.CancelFunc // of the request under way
	running  bool               // a request is under way
	inRead   bool               // the background read is under way
	aborted  bool               // end stopped the background read
	hasByte  bool               // the background read got the next request's first byte
	byteBuf  [1]byte
	gone     bool // the client closed its side
	watching bool // the background read was started for this request
}

// Read serves the request loop; no background read runs meanwhile.
func (cr *connReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if cr.hasByte {
		p[0], cr.hasByte = cr.byteBuf[0], false
		return 1, nil
	}
	return cr.c.nc.Read(p)
}

// begin marks a request under way and starts the watch timer.
func (cr *connReader) begin(cancel context.CancelFunc) {
	cr.mu.Lock()
	cr.cancel, cr.running, cr.watching = cancel, true, false
	cr.mu.Unlock()
	cr.c.watch.Reset(watchAfter)
}

// startWatch runs on the timer: it starts the background read when the
// request is still under way and the client has sent nothing more.
func (cr *connReader) startWatch() {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if !cr.running || cr.inRead || cr.hasByte || cr.gone || cr.c.br.Buffered() > 0 {
		return
	}
	cr.inRead, cr.watching = true, true
	// The idle deadline must not end the watch of a long call.
	_ = cr.c.nc.SetReadDeadline(time.Time{})
	go cr.backgroundRead()
}

func (cr *connReader) backgroundRead() {
	n, err := cr.c.nc.Read(cr.byteBuf[:])
	cr.mu.Lock()
	if n == 1 {
		cr.hasByte = true // a pipelined request: keep its first byte
	}
	var ne net.Error
	if err != nil && !(cr.aborted && errors.As(err, &ne) && ne.Timeout()) {
		cr.gone = true
		cr.cancel()
	}
	cr.inRead, cr.aborted = false, false
	cr.mu.Unlock()
	cr.cond.Broadcast()
}

// end marks the request done and waits for a background read to stop.
func (cr *connReader) end() {
	cr.c.watch.Stop()
	cr.mu.Lock()
	cr.running = false
	if cr.inRead {
		cr.aborted = true
		_ = cr.c.nc.SetReadDeadline(aLongTimeAgo)
		for cr.inRead {
			cr.cond.Wait()
		}
	}
	if cr.watching {
		cr.c.readDL, cr.c.dirty = time.Time{}, true
	}
	cr.mu.Unlock()
}
