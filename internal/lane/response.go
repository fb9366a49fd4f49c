package lane

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// bufferBeforeCommit is how much body a response holds before it commits
// to chunked encoding; a handler that finishes within it gets a
// Content-Length, as with net/http.
const bufferBeforeCommit = 2048

// response is the lane's http.ResponseWriter.
type response struct {
	c   *conn
	req *http.Request
	bw  *bufio.Writer

	header      http.Header
	wroteHeader bool   // the final status is set
	status      int    // the final status
	head        []byte // header lines frozen at WriteHeader, framing aside
	hadType     bool   // the handler set Content-Type (even to nothing)
	hadDate     bool
	hadCE       bool     // Content-Encoding
	trailers    []string // declared in the Trailer header
	hasTrailers bool     // declared, or set with http.TrailerPrefix
	length      int64    // the handler's Content-Length, -1 if none
	closeAfter  bool

	committed bool // the status line and header are in bw
	chunked   bool
	buf       []byte // body held before committing
	written   int64
	err       error // a failed write to the client
}

func newResponse(c *conn, r *http.Request) *response {
	return &response{c: c, req: r, bw: c.bw, header: make(http.Header), length: -1,
		closeAfter: r.Close || c.s.shutting.Load()}
}

func (w *response) Header() http.Header { return w.header }

func (w *response) WriteHeader(code int) {
	if w.wroteHeader {
		w.c.s.logf("http: superfluous response.WriteHeader call (lane)")
		return
	}
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		w.writeInformational(code)
		return
	}
	w.wroteHeader, w.status = true, code
	if cl := w.header.Get("Content-Length"); cl != "" {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err == nil && n >= 0 {
			w.length = n
		} else {
			w.c.s.logf("http: invalid Content-Length of %q", cl)
			w.header.Del("Content-Length")
		}
	}
	w.freeze()
}

// freeze writes the handler's header lines to w.head, as net/http clones
// the header at WriteHeader: later changes only count as trailers.
func (w *response) freeze() {
	h := w.header
	_, w.hadType = h["Content-Type"]
	_, w.hadDate = h["Date"]
	w.hadCE = h.Get("Content-Encoding") != ""
	for _, v := range h["Trailer"] {
		for k := range strings.SplitSeq(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				w.trailers = append(w.trailers, http.CanonicalHeaderKey(k))
			}
		}
	}
	w.hasTrailers = len(w.trailers) > 0
	keepConnection := false
	if v := h.Get("Connection"); v != "" {
		if hasToken([]byte(v), "close") {
			w.closeAfter = true
		} else {
			keepConnection = !w.closeAfter
		}
	}
	head := w.c.headBuf[:0]
	for k, vs := range h {
		switch k {
		case "Content-Length", "Transfer-Encoding":
			continue // framing: written by commit
		case "Connection":
			if !keepConnection {
				continue // commit writes "close" when closing
			}
		case "Content-Type":
			if w.status == http.StatusNotModified {
				continue
			}
		}
		if strings.HasPrefix(k, http.TrailerPrefix) {
			w.hasTrailers = true
			continue
		}
		for _, v := range vs {
			head = appendField(head, k, v)
		}
	}
	w.head = head
	w.c.headBuf = head[:0]
}

// appendField appends "k: v\r\n", with line breaks in v made spaces as
// net/http writes them.
func appendField(b []byte, k, v string) []byte {
	b = append(b, k...)
	b = append(b, ": "...)
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		b = append(b, c)
	}
	return append(b, "\r\n"...)
}

func (w *response) writeInformational(code int) {
	w.bw.WriteString("HTTP/1.1 ")
	writeStatus(w.bw, code)
	for k, vs := range w.header {
		if k == "Content-Length" || k == "Transfer-Encoding" {
			continue
		}
		for _, v := range vs {
			w.bw.Write(appendField(nil, k, v))
		}
	}
	w.bw.WriteString("\r\n")
	w.flushConn()
}

func writeStatus(bw *bufio.Writer, code int) {
	var b [3]byte
	bw.Write(strconv.AppendInt(b[:0], int64(code), 10))
	bw.WriteByte(' ')
	bw.WriteString(http.StatusText(code))
	bw.WriteString("\r\n")
}

