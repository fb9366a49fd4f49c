package fastproxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gofaas/gofaas/internal/lane"
)

// Relaying is Do below the http.Handler level, for requests the lane read
// (lane.Exchange): the request goes upstream from the client's header
// lines, and a response of the plain shape (see parseSimple; a final
// status with a Content-Length, no hop-by-hop headers) comes back as
// bytes, with the caller's header lines added. No http.Request,
// http.Response or header map is built. Any other response is read with
// http.ReadResponse and copied through the exchange's http.ResponseWriter,
// as Do does; both answer alike.

// Relay describes how to send one exchange upstream.
type Relay struct {
	// URI is the upstream request target; Host its Host header.
	URI, Host string
	// Header holds more request header lines, each ending in CRLF, sent
	// after the client's.
	Header []byte
	// Drop, if non-nil, names more client request headers (canonical
	// names) to leave out, beyond the hop-by-hop ones, Host,
	// Content-Length and Expect.
	Drop func(name []byte) bool
	// Deadline, if non-zero, bounds the exchange as Request.Deadline does.
	Deadline time.Time
}

// RelayHooks are the caller's part in the response.
type RelayHooks interface {
	// Field sees each upstream response header line, by canonical name;
	// keep=false leaves it out, plain=false sends the response down the
	// http.ResponseWriter path instead.
	Field(name, value []byte) (keep, plain bool)
	// AppendHeader appends the caller's response header lines, each
	// ending in CRLF, once the upstream's were seen; plain=false as above.
	AppendHeader(b []byte, status int) (_ []byte, plain bool)
	// Writer wraps the exchange's ResponseWriter for the other path.
	Writer(http.ResponseWriter) http.ResponseWriter
	// ModifyResponse edits a response on the other path, as
	// Request.ModifyResponse does.
	ModifyResponse(*http.Response) error
}

// Relayable reports whether ex can be relayed: no method without a body
// framing of its own (HEAD, CONNECT), a body Eligible takes (the lane may
// read larger ones), and a Connection header naming no header to strip
// (only close and keep-alive).
func Relayable(ex *lane.Exchange) bool {
	if ex.Method == http.MethodHead || ex.Method == http.MethodConnect || len(ex.Body) > MaxBody {
		return false
	}
	ok := true
	for name, value := range ex.Fields {
		if len(name) == len("Connection") && bytes.EqualFold(name, []byte("Connection")) {
			for item := range bytes.SplitSeq(value, []byte(",")) {
				item = bytes.TrimSpace(item)
				if len(item) > 0 && !bytes.EqualFold(item, []byte("close")) && !bytes.EqualFold(item, []byte("keep-alive")) {
					ok = false
				}
			}
		}
	}
	return ok
}

// Relay sends ex upstream as rl describes and answers it. It returns the
// status sent to the client. Errors that wrap ErrBeforeResponse left the
// client unanswered: the caller answers, through ex.ResponseWriter. After
// any other error the response started; the lane cuts the connection.
func (p *Pool) Relay(ex *lane.Exchange, rl *Relay, hooks RelayHooks) (int, error) {
	for attempt := 0; ; attempt++ {
		uc, err := p.get(context.Background(), rl.Deadline)
		if err != nil {
			return 0, dialError{err}
		}
		status, err := p.relayOn(uc, ex, rl, hooks)
		if err == nil {
			return status, nil
		}
		if attempt == 0 && uc.reused && errors.Is(err, ErrBeforeResponse) && !ex.Gone() &&
			retryable(&Request{Method: ex.Method, Body: ex.Body}) && !pastDeadline(rl.Deadline) {
			continue
		}
		return status, err
	}
}

func pastDeadline(d time.Time) bool { return !d.IsZero() && !time.Now().Before(d) }

// TimedOutAt reports whether err, from Relay, means deadline passed.
func TimedOutAt(deadline time.Time, err error) bool { return err != nil && pastDeadline(deadline) }

