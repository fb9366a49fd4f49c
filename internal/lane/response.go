package lane

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// bufferBeforeCommit is the size of the buffer in front of the
// connection, net/http's bufferBeforeChunkingSize: a handler that finishes
// within it gets a Content-Length, and the chunks of a longer body are cut
// where net/http cuts them.
const bufferBeforeCommit = 2048

// sniffLen is how much body ReadFrom copies before it commits, as
// net/http.
const sniffLen = 512

// response is the lane's http.ResponseWriter. It mirrors net/http's
// pipeline: a 2048-byte buffer (w.buf, net/http's w.w) in front of a
// chunk writer (cwrite, net/http's chunkWriter) in front of the
// connection's buffer, so the bytes on the wire are the same.
type response struct {
	c    *conn
	req  *http.Request
	bw   *bufio.Writer
	body *bodyReader // the request body as read by the lane, nil if none

	header      http.Header
	wroteHeader bool // the final status is set
	status      int  // the final status
	handlerDone bool
	wantsClose  bool // the request asked to close
	fullDuplex  bool // EnableFullDuplex: the body stays readable while the response goes out

	// Frozen at WriteHeader, as net/http clones the header then.
	head        []byte // the header lines as net/http writes them, sorted
	hadType     bool   // the header has Content-Type (even empty)
	hadDate     bool
	hadCE       bool   // Content-Encoding, non-empty
	hadCL       bool   // the header has Content-Length (even invalid)
	te          string // the first Transfer-Encoding value
	conn0       string // the first Connection value
	protoSwitch bool   // a 101 with Upgrade
	trailers    []string
	hasTrailers bool  // declared, or set with http.TrailerPrefix
	length      int64 // the Content-Length, -1 if none
	closeAfter  bool

	committed bool // the status line and header are in bw
	chunked   bool
	buf       []byte // body held in front of the chunk writer
	written   int64
	err       error // sticky error of the buffer, as bufio's
	werr      error // a failed write to the client
}

func newResponse(c *conn, r *http.Request, wantsClose bool) *response {
	w := &response{c: c, req: r, bw: c.bw, header: make(http.Header), length: -1,
		wantsClose: wantsClose, closeAfter: wantsClose, buf: c.wbuf[:0]}
	w.body, _ = r.Body.(*bodyReader)
	return w
}

func (w *response) Header() http.Header { return w.header }

func (w *response) WriteHeader(code int) {
	if w.c.hijacked {
		w.c.s.logf("http: response.WriteHeader on hijacked connection (lane)")
		return
	}
	if w.wroteHeader {
		w.c.s.logf("http: superfluous response.WriteHeader call (lane)")
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		w.writeInformational(code)
		return
	}
	w.wroteHeader, w.status = true, code
	w.freeze()
	if cl := headerGet(w.header, "Content-Length"); cl != "" {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err == nil && n >= 0 {
			w.length = n
		} else {
			w.c.s.logf("http: invalid Content-Length of %q", cl)
			w.header.Del("Content-Length")
		}
	}
}

// headerGet is net/http's Header.get: the first value of a canonical key.
func headerGet(h http.Header, k string) string {
	if v := h[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// appendWriter collects what http.Header.WriteSubset writes.
type appendWriter struct{ b []byte }

func (a *appendWriter) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}

func (a *appendWriter) WriteString(s string) (int, error) {
	a.b = append(a.b, s...)
	return len(s), nil
}

// freeze writes the handler's header lines to w.head, as net/http clones
// the header at WriteHeader: later changes only count as trailers.
func (w *response) freeze() {
	h := w.header
	_, w.hadType = h["Content-Type"]
	_, w.hadDate = h["Date"]
	_, w.hadCL = h["Content-Length"]
	w.hadCE = h.Get("Content-Encoding") != ""
	w.te = headerGet(h, "Transfer-Encoding")
	w.conn0 = headerGet(h, "Connection")
	w.protoSwitch = w.status == http.StatusSwitchingProtocols && h.Get("Upgrade") != "" &&
		valuesHaveToken(h["Connection"], "upgrade")
	var exclude map[string]bool
	for k := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			if exclude == nil {
				exclude = make(map[string]bool)
			}
			exclude[k] = true
			w.hasTrailers = true
		}
	}
	for _, v := range h["Trailer"] {
		w.hasTrailers = true
		for k := range strings.SplitSeq(v, ",") {
			if k = trimString(k); k != "" {
				if k = http.CanonicalHeaderKey(k); validTrailer(k) {
					w.trailers = append(w.trailers, k)
				}
			}
		}
	}
	aw := &w.c.hw
	aw.b = w.c.headBuf[:0]
	_ = h.WriteSubset(aw, exclude)
	w.head = aw.b
	w.c.headBuf = aw.b[:0]
}

