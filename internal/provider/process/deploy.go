package process

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gofaas/gofaas/internal/provider"
	"github.com/gofaas/gofaas/internal/registry"
	"github.com/gofaas/gofaas/internal/store"
	"github.com/gofaas/gofaas/pkg/api"
)

// Deploy validates d, unpacks its image (bounded by ctx), stores it and
// starts com.openfaas.scale.min replicas (default 1). Nothing is stored on
// any error.
func (p *Process) Deploy(ctx context.Context, d api.FunctionDeployment) error {
	d = normalize(d)
	if err := p.checkNew(d); err != nil {
		return err
	}
	n := initialReplicas(d.Labels)
	if err := p.checkReplicas(n); err != nil {
		return err
	}
	sp, err := p.prepare(ctx, d)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("process back-end is closed")
	}
	k := fnKey{namespace: d.Namespace, name: d.Service}
	if _, ok := p.fns[k]; ok {
		return &mappedError{provider.ErrExists, fmt.Errorf("function %s already exists", k)}
	}
	fn, err := p.newFunction(d, time.Now().UTC().Truncate(time.Second), sp)
	if err != nil {
		return err
	}
	if err := p.st.CreateFunction(store.Function{Deployment: d, Replicas: n, CreatedAt: fn.createdAt}); err != nil {
		p.dropFunction(fn)
		return storeError(err)
	}
	p.fns[k] = fn
	p.setReplicasLocked(fn, n)
	p.log.Info("function deployed", "function", d.Service, "namespace", d.Namespace, "image", d.Image, "replicas", n)
	p.warnLimits(sp)
	return nil
}

// Update replaces a function's deployment, keeps its replica count and
// rolls its replicas: the new ones start at once, the old ones stop when the
// new ones are ready (or after Config.RolloutTimeout).
func (p *Process) Update(ctx context.Context, d api.FunctionDeployment) error {
	d = normalize(d)
	if err := validateBasics(d); err != nil {
		return err
	}
	if _, err := p.st.Function(d.Namespace, d.Service); err != nil {
		return storeError(err)
	}
	if err := p.checkRefs(d); err != nil {
		return err
	}
	sp, err := p.prepare(ctx, d)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fn, ok := p.fns[fnKey{namespace: d.Namespace, name: d.Service}]
	if !ok || p.closed {
		return &mappedError{provider.ErrNotFound, fmt.Errorf("function %s.%s not found", d.Service, d.Namespace)}
	}
	if _, err := p.st.UpdateFunction(d); err != nil {
		return storeError(err)
	}
	if err := p.syncSecrets(fn, d.Secrets); err != nil {
		p.log.Error("refreshing secrets of updated function", "function", d.Service, "namespace", d.Namespace, "error", err)
	}
	old := fn.replicas
	fn.spec, fn.replicas = sp, nil
	fn.retiring = append(fn.retiring, old...)
	p.setReplicasLocked(fn, fn.desired)
	p.goOwned(func() { p.retire(fn, old) })
	p.log.Info("function updated", "function", d.Service, "namespace", d.Namespace, "image", d.Image, "replicas", fn.desired)
	p.warnLimits(sp)
	return nil
}