// bodyAllowed reports whether the status may carry a body.
func (w *response) bodyAllowed() bool {
	return w.status != http.StatusNoContent && w.status != http.StatusNotModified &&
		(w.status < 100 || w.status > 199)
}

func (w *response) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !w.bodyAllowed() {
		return 0, http.ErrBodyNotAllowed
	}
	w.written += int64(len(p))
	if w.length != -1 && w.written > w.length {
		return 0, http.ErrContentLength
	}
	if w.err != nil {
		return 0, w.err
	}
	if !w.committed {
		if w.length != -1 || w.hasTrailers {
			w.commit(false) // the framing is known: no need to hold the body
		} else if len(w.buf)+len(p) <= bufferBeforeCommit {
			w.buf = append(w.buf, p...)
			return len(p), nil
		} else {
			w.commit(false)
		}
	}
	w.writeBody(p)
	if w.err != nil {
		return 0, w.err
	}
	return len(p), nil
}

// writeBody writes p (in a chunk when chunked).
func (w *response) writeBody(p []byte) {
	if w.req.Method == http.MethodHead {
		return
	}
	if w.chunked {
		var b [20]byte
		w.bw.Write(strconv.AppendInt(b[:0], int64(len(p)), 16))
		w.bw.WriteString("\r\n")
		w.bw.Write(p)
		_, w.err = w.bw.WriteString("\r\n")
		return
	}
	_, w.err = w.bw.Write(p)
}

// commit writes the status line and header; final means the handler has
// returned, so a held body's length is known.
func (w *response) commit(final bool) {
	w.committed = true
	bw := w.bw
	bw.WriteString("HTTP/1.1 ")
	writeStatus(bw, w.status)
	bw.Write(w.head)
	if !w.hadDate {
		bw.Write(appendDate(w.c.dateBuf[:0]))
	}
	held := w.buf
	if w.bodyAllowed() {
		if !w.hadType && !w.hadCE && len(held) > 0 {
			bw.WriteString("Content-Type: ")
			bw.WriteString(http.DetectContentType(held))
			bw.WriteString("\r\n")
		}
		switch {
		case w.length != -1:
			writeLength(bw, w.length)
		case w.req.Method == http.MethodHead:
			// No body follows, so no framing; a short finished one still
			// announces its length, as with net/http.
			if final && !w.hasTrailers && w.written > 0 {
				writeLength(bw, w.written)
			}
		case final && !w.hasTrailers:
			writeLength(bw, w.written)
		default:
			w.chunked = true
			bw.WriteString("Transfer-Encoding: chunked\r\n")
		}
	}
	if w.closeAfter {
		bw.WriteString("Connection: close\r\n")
	}
	bw.WriteString("\r\n")
	w.buf = nil
	if len(held) > 0 {
		w.writeBody(held)
	}
}

func writeLength(bw *bufio.Writer, n int64) {
	var b [20]byte
	bw.WriteString("Content-Length: ")
	bw.Write(strconv.AppendInt(b[:0], n, 10))
	bw.WriteString("\r\n")
}

// finish completes the response after the handler returned; it reports
// whether the connection may be reused.
func (w *response) finish() bool {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit(true)
	}
	if w.chunked {
		w.bw.WriteString("0\r\n")
		w.writeTrailers()
		w.bw.WriteString("\r\n")
	}
	if w.req.Method != http.MethodHead && w.length != -1 && w.bodyAllowed() && w.written != w.length {
		w.closeAfter = true // the client would wait for bytes that never come
	}
	w.flushConn()
	return w.err == nil && !w.closeAfter
}

func (w *response) writeTrailers() {
	for k, vs := range w.header {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			for _, v := range vs {
				w.bw.Write(appendField(nil, name, v))
			}
		}
	}
	for _, k := range w.trailers {
		for _, v := range w.header[k] {
			w.bw.Write(appendField(nil, k, v))
		}
	}
}

func (w *response) flushConn() {
	if err := w.bw.Flush(); err != nil && w.err == nil {
		w.err = err
	}
}

// Flush sends what is held; the response commits to chunked encoding
// unless it has a Content-Length.
func (w *response) Flush() { _ = w.FlushError() }

// FlushError is Flush with its error, for http.ResponseController.
func (w *response) FlushError() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit(false)
	}
	w.flushConn()
	return w.err
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