// trimString is textproto.TrimString: it trims ASCII white space.
func trimString(s string) string {
	for len(s) > 0 && isASCIISpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isASCIISpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isASCIISpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// validTrailer is httpguts.ValidTrailerHeader for a canonical name.
func validTrailer(k string) bool {
	if strings.HasPrefix(k, "If-") {
		return false
	}
	switch k {
	case "Authorization", "Cache-Control", "Connection", "Content-Encoding", "Content-Length", "Content-Range",
		"Content-Type", "Expect", "Host", "Keep-Alive", "Max-Forwards", "Pragma", "Proxy-Authenticate",
		"Proxy-Authorization", "Proxy-Connection", "Range", "Realm", "Te", "Trailer", "Transfer-Encoding",
		"Www-Authenticate":
		return false
	}
	return true
}

var excludedNoBody = map[string]bool{"Content-Length": true, "Transfer-Encoding": true}

func (w *response) writeInformational(code int) {
	w.bw.WriteString("HTTP/1.1 ")
	writeStatus(w.bw, code)
	_ = w.header.WriteSubset(w.bw, excludedNoBody)
	w.bw.WriteString("\r\n")
	if err := w.bw.Flush(); err != nil && w.werr == nil {
		w.werr = err
	}
}

func writeStatus(bw *bufio.Writer, code int) {
	text := http.StatusText(code)
	if text == "" {
		fmt.Fprintf(bw, "%03d status code %d\r\n", code, code)
		return
	}
	var b [3]byte
	bw.Write(strconv.AppendInt(b[:0], int64(code), 10))
	bw.WriteByte(' ')
	bw.WriteString(text)
	bw.WriteString("\r\n")
}

func bodyAllowedForStatus(code int) bool {
	return code != http.StatusNoContent && code != http.StatusNotModified && (code < 100 || code > 199)
}

// bodyAllowed reports whether the status may carry a body.
func (w *response) bodyAllowed() bool { return bodyAllowedForStatus(w.status) }

func (w *response) Write(p []byte) (int, error) {
	if err := w.beforeWrite(len(p)); err != nil || len(p) == 0 {
		return 0, err
	}
	return w.bufWrite(p)
}

// WriteString is Write for a string, with bufio.Writer.WriteString's way
// of cutting it, as net/http's response has it.
func (w *response) WriteString(s string) (nn int, err error) {
	if err := w.beforeWrite(len(s)); err != nil || len(s) == 0 {
		return 0, err
	}
	for len(s) > cap(w.buf)-len(w.buf) && w.err == nil {
		n := copy(w.buf[len(w.buf):cap(w.buf)], s)
		w.buf = w.buf[:len(w.buf)+n]
		w.bufFlush()
		nn += n
		s = s[n:]
	}
	if w.err != nil {
		return nn, w.err
	}
	w.buf = append(w.buf, s...)
	return nn + len(s), nil
}

// beforeWrite does what Write and WriteString do before writing n bytes.
func (w *response) beforeWrite(n int) error {
	if w.c.hijacked {
		return http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if n == 0 {
		return nil
	}
	if !w.bodyAllowed() {
		return http.ErrBodyNotAllowed
	}
	w.written += int64(n)
	if w.length != -1 && w.written > w.length {
		return http.ErrContentLength
	}
	return nil
}

// Hijack is net/http's: the header, if written, goes out; what the
// handler wrote after it is dropped; the connection is the caller's.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.handlerDone {
		panic("net/http: Hijack called after ServeHTTP finished")
	}
	c := w.c
	if c.hijacked {
		return nil, nil, http.ErrHijacked
	}
	if w.wroteHeader {
		if !w.committed {
			w.commit(nil)
		}
		_ = w.flushConn()
	}
	c.cr.end() // no background read past this point
	c.hijacked = true
	_ = c.nc.SetDeadline(time.Time{})
	return c.nc, bufio.NewReadWriter(c.br, bufio.NewWriter(c.nc)), nil
}

// bufWrite is bufio.Writer.Write on the 2048-byte buffer in front of
// cwrite, so chunks are cut as net/http cuts them.
func (w *response) bufWrite(p []byte) (nn int, err error) {
	for len(p) > cap(w.buf)-len(w.buf) && w.err == nil {
		var n int
		if len(w.buf) == 0 {
			n, w.err = w.cwrite(p) // a large write with the buffer empty goes straight on
		} else {
			n = copy(w.buf[len(w.buf):cap(w.buf)], p)
			w.buf = w.buf[:len(w.buf)+n]
			w.bufFlush()
		}
		nn += n
		p = p[n:]
	}
	if w.err != nil {
		return nn, w.err
	}
	w.buf = append(w.buf, p...)
	return nn + len(p), nil
}

