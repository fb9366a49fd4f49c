package lane

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"net/url"
)

// Exchange is a request the lane read, offered to Server.Shortcut before
// any http.Request or header map is built. A Shortcut answers it either
// in raw HTTP/1.1 on Raw, or through ResponseWriter (with Request), not
// both. An Exchange is valid only during the Shortcut call.
type Exchange struct {
	// Method, Target (as sent), URL (parsed from Target) and Host are the
	// request's; Body is its whole body (nil when empty).
	Method string
	Target string
	URL    *url.URL
	Host   string
	Body   []byte

	c      *conn
	h      head
	req    *http.Request
	cancel context.CancelFunc // of req's context
	w      *response
	raw    bool
	close  bool   // the raw response must end the connection
	onGone func() // under c.cr.mu
	broken bool   // the Shortcut panicked
}

// Fields calls yield with each header line's name (as sent) and value
// (trimmed), in order, Host aside; use it as a range function.
func (ex *Exchange) Fields(yield func(name, value []byte) bool) {
	rest := ex.h.lines
	for len(rest) > 0 {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, _ := bytes.Cut(line, []byte(":"))
		if len(name) == len("Host") && bytes.EqualFold(name, []byte("Host")) {
			continue
		}
		if !yield(name, trimOWS(value)) {
			return
		}
	}
}

// Get returns the first value of the named header ("" if none); name is
// matched without regard to case.
func (ex *Exchange) Get(name string) string {
	for k, v := range ex.Fields {
		if len(k) == len(name) && bytes.EqualFold(k, []byte(name)) {
			return string(v)
		}
	}
	return ""
}

// WantsClose reports whether the client asked to close the connection
// after the response; a raw response must then say Connection: close.
func (ex *Exchange) WantsClose() bool {
	return ex.h.wantsClose || serverHasToken(ex.h.conn0, "close") || ex.c.s.shutting.Load()
}

// ClosesConnection reports whether a Connection header names close (the
// client's wish; see WantsClose for the lane's answer).
func (ex *Exchange) ClosesConnection() bool { return ex.h.wantsClose }

// RemoteAddr is the client's address, as http.Request.RemoteAddr.
func (ex *Exchange) RemoteAddr() string { return ex.c.nc.RemoteAddr().String() }

// Raw returns the buffered writer to the client for a raw response; the
// lane flushes it after the Shortcut returns.
func (ex *Exchange) Raw() *bufio.Writer {
	ex.raw = true
	return ex.c.bw
}

// CloseAfter makes the lane close the connection after the response (one
// cut short, or one whose end the client cannot otherwise tell). A
// response made through ResponseWriter is then cut where it stands, as
// after a handler's panic(http.ErrAbortHandler): what reached the
// connection's buffer goes out, nothing is finished (no final chunk).
func (ex *Exchange) CloseAfter() { ex.close = true }

// OnGone sets f (nil: none) to run, once and from another goroutine, if
// the client closes the connection while the exchange runs; if the client
// is gone already, f runs at once, before OnGone returns. Once OnGone
// returns, an f it replaced is not running.
func (ex *Exchange) OnGone(f func()) {
	cr := ex.c.cr
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if cr.gone && f != nil {
		ex.onGone = nil
		f() // as a request context made after the client left starts cancelled
		return
	}
	ex.onGone = f
}

// Gone reports whether the client closed the connection.
func (ex *Exchange) Gone() bool {
	cr := ex.c.cr
	cr.mu.Lock()
	defer cr.mu.Unlock()
	return cr.gone
}

// gone runs under c.cr.mu when the client went away.
func (ex *Exchange) gone() {
	if ex.onGone != nil {
		ex.onGone()
		ex.onGone = nil
	}
	if ex.cancel != nil {
		ex.cancel()
	}
}

// Request returns the request as an http.Request, built on first use.
func (ex *Exchange) Request() *http.Request {
	if ex.req != nil {
		return ex.req
	}
	h, _ := parseHead(ex.h.raw, ex.c.s.MaxBody, true) // it parsed once already
	ctx, cancel := context.WithCancel(ex.c.base)
	ex.req = ex.c.newRequest(ctx, h, ex.Body)
	cr := ex.c.cr
	cr.mu.Lock()
	ex.cancel = cancel
	if cr.gone {
		cancel()
	}
	cr.mu.Unlock()
	return ex.req
}

// ResponseWriter returns an http.ResponseWriter for the answer; the lane
// finishes it after the Shortcut returns, as after a handler.
func (ex *Exchange) ResponseWriter() http.ResponseWriter {
	if ex.w == nil {
		r := ex.Request()
		ex.w = newResponse(ex.c, r, ex.h.wantsClose || serverHasToken(ex.h.conn0, "close"))
	}
	return ex.w
}

// AppendDate appends the Date header line net/http would send now.
func AppendDate(b []byte) []byte { return appendDate(b) }

// shortcut offers h to the Shortcut; it reports whether the request was
// answered, and then whether the connection may serve another.
func (c *conn) shortcut(h head, body []byte) (taken, keep bool) {
	ex := &c.ex
	*ex = Exchange{Method: h.method, Target: h.target, URL: h.url, Host: h.host, Body: body, c: c, h: h}
	c.cr.begin(c.exGone)
	taken = c.runShortcut(ex)
	c.cr.end()
	if ex.cancel != nil {
		ex.cancel()
	}
	if !taken {
		if ex.w != nil || ex.raw {
			c.s.logf("lane: a Shortcut wrote a response, then declined it")
			return true, false
		}
		return false, false
	}
	c.s.served.Add(1)
	switch {
	case c.hijacked:
		return true, false
	case ex.broken, ex.w != nil && ex.close:
		_ = c.bw.Flush() // as after a handler's panic
	case ex.w != nil:
		keep = ex.w.finish() && !ex.close
	default:
		keep = c.bw.Flush() == nil && !ex.close
	}
	*ex = Exchange{}
	return true, keep && !c.cr.gone
}

// runShortcut calls the Shortcut, recovering a panic as run does.
func (c *conn) runShortcut(ex *Exchange) (taken bool) {
	defer func() {
		if err := recover(); err != nil {
			if err != http.ErrAbortHandler {
				c.s.logf("lane: panic in Shortcut serving %v: %v", c.nc.RemoteAddr(), err)
			}
			taken, ex.broken = true, true
		}
	}()
	return c.s.Shortcut(ex)
}
