// Package lanetest holds helpers for tests that compare the lane's
// answers: a request served through a lane Shortcut against the same
// request served through its Handler, byte by byte as a client reads them,
// and what a recording upstream received from each.
//
// It imports internal/lane and the standard library (testing included);
// it is only ever imported by _test.go files.
package lanetest

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofaas/gofaas/internal/lane"
)

// Wait bounds every wait of the comparing tests (a Client's deadline is
// twice it); no test asserts it.
const Wait = 5 * time.Second

// QuietLog discards what it is given: the ErrorLog of test servers.
var QuietLog = log.New(io.Discard, "", 0)

// Serve runs s on a fresh port of 127.0.0.1 until the test ends (Close,
// then wait for Serve to return), and returns the address. A nil
// s.HTTP.ErrorLog is set to QuietLog.
func Serve(t testing.TB, s *lane.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if s.HTTP.ErrorLog == nil {
		s.HTTP.ErrorLog = QuietLog
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close(); <-done })
	return ln.Addr().String()
}

// Start serves h with a lane in front and returns the address (see
// Serve). With a nil shortcut every request goes to h, the Handler side
// of a comparison; otherwise shortcut is offered every request the lane
// serves itself, the Shortcut side.
func Start(t testing.TB, h http.Handler, shortcut func(*lane.Exchange) bool) string {
	t.Helper()
	return Serve(t, &lane.Server{HTTP: &http.Server{Handler: h}, Shortcut: shortcut})
}

// Answer is one response as a client read it.
type Answer struct {
	// Norm is the response normalised: the status line, the header lines
	// sorted, with the values of Date and of the masked headers replaced
	// by <masked>, a blank line, the body ("<chunked>" and the decoded
	// body when chunked), and how reading the body ended, in <>: complete,
	// cut short, EOF, timeout or the error. With no response it is
	// "no response: " and how reading the head ended.
	Norm string
	// Header is the response's header; nil with no response.
	Header http.Header
}

// Ask sends raw on a fresh connection to addr, reads one response (to the
// method raw starts with) and closes the connection. The values of Date
// and of the headers named in mask (any case) are masked.
func Ask(t testing.TB, addr, raw string, mask ...string) Answer {
	t.Helper()
	c := dial(t, addr)
	defer c.conn.Close()
	return c.RoundTrip(t, raw, mask...)
}

// Client is one raw client connection that keeps every byte it reads, to
// normalise each response from the bytes that carried it.
type Client struct {
	conn net.Conn
	got  bytes.Buffer
	br   *bufio.Reader
}

// Dial connects to addr; the connection closes when the test ends.
func Dial(t testing.TB, addr string) *Client {
	t.Helper()
	c := dial(t, addr)
	t.Cleanup(func() { _ = c.conn.Close() })
	return c
}

func dial(t testing.TB, addr string) *Client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, Wait)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(2 * Wait))
	c := &Client{conn: conn}
	c.br = bufio.NewReader(recording{c})
	return c
}

// recording reads from the connection and keeps what it read.
type recording struct{ c *Client }

func (r recording) Read(p []byte) (int, error) {
	n, err := r.c.conn.Read(p)
	r.c.got.Write(p[:n])
	return n, err
}

// Conn is the connection, to write to or close; read through Reader.
func (c *Client) Conn() net.Conn { return c.conn }

// Reader reads the connection, as RoundTrip and Read do.
func (c *Client) Reader() *bufio.Reader { return c.br }

// RoundTrip sends raw and reads one response to it (see Answer and Ask).
func (c *Client) RoundTrip(t testing.TB, raw string, mask ...string) Answer {
	t.Helper()
	if _, err := io.WriteString(c.conn, raw); err != nil {
		t.Fatal(err)
	}
	method, _, _ := strings.Cut(raw, " ")
	return c.Read(method, mask...)
}

// Read reads the next response, to a request with method (see Answer and
// Ask); an informational one is read as any other.
func (c *Client) Read(method string, mask ...string) Answer {
	start := c.got.Len() - c.br.Buffered()
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		return Answer{Norm: "no response: " + ending(err)}
	}
	body, err := io.ReadAll(resp.Body)
	end := c.got.Len() - c.br.Buffered()
	head, _, _ := bytes.Cut(c.got.Bytes()[start:end], []byte("\r\n\r\n"))
	return Answer{Norm: Normalize(string(head), resp.TransferEncoding, body, err, mask...), Header: resp.Header}
}

// Normalize makes Answer.Norm of a response head (status line and header
// lines, without the blank line), its transfer encoding, its body as read
// and the error that ended reading it.
func Normalize(head string, transferEncoding []string, body []byte, err error, mask ...string) string {
	lines := strings.Split(head, "\r\n")
	fields := lines[1:]
	for i, l := range fields {
		k, _, _ := strings.Cut(l, ":")
		for _, m := range append([]string{"Date"}, mask...) {
			if strings.EqualFold(k, m) {
				fields[i] = k + ": <masked>"
			}
		}
	}
	sort.Strings(fields)
	b := lines[0] + "\r\n" + strings.Join(fields, "\r\n") + "\r\n\r\n"
	if len(transferEncoding) > 0 {
		b += "<chunked>"
	}
	return b + string(body) + "\n<" + ending(err) + ">"
}

// ending says how a read ended: without the addresses a net error carries,
// which differ from one connection to the next.
func ending(err error) string {
	switch {
	case err == nil:
		return "complete"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "cut short"
	case errors.Is(err, io.EOF):
		return "EOF"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "error " + err.Error()
}

// Seen is one request as an upstream received it.
type Seen struct {
	Method, URI, Host string
	Header            http.Header
	Body              string
}

// Recorder keeps the requests an upstream received; its zero value is
// ready. It is safe for concurrent use.
type Recorder struct {
	mu  sync.Mutex
	got []Seen
}

// Record adds s to what was received.
func (r *Recorder) Record(s Seen) {
	r.mu.Lock()
	r.got = append(r.got, s)
	r.mu.Unlock()
}

// Received returns a copy of what was received, in order.
func (r *Recorder) Received() []Seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Seen(nil), r.got...)
}

// Upstream is a net/http server on 127.0.0.1 that records every request,
// body read, before its answer func answers it.
type Upstream struct {
	URL string // http://127.0.0.1:port
	Recorder
}

// NewUpstream starts an Upstream, closed when the test ends.
func NewUpstream(t testing.TB, answer func(w http.ResponseWriter, r *http.Request, body []byte)) *Upstream {
	t.Helper()
	u := &Upstream{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ErrorLog: QuietLog, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.Record(Seen{r.Method, r.RequestURI, r.Host, r.Header.Clone(), string(body)})
		answer(w, r, body)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	u.URL = "http://" + ln.Addr().String()
	return u
}
