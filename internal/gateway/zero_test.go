package gateway

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofaas/gofaas/internal/metrics"
	"github.com/gofaas/gofaas/internal/provider"
	"github.com/gofaas/gofaas/internal/provider/memory"
	"github.com/gofaas/gofaas/internal/provider/rest"
	"github.com/gofaas/gofaas/pkg/api"
)

// coldProvider is the memory back-end whose replicas become available only
// once ready is closed, like processes that take a while to start.
type coldProvider struct {
	*memory.Memory
	ready chan struct{}

	mu       sync.Mutex
	scales   []uint64
	resolves int
}

func (c *coldProvider) isReady() bool {
	select {
	case <-c.ready:
		return true
	default:
		return false
	}
}

func (c *coldProvider) Function(ctx context.Context, name, ns string, usage bool) (api.FunctionStatus, error) {
	st, err := c.Memory.Function(ctx, name, ns, usage)
	if !c.isReady() {
		st.AvailableReplicas = 0
	}
	return st, err
}

func (c *coldProvider) Resolve(ctx context.Context, name, ns string) (provider.Target, error) {
	c.mu.Lock()
	c.resolves++
	c.mu.Unlock()
	if !c.isReady() {
		if _, err := c.Memory.Function(ctx, name, ns, false); err != nil {
			return provider.Target{}, err
		}
		return provider.Target{}, fmt.Errorf("%w: %s.%s is starting", provider.ErrNoReplicas, name, ns)
	}
	return c.Memory.Resolve(ctx, name, ns)
}

func (c *coldProvider) Scale(ctx context.Context, name, ns string, n uint64) error {
	c.mu.Lock()
	c.scales = append(c.scales, n)
	c.mu.Unlock()
	return c.Memory.Scale(ctx, name, ns, n)
}

func (c *coldProvider) counts() (scales []uint64, resolves int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]uint64(nil), c.scales...), c.resolves
}

// newCold serves a gateway over a coldProvider holding the function "cold"
// at zero replicas with the given labels.
func newCold(t *testing.T, sfz ScaleFromZero, labels map[string]string) (*coldProvider, string) {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "warm") }))
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	c := &coldProvider{Memory: memory.New(u), ready: make(chan struct{})}
	ctx := t.Context()
	if err := c.Memory.Deploy(ctx, api.FunctionDeployment{Service: "cold", Image: "img", Namespace: api.DefaultNamespace, Labels: labels}); err != nil {
		t.Fatal(err)
	}
	if err := c.Memory.Scale(ctx, "cold", api.DefaultNamespace, 0); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(c, metrics.NewGateway(), Config{ScaleFromZero: sfz}))
	t.Cleanup(srv.Close)
	return c, srv.URL
}

