package fastproxy

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/textproto"
	"strings"
)

// Most function responses share one plain shape: HTTP/1.1, a final status
// with a body, a Content-Length, no Connection or Transfer-Encoding, the
// whole head in the first read. parseSimple reads those with far less work
// and garbage than http.ReadResponse; anything else, or anything it is
// unsure of, is left unread for http.ReadResponse.

// readResponse reads the final response, skipping 1xx interim ones.
func readResponse(br *bufio.Reader, r *http.Request) (*http.Response, error) {
	for {
		resp, err := parseSimple(br, r)
		if err != nil {
			return nil, err
		}
		if resp == nil {
			if resp, err = http.ReadResponse(br, r); err != nil {
				return nil, err
			}
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, nil
		}
	}
}

// simpleResponse holds a parsed response and its body in one allocation.
type simpleResponse struct {
	resp http.Response
	body fixedBody
}

// parseSimple parses the response at the start of br if it has the plain
// shape, and consumes it; otherwise it returns nil and consumes nothing.
// The error is that of reading the first byte, as http.ReadResponse would
// return it.
func parseSimple(br *bufio.Reader, req *http.Request) (*http.Response, error) {
	if _, err := br.Peek(1); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	buf, _ := br.Peek(br.Buffered())
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 || req.Method == http.MethodHead || req.Method == http.MethodConnect {
		return nil, nil
	}
	head := string(buf[:end+2]) // status and header lines, each ending in CRLF
	line, rest, _ := strings.Cut(head, "\r\n")
	code, ok := simpleStatus(line)
	if !ok {
		return nil, nil
	}
	sr := &simpleResponse{resp: http.Response{
		Status: line[len("HTTP/1.1 "):], StatusCode: code, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Request: req,
	}}
	if sr.resp.Header, sr.resp.ContentLength, ok = simpleHeader(rest); !ok {
		return nil, nil
	}
	if _, err := br.Discard(end + 4); err != nil { // not reached: the bytes are buffered
		return nil, err
	}
	sr.resp.Body = http.NoBody
	if sr.resp.ContentLength > 0 {
		sr.body = fixedBody{br: br, n: sr.resp.ContentLength}
		sr.resp.Body = &sr.body
	}
	return &sr.resp, nil
}

// simpleStatus parses an HTTP/1.1 status line with a status code that
// comes with a body (200 to 999 but 204 and 304), and a reason phrase of
// visible characters.
func simpleStatus[T string | []byte](line T) (int, bool) {
	const prefix = "HTTP/1.1 "
	if len(line) < len(prefix)+3 || string(line[:len(prefix)]) != prefix {
		return 0, false
	}
	rest := line[len(prefix):]
	if len(rest) > 3 && rest[3] != ' ' {
		return 0, false
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; c < ' ' && c != '\t' || c == 0x7f {
			return 0, false
		}
	}
	code := 0
	for i := 0; i < 3; i++ {
		c := rest[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		code = code*10 + int(c-'0')
	}
	if code < 200 || code == http.StatusNoContent || code == http.StatusNotModified {
		return 0, false
	}
	return code, true
}

// simpleHeader parses header lines, each ending in CRLF, and returns them
// with the Content-Length. It refuses headers that change how the
// response is framed or read (Connection, Transfer-Encoding, Trailer,
// Pragma, which http.ReadResponse rewrites), a missing or repeated
// Content-Length, folded lines, and anything http.ReadResponse would
// reject or trim differently.
func simpleHeader(lines string) (http.Header, int64, bool) {
	h := make(http.Header, strings.Count(lines, "\n"))
	values := make([]string, strings.Count(lines, "\n"))
	length := int64(-1)
	for i := 0; lines != ""; i++ {
		var line string
		line, lines, _ = strings.Cut(lines, "\r\n")
		k, v, ok := simpleField(line)
		if !ok {
			return nil, 0, false
		}
		switch k {
		case "Connection", "Transfer-Encoding", "Trailer", "Pragma":
			return nil, 0, false
		case "Content-Length":
			if length >= 0 {
				return nil, 0, false
			}
			if length, ok = parseLength(v); !ok {
				return nil, 0, false
			}
		}
		if vs, seen := h[k]; seen {
			h[k] = append(vs, v)
		} else {
			values[i] = v
			h[k] = values[i : i+1 : i+1]
		}
	}
	return h, length, length >= 0
}

// simpleField splits a header line into its canonical name and its value;
// false for lines it leaves to textproto.
func simpleField(line string) (key, value string, ok bool) {
	k, v, ok := strings.Cut(line, ":")
	if !ok || k == "" {
		return "", "", false
	}
	for i := 0; i < len(k); i++ {
		if !isTokenByte(k[i]) {
			return "", "", false
		}
	}
	v = strings.TrimLeft(v, " \t")
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return "", "", false
		}
	}
	if v != "" && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		return "", "", false
	}
	return textproto.CanonicalMIMEHeaderKey(k), v, true
}

// isTokenByte reports the bytes of an RFC 9110 token.
func isTokenByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// parseLength parses a Content-Length value: decimal digits only.
func parseLength[T string | []byte](v T) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(v[i]-'0')
	}
	return n, true
}

// fixedBody reads a body of n bytes from br.
type fixedBody struct {
	br *bufio.Reader
	n  int64
}

func (b *fixedBody) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.br.Read(p)
	b.n -= int64(n)
	switch {
	case b.n == 0:
		return n, io.EOF
	case err == io.EOF:
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

// Close does nothing: the connection is reused only once the body was
// read to its end.
func (b *fixedBody) Close() error { return nil }
