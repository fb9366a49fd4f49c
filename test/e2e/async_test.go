//go:build e2e

package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofaas/gofaas/internal/natsd"
	"github.com/gofaas/gofaas/pkg/api"
)

// callbacks is a callback receiver in the test process. Paths under
// /down/ answer 503 to their first three posts.
type callbacks struct {
	*httptest.Server
	mu    sync.Mutex
	got   map[string][]callbackPost // by X-Call-Id
	posts map[string]int            // by path
}

type callbackPost struct {
	Header http.Header
	Body   []byte
}

func newCallbacks(t *testing.T) *callbacks {
	c := &callbacks{got: map[string][]callbackPost{}, posts: map[string]int{}}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.posts[r.URL.Path]++
		if strings.HasPrefix(r.URL.Path, "/down/") && c.posts[r.URL.Path] <= 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		id := r.Header.Get(api.HeaderCallID)
		c.got[id] = append(c.got[id], callbackPost{Header: r.Header, Body: body})
	}))
	t.Cleanup(c.Close)
	return c
}

// wait returns the first callback of call id.
func (c *callbacks) wait(t *testing.T, id string) callbackPost {
	t.Helper()
	var p callbackPost
	checkFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		c.mu.Lock()
		defer c.mu.Unlock()
		if len(c.got[id]) == 0 {
			return fmt.Errorf("no callback for %s yet", id)
		}
		p = c.got[id][0]
		return nil
	})
	return p
}

// count is the number of callbacks of call id.
func (c *callbacks) count(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.got[id])
}

// echoedIDs counts calls whose callback carries examples/hello's echo of the
// same X-Call-Id: the function itself saw the call.
func (c *callbacks) echoedIDs(prefix string) (distinct, total int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, posts := range c.got {
		if !strings.HasPrefix(id, prefix) {
			continue
		}
		for _, p := range posts {
			var e echoed
			if json.Unmarshal(p.Body, &e) == nil && e.CallID == id {
				total++
			}
		}
		distinct++
	}
	return distinct, total
}

func deployFn(t *testing.T, s *server, name, image string, annotations map[string]string) {
	t.Helper()
	d := api.FunctionDeployment{
		Service: name, Image: strings.TrimPrefix(s.URL, "http://") + "/" + image,
		Labels: map[string]string{"com.openfaas.scale.min": "1"}, Annotations: annotations,
	}
	want(t, "deploy "+name, s.call("POST", "/system/functions", d, true), 202)
	waitAvailable(t, s, name, api.DefaultNamespace, 1)
}

