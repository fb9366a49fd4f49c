package rest

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gofaas/gofaas/internal/provider"
	"github.com/gofaas/gofaas/pkg/api"
)

// fakeRemote is a faas-provider API that knows function statuses and
// counts the status reads, so tests can tell cached answers from round trips.
type fakeRemote struct {
	mu     sync.Mutex
	status map[string]api.FunctionStatus // by name
	reads  int
	gate   chan struct{} // if non-nil, status reads wait for it
}

func newFakeRemote(t *testing.T, prefix string) (*fakeRemote, *httptest.Server) {
	t.Helper()
	f := &fakeRemote{status: map[string]api.FunctionStatus{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+prefix+api.PathFunction+"{name}", f.get)
	mux.HandleFunc("POST "+prefix+api.PathScaleFunction+"{name}", f.scale)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeRemote) get(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.reads++
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	f.mu.Lock()
	st, ok := f.status[r.PathValue("name")]
	f.mu.Unlock()
	if !ok || r.URL.Query().Get("namespace") != "dev" {
		http.Error(w, "function not found", http.StatusNotFound)
		return
	}
	_ = json.NewEncoder(w).Encode(st)
}

func (f *fakeRemote) scale(w http.ResponseWriter, r *http.Request) {
	var req api.ScaleServiceRequest
	_ = json.NewDecoder(r.Body).Decode(&req)
	f.set(r.PathValue("name"), req.Replicas, req.Replicas)
	w.WriteHeader(http.StatusAccepted)
}

func (f *fakeRemote) set(name string, desired, available uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status[name] = api.FunctionStatus{Name: name, Namespace: "dev", Replicas: desired, AvailableReplicas: available}
}

func (f *fakeRemote) readCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}

func TestResolveChecksReplicas(t *testing.T) {
	t.Parallel()
	remote, srv := newFakeRemote(t, "/prefix")
	remote.set("warm", 2, 1)
	remote.set("idle", 0, 0)
	remote.set("starting", 1, 0)
	c, err := NewClient(srv.URL+"/prefix/", ClientConfig{StatusTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		fn      string
		wantURL string
		wantErr error
	}{
		{"available", "warm", srv.URL + "/prefix/function/warm.dev", nil},
		{"at zero", "idle", "", provider.ErrNoReplicas},
		{"starting", "starting", "", provider.ErrNoReplicas},
		{"unknown", "absent", "", provider.ErrNotFound},
		{"bad name", "Bad", "", provider.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg, err := c.Resolve(t.Context(), tt.fn, "dev")
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("Resolve(%s) = %v, want %v", tt.fn, err, tt.wantErr)
				}
				return
			}
			if err != nil || tg.URL.String() != tt.wantURL {
				t.Errorf("Resolve(%s) = %v, %v; want %s", tt.fn, tg.URL, err, tt.wantURL)
			}
		})
	}
}

func TestResolveCachesReplicaCount(t *testing.T) {
	t.Parallel()
	remote, srv := newFakeRemote(t, "")
	remote.set("fn", 1, 1)
	c, err := NewClient(srv.URL, ClientConfig{StatusTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for range 100 {
		if _, err := c.Resolve(ctx, "fn", "dev"); err != nil {
			t.Fatal(err)
		}
	}
	if n := remote.readCount(); n != 1 {
		t.Fatalf("100 calls read the status %d times, want once", n)
	}
	// Scaling through the client drops the count: the next call reads the
	// remote again and sees zero replicas.
	if err := c.Scale(ctx, "fn", "dev", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Resolve(ctx, "fn", "dev"); !errors.Is(err, provider.ErrNoReplicas) {
		t.Fatalf("after scaling to 0: %v, want ErrNoReplicas", err)
	}
	// A status read elsewhere (the gateway waiting for a replica) refreshes it.
	remote.set("fn", 1, 1)
	if _, err := c.Function(ctx, "fn", "dev", false); err != nil {
		t.Fatal(err)
	}
	before := remote.readCount()
	if _, err := c.Resolve(ctx, "fn", "dev"); err != nil {
		t.Fatalf("after Function saw a replica: %v", err)
	}
	if n := remote.readCount(); n != before {
		t.Errorf("Resolve read the status again (%d reads, want %d)", n, before)
	}
}

func TestResolveRereadsExpiredCount(t *testing.T) {
	t.Parallel()
	remote, srv := newFakeRemote(t, "")
	remote.set("fn", 1, 1)
	c, err := NewClient(srv.URL, ClientConfig{StatusTTL: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := c.Resolve(t.Context(), "fn", "dev"); err != nil {
			t.Fatal(err)
		}
	}
	if n := remote.readCount(); n != 3 {
		t.Errorf("3 calls with an expired count read the status %d times, want 3", n)
	}
}

func TestResolveSharesOneRead(t *testing.T) {
	t.Parallel()
	remote, srv := newFakeRemote(t, "")
	remote.set("fn", 1, 1)
	remote.gate = make(chan struct{})
	c, err := NewClient(srv.URL, ClientConfig{StatusTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	const calls = 8
	errs := make(chan error, calls)
	for range calls {
		go func() {
			_, err := c.Resolve(t.Context(), "fn", "dev")
			errs <- err
		}()
	}
	checkFor(t, 5*time.Second, func() error {
		if remote.readCount() == 0 {
			return errors.New("no status read yet")
		}
		return nil
	})
	close(remote.gate)
	for range calls {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if n := remote.readCount(); n != 1 {
		t.Errorf("%d concurrent first calls read the status %d times, want once", calls, n)
	}
}

func checkFor(t *testing.T, total time.Duration, f func() error) {
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
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkResolveCached is the cost Resolve adds per call in the steady
// state: a cache hit, no round trip.
func BenchmarkResolveCached(b *testing.B) {
	remote := &fakeRemote{status: map[string]api.FunctionStatus{}}
	remote.set("fn", 1, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.PathFunction+"{name}", remote.get)
	srv := httptest.NewServer(mux)
	b.Cleanup(srv.Close)
	c, err := NewClient(srv.URL, ClientConfig{StatusTTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Resolve(ctx, "fn", "dev"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
