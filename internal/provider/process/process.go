package process

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gofaas/gofaas/internal/provider"
	"github.com/gofaas/gofaas/internal/registry"
	"github.com/gofaas/gofaas/internal/store"
	"github.com/gofaas/gofaas/internal/version"
	"github.com/gofaas/gofaas/pkg/api"
)

// ImageSource unpacks images; *registry.Cache satisfies it. Unpack returns
// an error wrapping registry.ErrImageNotFound for a missing image.
type ImageSource interface {
	Unpack(ctx context.Context, ref string) (registry.Image, error)
}

// Interface guards.
var (
	_ provider.Provider   = (*Process)(nil)
	_ provider.Informer   = (*Process)(nil)
	_ provider.Secrets    = (*Process)(nil)
	_ provider.Logs       = (*Process)(nil)
	_ provider.Namespaces = (*Process)(nil)
	_ provider.Closer     = (*Process)(nil)
)

// Process is the process back-end. Create it with New, call Start once to
// restore the stored functions, and Close to stop every replica.
type Process struct {
	cfg       Config
	images    ImageSource
	st        *store.Store
	log       *slog.Logger
	isolation string // IsolationNetns or IsolationPorts
	cgroups   cgroups
	dirs      dirs
	ports     *portPool
	health    *http.Client
	procDir   string

	limitsWarn sync.Once
	wg         sync.WaitGroup // every replica supervisor and background job

	mu      sync.Mutex // guards the fields below and serialises changes
	fns     map[fnKey]*function
	started bool
	closed  bool
	done    chan struct{} // closed by Close
}

// dirs are the back-end's directories under <data-dir>/process.
type dirs struct {
	replicas string // one directory per replica: pid record, tmp, socket
	secrets  string // one directory per function: copies of its secrets
	logs     string // <ns>/<name>.ndjson
}

// New checks cfg, picks the isolation mode and prepares the data directory.
// It starts no replica; call Start.
func New(cfg Config, images ImageSource, st *store.Store, log *slog.Logger) (*Process, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if images == nil || st == nil || log == nil {
		return nil, errors.New("process: images, store and logger are required")
	}
	base := filepath.Join(cfg.DataDir, "process")
	p := &Process{
		cfg: cfg, images: images, st: st, log: log,
		dirs: dirs{
			replicas: filepath.Join(base, "replicas"),
			secrets:  filepath.Join(base, "secrets"),
			logs:     filepath.Join(base, "logs"),
		},
		ports:   newPortPool(),
		health:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2, IdleConnTimeout: 30 * time.Second}},
		procDir: "/proc",
		fns:     map[fnKey]*function{},
		done:    make(chan struct{}),
	}
	for _, d := range []string{p.dirs.replicas, p.dirs.secrets, p.dirs.logs} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("creating %s: %w", d, err)
		}
	}
	if err := p.pickIsolation(); err != nil {
		return nil, err
	}
	p.cgroups = setupCgroups(cfg.CgroupRoot)
	log.Info("process back-end ready", "isolation", p.isolation, "limits_enforced", p.cgroups.enforced(),
		"data_dir", base, "stop_grace", cfg.StopGrace, "health_interval", cfg.HealthInterval)
	return p, nil
}

func (p *Process) pickIsolation() error {
	if p.cfg.Isolation == IsolationPorts {
		p.isolation = IsolationPorts
		return nil
	}
	err := probeNetns(context.Background(), p.cfg.Executable)
	if err == nil {
		err = os.MkdirAll(SecretsMountPath, 0o755)
	}
	if err == nil {
		// A Unix socket path is limited to 107 bytes.
		if n := len(filepath.Join(p.dirs.replicas, "0123456789ab", socketName)); n > 107 {
			err = fmt.Errorf("the data dir path is too long for replica sockets (%d bytes > 107)", n)
		}
	}
	switch {
	case err == nil:
		p.isolation = IsolationNetns
	case p.cfg.Isolation == IsolationNetns:
		return fmt.Errorf("process: isolation netns: %w", err)
	default:
		p.log.Info("replicas share the host network (isolation ports)", "reason", err.Error())
		p.isolation = IsolationPorts
	}
	return nil
}