// retire stops old replicas once the function's current replicas are all
// ready, or after the rollout timeout.
func (p *Process) retire(fn *function, old []*replica) {
	deadline := time.NewTimer(p.cfg.RolloutTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-p.done:
			return // Close stops them
		case <-deadline.C:
			done = true
		case <-tick.C:
			p.mu.Lock()
			ready, _ := fn.ready()
			done = uint64(ready) >= fn.desired
			p.mu.Unlock()
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range old {
		r.stop()
		fn.retiring = slices.DeleteFunc(fn.retiring, func(x *replica) bool { return x == r })
	}
}

// Remove deletes a function, its log and stops its replicas.
func (p *Process) Remove(_ context.Context, name, namespace string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.st.DeleteFunction(namespace, name); err != nil {
		return storeError(err)
	}
	if fn, ok := p.fns[fnKey{namespace: namespace, name: name}]; ok {
		delete(p.fns, fn.key)
		p.dropFunction(fn)
	}
	p.log.Info("function removed", "function", name, "namespace", namespace)
	return nil
}

// dropFunction stops fn's replicas, removes its log now and its secrets
// once the replicas are gone. p.mu is held.
func (p *Process) dropFunction(fn *function) {
	all := fn.all()
	fn.replicas, fn.retiring = nil, nil
	for _, r := range all {
		r.stop()
	}
	fn.logs.close(true)
	p.goOwned(func() {
		for _, r := range all {
			<-r.done
		}
		removeAllQuiet(fn.secretsDir)
	})
}

// Functions lists the functions of a namespace.
func (p *Process) Functions(_ context.Context, namespace string) ([]api.FunctionStatus, error) {
	if err := p.checkNamespace(namespace); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	out := []api.FunctionStatus{}
	for _, fn := range p.fns {
		if fn.key.namespace == namespace {
			out = append(out, p.status(fn))
		}
	}
	slices.SortFunc(out, func(a, b api.FunctionStatus) int { return cmpString(a.Name, b.Name) })
	return out, nil
}

// Function returns one function; usage adds CPU and memory figures.
func (p *Process) Function(_ context.Context, name, namespace string, usage bool) (api.FunctionStatus, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fn, err := p.lookup(name, namespace)
	if err != nil {
		return api.FunctionStatus{}, err
	}
	st := p.status(fn)
	if usage {
		st.Usage = p.usage(fn)
	}
	return st, nil
}

// Scale sets the desired replica count.
func (p *Process) Scale(_ context.Context, name, namespace string, replicas uint64) error {
	if err := p.checkReplicas(replicas); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fn, err := p.lookup(name, namespace)
	if err != nil {
		return err
	}
	if err := p.st.SetReplicas(namespace, name, replicas); err != nil {
		return storeError(err)
	}
	p.setReplicasLocked(fn, replicas)
	p.log.Info("function scaled", "function", name, "namespace", namespace, "replicas", replicas)
	return nil
}

// Resolve picks the ready replica with the fewest invocations in flight.
func (p *Process) Resolve(_ context.Context, name, namespace string) (provider.Target, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fn, err := p.lookup(name, namespace)
	if err != nil {
		return provider.Target{}, err
	}
	n := len(fn.replicas) + len(fn.retiring)
	var best *replica
	var bestEP endpoint
	for i := range n {
		r := fn.at((fn.rr + i) % n)
		ep, ok := r.endpoint()
		if ok && (best == nil || r.inflight.Load() < best.inflight.Load()) {
			best, bestEP = r, ep
		}
	}
	fn.rr++
	if best == nil {
		_, starting := fn.ready()
		return provider.Target{}, &mappedError{provider.ErrNoReplicas,
			fmt.Errorf("function %s has no ready replica (%d desired, %d starting)", fn.key, fn.desired, starting)}
	}
	return best.target(bestEP), nil
}

func (p *Process) lookup(name, namespace string) (*function, error) {
	fn, ok := p.fns[fnKey{namespace: namespace, name: name}]
	if !ok {
		return nil, &mappedError{provider.ErrNotFound, fmt.Errorf("function %s.%s not found", name, namespace)}
	}
	return fn, nil
}

func (p *Process) checkReplicas(n uint64) error {
	if n > p.cfg.MaxReplicas {
		return invalidf("%d replicas is more than the limit of %d per function", n, p.cfg.MaxReplicas)
	}
	return nil
}

func normalize(d api.FunctionDeployment) api.FunctionDeployment {
	if d.Namespace == "" {
		d.Namespace = api.DefaultNamespace
	}
	return d
}

func validateBasics(d api.FunctionDeployment) error {
	if err := api.ValidateName("function", d.Service); err != nil {
		return &mappedError{provider.ErrInvalid, err}
	}
	if d.Image == "" {
		return invalidf("image is required")
	}
	return nil
}

// checkNew validates a new deployment before its image is unpacked.
func (p *Process) checkNew(d api.FunctionDeployment) error {
	if err := validateBasics(d); err != nil {
		return err
	}
	if err := p.checkRefs(d); err != nil {
		return err
	}
	if _, err := p.st.Function(d.Namespace, d.Service); err == nil {
		return &mappedError{provider.ErrExists, fmt.Errorf("function %s.%s already exists", d.Service, d.Namespace)}
	}
	return nil
}

// checkRefs checks the namespace and every named secret.
func (p *Process) checkRefs(d api.FunctionDeployment) error {
	if err := p.checkNamespace(d.Namespace); err != nil {
		return err
	}
	have, err := p.st.Secrets(d.Namespace)
	if err != nil {
		return storeError(err)
	}
	for _, name := range d.Secrets {
		if !slices.ContainsFunc(have, func(s store.Secret) bool { return s.Name == name }) {
			return invalidf("secret %q does not exist in namespace %s", name, d.Namespace)
		}
	}
	return nil
}

// checkNamespace refuses kube-system and namespaces that do not exist.
func (p *Process) checkNamespace(ns string) error {
	if ns == api.ReservedNamespaceKube {
		return invalidf("namespace %s cannot be used", ns)
	}
	if api.ValidateName("namespace", ns) != nil {
		return invalidf("namespace %q does not exist", ns)
	}
	if _, err := p.st.Namespace(ns); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return invalidf("namespace %s does not exist", ns)
		}
		return storeError(err)
	}
	return nil
}

// prepare parses the limits and unpacks the image of d.
func (p *Process) prepare(ctx context.Context, d api.FunctionDeployment) (*spec, error) {
	sp, err := newSpec(d)
	if err != nil {
		return nil, &mappedError{provider.ErrInvalid, err}
	}
	img, err := p.images.Unpack(ctx, d.Image)
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, fmt.Errorf("unpacking image %s: %w", d.Image, ctx.Err())
	case errors.Is(err, registry.ErrImageNotFound):
		return nil, invalidf("image %s was not found: %w", d.Image, err)
	case err != nil:
		return nil, invalidf("image %s cannot be used: %w", d.Image, err)
	}
	env := baseEnv(img, d)
	if _, err := resolveArgv(img, append(imagePath(img, env), pathList(p.cfg.HostPath)...)); err != nil {
		return nil, invalidf("image %s cannot be run: %w", d.Image, err)
	}
	sp.setImage(img)
	return sp, nil
}

func (p *Process) warnLimits(sp *spec) {
	if sp.limits.any() && !p.cgroups.enforced() {
		p.limitsWarn.Do(func() {
			p.log.Warn("memory and CPU limits are stored but not enforced on this machine", "reason", p.cgroups.reason)
		})
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
