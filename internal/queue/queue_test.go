package queue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gofaas/gofaas/internal/natsd"
	"github.com/gofaas/gofaas/pkg/api"
)

// harness is an embedded NATS server, a queue on it and a fake gateway.
type harness struct {
	t     *testing.T
	q     *Queue
	gw    *httptest.Server
	mu    sync.Mutex
	calls []call
	fn    http.HandlerFunc // answers /function/ calls
}

// call is one request the fake gateway saw.
type call struct {
	at                   time.Time
	method, path, query  string
	callID, body, header string
}

func newHarness(t *testing.T, ackWait time.Duration) *harness {
	t.Helper()
	ns, err := natsd.Start(natsd.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	nc, err := ns.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	q, err := Open(t.Context(), js, Config{AckWait: ackWait})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, q: q, fn: func(w http.ResponseWriter, r *http.Request) {}}
	h.gw = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.gw.Close)
	return h
}

func (h *harness) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.calls = append(h.calls, call{at: time.Now(), method: r.Method, path: r.URL.Path, query: r.URL.RawQuery,
		callID: r.Header.Get(api.HeaderCallID), body: string(body), header: r.Header.Get("X-Custom")})
	fn := h.fn
	h.mu.Unlock()
	fn(w, r)
}

func (h *harness) callsOf(id string) []call {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []call
	for _, c := range h.calls {
		if c.callID == id {
			out = append(out, c)
		}
	}
	return out
}

// run starts a worker until the test ends.
func (h *harness) run(cfg WorkerConfig) {
	h.t.Helper()
	cfg.GatewayURL = h.gw.URL
	cfg.DiscoverEvery = 100 * time.Millisecond
	cfg.Log = testLog(h.t)
	if cfg.Retry.Attempts == 0 {
		cfg.Retry = RetryPolicy{Attempts: 5, Codes: []int{429, 500, 502, 503, 504}, MinWait: 20 * time.Millisecond, MaxWait: 200 * time.Millisecond}
	}
	w, err := NewWorker(h.q, cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	h.t.Cleanup(func() { cancel(); <-done })
}

func (h *harness) enqueue(id string, mod ...func(*Message)) {
	h.t.Helper()
	m := &Message{
		Header: http.Header{api.HeaderCallID: {id}, "X-Custom": {"v-" + id}}, Method: "POST",
		Path: "/sub/path", QueryString: "a=1", Function: "fn.openfaas-fn", Body: []byte("body-" + id),
	}
	for _, f := range mod {
		f(m)
	}
	if err := h.q.Enqueue(h.t.Context(), m); err != nil {
		h.t.Fatalf("enqueue %s: %v", id, err)
	}
}

// checkFor polls f until it returns nil or the time runs out.
func checkFor(t *testing.T, total, every time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", total, err)
		}
		time.Sleep(every)
	}
}

func wantCalls(h *harness, id string, n int) func() error {
	return func() error {
		if got := len(h.callsOf(id)); got != n {
			return fmt.Errorf("call %s: %d attempts, want %d", id, got, n)
		}
		return nil
	}
}

// callbackServer records callbacks; it answers fail for the first failFirst posts.
type callbackServer struct {
	*httptest.Server
	mu        sync.Mutex
	got       []*http.Request
	bodies    []string
	posts     atomic.Int32
	failFirst int32
}

func newCallbackServer(t *testing.T, failFirst int32) *callbackServer {
	cs := &callbackServer{failFirst: failFirst}
	cs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cs.posts.Add(1) <= cs.failFirst {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		b, _ := io.ReadAll(r.Body)
		cs.mu.Lock()
		cs.got, cs.bodies = append(cs.got, r), append(cs.bodies, string(b))
		cs.mu.Unlock()
	}))
	t.Cleanup(cs.Close)
	return cs
}

func (cs *callbackServer) received() ([]*http.Request, []string) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return append([]*http.Request(nil), cs.got...), append([]string(nil), cs.bodies...)
}