func TestAsync(t *testing.T) {
	dataDir := t.TempDir()
	args := []string{"server", "--port", "0", "--data-dir", dataDir, "--queue-ack-wait", "2s",
		"--queue-retry-min-wait", "100ms", "--queue-retry-max-wait", "1s", "--queue-max-inflight", "8"}
	s := startServer(t, dataDir, args...)
	s.publish()
	s.publish("-image", "flaky:latest", "-handler", "./test/e2e/testdata/flaky")
	deployFn(t, s, "hello", "hello:latest", nil)
	deployFn(t, s, "flaky", "flaky:latest", map[string]string{"com.openfaas.retry.min_wait": "200ms", "com.openfaas.retry.max_wait": "5s"})
	deployFn(t, s, "doomed", "hello:latest", map[string]string{"com.openfaas.retry.attempts": "3", "com.openfaas.queue": "doomed"})
	cb := newCallbacks(t)

	t.Run("queued call reaches the function and calls back", func(t *testing.T) {
		r := s.call("POST", "/async-function/hello/sub/path?x=1", "async body", false,
			api.HeaderCallbackURL, cb.URL+"/up", "X-Call-Id", "e2e-basic")
		want(t, "async call", r, 202)
		if r.Header.Get(api.HeaderCallID) != "e2e-basic" || r.Header.Get(api.HeaderStartTime) == "" || len(r.Body) != 0 {
			t.Errorf("202 headers %v, body %q", r.Header, r.Body)
		}
		p := cb.wait(t, "e2e-basic")
		var e echoed
		if err := json.Unmarshal(p.Body, &e); err != nil {
			t.Fatalf("callback body %q: %v", p.Body, err)
		}
		if e.Method != "POST" || e.Path != "/sub/path" || e.Query != "x=1" || e.Body != "async body" || e.CallID != "e2e-basic" {
			t.Errorf("function saw %+v", e)
		}
		if p.Header.Get(api.HeaderFunctionStatus) != "200" || p.Header.Get(api.HeaderFunctionName) != "hello.openfaas-fn" ||
			p.Header.Get(api.HeaderDuration) == "" {
			t.Errorf("callback headers %v", p.Header)
		}
	})

	t.Run("refused calls", func(t *testing.T) {
		want(t, "bad callback", s.call("POST", "/async-function/hello", "x", false, api.HeaderCallbackURL, "not a url"), 400)
		r := s.call("POST", "/async-function/hello", strings.Repeat("x", 1<<20+1), false)
		want(t, "body over 1 MiB", r, 413)
		if !strings.Contains(string(r.Body), "async-max-bytes") {
			t.Errorf("413 does not say how to raise the limit: %s", r.Body)
		}
		want(t, "unknown function", s.call("POST", "/async-function/nope", "x", false), 404)
		want(t, "cancel unknown call", s.call("DELETE", "/async-function/no-such-call", nil, false), 404)
	})

	t.Run("503 then success is retried with growing delays", func(t *testing.T) {
		want(t, "async call", s.call("POST", "/async-function/flaky?fail=3", "x", false,
			api.HeaderCallbackURL, cb.URL+"/up", "X-Call-Id", "e2e-flaky"), 202)
		p := cb.wait(t, "e2e-flaky")
		var got struct{ Attempts []time.Time }
		if err := json.Unmarshal(p.Body, &got); err != nil || len(got.Attempts) != 4 {
			t.Fatalf("callback %s (%v): want 4 attempts", p.Body, err)
		}
		first, last := got.Attempts[1].Sub(got.Attempts[0]), got.Attempts[3].Sub(got.Attempts[2])
		if last <= first {
			t.Errorf("retry delays do not grow: %v then %v", first, last)
		}
		if p.Header.Get(api.HeaderFunctionStatus) != "200" {
			t.Errorf("X-Function-Status %q", p.Header.Get(api.HeaderFunctionStatus))
		}
	})

	t.Run("always failing call becomes a dead letter", func(t *testing.T) {
		want(t, "async call", s.call("POST", "/async-function/doomed?status=503", "x", false,
			api.HeaderCallbackURL, cb.URL+"/up", "X-Call-Id", "e2e-doomed"), 202)
		p := cb.wait(t, "e2e-doomed")
		if p.Header.Get(api.HeaderFunctionStatus) != "503" {
			t.Errorf("X-Function-Status %q, want 503", p.Header.Get(api.HeaderFunctionStatus))
		}
		var dls []struct {
			CallID   string `json:"callId"`
			Status   int    `json:"status"`
			Attempts int    `json:"attempts"`
		}
		checkFor(t, 10*time.Second, 100*time.Millisecond, func() error {
			r := s.call("GET", "/system/async/dead-letters", nil, true)
			if err := json.Unmarshal(r.Body, &dls); err != nil || len(dls) != 1 {
				return fmt.Errorf("dead letters: %s", r)
			}
			return nil
		})
		if dls[0].CallID != "e2e-doomed" || dls[0].Status != 503 || dls[0].Attempts != 3 {
			t.Errorf("dead letter %+v", dls[0])
		}
		want(t, "dead letters without auth", s.call("GET", "/system/async/dead-letters", nil, false), 401)
		want(t, "replay", s.call("POST", "/system/async/dead-letters/e2e-doomed/replay", nil, true), 202)
		checkFor(t, 20*time.Second, 100*time.Millisecond, func() error {
			if n := cb.count("e2e-doomed"); n < 2 {
				return fmt.Errorf("%d callbacks after replay", n)
			}
			return nil
		})
	})

	t.Run("callback server down at first", func(t *testing.T) {
		want(t, "async call", s.call("POST", "/async-function/hello", "x", false,
			api.HeaderCallbackURL, cb.URL+"/down/1", "X-Call-Id", "e2e-down"), 202)
		cb.wait(t, "e2e-down")
	})

	t.Run("kill -9 with 1000 calls queued loses none", func(t *testing.T) {
		if testing.Short() {
			t.Skip("1000 calls and a restart")
		}
		const n = 1000
		enqueueMany(t, s, "e2e-many-", n, cb.URL+"/up")
		checkFor(t, 30*time.Second, 10*time.Millisecond, func() error {
			if d, _ := cb.echoedIDs("e2e-many-"); d < 20 {
				return fmt.Errorf("%d calls done", d)
			}
			return nil
		})
		s.kill9()
		before, _ := cb.echoedIDs("e2e-many-")
		t.Logf("killed with %d of %d calls called back", before, n)
		s = startServer(t, dataDir, args...)
		checkFor(t, 60*time.Second, 100*time.Millisecond, func() error {
			if d, _ := cb.echoedIDs("e2e-many-"); d != n {
				return fmt.Errorf("%d of %d calls reached the function and called back", d, n)
			}
			return nil
		})
		d, total := cb.echoedIDs("e2e-many-")
		t.Logf("%d calls, %d callbacks (%d duplicates: at least once)", d, total, total-d)
	})
}

