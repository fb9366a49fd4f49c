package lane

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestClientGoneCancels: a long handler sees its context end when the
// client closes the connection.
func TestClientGoneCancels(t *testing.T) {
	started := make(chan struct{}, 1)
	cancelled := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		select {
		case <-r.Context().Done():
			cancelled <- r.Context().Err()
		case <-time.After(ioWait):
			cancelled <- errors.New("context never ended")
		}
	})
	s := startLane(t, h, nil, nil)
	c := dial(t, s.addr)
	io.WriteString(c, get("/wait"))
	<-started
	time.Sleep(2 * watchAfter) // past the point where the lane starts watching
	c.Close()
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Fatalf("handler context: %v", err)
	}
	// The lane counts the request once the handler has returned, which
	// may be just after it told the test.
	served, handed := s.lane.Stats()
	for deadline := time.Now().Add(ioWait); served == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
		served, handed = s.lane.Stats()
	}
	if handed != 0 || served != 1 {
		t.Errorf("Stats = %d, %d; want 1 served on the lane", served, handed)
	}
}

// TestClientGoneEarly: the client closes before the watch starts.
func TestClientGoneEarly(t *testing.T) {
	cancelled := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			cancelled <- r.Context().Err()
		case <-time.After(ioWait):
			cancelled <- errors.New("context never ended")
		}
	})
	s := startLane(t, h, nil, nil)
	c := dial(t, s.addr)
	io.WriteString(c, get("/wait"))
	c.Close()
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Fatalf("handler context: %v", err)
	}
}

// TestSlowHandlerPipelined: a request pipelined behind a slow one is not
// taken for the client going away, and both are answered in order.
func TestSlowHandlerPipelined(t *testing.T) {
	var ctxErrs atomic.Int32
	first := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(first)
			time.Sleep(4 * watchAfter)
		}
		if r.Context().Err() != nil {
			ctxErrs.Add(1)
		}
		io.WriteString(w, "answer "+r.URL.Path)
	})
	s := startLane(t, h, nil, nil)
	c := dial(t, s.addr)
	defer c.Close()
	io.WriteString(c, get("/slow"))
	<-first
	time.Sleep(2 * watchAfter) // the lane now reads in the background
	io.WriteString(c, get("/second"))
	br := bufio.NewReader(c)
	for _, want := range []string{"answer /slow", "answer /second"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if string(b) != want {
			t.Errorf("got %q, want %q", b, want)
		}
	}
	if n := ctxErrs.Load(); n != 0 {
		t.Errorf("%d handlers saw their context end", n)
	}
	if served, handed := s.lane.Stats(); served != 2 || handed != 0 {
		t.Errorf("Stats = %d, %d; want 2 served", served, handed)
	}
}

// TestHijackPlainRequest: a handler may hijack an ordinary request on the
// lane, bytes the client sent after it included.
func TestHijackPlainRequest(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Before", "1")
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		go func() {
			defer c.Close()
			line, _ := brw.ReadString('\n')
			brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(line)) + "\r\nConnection: close\r\n\r\n" + line)
			brw.Flush()
		}()
	})
	s := startLane(t, h, nil, nil)
	got := exchange(t, s.addr, get("/h")+"after the head\n")
	if !strings.HasSuffix(got, "\r\n\r\nafter the head\n") {
		t.Fatalf("got %q", got)
	}
	waitFor(t, "conn untracked", func() bool {
		s.lane.mu.Lock()
		defer s.lane.mu.Unlock()
		return len(s.lane.conns) == 0
	})
}

