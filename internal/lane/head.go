package lane

import (
	"bytes"
	"net/http"
	"net/url"
	"strconv"
)

// head is one parsed request head the lane can serve.
type head struct {
	method     string
	target     string // the request target as sent
	url        *url.URL
	host       string
	header     http.Header
	length     int64  // Content-Length; 0 when absent
	wantsClose bool   // Connection: close
	raw        []byte // the whole head, as read
	lines      []byte // its header lines, each ending in CRLF
	conn0      string // the first Connection value
}

// endOfHead finds the blank line ending a request head in buf: it returns
// the head's length (through the blank line), or 0 and more=true when buf
// holds no end yet, or 0 and more=false when buf ends its head with bare
// LFs, which only net/http takes.
func endOfHead(buf []byte) (n int, more bool) {
	crlf := bytes.Index(buf, []byte("\r\n\r\n"))
	lf := bytes.Index(buf, []byte("\n\n"))
	switch {
	case lf >= 0 && (crlf < 0 || lf < crlf):
		return 0, false
	case crlf >= 0:
		return crlf + 4, false
	}
	return 0, true
}

// parseHead parses a complete request head (as endOfHead delimits it).
// ok=false means the lane leaves the request to net/http: anything but an
// HTTP/1.1 origin-form request with clean header lines, one Host and at
// most maxBody bytes of body with a Content-Length, or one that needs
// 100-continue, an upgrade or another transfer coding.
//
// Without withHeader, h.header stays nil: a Shortcut reads the lines
// (h.lines) instead.
func parseHead(b []byte, maxBody int64, withHeader bool) (h head, ok bool) {
	h.raw = b
	line, rest, _ := bytes.Cut(b, []byte("\r\n"))
	method, line, found := bytes.Cut(line, []byte(" "))
	if !found || !isToken(method) {
		return h, false
	}
	target, proto, found := bytes.Cut(line, []byte(" "))
	if !found || string(proto) != "HTTP/1.1" || len(target) == 0 || target[0] != '/' || !isTarget(target) {
		return h, false
	}
	h.method = methodString(method)
	if h.method == http.MethodConnect {
		return h, false
	}
	h.target = string(target)
	u, err := url.ParseRequestURI(h.target)
	if err != nil {
		return h, false
	}
	h.url = u

	lines := bytes.Count(rest, []byte("\r\n")) - 1 // the last one ends the head
	if lines < 1 {
		return h, false // no Host
	}
	h.lines = rest[:len(rest)-2]
	var values []string
	if withHeader {
		h.header = make(http.Header, lines)
		values = make([]string, lines) // one backing array for single values
	}
	var hosts, lengths int
	sawConnection := false
	var canon [64]byte
	for i := 0; i < lines; i++ {
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, found := bytes.Cut(line, []byte(":"))
		if !found || !isToken(name) {
			return h, false
		}
		value = trimOWS(value)
		if !isFieldValue(value) {
			return h, false
		}
		kb := AppendCanonical(canon[:0], name)
		switch string(kb) {
		case "Host":
			hosts++
			if !isHost(value) {
				return h, false
			}
			h.host = string(value)
			continue // net/http moves Host out of the header map
		case "Content-Length":
			lengths++
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 || n > maxBody || value[0] == '+' || value[0] == '-' {
				return h, false
			}
			h.length = n
		case "Transfer-Encoding", "Expect", "Upgrade", "Te", "Trailer":
			return h, false
		case "Connection":
			if !sawConnection {
				h.conn0, sawConnection = string(value), true
			}
			if hasToken(value, "close") {
				h.wantsClose = true
			}
			if hasToken(value, "upgrade") {
				return h, false
			}
		}
		if !withHeader {
			continue
		}
		key := intern(kb)
		v := string(value)
		if old := h.header[key]; old != nil {
			h.header[key] = append(old, v)
			continue
		}
		values[i] = v
		h.header[key] = values[i : i+1 : i+1]
	}
	if hosts != 1 || lengths > 1 {
		return h, false
	}
	// As net/http's fixPragmaCacheControl.
	if p := h.header["Pragma"]; withHeader && len(p) > 0 && p[0] == "no-cache" {
		if _, ok := h.header["Cache-Control"]; !ok {
			h.header["Cache-Control"] = []string{"no-cache"}
		}
	}
	return h, true
}