func (p *Pool) relayOn(uc *conn, ex *lane.Exchange, rl *Relay, hooks RelayHooks) (int, error) {
	if err := uc.setDeadlines(&Request{Deadline: rl.Deadline}); err != nil {
		p.discard(uc)
		return 0, fmt.Errorf("%w: setting deadline: %w", ErrBeforeResponse, err)
	}
	ex.OnGone(uc.abort)
	defer ex.OnGone(nil)
	if err := writeRelayed(uc.bw, ex, rl); err != nil {
		p.discard(uc)
		return 0, fmt.Errorf("%w: writing request: %w", ErrBeforeResponse, err)
	}
	if _, err := uc.br.Peek(1); err != nil {
		p.discard(uc)
		return 0, fmt.Errorf("%w: reading response: %w", ErrBeforeResponse, unexpectedEOF(err))
	}
	if status, n, ok := p.plainHead(uc, hooks); ok {
		return status, p.relayBody(uc, ex, n)
	}
	return p.relayOther(uc, ex, hooks)
}

// abort fails the connection's blocked reads and writes (the client went
// away).
func (uc *conn) abort() { _ = uc.c.SetDeadline(time.Unix(1, 0)) }

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// writeRelayed writes ex's request line, header and body for the upstream.
func writeRelayed(bw *bufio.Writer, ex *lane.Exchange, rl *Relay) error {
	writeStart(bw, ex.Method, rl.URI, rl.Host)
	var buf [64]byte
	pragmaNoCache, sawPragma, sawCacheControl := false, false, false
	for name, value := range ex.Fields {
		k := lane.AppendCanonical(buf[:0], name)
		switch string(k) {
		case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
			"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length", "Expect", "Host":
			continue // as skipRequestHeader
		case "Pragma":
			if !sawPragma {
				sawPragma, pragmaNoCache = true, string(value) == "no-cache"
			}
		case "Cache-Control":
			sawCacheControl = true
		}
		if rl.Drop != nil && rl.Drop(k) {
			continue
		}
		bw.Write(k)
		bw.WriteString(": ")
		bw.Write(value)
		bw.WriteString("\r\n")
	}
	if pragmaNoCache && !sawCacheControl {
		// As net/http's fixPragmaCacheControl, which the handler path's
		// request header went through.
		bw.WriteString("Cache-Control: no-cache\r\n")
	}
	bw.Write(rl.Header)
	return writeEnd(bw, ex.Method, ex.Body)
}

// plainHead checks the buffered response head for the plain shape and
// builds the client's head in uc.head; it consumes the upstream head only
// when ok. n is the body's length.
func (p *Pool) plainHead(uc *conn, hooks RelayHooks) (status int, n int64, ok bool) {
	buf, _ := uc.br.Peek(uc.br.Buffered())
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		return 0, 0, false
	}
	line, rest, _ := bytes.Cut(buf[:end+2], []byte("\r\n"))
	status, ok = simpleStatus(line)
	if !ok {
		return 0, 0, false
	}
	out := append(uc.head[:0], "HTTP/1.1 "...)
	out = strconv.AppendInt(out, int64(status), 10)
	out = append(out, ' ')
	if text := http.StatusText(status); text != "" {
		out = append(out, text...)
	} else { // as the lane (and net/http) write an unknown status
		out = append(out, "status code "...)
		out = strconv.AppendInt(out, int64(status), 10)
	}
	out = append(out, "\r\n"...)
	n = -1
	var length []byte // the Content-Length value, sent as it came
	sawDate := false
	var kbuf [64]byte
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, found := bytes.Cut(line, []byte(":"))
		if !found || len(name) == 0 || len(name) > len(kbuf) || !isToken(name) {
			return 0, 0, false
		}
		value = bytes.TrimLeft(value, " \t")
		if !fieldValue(value) {
			return 0, 0, false
		}
		k := lane.AppendCanonical(kbuf[:0], name)
		switch string(k) {
		case "Connection", "Transfer-Encoding", "Trailer", "Pragma", "Proxy-Connection", "Keep-Alive", "Upgrade",
			"Proxy-Authenticate", "Proxy-Authorization", "Te": // hop-by-hop (IsHop) or rewritten by ReadResponse
			return 0, 0, false
		case "Content-Length":
			if n >= 0 {
				return 0, 0, false
			}
			if n, ok = parseLength(value); !ok {
				return 0, 0, false
			}
			length = value
			continue // written last
		}
		keep, plain := hooks.Field(k, value)
		if !plain {
			return 0, 0, false
		}
		if keep {
			sawDate = sawDate || string(k) == "Date" // one dropped is not sent
			out = append(out, k...)
			out = append(out, ": "...)
			out = append(out, value...)
			out = append(out, "\r\n"...)
		}
	}
	if n < 0 {
		return 0, 0, false
	}
	out, ok = hooks.AppendHeader(out, status)
	if !ok {
		return 0, 0, false
	}
	if !sawDate {
		out = lane.AppendDate(out)
	}
	out = append(out, "Content-Length: "...)
	out = append(out, length...) // as the handler path copies it ("007" too)
	out = append(out, "\r\n"...)
	uc.head = out
	_, _ = uc.br.Discard(end + 4)
	return status, n, true
}