// TestShutdown: idle connections close, a request under way completes
// and is answered before Shutdown returns, Serve returns ErrServerClosed.
func TestShutdown(t *testing.T) {
	inHandler := make(chan struct{})
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(inHandler)
			<-release
		}
		io.WriteString(w, "done "+r.URL.Path)
	})
	s := startLane(t, h, nil, nil)

	idle := dial(t, s.addr)
	defer idle.Close()
	io.WriteString(idle, get("/first"))
	ibr := bufio.NewReader(idle)
	if resp, err := http.ReadResponse(ibr, nil); err != nil {
		t.Fatal(err)
	} else {
		io.ReadAll(resp.Body)
	}

	busy := dial(t, s.addr)
	defer busy.Close()
	io.WriteString(busy, get("/slow"))
	<-inHandler

	shutdownDone := make(chan error, 1)
	go func() { shutdownDone <- s.lane.Shutdown(ctxWait(t)) }()

	// The idle connection is closed.
	if n, err := ibr.ReadByte(); err == nil {
		t.Fatalf("idle connection still open: read %q", n)
	}
	select {
	case err := <-shutdownDone:
		t.Fatalf("Shutdown returned with a request under way: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	resp, err := http.ReadResponse(bufio.NewReader(busy), nil)
	if err != nil {
		t.Fatalf("in-flight response: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "done /slow" || !resp.Close {
		t.Errorf("in-flight response %q, close=%v", b, resp.Close)
	}
	if err := <-shutdownDone; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := s.serveErr(t); !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve returned %v", err)
	}
	if _, err := net.DialTimeout("tcp", s.addr, time.Second); err == nil {
		t.Errorf("listener still accepts")
	}
}

// TestShutdownHanded: Shutdown waits for a connection net/http serves.
func TestShutdownHanded(t *testing.T) {
	inHandler := make(chan struct{})
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(inHandler)
		<-release
		io.WriteString(w, "ok")
	})
	s := startLane(t, h, nil, nil)
	c := dial(t, s.addr)
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
	<-inHandler
	done := make(chan error, 1)
	go func() { done <- s.lane.Shutdown(ctxWait(t)) }()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned early: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	b, _ := io.ReadAll(c)
	if !strings.HasSuffix(string(b), "\r\n\r\nok") {
		t.Errorf("got %q", b)
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// TestClose closes everything at once, requests under way included.
func TestClose(t *testing.T) {
	inHandler := make(chan struct{}, 2)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inHandler <- struct{}{}
		<-r.Context().Done()
	})
	s := startLane(t, h, nil, nil)
	idle := dial(t, s.addr)
	defer idle.Close()
	lane := dial(t, s.addr)
	defer lane.Close()
	io.WriteString(lane, get("/"))
	handed := dial(t, s.addr)
	defer handed.Close()
	io.WriteString(handed, "GET / HTTP/1.0\r\n\r\n")
	<-inHandler
	<-inHandler
	if err := s.lane.Close(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]net.Conn{"idle": idle, "lane": lane, "handed": handed} {
		if b, err := io.ReadAll(c); err != nil && !isReset(err) {
			t.Errorf("%s: %v (read %q)", name, err, b)
		}
	}
	if err := s.serveErr(t); !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve returned %v", err)
	}
}

// TestServeAfterShutdown: Serve on a shut server fails at once.
func TestServeAfterShutdown(t *testing.T) {
	s := &Server{HTTP: &http.Server{Handler: http.NotFoundHandler()}}
	if err := s.Shutdown(ctxWait(t)); err != nil {
		t.Fatal(err)
	}
	ln := listen(t)
	defer ln.Close()
	if err := s.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve = %v", err)
	}
}

// TestIdleTimeout: an idle lane connection is closed after IdleTimeout.
func TestIdleTimeout(t *testing.T) {
	s := startLane(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}),
		func(h *http.Server) { h.IdleTimeout = 200 * time.Millisecond }, nil)
	c := dial(t, s.addr)
	defer c.Close()
	io.WriteString(c, get("/"))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	start := time.Now()
	if _, err := br.ReadByte(); err != io.EOF && !isReset(err) {
		t.Fatalf("read on idle connection: %v", err)
	}
	if time.Since(start) >= ioWait-time.Second {
		t.Fatalf("idle connection not closed")
	}
}