func TestInvokeKeepsTheRequestAndCallsBack(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 5*time.Second)
	h.fn = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Answer", "42")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, "result")
	}
	cs := newCallbackServer(t, 0)
	h.enqueue("c1", func(m *Message) { m.CallbackUrl = cs.URL + "/cb" })
	h.run(WorkerConfig{})
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if got, _ := cs.received(); len(got) != 1 {
			return errors.New("no callback yet")
		}
		return nil
	})
	c := h.callsOf("c1")[0]
	if c.method != "POST" || c.path != "/function/fn.openfaas-fn/sub/path" || c.query != "a=1" || c.body != "body-c1" || c.header != "v-c1" {
		t.Errorf("function saw %+v", c)
	}
	reqs, bodies := cs.received()
	r := reqs[0]
	for k, v := range map[string]string{
		api.HeaderCallID: "c1", api.HeaderFunctionStatus: "201", api.HeaderFunctionName: "fn.openfaas-fn", "X-Answer": "42",
	} {
		if r.Header.Get(k) != v {
			t.Errorf("callback header %s = %q, want %q", k, r.Header.Get(k), v)
		}
	}
	if r.Header.Get(api.HeaderDuration) == "" || bodies[0] != "result" || r.URL.Path != "/cb" {
		t.Errorf("callback: duration %q, body %q, path %q", r.Header.Get(api.HeaderDuration), bodies[0], r.URL.Path)
	}
}

func TestRetriesWithGrowingDelaysUntilSuccess(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 5*time.Second)
	var n atomic.Int32
	h.fn = func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 4 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}
	h.enqueue("r1", func(m *Message) {
		m.Annotations = map[string]string{AnnotationRetryMinWait: "100ms", AnnotationRetryMaxWait: "2s", AnnotationRetryAttempts: "6"}
	})
	h.run(WorkerConfig{})
	checkFor(t, 20*time.Second, 20*time.Millisecond, wantCalls(h, "r1", 5))
	calls := h.callsOf("r1")
	first, last := calls[1].at.Sub(calls[0].at), calls[4].at.Sub(calls[3].at)
	if last <= first {
		t.Errorf("delays do not grow: first %v, fourth %v", first, last)
	}
	time.Sleep(300 * time.Millisecond)
	if got := len(h.callsOf("r1")); got != 5 {
		t.Errorf("succeeded call was called again: %d calls", got)
	}
	if dls, _ := h.q.DeadLetters(t.Context(), 10); len(dls) != 0 {
		t.Errorf("dead letters after success: %+v", dls)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	if testing.Short() {
		t.Skip("waits a second")
	}
	t.Parallel()
	h := newHarness(t, 5*time.Second)
	var n atomic.Int32
	h.fn = func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}
	h.enqueue("ra")
	h.run(WorkerConfig{})
	checkFor(t, 10*time.Second, 20*time.Millisecond, wantCalls(h, "ra", 2))
	calls := h.callsOf("ra")
	if gap := calls[1].at.Sub(calls[0].at); gap < time.Second {
		t.Errorf("retried after %v, Retry-After asked for 1s", gap)
	}
}