// bufFlush is bufio.Writer.Flush on the buffer.
func (w *response) bufFlush() error {
	if w.err != nil {
		return w.err
	}
	if len(w.buf) == 0 {
		return nil
	}
	n, err := w.cwrite(w.buf)
	if n < len(w.buf) && err == nil {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.err = err
		return err
	}
	w.buf = w.buf[:0]
	return nil
}

// cwrite is net/http's chunkWriter.Write: it commits the header with the
// first bytes, then writes p (in a chunk when chunked) to the connection.
func (w *response) cwrite(p []byte) (int, error) {
	if !w.committed {
		w.commit(p)
	}
	if w.req.Method == http.MethodHead {
		return len(p), nil // eat writes
	}
	if w.chunked {
		var b [20]byte
		w.bw.Write(strconv.AppendInt(b[:0], int64(len(p)), 16))
		if _, err := w.bw.WriteString("\r\n"); err != nil {
			w.werr = err
			return 0, err
		}
	}
	n, err := w.bw.Write(p)
	if w.chunked && err == nil {
		_, err = w.bw.WriteString("\r\n")
	}
	if err != nil && w.werr == nil {
		w.werr = err
	}
	return n, err
}

// Header lines commit may leave out of w.head.
const (
	dropLength = 1 << iota
	dropTE
	dropConnection
	dropType
)

// commit is net/http's chunkWriter.writeHeader: it writes the status line
// and header, p being the first bytes of the body (all of it when the
// handler is done).
func (w *response) commit(p []byte) {
	w.committed = true
	isHEAD := w.req.Method == http.MethodHead
	allowed := w.bodyAllowed()
	hasTE := w.te != ""
	var drop int
	var autoLength []byte
	var lbuf [20]byte
	if w.handlerDone && !w.hasTrailers && !hasTE && allowed && !w.hadCL && (!isHEAD || len(p) > 0) {
		w.length = int64(len(p))
		autoLength = strconv.AppendInt(lbuf[:0], w.length, 10)
	}
	hasCL := w.length != -1
	keepAlives := !w.c.s.shutting.Load()
	if w.conn0 == "close" || !keepAlives {
		w.closeAfter = true
	}
	// net/http consumes (or gives up on) the request body once the header
	// is out and the connection lives on; later reads fail.
	if w.req.ContentLength != 0 && !w.closeAfter && w.body != nil && !w.fullDuplex {
		w.body.closed.Store(true)
	}
	var ctype string
	if allowed {
		if !w.hadCE && !w.hadType && !hasTE && len(p) > 0 {
			ctype = http.DetectContentType(p)
		}
	} else {
		drop |= dropLength | dropTE
		if w.status == http.StatusNotModified {
			drop |= dropType
		}
	}
	if hasCL && hasTE && w.te != "identity" {
		w.c.s.logf("http: WriteHeader called with both Transfer-Encoding of %q and a Content-Length of %d", w.te, w.length)
		drop |= dropLength
		hasCL = false
	}
	switch {
	case isHEAD || !allowed:
		drop |= dropTE
	case hasCL:
		drop |= dropTE
	case hasTE && w.te == "identity":
		w.chunked = false
		w.closeAfter = true
		drop |= dropTE
	default:
		w.chunked = true
		if w.te == "chunked" {
			drop |= dropTE
		}
	}
	if w.chunked {
		drop |= dropLength
	}
	setClose := false
	if w.closeAfter && (!keepAlives || !serverHasToken(w.conn0, "close")) && !w.protoSwitch {
		drop |= dropConnection
		setClose = true
	}

	bw := w.bw
	bw.WriteString("HTTP/1.1 ")
	writeStatus(bw, w.status)
	writeHead(bw, w.head, drop)
	if !w.hadDate {
		bw.Write(appendDate(w.c.dateBuf[:0]))
	}
	if autoLength != nil {
		bw.WriteString("Content-Length: ")
		bw.Write(autoLength)
		bw.WriteString("\r\n")
	}
	if ctype != "" {
		bw.WriteString("Content-Type: ")
		bw.WriteString(ctype)
		bw.WriteString("\r\n")
	}
	if setClose {
		bw.WriteString("Connection: close\r\n")
	}
	if w.chunked {
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	bw.WriteString("\r\n")
}

// writeHead writes the frozen header lines but those drop names.
func writeHead(bw *bufio.Writer, head []byte, drop int) {
	if drop == 0 {
		bw.Write(head)
		return
	}
	for len(head) > 0 {
		i := bytes.IndexByte(head, '\n') + 1
		line := head[:i]
		head = head[i:]
		key, _, _ := bytes.Cut(line, []byte(":"))
		switch {
		case drop&dropLength != 0 && string(key) == "Content-Length",
			drop&dropTE != 0 && string(key) == "Transfer-Encoding",
			drop&dropConnection != 0 && string(key) == "Connection",
			drop&dropType != 0 && string(key) == "Content-Type":
			continue
		}
		bw.Write(line)
	}
}

// finish completes the response after the handler returned; it reports
// whether the connection may be reused.
func (w *response) finish() bool {
	w.handlerDone = true
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	_ = w.bufFlush()
	if !w.committed {
		w.commit(nil)
	}
	if w.chunked {
		w.bw.WriteString("0\r\n")
		w.writeTrailers()
		w.bw.WriteString("\r\n")
	}
	w.flushConn()
	if w.req.Method != http.MethodHead && w.length != -1 && w.bodyAllowed() && w.written != w.length {
		return false // the client would wait for bytes that never come
	}
	return w.werr == nil && !w.closeAfter
}

// writeTrailers writes the trailers as net/http's finalTrailers.
func (w *response) writeTrailers() {
	var t http.Header
	for k, vs := range w.header {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			if t == nil {
				t = make(http.Header)
			}
			t[name] = vs
		}
	}
	for _, k := range w.trailers {
		if t == nil {
			t = make(http.Header)
		}
		for _, v := range w.header[k] {
			t.Add(k, v)
		}
	}
	if t != nil {
		_ = t.Write(w.bw)
	}
}