// relayBody writes the client's head (uc.head) and copies n body bytes.
func (p *Pool) relayBody(uc *conn, ex *lane.Exchange, n int64) error {
	bw := ex.Raw()
	bw.Write(uc.head)
	if ex.WantsClose() {
		bw.WriteString("Connection: close\r\n")
	}
	bw.WriteString("\r\n")
	for n > 0 {
		if uc.br.Buffered() == 0 {
			if _, err := uc.br.Peek(1); err != nil {
				p.discard(uc)
				ex.CloseAfter()
				return fmt.Errorf("copying response body: %w", unexpectedEOF(err))
			}
		}
		chunk, _ := uc.br.Peek(int(min(n, int64(uc.br.Buffered()))))
		if _, err := bw.Write(chunk); err != nil {
			p.discard(uc)
			ex.CloseAfter()
			return fmt.Errorf("copying response body: %w", err)
		}
		_, _ = uc.br.Discard(len(chunk))
		n -= int64(len(chunk))
	}
	p.finishRelay(uc, ex, true)
	return nil
}

// finishRelay ends the client-gone watch of uc, then pools it when ok and the
// watch never fired (firing moved its deadline), and closes it otherwise.
func (p *Pool) finishRelay(uc *conn, ex *lane.Exchange, ok bool) {
	ex.OnGone(nil)
	if ok && !ex.Gone() {
		p.put(uc)
		return
	}
	p.discard(uc)
}

// relayOther answers a response of another shape through the exchange's
// http.ResponseWriter.
func (p *Pool) relayOther(uc *conn, ex *lane.Exchange, hooks RelayHooks) (int, error) {
	resp, err := readResponse(uc.br, ex.Request())
	if err == nil {
		if err = hooks.ModifyResponse(resp); err != nil {
			_ = resp.Body.Close()
		}
	}
	if err != nil {
		p.discard(uc)
		return 0, fmt.Errorf("%w: reading response: %w", ErrBeforeResponse, err)
	}
	copyErr := p.copyResponse(hooks.Writer(ex.ResponseWriter()), resp)
	p.finishRelay(uc, ex, copyErr == nil && !resp.Close)
	return resp.StatusCode, copyErr
}

// isToken reports whether b is an RFC 9110 token.
func isToken(b []byte) bool {
	for _, c := range b {
		if !isTokenByte(c) {
			return false
		}
	}
	return true
}

// fieldValue reports whether v is a header value the plain path copies as
// is: no control byte but HTAB, and no trailing blank (which net/http
// would trim).
func fieldValue(v []byte) bool {
	for _, c := range v {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return len(v) == 0 || (v[len(v)-1] != ' ' && v[len(v)-1] != '\t')
}
