package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gofaas/gofaas/internal/auth"
	"github.com/gofaas/gofaas/internal/metrics"
	"github.com/gofaas/gofaas/internal/provider/memory"
	"github.com/gofaas/gofaas/pkg/api"
)

// fakeEnqueuer records calls and the state of the last Enqueue's context;
// err is returned by every method.
type fakeEnqueuer struct {
	mu          sync.Mutex
	calls       []AsyncCall
	ctxErr      error
	ctxDeadline bool
	err         error
}

func (f *fakeEnqueuer) Enqueue(ctx context.Context, c AsyncCall) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
	f.ctxErr = ctx.Err()
	_, f.ctxDeadline = ctx.Deadline()
	return f.err
}
func (f *fakeEnqueuer) Cancel(context.Context, string) error { return f.err }
func (f *fakeEnqueuer) Replay(context.Context, string) error { return f.err }
func (f *fakeEnqueuer) DeadLetters(context.Context, int) ([]DeadLetter, error) {
	return []DeadLetter{{CallID: "d1", Function: "fn.openfaas-fn", Status: 503, Attempts: 3}}, f.err
}

func newAsyncGateway(t *testing.T, enq Enqueuer) *httptest.Server {
	t.Helper()
	mem := memory.New(nil)
	ctx := t.Context()
	if err := mem.Deploy(ctx, api.FunctionDeployment{Service: "fn", Image: "x", Namespace: api.DefaultNamespace,
		Annotations: map[string]string{"com.openfaas.queue": "slow", "com.openfaas.retry.attempts": "2"}}); err != nil {
		t.Fatal(err)
	}
	g := New(mem, metrics.NewGateway(), Config{Enqueuer: enq, AsyncMaxBytes: 10,
		Auth: auth.NewBasic(auth.Credentials{User: "admin", Password: "pw"})})
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return srv
}

func asyncDo(t *testing.T, srv *httptest.Server, method, path, body string, header ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

func TestAsyncEnqueuesTheRequest(t *testing.T) {
	t.Parallel()
	enq := &fakeEnqueuer{}
	srv := newAsyncGateway(t, enq)
	res := asyncDo(t, srv, "PUT", "/async-function/fn/a/b?x=1", "body", "X-Callback-Url", "http://cb.example/r", "X-Custom", "v")
	if res.StatusCode != http.StatusAccepted || res.Header.Get(api.HeaderCallID) == "" || res.Header.Get(api.HeaderStartTime) == "" {
		t.Fatalf("answer %d, headers %v", res.StatusCode, res.Header)
	}
	c := enq.calls[0]
	if c.Name != "fn" || c.Namespace != api.DefaultNamespace || c.Method != "PUT" || c.Path != "/a/b" || c.Query != "x=1" ||
		string(c.Body) != "body" || c.CallbackURL != "http://cb.example/r" || c.Header.Get("X-Custom") != "v" ||
		c.QueueName != "slow" || c.Annotations["com.openfaas.retry.attempts"] != "2" || c.CallID() != res.Header.Get(api.HeaderCallID) {
		t.Errorf("queued %+v", c)
	}
	res = asyncDo(t, srv, "POST", "/async-function/fn.openfaas-fn", "", api.HeaderCallID, "mine")
	if got := res.Header.Get(api.HeaderCallID); got != "mine" || enq.calls[1].CallID() != "mine" || enq.calls[1].Path != "" {
		t.Errorf("caller's call id not kept: %q, %+v", got, enq.calls[1])
	}
}

func TestAsyncAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, method, path, body string
		header                   []string
		err                      error
		want                     int
	}{
		{"bad callback", "POST", "/async-function/fn", "", []string{"X-Callback-Url", "/relative"}, nil, 400},
		{"too large", "POST", "/async-function/fn", strings.Repeat("x", 11), nil, nil, 413},
		{"unknown function", "POST", "/async-function/nope", "", nil, nil, 404},
		{"bad name", "POST", "/async-function/Bad_Name", "", nil, nil, 400},
		{"queue too small", "POST", "/async-function/fn", "", nil, ErrCallTooLarge, 413},
		{"queue down", "POST", "/async-function/fn", "", nil, io.ErrUnexpectedEOF, 500},
		{"cancel", "DELETE", "/async-function/some-id", "", nil, nil, 204},
		{"cancel unknown", "DELETE", "/async-function/some-id", "", nil, ErrCallNotFound, 404},
		{"cancel started", "DELETE", "/async-function/some-id", "", nil, ErrCallStarted, 409},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newAsyncGateway(t, &fakeEnqueuer{err: tt.err})
			if res := asyncDo(t, srv, tt.method, tt.path, tt.body, tt.header...); res.StatusCode != tt.want {
				b, _ := io.ReadAll(res.Body)
				t.Errorf("%s %s: %d %s, want %d", tt.method, tt.path, res.StatusCode, b, tt.want)
			}
		})
	}
}

func TestDeadLetterRoutes(t *testing.T) {
	t.Parallel()
	srv := newAsyncGateway(t, &fakeEnqueuer{})
	if res := asyncDo(t, srv, "GET", "/system/async/dead-letters", ""); res.StatusCode != 401 {
		t.Errorf("dead letters without auth: %d", res.StatusCode)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/system/async/dead-letters?limit=5", nil)
	req.SetBasicAuth("admin", "pw")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var list []DeadLetter
	if err := json.NewDecoder(res.Body).Decode(&list); err != nil || len(list) != 1 || list[0].CallID != "d1" || list[0].Status != 503 {
		t.Errorf("list: %v %+v", err, list)
	}
	req, _ = http.NewRequest("POST", srv.URL+"/system/async/dead-letters/d1/replay", nil)
	req.SetBasicAuth("admin", "pw")
	res2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res2.Body.Close()
	if res2.StatusCode != 202 {
		t.Errorf("replay: %d", res2.StatusCode)
	}
}

func TestAsyncWithoutEnqueuerIs501(t *testing.T) {
	t.Parallel()
	srv := newAsyncGateway(t, nil)
	if res := asyncDo(t, srv, "POST", "/async-function/fn", "x"); res.StatusCode != http.StatusNotImplemented {
		t.Errorf("got %d, want 501", res.StatusCode)
	}
}

// TestEnqueueOutlivesTheCaller: a call handed to the queue may be stored
// even when the caller hangs up, so the queue's answer is awaited (and the
// call counted) whatever the caller does, within a bound.
func TestEnqueueOutlivesTheCaller(t *testing.T) {
	t.Parallel()
	enq := &fakeEnqueuer{}
	mem := memory.New(nil)
	if err := mem.Deploy(t.Context(), api.FunctionDeployment{Service: "fn", Image: "x", Namespace: api.DefaultNamespace}); err != nil {
		t.Fatal(err)
	}
	g := New(mem, metrics.NewGateway(), Config{Enqueuer: enq})
	ctx, hangUp := context.WithCancel(t.Context())
	hangUp()
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, "POST", "/async-function/fn", strings.NewReader("x")))
	if rec.Code != http.StatusAccepted || len(enq.calls) != 1 {
		t.Fatalf("answer %d, %d calls queued", rec.Code, len(enq.calls))
	}
	if enq.ctxErr != nil {
		t.Errorf("enqueue context ended with the caller: %v", enq.ctxErr)
	}
	if !enq.ctxDeadline {
		t.Error("enqueue context has no deadline")
	}
}