func TestAlwaysFailingCallEndsInDeadLettersAndCanBeReplayed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 5*time.Second)
	var fail atomic.Bool
	fail.Store(true)
	h.fn = func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, "boom")
		}
	}
	cs := newCallbackServer(t, 0)
	h.enqueue("d1", func(m *Message) {
		m.CallbackUrl = cs.URL
		m.Annotations = map[string]string{AnnotationRetryAttempts: "3"}
	})
	h.run(WorkerConfig{})
	var dls []DeadLetter
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		var err error
		if dls, err = h.q.DeadLetters(t.Context(), 10); err != nil || len(dls) != 1 {
			return fmt.Errorf("dead letters %v, %v", dls, err)
		}
		return nil
	})
	if dl := dls[0]; dl.Status != 500 || dl.Attempts != 3 || dl.Body != "boom" || dl.Message.CallID() != "d1" {
		t.Errorf("dead letter = %+v", dl)
	}
	if got := len(h.callsOf("d1")); got != 3 {
		t.Errorf("function called %d times, want 3", got)
	}
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if reqs, _ := cs.received(); len(reqs) != 1 || reqs[0].Header.Get(api.HeaderFunctionStatus) != "500" {
			return fmt.Errorf("callbacks: %d", len(reqs))
		}
		return nil
	})
	fail.Store(false)
	if err := h.q.Replay(t.Context(), "d1"); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 10*time.Second, 20*time.Millisecond, wantCalls(h, "d1", 4))
	if dls, _ := h.q.DeadLetters(t.Context(), 10); len(dls) != 0 {
		t.Errorf("replayed dead letter still listed: %+v", dls)
	}
	if err := h.q.Replay(t.Context(), "d1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second replay: %v, want ErrNotFound", err)
	}
}

func TestNonRetriedStatusIsFinal(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 5*time.Second)
	h.fn = func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotFound) }
	h.enqueue("nf")
	h.enqueue("after")
	h.run(WorkerConfig{})
	checkFor(t, 10*time.Second, 20*time.Millisecond, wantCalls(h, "after", 1))
	time.Sleep(200 * time.Millisecond)
	if got := len(h.callsOf("nf")); got != 1 {
		t.Errorf("404 called %d times, want 1", got)
	}
	if dls, _ := h.q.DeadLetters(t.Context(), 10); len(dls) != 0 {
		t.Errorf("404 became a dead letter: %+v", dls)
	}
}

func TestCallbackServerDownAtFirst(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 5*time.Second)
	cs := newCallbackServer(t, 3)
	h.enqueue("cb", func(m *Message) { m.CallbackUrl = cs.URL })
	h.run(WorkerConfig{})
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if reqs, _ := cs.received(); len(reqs) != 1 {
			return fmt.Errorf("%d callbacks delivered after %d posts", len(reqs), cs.posts.Load())
		}
		return nil
	})
	if got := len(h.callsOf("cb")); got != 1 {
		t.Errorf("callback retries re-ran the function: %d calls", got)
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 5*time.Second)
	release := make(chan struct{})
	h.fn = func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(api.HeaderCallID) == "slow" {
			<-release
		}
	}
	defer close(release)
	h.enqueue("gone")
	if err := h.q.Cancel(t.Context(), "gone"); err != nil {
		t.Fatalf("cancel queued call: %v", err)
	}
	if err := h.q.Cancel(t.Context(), "gone"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second cancel: %v, want ErrNotFound", err)
	}
	if err := h.q.Cancel(t.Context(), "never"); !errors.Is(err, ErrNotFound) {
		t.Errorf("cancel unknown: %v, want ErrNotFound", err)
	}
	h.enqueue("slow")
	h.enqueue("kept")
	h.run(WorkerConfig{})
	checkFor(t, 10*time.Second, 20*time.Millisecond, wantCalls(h, "slow", 1))
	if err := h.q.Cancel(t.Context(), "slow"); !errors.Is(err, ErrStarted) {
		t.Errorf("cancel running call: %v, want ErrStarted", err)
	}
	checkFor(t, 10*time.Second, 20*time.Millisecond, wantCalls(h, "kept", 1))
	if got := len(h.callsOf("gone")); got != 0 {
		t.Errorf("cancelled call ran %d times", got)
	}
}

func TestNamedQueueDoesNotStarveOthers(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 5*time.Second)
	release := make(chan struct{})
	h.fn = func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.Header.Get(api.HeaderCallID), "slow") {
			<-release
		}
	}
	defer close(release)
	for i := range 6 {
		h.enqueue(fmt.Sprint("slow", i), func(m *Message) { m.Function, m.QueueName = "slow.openfaas-fn", "slowq" })
	}
	h.run(WorkerConfig{MaxInflight: 2})
	checkFor(t, 10*time.Second, 20*time.Millisecond, wantCalls(h, "slow0", 1))
	h.enqueue("fast")
	checkFor(t, 10*time.Second, 20*time.Millisecond, wantCalls(h, "fast", 1))
}

