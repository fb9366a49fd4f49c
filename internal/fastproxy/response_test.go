package fastproxy

import (
	"bufio"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// parsed is what a response parser made of an upstream's answer.
type parsed struct {
	Status        string
	StatusCode    int
	Proto         string
	Header        http.Header
	ContentLength int64
	Close         bool
	Body          string
	BodyErr       bool
	Rest          string // bytes left after the body
}

// parseWith reads answer with parse, then the body and what follows.
func parseWith(t *testing.T, answer, method string, parse func(*bufio.Reader, *http.Request) (*http.Response, error)) (*parsed, error) {
	t.Helper()
	br := bufio.NewReaderSize(strings.NewReader(answer), 16<<10)
	resp, err := parse(br, &http.Request{Method: method})
	if err != nil || resp == nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	rest, _ := io.ReadAll(br)
	return &parsed{Status: resp.Status, StatusCode: resp.StatusCode, Proto: resp.Proto, Header: resp.Header,
		ContentLength: resp.ContentLength, Close: resp.Close, Body: string(body), BodyErr: err != nil, Rest: string(rest)}, nil
}

// finalResponse is readResponse with http.ReadResponse alone: it skips
// 1xx responses.
func finalResponse(br *bufio.Reader, r *http.Request) (*http.Response, error) {
	for {
		resp, err := http.ReadResponse(br, r)
		if err != nil || resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, err
		}
	}
}

func TestParseSimple(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, answer, method string
		simple               bool // parseSimple takes it
	}{
		{"plain", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello", "POST", true},
		{"empty body", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "GET", true},
		{"repeated header", "HTTP/1.1 201 Created\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\n\r\nhi", "PUT", true},
		{"lower case names", "HTTP/1.1 500 Oops\r\ncontent-length: 1\r\nx-thing:  v\r\n\r\nx", "GET", true},
		{"no reason", "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", "GET", true},
		{"pipelined bytes stay", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1", "GET", true},
		{"short body", "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhi", "GET", true},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", "GET", false},
		{"no length", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close", "GET", false},
		{"connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi", "GET", false},
		{"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi", "GET", false},
		{"HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n", "HEAD", false},
		{"no content", "HTTP/1.1 204 No Content\r\n\r\n", "DELETE", false},
		{"interim", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "POST", false},
		{"pragma", "HTTP/1.1 200 OK\r\nPragma: no-cache\r\nContent-Length: 0\r\n\r\n", "GET", false},
		{"folded", "HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\nContent-Length: 0\r\n\r\n", "GET", false},
		{"trailing space", "HTTP/1.1 200 OK\r\nX-A: 1 \r\nContent-Length: 0\r\n\r\n", "GET", false},
		{"two lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", "GET", false},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\nx", "GET", false},
		{"head not complete", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n", "GET", false},
		{"garbage", "garbage\r\n\r\n", "GET", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			simple, err := parseWith(t, tc.answer, tc.method, parseSimple)
			if err != nil {
				t.Fatal(err)
			}
			if (simple != nil) != tc.simple {
				t.Fatalf("parseSimple took it: %v, want %v", simple != nil, tc.simple)
			}
			want, wantErr := parseWith(t, tc.answer, tc.method, finalResponse)
			got, err := parseWith(t, tc.answer, tc.method, readResponse)
			if (err != nil) != (wantErr != nil) || !reflect.DeepEqual(got, want) {
				t.Errorf("readResponse: %+v, %v\nfinalResponse: %+v, %v", got, err, want, wantErr)
			}
		})
	}
}

// FuzzParseSimple checks that whatever parseSimple accepts, it reads as
// http.ReadResponse does: status, headers, framing, body and the bytes
// left on the connection.
func FuzzParseSimple(f *testing.F) {
	f.Add("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello", false)
	f.Add("HTTP/1.1 201 Created\r\nset-cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\n\r\nhiHTTP", false)
	f.Add("HTTP/1.1 404\r\nX: \t\r\nContent-Length: 00\r\n\r\n", true)
	f.Add("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhi", false)
	f.Fuzz(func(t *testing.T, answer string, head bool) {
		method := http.MethodGet
		if head {
			method = http.MethodHead
		}
		got, err := parseWith(t, answer, method, parseSimple)
		if err != nil || got == nil {
			return
		}
		want, err := parseWith(t, answer, method, http.ReadResponse)
		if err != nil {
			t.Fatalf("parseSimple took %q, http.ReadResponse failed: %v", answer, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\nparseSimple:       %+v\nhttp.ReadResponse: %+v", answer, got, want)
		}
	})
}

// keepAll are RelayHooks that keep every line and add none.
type keepAll struct{}

func (keepAll) Field(_, _ []byte) (bool, bool)                   { return true, true }
func (keepAll) AppendHeader(b []byte, _ int) ([]byte, bool)      { return b, true }
func (keepAll) Writer(w http.ResponseWriter) http.ResponseWriter { return w }
func (keepAll) ModifyResponse(*http.Response) error              { return nil }

// FuzzPlainHead checks that whatever response head the relay copies as
// bytes, http.ReadResponse reads alike, both as the upstream sent it and
// as the relay writes it on: status, headers (the relay may only add
// Date), Content-Length; and that it consumes exactly the head.
func FuzzPlainHead(f *testing.F) {
	f.Add("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello")
	f.Add("HTTP/1.1 201 Created\r\nset-cookie: a=1\r\nSet-Cookie: b=2\r\nDate: x\r\nContent-Length: 2\r\n\r\nhi")
	f.Add("HTTP/1.1 299 \r\nX: \t\r\nContent-Length: 002\r\n\r\n")
	f.Add("HTTP/1.1 500 Oops\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx")
	f.Fuzz(func(t *testing.T, answer string) {
		uc := &conn{br: bufio.NewReaderSize(strings.NewReader(answer), 16<<10)}
		if _, err := uc.br.Peek(1); err != nil {
			return
		}
		var p Pool
		status, n, ok := p.plainHead(uc, keepAll{})
		if !ok {
			if uc.br.Buffered() != len(answer) && len(answer) <= 16<<10 {
				t.Fatalf("%q: refused, yet consumed bytes", answer)
			}
			return
		}
		in, err := http.ReadResponse(bufio.NewReader(strings.NewReader(answer)), nil)
		if err != nil {
			t.Fatalf("plainHead took %q, http.ReadResponse failed: %v", answer, err)
		}
		if in.StatusCode != status || in.ContentLength != n {
			t.Fatalf("%q: plainHead %d/%d, http.ReadResponse %d/%d", answer, status, n, in.StatusCode, in.ContentLength)
		}
		rest, _ := io.ReadAll(uc.br)
		if string(rest) != answer[len(answer)-len(rest):] || !strings.HasSuffix(answer[:len(answer)-len(rest)], "\r\n\r\n") {
			t.Fatalf("%q: plainHead left %q", answer, rest)
		}
		out, err := http.ReadResponse(bufio.NewReader(strings.NewReader(string(uc.head)+"\r\n")), nil)
		if err != nil {
			t.Fatalf("%q: the relayed head %q does not parse: %v", answer, uc.head, err)
		}
		if _, had := in.Header["Date"]; !had {
			out.Header.Del("Date")
		}
		if out.StatusCode != in.StatusCode || out.ContentLength != in.ContentLength || !reflect.DeepEqual(out.Header, in.Header) {
			t.Fatalf("%q: relayed as %q:\n%+v\nwant %+v", answer, uc.head, out.Header, in.Header)
		}
	})
}