// Isolation is the isolation mode in use: "netns" or "ports".
func (p *Process) Isolation() string { return p.isolation }

// LimitsEnforced reports whether memory and CPU limits are enforced through
// cgroup v2 on this machine.
func (p *Process) LimitsEnforced() bool { return p.cgroups.enforced() }

// Info describes the back-end.
func (p *Process) Info(context.Context) api.ProviderInfo {
	return api.ProviderInfo{
		Name:          "gofaas-process",
		Orchestration: "process",
		Version:       &api.VersionInfo{Release: version.Release, SHA: version.Commit()},
	}
}

// Start kills the processes a previous run left behind and starts every
// stored function at its replica count. Images that cannot be unpacked now
// are retried by each replica.
func (p *Process) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started || p.closed {
		return errors.New("process: Start called twice or after Close")
	}
	p.started = true
	p.killLeftovers()
	stored, err := p.st.Functions("")
	if err != nil {
		return fmt.Errorf("reading stored functions: %w", err)
	}
	for _, f := range stored {
		if err := p.restore(ctx, f); err != nil {
			return err
		}
	}
	return nil
}

func (p *Process) restore(ctx context.Context, f store.Function) error {
	d := f.Deployment
	sp, err := newSpec(d)
	if err != nil {
		p.log.Error("stored function has bad limits; starting it without them", "function", d.Service, "namespace", d.Namespace, "error", err)
		sp = &spec{dep: d}
	}
	if img, err := p.images.Unpack(ctx, d.Image); err == nil {
		sp.setImage(img)
	} else {
		p.log.Warn("image not available yet; replicas will retry", "function", d.Service, "namespace", d.Namespace, "image", d.Image, "error", err)
	}
	fn, err := p.newFunction(d, f.CreatedAt, sp)
	if err != nil {
		return fmt.Errorf("restoring %s.%s: %w", d.Service, d.Namespace, err)
	}
	p.fns[fn.key] = fn
	p.setReplicasLocked(fn, f.Replicas)
	p.log.Info("function restored", "function", d.Service, "namespace", d.Namespace, "replicas", f.Replicas)
	return nil
}

// Close stops every replica (SIGTERM, then SIGKILL after Config.StopGrace)
// and waits for them and for every log follower.
func (p *Process) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.done)
	for _, fn := range p.fns {
		for _, r := range fn.all() {
			r.stop()
		}
		fn.logs.close(false)
	}
	p.mu.Unlock()
	p.wg.Wait()
	if t, ok := p.health.Transport.(*http.Transport); ok {
		t.CloseIdleConnections()
	}
	return nil
}

// go runs fn in a goroutine that Close waits for.
func (p *Process) goOwned(fn func()) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		fn()
	}()
}

// storeError maps a store error to the provider's sentinels, keeping the
// store's message.
func storeError(err error) error {
	var missing *store.MissingError
	var inUse *store.InUseError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &missing), errors.As(err, &inUse), errors.Is(err, store.ErrInvalid):
		return &mappedError{provider.ErrInvalid, err}
	case errors.Is(err, store.ErrNotFound):
		return &mappedError{provider.ErrNotFound, err}
	case errors.Is(err, store.ErrExists):
		return &mappedError{provider.ErrExists, err}
	}
	return fmt.Errorf("state: %w", err)
}

// mappedError carries a provider sentinel and the original error, with the
// original's message.
type mappedError struct {
	sentinel error
	err      error
}

func (e *mappedError) Error() string   { return e.err.Error() }
func (e *mappedError) Unwrap() []error { return []error{e.sentinel, e.err} }

// invalidf returns an ErrInvalid with a message for a person.
func invalidf(format string, args ...any) error {
	return &mappedError{provider.ErrInvalid, fmt.Errorf(format, args...)}
}