// methodString returns method as a string, without allocating for the
// common ones.
func methodString(m []byte) string {
	switch string(m) {
	case http.MethodGet:
		return http.MethodGet
	case http.MethodPost:
		return http.MethodPost
	case http.MethodPut:
		return http.MethodPut
	case http.MethodDelete:
		return http.MethodDelete
	case http.MethodHead:
		return http.MethodHead
	case http.MethodPatch:
		return http.MethodPatch
	case http.MethodOptions:
		return http.MethodOptions
	}
	return string(m)
}

// commonKeys interns the canonical names of the usual request headers.
var commonKeys = func() map[string]string {
	m := make(map[string]string)
	for _, k := range []string{"Accept", "Accept-Encoding", "Accept-Language", "Authorization", "Cache-Control",
		"Connection", "Content-Length", "Content-Type", "Cookie", "Host", "If-Modified-Since", "If-None-Match",
		"Origin", "Referer", "User-Agent", "X-Call-Id", "X-Forwarded-For", "X-Forwarded-Host",
		"X-Forwarded-Proto", "X-Real-Ip", "X-Request-Id", "X-Start-Time", "Traceparent"} {
		m[k] = k
	}
	return m
}()

// AppendCanonical appends the canonical form of the header name (a
// token) to buf, as http.CanonicalHeaderKey writes it.
func AppendCanonical(buf, name []byte) []byte {
	upper := true
	for _, c := range name {
		switch {
		case upper && 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case !upper && 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		buf = append(buf, c)
		upper = c == '-'
	}
	return buf
}

// intern returns the canonical name k as a string, without allocating for
// the names in commonKeys.
func intern(k []byte) string {
	if s, ok := commonKeys[string(k)]; ok {
		return s
	}
	return string(k)
}

// isToken reports whether b is a non-empty RFC 9110 token.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tokenChar[c] {
			return false
		}
	}
	return true
}

var tokenChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// isTarget reports whether b holds only visible ASCII.
func isTarget(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// isFieldValue reports whether b holds no control byte but HTAB. Bytes
// above 0x7f pass, as net/http lets them.
func isFieldValue(b []byte) bool {
	for _, c := range b {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// isHost reports whether b is a Host value net/http takes without doubt:
// a non-empty name or address with an optional port. Anything else goes
// to net/http, which judges it.
func isHost(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '-', c == ':', c == '[', c == ']', c == '_':
		default:
			return false
		}
	}
	return true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// hasToken reports whether the comma-separated list v holds token
// (ASCII case aside).
func hasToken(v []byte, token string) bool {
	for len(v) > 0 {
		item, rest, _ := bytes.Cut(v, []byte(","))
		v = rest
		if item = trimOWS(item); len(item) == len(token) && bytes.EqualFold(item, []byte(token)) {
			return true
		}
	}
	return false
}

// valuesHaveToken is hasToken over several values (httpguts.HeaderValuesContainsToken).
func valuesHaveToken(vs []string, token string) bool {
	for _, v := range vs {
		if hasToken([]byte(v), token) {
			return true
		}
	}
	return false
}

// serverHasToken is net/http's server-side hasToken: token, ASCII case
// aside, bounded by space, tab or comma anywhere in v.
func serverHasToken(v, token string) bool {
	if len(token) > len(v) || token == "" {
		return false
	}
	if v == token {
		return true
	}
	for sp := 0; sp <= len(v)-len(token); sp++ {
		if b := v[sp]; b != token[0] && b|0x20 != token[0] {
			continue
		}
		if sp > 0 && !isTokenBoundary(v[sp-1]) {
			continue
		}
		if end := sp + len(token); end != len(v) && !isTokenBoundary(v[end]) {
			continue
		}
		if bytes.EqualFold([]byte(v[sp:sp+len(token)]), []byte(token)) && isASCII(v[sp:sp+len(token)]) {
			return true
		}
	}
	return false
}

func isTokenBoundary(b byte) bool { return b == ' ' || b == ',' || b == '\t' }

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
