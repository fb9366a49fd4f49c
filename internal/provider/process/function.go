package process

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gofaas/gofaas/internal/registry"
	"github.com/gofaas/gofaas/pkg/api"
)

// LabelScaleMin is the label giving a function's initial replica count.
const LabelScaleMin = "com.openfaas.scale.min"

type fnKey struct{ namespace, name string }

func (k fnKey) String() string { return k.name + "." + k.namespace }

// spec is one deployment of a function with what the back-end derived from
// it. Replicas keep the spec they were started with, so an update rolls.
type spec struct {
	dep    api.FunctionDeployment
	limits limits

	mu  sync.Mutex
	img *registry.Image // nil until unpacked
}

func newSpec(d api.FunctionDeployment) (*spec, error) {
	l, err := parseResources("limits", d.Limits)
	if err != nil {
		return nil, err
	}
	if _, err := parseResources("requests", d.Requests); err != nil {
		return nil, err
	}
	return &spec{dep: d, limits: l}, nil
}

func (s *spec) setImage(img registry.Image) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.img = &img
}

func (s *spec) image() (registry.Image, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.img == nil {
		return registry.Image{}, false
	}
	return *s.img, true
}

// function is the runtime state of a deployed function; guarded by
// Process.mu.
type function struct {
	key        fnKey
	createdAt  time.Time
	desired    uint64
	spec       *spec
	replicas   []*replica // the current spec's replicas
	retiring   []*replica // older replicas still serving during an update
	logs       *logSink
	secretsDir string
	rr         int // round-robin start for Resolve ties
	usage      usageSample
}

type usageSample struct {
	at    time.Time
	ticks uint64
}

func (f *function) all() []*replica {
	return slices.Concat(f.replicas, f.retiring)
}

// at returns all()[i] without building the list (Resolve's hot path).
func (f *function) at(i int) *replica {
	if i < len(f.replicas) {
		return f.replicas[i]
	}
	return f.retiring[i-len(f.replicas)]
}

func (f *function) ready() (ready, starting int) {
	for _, r := range f.replicas {
		if r.ready.Load() {
			ready++
		} else {
			starting++
		}
	}
	return ready, starting
}

// initialReplicas is com.openfaas.scale.min when a whole number, else 1.
// An explicit 0 deploys the function at zero replicas (openfaas/faas#978):
// it costs nothing until its first call, which the gateway's scale from
// zero serves.
func initialReplicas(labels map[string]string) uint64 {
	if n, err := strconv.ParseUint(labels[LabelScaleMin], 10, 64); err == nil {
		return n
	}
	return 1
}

// newFunction creates the runtime of a function: its log and its secrets
// directory. p.mu is held.
func (p *Process) newFunction(d api.FunctionDeployment, createdAt time.Time, sp *spec) (*function, error) {
	k := fnKey{namespace: d.Namespace, name: d.Service}
	sink, err := openLogSink(p.logPath(k), p.cfg.LogMaxBytes)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(p.dirs.secrets, d.Service+"-")
	if err != nil {
		sink.close(false)
		return nil, fmt.Errorf("creating secrets dir: %w", err)
	}
	fn := &function{key: k, createdAt: createdAt, spec: sp, logs: sink, secretsDir: dir,
		usage: usageSample{at: time.Now()}}
	if err := p.syncSecrets(fn, d.Secrets); err != nil {
		sink.close(false)
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return fn, nil
}

func (p *Process) logPath(k fnKey) string {
	return filepath.Join(p.dirs.logs, k.namespace, k.name+".ndjson")
}

// setReplicasLocked starts or stops replicas of the current spec until
// there are n. Not-ready replicas are stopped first. p.mu is held.
func (p *Process) setReplicasLocked(fn *function, n uint64) {
	fn.desired = n
	if p.closed {
		return
	}
	for uint64(len(fn.replicas)) < n {
		fn.replicas = append(fn.replicas, p.startReplica(fn, fn.spec))
	}
	for uint64(len(fn.replicas)) > n {
		i := slices.IndexFunc(fn.replicas, func(r *replica) bool { return !r.ready.Load() })
		if i < 0 {
			i = len(fn.replicas) - 1
		}
		fn.replicas[i].stop()
		fn.replicas = slices.Delete(fn.replicas, i, i+1)
	}
}

// status is the function as the API shows it. p.mu is held.
func (p *Process) status(fn *function) api.FunctionStatus {
	d := fn.spec.dep
	ready, _ := fn.ready()
	return api.FunctionStatus{
		Name: d.Service, Image: d.Image, Namespace: d.Namespace,
		EnvProcess: d.EnvProcess, EnvVars: d.EnvVars, Constraints: d.Constraints,
		Secrets: d.Secrets, Labels: d.Labels, Annotations: d.Annotations,
		Limits: d.Limits, Requests: d.Requests, ReadOnlyRootFilesystem: d.ReadOnlyRootFilesystem,
		Replicas: fn.desired, AvailableReplicas: uint64(ready), CreatedAt: fn.createdAt,
	}
}

// usage samples CPU and memory of fn's replicas. p.mu is held.
func (p *Process) usage(fn *function) *api.FunctionUsage {
	groups := map[int]bool{}
	for _, r := range fn.all() {
		if pid := r.pid(); pid > 0 {
			groups[pid] = true
		}
	}
	ticks, pages := groupUsage(allStats(p.procDir), groups)
	now := time.Now()
	var cpu float64
	if el := now.Sub(fn.usage.at).Seconds(); el > 0 && ticks > fn.usage.ticks {
		cpu = float64(ticks-fn.usage.ticks) / clockTicks / el * 1000
	}
	fn.usage = usageSample{at: now, ticks: ticks}
	return &api.FunctionUsage{CPU: cpu, TotalMemoryBytes: float64(pages) * float64(os.Getpagesize())}
}

// newID returns a random 12-hex-digit id.
func newID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
