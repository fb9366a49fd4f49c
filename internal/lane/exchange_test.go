package lane

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// answerViaExchange makes s answer every request in its Shortcut, through
// the Exchange's Request and ResponseWriter, with its own handler: the
// answers must be net/http's.
func answerViaExchange(s *Server) {
	s.Shortcut = func(ex *Exchange) bool {
		s.HTTP.Handler.ServeHTTP(ex.ResponseWriter(), ex.Request())
		return true
	}
}

// declineAll makes s offer every request to a Shortcut that declines it.
func declineAll(s *Server) { s.Shortcut = func(*Exchange) bool { return false } }

// laneOnly keeps the cases the lane serves itself, which a Shortcut is
// offered. (Those handed to net/http never are; and runDiff's count of
// them races with handOff, which counts a connection once net/http has
// taken it.)
func laneOnly(cases []diffCase) []diffCase {
	var out []diffCase
	for _, c := range cases {
		if c.handed == 0 {
			out = append(out, c)
		}
	}
	return out
}

func TestExchangeResponseWriterDiff(t *testing.T) {
	runDiff(t, laneOnly(responseCases()), answerViaExchange)
	runDiff(t, laneOnly(requestCases()), answerViaExchange)
}

func TestExchangeDeclinedDiff(t *testing.T) {
	runDiff(t, laneOnly(responseCases()), declineAll)
	runDiff(t, laneOnly(requestCases()), declineAll)
}

// TestExchangeFields checks the raw view of the request against the
// http.Request the handler gets.
func TestExchangeFields(t *testing.T) {
	var mu sync.Mutex
	var got []string
	s := startLane(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), nil, func(s *Server) {
		s.Shortcut = func(ex *Exchange) bool {
			var b strings.Builder
			for k, v := range ex.Fields {
				fmt.Fprintf(&b, "%s=%q;", k, v)
			}
			r := ex.Request()
			body, _ := io.ReadAll(r.Body)
			fmt.Fprintf(&b, " get=%q/%q closes=%v same=%v close=%v",
				ex.Get("x-a"), ex.Get("Host"), ex.ClosesConnection(),
				ex.Method == r.Method && ex.Target == r.RequestURI && ex.URL.String() == r.URL.String() &&
					ex.Host == r.Host && string(ex.Body) == string(body) && ex.RemoteAddr() == r.RemoteAddr &&
					ex.Get("X-A") == r.Header.Get("X-A"),
				ex.WantsClose())
			mu.Lock()
			got = append(got, b.String())
			mu.Unlock()
			bw := ex.Raw()
			_, _ = bw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			return true
		}
	})
	raw := "POST /p?q=1 HTTP/1.1\r\nx-a: 1\r\nHost: example.com\r\nX-A:  2 \r\nX-Empty:\r\nConnection: keep-alive, close\r\nContent-Length: 3\r\n\r\nabc"
	resp := exchange(t, s.addr, raw)
	if !strings.HasPrefix(resp, "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(resp, "ok") {
		t.Fatalf("answer %q", resp)
	}
	want := `x-a="1";X-A="2";X-Empty="";Connection="keep-alive, close";Content-Length="3"; get="1"/"" closes=true same=true close=true`
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0] != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// TestExchangeOnGoneAfterGone: an OnGone set once the client is gone runs
// at once, as a request context made then starts cancelled.
func TestExchangeOnGoneAfterGone(t *testing.T) {
	ran := make(chan bool, 1)
	s := startLane(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), nil, func(s *Server) {
		s.Shortcut = func(ex *Exchange) bool {
			waitFor(t, "the lane to see the client go", ex.Gone)
			fired := false
			ex.OnGone(func() { fired = true })
			ex.OnGone(nil)
			ran <- fired && ex.Request().Context().Err() != nil
			return true
		}
	})
	c := dial(t, s.addr)
	_, _ = io.WriteString(c, get("/"))
	_ = c.Close()
	if !<-ran {
		t.Error("OnGone set after the client left never ran")
	}
}

// TestExchangeCloseAfterCuts: a ResponseWriter answer cut with CloseAfter
// reaches the client as a handler's cut with panic(http.ErrAbortHandler)
// does from net/http: no final chunk, the connection closed.
func TestExchangeCloseAfterCuts(t *testing.T) {
	write := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(strings.Repeat("x", 3000))) // past the 2 KiB buffer: chunked
		_, _ = w.Write([]byte("held"))                    // in the buffer when cut
	}
	plain := startPlain(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		write(w)
		panic(http.ErrAbortHandler)
	}), nil)
	ln := startLane(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), nil, func(s *Server) {
		s.Shortcut = func(ex *Exchange) bool {
			write(ex.ResponseWriter())
			ex.CloseAfter()
			return true
		}
	})
	raw := get("/") + get("/second")
	want, got := normalize(exchange(t, plain.addr, raw)), normalize(exchange(t, ln.addr, raw))
	if got != want {
		t.Errorf("cut answers differ\nnet/http:\n%s\nlane:\n%s", quoteLines(want), quoteLines(got))
	}
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(got)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(resp.Body); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("the cut answer reads as complete (%v)", err)
	}
}

// TestExchangeRawCloseAfter: a raw answer with CloseAfter ends the
// connection; a pipelined request is not served.
func TestExchangeRawCloseAfter(t *testing.T) {
	s := startLane(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), nil, func(s *Server) {
		s.Shortcut = func(ex *Exchange) bool {
			_, _ = ex.Raw().WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			ex.CloseAfter()
			return true
		}
	})
	if got := exchange(t, s.addr, get("/")+get("/second")); got != "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" {
		t.Errorf("got %q", got)
	}
}
