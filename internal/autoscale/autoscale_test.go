package autoscale

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gofaas/gofaas/internal/metrics"
	"github.com/gofaas/gofaas/pkg/api"
)

// fakeScaler is an in-memory back-end whose replicas are ready at once.
type fakeScaler struct {
	mu  sync.Mutex
	fns map[string]*api.FunctionStatus // by "name.namespace"
	cpu map[string]float64             // millicores by "name.namespace"
}

func newFake() *fakeScaler {
	return &fakeScaler{fns: map[string]*api.FunctionStatus{}, cpu: map[string]float64{}}
}

func (f *fakeScaler) add(name string, replicas uint64, labels map[string]string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := api.JoinName(name, api.DefaultNamespace)
	f.fns[key] = &api.FunctionStatus{Name: name, Namespace: api.DefaultNamespace, Labels: labels,
		Replicas: replicas, AvailableReplicas: replicas}
	return key
}

func (f *fakeScaler) Functions(_ context.Context, ns string) ([]api.FunctionStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []api.FunctionStatus
	for _, st := range f.fns {
		if st.Namespace == ns {
			out = append(out, *st)
		}
	}
	return out, nil
}

func (f *fakeScaler) Function(_ context.Context, name, ns string, usage bool) (api.FunctionStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := api.JoinName(name, ns)
	st, ok := f.fns[key]
	if !ok {
		return api.FunctionStatus{}, fmt.Errorf("function %s not found", key)
	}
	out := *st
	if usage {
		out.Usage = &api.FunctionUsage{CPU: f.cpu[key], TotalMemoryBytes: 1 << 20}
	}
	return out, nil
}

func (f *fakeScaler) Scale(_ context.Context, name, ns string, replicas uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.fns[api.JoinName(name, ns)]
	if !ok {
		return fmt.Errorf("function %s.%s not found", name, ns)
	}
	st.Replicas, st.AvailableReplicas = replicas, replicas
	return nil
}

func (f *fakeScaler) replicas(key string) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fns[key].Replicas
}

func (f *fakeScaler) setCPU(key string, mc float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cpu[key] = mc
}

// rig is an autoscaler running on a fake back-end inside a synctest bubble.
type rig struct {
	t    *testing.T
	fake *fakeScaler
	m    *metrics.Gateway
	logs *bytes.Buffer
	mu   *sync.Mutex
}

// startRig starts an autoscaler (interval 1s, load window 5s, down window
// 30s, zero duration 1m unless cfg says otherwise) that runs until the
// bubble's test ends.
func startRig(t *testing.T, cfg Config) *rig {
	r := &rig{t: t, fake: newFake(), m: metrics.NewGateway(), logs: &bytes.Buffer{}, mu: &sync.Mutex{}}
	cfg.Interval = cmpOr(cfg.Interval, time.Second)
	cfg.LoadWindow = cmpOr(cfg.LoadWindow, 5*time.Second)
	cfg.DownWindow = cmpOr(cfg.DownWindow, 30*time.Second)
	cfg.ZeroDuration = cmpOr(cfg.ZeroDuration, time.Minute)
	cfg.Log = slog.New(slog.NewTextHandler(lockedWriter{r.mu, r.logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := New(r.fake, r.m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

func cmpOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (r *rig) log() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.logs.String()
}

// rps invokes key at about perSecond calls per second until stop is closed.
func (r *rig) rps(key string, perSecond int, stop <-chan struct{}) {
	every := time.Second / time.Duration(perSecond)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(every):
				r.m.Started(key)
				r.m.Finished(key, 200, time.Millisecond)
			}
		}
	}()
}

// after lets fake time pass and waits for the bubble to settle.
func after(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

func (r *rig) want(key string, n uint64, when string) {
	r.t.Helper()
	if got := r.fake.replicas(key); got != n {
		r.t.Fatalf("%s: %s has %d replicas, want %d\nlog:\n%s", when, key, got, n, r.log())
	}
}

func TestRampUpAndDownRPS(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startRig(t, Config{})
		fn := r.fake.add("hot", 1, map[string]string{LabelTarget: "10", LabelMax: "8"})
		stop := make(chan struct{})
		r.rps(fn, 40, stop) // 40 rps / (10 × 0.9) → ceil(4.4) = 5
		after(8 * time.Second)
		r.want(fn, 5, "under 40 rps")
		close(stop)
		after(10 * time.Second)
		r.want(fn, 5, "10s after the load stopped, inside the 30s down window")
		after(30 * time.Second)
		r.want(fn, 1, "after the down window")
		for _, want := range []string{`function=hot.openfaas-fn mode=rps`, `current=1 desired=5 reason="load above target"`,
			`current=2 desired=1 reason="load below target for the down window"`} {
			if !strings.Contains(r.log(), want) {
				t.Errorf("log lacks %q:\n%s", want, r.log())
			}
		}
	})
}