func get(t *testing.T, u string) (int, string, http.Header) {
	res, err := http.Get(u)
	if err != nil {
		t.Error(err)
		return 0, "", nil
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
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

func TestScaleFromZeroSharesOneStart(t *testing.T) {
	t.Parallel()
	c, gw := newCold(t, ScaleFromZero{Enabled: true}, map[string]string{labelScaleMin: "2"})
	const calls = 8
	var wg sync.WaitGroup
	codes := make(chan string, calls)
	for range calls {
		wg.Go(func() {
			code, body, _ := get(t, gw+"/function/cold")
			codes <- fmt.Sprintf("%d %s", code, body)
		})
	}
	checkFor(t, 10*time.Second, func() error {
		if _, n := c.counts(); n < calls {
			return fmt.Errorf("%d of %d calls reached the back-end", n, calls)
		}
		return nil
	})
	if len(codes) != 0 {
		t.Fatalf("a call was answered before a replica was ready: %s", <-codes)
	}
	close(c.ready)
	wg.Wait()
	close(codes)
	for got := range codes {
		if got != "200 warm" {
			t.Errorf("held call got %q, want 200 warm", got)
		}
	}
	if scales, _ := c.counts(); len(scales) != 1 || scales[0] != 2 {
		t.Errorf("scale calls = %v, want one to max(1, scale.min) = 2", scales)
	}
}

func TestScaleFromZeroGivesUpWithReason(t *testing.T) {
	t.Parallel()
	c, gw := newCold(t, ScaleFromZero{Enabled: true, Wait: 150 * time.Millisecond}, nil)
	code, body, h := get(t, gw+"/function/cold")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "did not become ready within 150ms (1 desired, 0 available)") {
		t.Fatalf("got %d %q, want 503 with the reason", code, body)
	}
	if h.Get(api.HeaderInternal) == "" {
		t.Errorf("503 lacks %s", api.HeaderInternal)
	}
	if scales, _ := c.counts(); len(scales) != 1 || scales[0] != 1 {
		t.Errorf("scale calls = %v, want one to 1", scales)
	}
}

func TestScaleFromZeroOffOrMissing(t *testing.T) {
	t.Parallel()
	c, gw := newCold(t, ScaleFromZero{}, nil)
	if code, body, _ := get(t, gw+"/function/cold"); code != http.StatusServiceUnavailable {
		t.Errorf("disabled: got %d %q, want 503 at once", code, body)
	}
	if scales, _ := c.counts(); len(scales) != 0 {
		t.Errorf("disabled: scaled %v", scales)
	}
	c2, gw2 := newCold(t, ScaleFromZero{Enabled: true}, nil)
	if code, body, _ := get(t, gw2+"/function/absent"); code != http.StatusNotFound {
		t.Errorf("absent function: got %d %q, want 404", code, body)
	}
	// One replica desired that never gets ready (a crashing function):
	// answered at once, not held.
	if err := c2.Memory.Scale(t.Context(), "cold", api.DefaultNamespace, 1); err != nil {
		t.Fatal(err)
	}
	if code, body, _ := get(t, gw2+"/function/cold"); code != http.StatusServiceUnavailable || !strings.Contains(body, "is starting") {
		t.Errorf("crashing function: got %d %q, want the provider's 503", code, body)
	}
	if scales, _ := c2.counts(); len(scales) != 0 {
		t.Errorf("crashing function: the gateway scaled it: %v", scales)
	}
}

func TestScaleFromZeroReplicas(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]uint64{"": 1, "0": 1, "1": 1, "3": 3, "-1": 1, "x": 1} {
		if got := scaleFromZeroReplicas(map[string]string{labelScaleMin: in}); got != want {
			t.Errorf("scale.min %q: %d, want %d", in, got, want)
		}
	}
}

func post(t *testing.T, u, body string) int {
	t.Helper()
	res, err := http.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestHoldsCallsWhileReplicasStart covers calls made right after a deploy
// or a scale through the gateway, before the new replica is ready: they
// wait for it instead of getting 503.
func TestHoldsCallsWhileReplicasStart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fn    string
		start func(t *testing.T, gw string)
	}{
		{"after a deploy", "fresh", func(t *testing.T, gw string) {
			if code := post(t, gw+"/system/functions", `{"service":"fresh","image":"img"}`); code != http.StatusAccepted {
				t.Fatalf("deploy: %d", code)
			}
		}},
		{"after a scale", "cold", func(t *testing.T, gw string) {
			if code := post(t, gw+"/system/scale-function/cold", `{"serviceName":"cold","replicas":1}`); code != http.StatusAccepted {
				t.Fatalf("scale: %d", code)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, gw := newCold(t, ScaleFromZero{Enabled: true}, nil)
			tt.start(t, gw)
			_, before := c.counts()
			const calls = 4
			codes := make(chan string, calls)
			for range calls {
				go func() {
					code, body, _ := get(t, gw+"/function/"+tt.fn)
					codes <- fmt.Sprintf("%d %s", code, body)
				}()
			}
			checkFor(t, 10*time.Second, func() error {
				if _, n := c.counts(); n-before < calls {
					return fmt.Errorf("%d of %d calls reached the back-end", n-before, calls)
				}
				return nil
			})
			if len(codes) != 0 {
				t.Fatalf("a call was answered before its replica was ready: %s", <-codes)
			}
			close(c.ready)
			for range calls {
				if got := <-codes; got != "200 warm" {
					t.Errorf("held call got %q, want 200 warm", got)
				}
			}
			if scales, _ := c.counts(); len(scales) > 1 {
				t.Errorf("the gateway scaled the function itself: %v", scales)
			}
		})
	}
}