// TestReadHeaderTimeoutOnly: with only ReadHeaderTimeout set, a
// keep-alive connection waits for its next request as long as it takes
// (net/http sets no idle deadline then), and a head sent in two parts
// with a long pause is cut off.
func TestReadHeaderTimeoutOnly(t *testing.T) {
	cfg := func(h *http.Server) { h.ReadHeaderTimeout = 200 * time.Millisecond }
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	for _, s := range []*served{startPlain(t, h, cfg), startLane(t, h, cfg, nil)} {
		c := dial(t, s.addr)
		br := bufio.NewReader(c)
		for i := 0; i < 2; i++ {
			io.WriteString(c, get("/"))
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("request %d (lane=%v): %v", i, s.lane != nil, err)
			}
			io.ReadAll(resp.Body)
			time.Sleep(400 * time.Millisecond) // longer than ReadHeaderTimeout
		}
		c.Close()

		// The head in two parts, the pause longer than ReadHeaderTimeout.
		c = dial(t, s.addr)
		io.WriteString(c, "GET / HTTP/1.1\r\n")
		time.Sleep(600 * time.Millisecond)
		io.WriteString(c, hostLine+"\r\n")
		b, err := io.ReadAll(c)
		if strings.Contains(string(b), "200 OK") {
			t.Errorf("lane=%v: slow head answered: %q %v", s.lane != nil, b, err)
		}
		c.Close()
	}
}

// TestWriteTimeout: a handler writing after WriteTimeout has no answer
// delivered, and the connection closes.
func TestWriteTimeout(t *testing.T) {
	cfg := func(h *http.Server) { h.WriteTimeout = 150 * time.Millisecond }
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(500 * time.Millisecond)
		}
		io.WriteString(w, "ok")
	})
	for _, s := range []*served{startPlain(t, h, cfg), startLane(t, h, cfg, nil)} {
		got := exchange(t, s.addr, get("/fast"))
		if !strings.HasSuffix(got, "\r\n\r\nok") {
			t.Errorf("lane=%v: fast request: %q", s.lane != nil, got)
		}
		got = exchange(t, s.addr, get("/slow"))
		if got != "" {
			t.Errorf("lane=%v: slow request answered: %q", s.lane != nil, got)
		}
	}
}

// TestSetWriteDeadline: http.ResponseController's SetWriteDeadline works
// inside a lane handler, and the next request gets the usual deadlines.
func TestSetWriteDeadline(t *testing.T) {
	errs := make(chan error, 4)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if r.URL.Path == "/past" {
			if err := rc.SetWriteDeadline(time.Now().Add(-time.Second)); err != nil {
				errs <- err
				return
			}
			w.Write(make([]byte, 64<<10))
			errs <- rc.Flush()
			return
		}
		errs <- rc.SetWriteDeadline(time.Now().Add(time.Minute))
		io.WriteString(w, "ok")
	})
	s := startLane(t, h, nil, nil)
	if got := exchange(t, s.addr, get("/past")); strings.Contains(got, "200 OK") {
		t.Errorf("answered after its write deadline passed: %.60q", got)
	}
	if err := <-errs; err == nil || !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "timeout") {
		t.Errorf("Flush after deadline = %v, want a timeout", err)
	}
	got := exchange(t, s.addr, get("/ok")+get("/ok"))
	if strings.Count(got, "200 OK") != 2 {
		t.Errorf("got %q", got)
	}
	for i := 0; i < 2; i++ {
		if err := <-errs; err != nil {
			t.Errorf("SetWriteDeadline: %v", err)
		}
	}
	if served, handed := s.lane.Stats(); handed != 0 || served < 2 {
		t.Errorf("Stats = %d, %d", served, handed)
	}
}

// TestSlowBody: a body that comes after a pause longer than the idle
// timeout is still read, as net/http reads it (no ReadTimeout set).
func TestSlowBody(t *testing.T) {
	cfg := func(h *http.Server) { h.IdleTimeout = 150 * time.Millisecond }
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	})
	for _, s := range []*served{startPlain(t, h, cfg), startLane(t, h, cfg, nil)} {
		c := dial(t, s.addr)
		// A first request, so the idle timeout applies to the next.
		io.WriteString(c, post("/", "first"))
		br := bufio.NewReader(c)
		if resp, err := http.ReadResponse(br, nil); err != nil {
			t.Fatal(err)
		} else {
			io.ReadAll(resp.Body)
		}
		io.WriteString(c, "POST / HTTP/1.1\r\n"+hostLine+"Content-Length: 4\r\n\r\n")
		time.Sleep(400 * time.Millisecond)
		io.WriteString(c, "body")
		c.CloseWrite()
		b, _ := io.ReadAll(br)
		if !strings.HasSuffix(string(b), "\r\n\r\nbody") {
			t.Errorf("lane=%v: got %q", s.lane != nil, b)
		}
		c.Close()
	}
}