func TestModesAndClamps(t *testing.T) {
	tests := []struct {
		name     string
		labels   map[string]string
		start    uint64
		rps      int
		inflight int
		cpu      float64
		want     uint64
	}{
		{"rps clamped to max", map[string]string{LabelTarget: "5", LabelMax: "3"}, 1, 100, 0, 0, 3},
		{"no load stays at min", map[string]string{LabelMin: "2"}, 2, 0, 0, 0, 2},
		{"min 0 still keeps one", map[string]string{LabelMin: "0"}, 1, 0, 0, 0, 1},
		{"rps below target keeps one", map[string]string{LabelTarget: "50"}, 1, 20, 0, 0, 1},
		{"capacity", map[string]string{LabelType: "capacity", LabelTarget: "2"}, 1, 0, 6, 0, 4},
		{"capacity proportion 1", map[string]string{LabelType: "capacity", LabelTarget: "2", LabelProportion: "1"}, 1, 0, 6, 0, 3},
		{"cpu", map[string]string{LabelType: "cpu", LabelTarget: "100"}, 1, 0, 0, 300, 4},
		{"min equals max disables", map[string]string{LabelMin: "2", LabelMax: "2", LabelTarget: "1"}, 1, 100, 0, 0, 1},
		{"unknown mode leaves it alone", map[string]string{LabelType: "queue", LabelTarget: "1"}, 1, 100, 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := startRig(t, Config{})
				fn := r.fake.add("f", tt.start, tt.labels)
				r.fake.setCPU(fn, tt.cpu)
				for range tt.inflight {
					r.m.Started(fn)
				}
				stop := make(chan struct{})
				defer close(stop)
				if tt.rps > 0 {
					r.rps(fn, tt.rps, stop)
				}
				after(8 * time.Second)
				r.want(fn, tt.want, "after 8s")
			})
		})
	}
}

func TestScaleToZero(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startRig(t, Config{ZeroDuration: 2 * time.Minute})
		idle := r.fake.add("idle", 1, map[string]string{LabelZero: "true", LabelZeroDuration: "1m"})
		def := r.fake.add("default-duration", 1, map[string]string{LabelZero: "1"})
		busy := r.fake.add("busy", 1, map[string]string{LabelZero: "true", LabelZeroDuration: "1m"})
		kept := r.fake.add("kept", 1, nil)
		stop := make(chan struct{})
		r.rps(busy, 1, stop)
		after(50 * time.Second)
		r.want(idle, 1, "before zero-duration")
		after(15 * time.Second)
		r.want(idle, 0, "after the label's zero-duration of 1m")
		r.want(def, 1, "before the server-wide 2m")
		r.want(busy, 1, "while called every second")
		close(stop)
		after(70 * time.Second)
		r.want(def, 0, "after the server-wide 2m")
		r.want(busy, 0, "1m after its last call")
		r.want(kept, 1, "without the zero label")
		after(10 * time.Minute)
		r.want(idle, 0, "at zero, nothing wakes it but a call")
		if !strings.Contains(r.log(), `function=idle.openfaas-fn`) || !strings.Contains(r.log(), `reason="idle for zero-duration"`) {
			t.Errorf("no logged decision for idle:\n%s", r.log())
		}
	})
}

func TestInFlightCallKeepsFunctionAwake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startRig(t, Config{})
		fn := r.fake.add("slow", 1, map[string]string{LabelZero: "true", LabelZeroDuration: "10s"})
		r.m.Started(fn) // one call that lasts five minutes
		after(5 * time.Minute)
		r.want(fn, 1, "during a long call")
		r.m.Finished(fn, 200, 5*time.Minute)
		after(15 * time.Second)
		r.want(fn, 0, "10s after the call ended")
	})
}

func TestManualScaleIsHeldForTheDownWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startRig(t, Config{})
		fn := r.fake.add("manual", 1, nil)
		after(3 * time.Second)
		if err := r.fake.Scale(t.Context(), "manual", api.DefaultNamespace, 4); err != nil {
			t.Fatal(err)
		}
		after(20 * time.Second)
		r.want(fn, 4, "20s after a user scaled to 4 with no load")
		after(15 * time.Second)
		r.want(fn, 1, "after the down window")
	})
}

func TestDownWindowLabel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startRig(t, Config{})
		fn := r.fake.add("quick", 1, map[string]string{LabelTarget: "10", LabelDownWindow: "5s"})
		stop := make(chan struct{})
		r.rps(fn, 40, stop)
		after(6 * time.Second)
		r.want(fn, 5, "under load")
		close(stop)
		after(12 * time.Second) // 5s load window to drain + 5s down window
		r.want(fn, 1, "after the label's 5s down window")
	})
}

func TestZeroOnlyAndGauges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startRig(t, Config{ZeroOnly: true})
		fn := r.fake.add("alerted", 1, map[string]string{LabelTarget: "1", LabelZero: "true", LabelZeroDuration: "30s"})
		r.fake.setCPU(fn, 250)
		stop := make(chan struct{})
		r.rps(fn, 50, stop)
		after(8 * time.Second)
		r.want(fn, 1, "ZeroOnly does no load scaling")
		body := scrape(r.m)
		for _, want := range []string{`gateway_service_count{function_name="alerted.openfaas-fn"} 1`,
			`gofaas_function_cpu_millicores{function_name="alerted.openfaas-fn"} 250`} {
			if !strings.Contains(body, want) {
				t.Errorf("metrics lack %q", want)
			}
		}
		close(stop)
		after(40 * time.Second)
		r.want(fn, 0, "ZeroOnly still idles to zero")
		r.fake.mu.Lock()
		delete(r.fake.fns, fn)
		r.fake.mu.Unlock()
		after(2 * time.Second)
		if strings.Contains(scrape(r.m), `gateway_service_count{function_name="alerted.openfaas-fn"}`) {
			t.Errorf("gauges of a removed function remain")
		}
	})
}