// TestStartingHoldIsBounded: replicas that never get ready hold calls only
// until Wait after their start; later calls get 503 at once.
func TestStartingHoldIsBounded(t *testing.T) {
	t.Parallel()
	_, gw := newCold(t, ScaleFromZero{Enabled: true, Wait: 150 * time.Millisecond}, nil)
	if code := post(t, gw+"/system/functions", `{"service":"crash","image":"img"}`); code != http.StatusAccepted {
		t.Fatalf("deploy: %d", code)
	}
	code, body, _ := get(t, gw+"/function/crash")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "did not become ready within 150ms (1 desired, 0 available)") {
		t.Fatalf("first call: got %d %q, want 503 after the hold", code, body)
	}
	code, body, _ = get(t, gw+"/function/crash")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "is starting") {
		t.Errorf("call after the hold: got %d %q, want the provider's 503 at once", code, body)
	}
}

// TestHoldAtStart: a back-end that restores its functions as the gateway
// starts gets their first calls held too.
func TestHoldAtStart(t *testing.T) {
	t.Parallel()
	for _, hold := range []bool{false, true} {
		t.Run(fmt.Sprint("HoldAtStart=", hold), func(t *testing.T) {
			t.Parallel()
			c, gw := newCold(t, ScaleFromZero{Enabled: true, HoldAtStart: hold}, nil)
			// Restored behind the gateway's back, as the process back-end does.
			if err := c.Memory.Scale(t.Context(), "cold", api.DefaultNamespace, 1); err != nil {
				t.Fatal(err)
			}
			codes := make(chan string, 1)
			go func() {
				code, body, _ := get(t, gw+"/function/cold")
				codes <- fmt.Sprintf("%d %s", code, body)
			}()
			if !hold {
				if got := <-codes; !strings.HasPrefix(got, "503 ") {
					t.Errorf("without HoldAtStart: %q, want 503 at once", got)
				}
				return
			}
			checkFor(t, 10*time.Second, func() error {
				if _, n := c.counts(); n < 1 {
					return fmt.Errorf("the call did not reach the back-end")
				}
				return nil
			})
			if len(codes) != 0 {
				t.Fatalf("answered before the replica was ready: %s", <-codes)
			}
			close(c.ready)
			if got := <-codes; got != "200 warm" {
				t.Errorf("held call got %q, want 200 warm", got)
			}
		})
	}
}

// TestScaleFromZeroThroughRemoteProvider puts the gateway in front of a
// faas-provider API (as `gofaas gateway --provider-url` does): a call to a
// function at zero replicas there scales it up and is served.
func TestScaleFromZeroThroughRemoteProvider(t *testing.T) {
	t.Parallel()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "remote") }))
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	mem := memory.New(u)
	ctx := t.Context()
	if err := mem.Deploy(ctx, api.FunctionDeployment{Service: "idle", Image: "img", Namespace: api.DefaultNamespace}); err != nil {
		t.Fatal(err)
	}
	if err := mem.Scale(ctx, "idle", api.DefaultNamespace, 0); err != nil {
		t.Fatal(err)
	}
	remote := httptest.NewServer(rest.NewHandler(mem, rest.HandlerConfig{}))
	t.Cleanup(remote.Close)
	client, err := rest.NewClient(remote.URL, rest.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	gw := httptest.NewServer(New(client, metrics.NewGateway(), Config{ScaleFromZero: ScaleFromZero{Enabled: true}}))
	t.Cleanup(gw.Close)

	if code, body, _ := get(t, gw.URL+"/function/idle"); code != http.StatusOK || body != "remote" {
		t.Fatalf("first call: %d %q, want 200 remote", code, body)
	}
	if st, _ := mem.Function(ctx, "idle", api.DefaultNamespace, false); st.Replicas != 1 {
		t.Errorf("remote function has %d replicas, want 1", st.Replicas)
	}
	// Scaled back to zero through the gateway: the next call wakes it again.
	if code := post(t, gw.URL+"/system/scale-function/idle", `{"serviceName":"idle","replicas":0}`); code != http.StatusAccepted {
		t.Fatalf("scale to 0: %d", code)
	}
	if code, body, _ := get(t, gw.URL+"/function/idle"); code != http.StatusOK || body != "remote" {
		t.Errorf("call after scaling to 0: %d %q, want 200 remote", code, body)
	}
}
