package lane

import (
	"context"
	"errors"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxBody is the largest request body the lane reads by default.
const DefaultMaxBody = 64 << 10

// Server serves HTTP/1.1 on the lane and hands connections it would not
// serve to HTTP, whose Handler answers every request in both places and
// whose timeouts (ReadHeaderTimeout, ReadTimeout, WriteTimeout,
// IdleTimeout) and ErrorLog the lane honours too.
type Server struct {
	// HTTP is the net/http server; Handler must be set. Serve calls its
	// Serve on connections handed over.
	HTTP *http.Server
	// MaxBody is the largest request body (by Content-Length) the lane
	// reads itself (default DefaultMaxBody).
	MaxBody int64
	// Accept, if non-nil, picks the requests the lane serves by method
	// and path; a connection whose request it refuses goes to HTTP.
	Accept func(method, path string) bool
	// Shortcut, if non-nil, is offered each request the lane serves
	// before an http.Request is built; it answers the Exchange and returns
	// true, or returns false, having written nothing, to leave the request
	// to the Handler.
	Shortcut func(ex *Exchange) bool

	mu       sync.Mutex
	ln       net.Listener
	conns    map[*conn]struct{}
	handoff  *handoffListener
	shutting atomic.Bool
	served   atomic.Int64 // requests the lane answered
	handed   atomic.Int64 // connections handed to HTTP
}

// ErrServerClosed is returned by Serve after Shutdown or Close; it is
// http.ErrServerClosed, so callers can test for either.
var ErrServerClosed = http.ErrServerClosed

// Serve accepts connections on ln until Shutdown or Close and serves them.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.shutting.Load() {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.ln = ln
	s.conns = make(map[*conn]struct{})
	s.handoff = newHandoffListener(ln.Addr())
	s.mu.Unlock()
	if s.MaxBody <= 0 {
		s.MaxBody = DefaultMaxBody
	}
	httpDone := make(chan struct{})
	go func() {
		defer close(httpDone)
		_ = s.HTTP.Serve(s.handoff)
	}()
	defer func() {
		s.handoff.Close()
		<-httpDone
	}()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.shutting.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() { // as net/http: back off on EMFILE and the like
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.logf("lane: accept error: %v; retrying in %v", err, delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		c := s.newConn(nc)
		if !s.track(c, true) {
			_ = nc.Close()
			return ErrServerClosed
		}
		go c.serve()
	}
}

// Shutdown stops accepting, closes idle connections, and waits for the
// requests under way on both the lane and HTTP to finish, or ctx to end.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutting.Store(true)
	s.mu.Lock()
	if s.ln != nil {
		_ = s.ln.Close()
	}
	s.mu.Unlock()
	httpErr := make(chan error, 1)
	go func() { httpErr <- s.HTTP.Shutdown(ctx) }()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !s.closeIdle() {
		select {
		case <-ctx.Done():
			<-httpErr
			return ctx.Err()
		case <-tick.C:
		}
	}
	return <-httpErr
}

// Close closes the listener and every connection at once.
func (s *Server) Close() error {
	s.shutting.Store(true)
	s.mu.Lock()
	if s.ln != nil {
		_ = s.ln.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.nc.Close()
	}
	return s.HTTP.Close()
}

// closeIdle closes the lane's idle connections and reports whether none
// is left.
func (s *Server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.state.CompareAndSwap(stateIdle, stateClosed) {
			_ = c.nc.Close()
		}
	}
	return len(s.conns) == 0
}

// track adds (or removes) c; adding fails once the server shuts down.
func (s *Server) track(c *conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.conns, c)
		return true
	}
	if s.shutting.Load() {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

// Stats reports how many requests the lane answered and how many
// connections it handed to net/http.
func (s *Server) Stats() (served, handed int64) { return s.served.Load(), s.handed.Load() }

func (s *Server) logf(format string, args ...any) {
	if l := s.HTTP.ErrorLog; l != nil {
		l.Printf(format, args...)
		return
	}
	log.Printf(format, args...)
}

// handoffListener is the listener HTTP serves: it yields the connections
// the lane hands over.
type handoffListener struct {
	addr   net.Addr
	ch     chan net.Conn
	done   chan struct{}
	closed sync.Once
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// give passes c to HTTP; it reports false (and c is not taken) once the
// listener is closed.
func (l *handoffListener) give(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *handoffListener) Close() error {
	l.closed.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

// HTTPServer is what Wrap returns: a *Server, or the *http.Server itself
// when the lane is off.
type HTTPServer interface {
	Serve(ln net.Listener) error
	Shutdown(ctx context.Context) error
	Close() error
}

// EnvOff names the environment variable that turns the lane off: with
// GOFAAS_LANE=off, Wrap returns srv and net/http serves every request.
const EnvOff = "GOFAAS_LANE"

// Wrap puts the lane in front of srv for the requests accept picks (nil:
// all), with shortcut (nil: none) as its Shortcut, unless $GOFAAS_LANE is
// "off".
func Wrap(srv *http.Server, accept func(method, path string) bool, shortcut func(*Exchange) bool) HTTPServer {
	if os.Getenv(EnvOff) == "off" {
		return srv
	}
	return &Server{HTTP: srv, Accept: accept, Shortcut: shortcut}
}

var (
	_ HTTPServer = (*Server)(nil)
	_ HTTPServer = (*http.Server)(nil)
)