func (w *response) flushConn() error {
	err := w.bw.Flush()
	if err != nil && w.werr == nil {
		w.werr = err
	}
	return err
}

// Flush sends what is held; the response commits to chunked encoding
// unless it has a Content-Length.
func (w *response) Flush() { _ = w.FlushError() }

// FlushError is Flush with its error, for http.ResponseController.
func (w *response) FlushError() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	err := w.bufFlush()
	if !w.committed {
		w.commit(nil)
	}
	if e2 := w.flushConn(); err == nil {
		err = e2
	}
	return err
}

// writerOnly hides a writer's ReadFrom, as net/http's.
type writerOnly struct{ io.Writer }

var copyBufs = sync.Pool{New: func() any { return new([32 << 10]byte) }}

// ReadFrom is net/http's response.ReadFrom, so io.Copy to the response
// cuts the body as net/http does.
func (w *response) ReadFrom(src io.Reader) (n int64, err error) {
	bp := copyBufs.Get().(*[32 << 10]byte)
	defer copyBufs.Put(bp)
	buf := bp[:]
	rf, ok := w.c.nc.(io.ReaderFrom)
	if !ok {
		return io.CopyBuffer(writerOnly{w}, src, buf)
	}
	if !w.committed {
		n0, err := io.CopyBuffer(writerOnly{w}, io.LimitReader(src, sniffLen), buf)
		n += n0
		if err != nil || n0 < sniffLen {
			return n, err
		}
	}
	_ = w.bufFlush()
	if !w.committed {
		w.commit(nil)
	}
	_ = w.flushConn()
	if !w.chunked && w.bodyAllowed() && w.req.Method != http.MethodHead {
		n0, err := rf.ReadFrom(src)
		n += n0
		w.written += n0
		return n, err
	}
	n0, err := io.CopyBuffer(writerOnly{w}, src, buf)
	n += n0
	return n, err
}

// SetReadDeadline and SetWriteDeadline serve http.ResponseController; the
// lane sets its own deadlines again after the request.
func (w *response) SetReadDeadline(t time.Time) error {
	w.c.dirty = true
	return w.c.nc.SetReadDeadline(t)
}

func (w *response) SetWriteDeadline(t time.Time) error {
	w.c.dirty = true
	return w.c.nc.SetWriteDeadline(t)
}

// dateCache holds the Date header line of the current second.
var dateCache atomic.Pointer[dateLine]

type dateLine struct {
	sec  int64
	line []byte
}

// appendDate appends the Date header line, formatted once a second.
func appendDate(b []byte) []byte {
	now := time.Now()
	if d := dateCache.Load(); d != nil && d.sec == now.Unix() {
		return append(b, d.line...)
	}
	line := append([]byte("Date: "), now.UTC().AppendFormat(nil, http.TimeFormat)...)
	line = append(line, "\r\n"...)
	dateCache.Store(&dateLine{sec: now.Unix(), line: line})
	return append(b, line...)
}

// EnableFullDuplex serves http.ResponseController: the handler may read
// the request body while it writes the response (the lane holds the whole
// body, so this only keeps it readable).
func (w *response) EnableFullDuplex() error {
	w.fullDuplex = true
	return nil
}