func TestPerFunctionBoundDefersWithoutSpendingAttempts(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 5*time.Second)
	var now, peak atomic.Int32
	h.fn = func(w http.ResponseWriter, r *http.Request) {
		n := now.Add(1)
		defer now.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i := range 5 {
		h.enqueue(fmt.Sprint("p", i), func(m *Message) { m.Annotations = map[string]string{AnnotationRetryAttempts: "1"} })
	}
	h.run(WorkerConfig{MaxInflight: 8, MaxInflightPerFunction: 1})
	for i := range 5 {
		checkFor(t, 10*time.Second, 20*time.Millisecond, wantCalls(h, fmt.Sprint("p", i), 1))
	}
	if p := peak.Load(); p != 1 {
		t.Errorf("function ran %d calls at once, bound is 1", p)
	}
	if dls, _ := h.q.DeadLetters(t.Context(), 10); len(dls) != 0 {
		t.Errorf("deferred calls became dead letters: %+v", dls)
	}
}

func TestLongCallIsNotRedelivered(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a call three times the ack wait")
	}
	t.Parallel()
	h := newHarness(t, 600*time.Millisecond)
	h.fn = func(w http.ResponseWriter, r *http.Request) { time.Sleep(1800 * time.Millisecond) }
	h.enqueue("long")
	h.run(WorkerConfig{})
	checkFor(t, 10*time.Second, 20*time.Millisecond, wantCalls(h, "long", 1))
	time.Sleep(2 * time.Second)
	if got := len(h.callsOf("long")); got != 1 {
		t.Errorf("long call delivered %d times, want 1", got)
	}
}

func TestUnreachableGatewayIsRetried(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 5*time.Second)
	gwURL := h.gw.URL
	h.gw.Close()
	h.enqueue("down", func(m *Message) { m.Annotations = map[string]string{AnnotationRetryAttempts: "2"} })
	w, err := NewWorker(h.q, WorkerConfig{GatewayURL: gwURL, DiscoverEvery: 100 * time.Millisecond,
		Retry: RetryPolicy{Attempts: 2, Codes: []int{503}, MinWait: 10 * time.Millisecond, MaxWait: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		dls, err := h.q.DeadLetters(t.Context(), 10)
		if err != nil || len(dls) != 1 || dls[0].Status != 0 || dls[0].Attempts != 2 || dls[0].Error == "" {
			return fmt.Errorf("dead letters %+v, %v", dls, err)
		}
		return nil
	})
}

func TestEnqueueRefuses(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 5*time.Second)
	tests := []struct {
		name string
		mod  func(*Message)
		want error
	}{
		{"too large", func(m *Message) { m.Body = make([]byte, 2<<20) }, ErrTooLarge},
		{"bad queue", func(m *Message) { m.QueueName = "a.b" }, ErrBadQueue},
		{"no call id", func(m *Message) { m.Header.Del(api.HeaderCallID) }, ErrBadMessage},
		{"bad callback", func(m *Message) { m.CallbackUrl = "ftp://x" }, ErrBadMessage},
		{"bad function", func(m *Message) { m.Function = "Fn" }, ErrBadMessage},
	}
	for _, tt := range tests {
		m := &Message{Header: http.Header{api.HeaderCallID: {"x"}}, Method: "POST", Function: "fn.ns"}
		tt.mod(m)
		if err := h.q.Enqueue(t.Context(), m); !errors.Is(err, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
		}
	}
}

// testLog shows the worker's logs with -v.
func testLog(t *testing.T) *slog.Logger {
	if !testing.Verbose() {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
}