// TestAsyncSeparateWorker runs the split set-up: `gofaas server` only
// queues calls (--queue-worker=false) on a NATS server of its own
// (--nats-url), and a `gofaas queue-worker` process started later drains
// them. Before the worker runs, queued calls can be cancelled; once a
// worker has a call, they cannot.
func TestAsyncSeparateWorker(t *testing.T) {
	ns, err := natsd.Start(natsd.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	dataDir := t.TempDir()
	s := startServer(t, dataDir, "server", "--port", "0", "--data-dir", dataDir, "--nats-url", ns.ClientURL(), "--queue-worker=false")
	s.publish()
	s.publish("-image", "flaky:latest", "-handler", "./test/e2e/testdata/flaky")
	deployFn(t, s, "hello", "hello:latest", nil)
	deployFn(t, s, "stuck", "flaky:latest", map[string]string{"com.openfaas.retry.min_wait": "10m", "com.openfaas.retry.max_wait": "10m"})
	cb := newCallbacks(t)

	t.Run("a queued call is cancelled", func(t *testing.T) {
		want(t, "async call", s.call("POST", "/async-function/hello", "x", false,
			api.HeaderCallbackURL, cb.URL+"/up", "X-Call-Id", "e2e-cancelled"), 202)
		want(t, "cancel queued call", s.call("DELETE", "/async-function/e2e-cancelled", nil, false), 204)
		want(t, "cancel it again", s.call("DELETE", "/async-function/e2e-cancelled", nil, false), 404)
		want(t, "cancel unknown call", s.call("DELETE", "/async-function/e2e-never-queued", nil, false), 404)
	})

	const n = 50
	enqueueMany(t, s, "e2e-split-", n, cb.URL+"/up")
	if d, _ := cb.echoedIDs("e2e-split-"); d != 0 {
		t.Fatalf("%d calls ran with no worker", d)
	}
	w := startServer(t, "", "queue-worker", "--port", "0", "--nats-url", ns.ClientURL(), "--gateway-url", s.URL)

	t.Run("the queue-worker drains what the server queued", func(t *testing.T) {
		checkFor(t, 30*time.Second, 50*time.Millisecond, func() error {
			if d, _ := cb.echoedIDs("e2e-split-"); d != n {
				return fmt.Errorf("%d of %d calls reached the function and called back", d, n)
			}
			return nil
		})
		if c := cb.count("e2e-cancelled"); c != 0 {
			t.Errorf("cancelled call ran: %d callbacks", c)
		}
		r := w.call("GET", "/metrics", nil, false)
		if !strings.Contains(string(r.Body), `gofaas_queue_processing_seconds_count{code="200",function_name="hello.openfaas-fn"} 50`) {
			t.Errorf("worker metrics do not count the 50 calls:\n%s", r.Body)
		}
	})

	t.Run("a call a worker has is not cancelled", func(t *testing.T) {
		want(t, "async call", s.call("POST", "/async-function/stuck?fail=1000", "x", false, "X-Call-Id", "e2e-started"), 202)
		checkFor(t, 30*time.Second, 50*time.Millisecond, func() error {
			r := w.call("GET", "/metrics", nil, false)
			if !strings.Contains(string(r.Body), `gofaas_queue_retries_total{function_name="stuck.openfaas-fn"} 1`) {
				return errors.New("first attempt of e2e-started not failed yet")
			}
			return nil
		})
		want(t, "cancel call waiting for its retry", s.call("DELETE", "/async-function/e2e-started", nil, false), 409)
	})
}

// enqueueMany posts n async calls to hello from 16 clients, with call ids
// prefix0 to prefix<n-1>.
func enqueueMany(t *testing.T, s *server, prefix string, n int, callback string) {
	t.Helper()
	ids := make(chan int)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range 16 {
		wg.Go(func() {
			for i := range ids {
				req, _ := http.NewRequest("POST", fmt.Sprintf("%s/async-function/hello?i=%d", s.URL, i), strings.NewReader("x"))
				req.Header.Set(api.HeaderCallID, fmt.Sprintf("%s%d", prefix, i))
				req.Header.Set(api.HeaderCallbackURL, callback)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err
					continue
				}
				res.Body.Close()
				if res.StatusCode != 202 {
					errs <- fmt.Errorf("call %d: status %d", i, res.StatusCode)
				}
			}
		})
	}
	for i := range n {
		ids <- i
	}
	close(ids)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
