// Package memory is an in-memory back-end for tests and demos: every
// function with replicas > 0 is available at once and resolves to one
// upstream URL (an echo server the test runs). It implements the Provider
// and every optional interface with the same validation rules as a real
// back-end.
//
// It imports internal/provider and pkg/api only.
package memory

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/gofaas/gofaas/internal/provider"
	"github.com/gofaas/gofaas/pkg/api"
)

// Interface guards.
var (
	_ provider.Provider   = (*Memory)(nil)
	_ provider.Informer   = (*Memory)(nil)
	_ provider.Secrets    = (*Memory)(nil)
	_ provider.Logs       = (*Memory)(nil)
	_ provider.Namespaces = (*Memory)(nil)
)

// maxLogLines bounds the log history kept per back-end.
const maxLogLines = 10000

type key struct{ name, namespace string }

type function struct {
	dep       api.FunctionDeployment
	replicas  uint64
	createdAt time.Time
}

// Memory is the in-memory back-end. It is safe for concurrent use.
type Memory struct {
	upstream *url.URL

	mu         sync.Mutex
	namespaces map[string]api.FunctionNamespace
	functions  map[key]*function
	secrets    map[key]api.Secret
	logs       []api.LogMessage
	followers  map[*follower]struct{}
}

// New returns an empty back-end whose functions all resolve to upstream. It
// has one namespace, api.DefaultNamespace.
func New(upstream *url.URL) *Memory {
	return &Memory{
		upstream: upstream,
		namespaces: map[string]api.FunctionNamespace{api.DefaultNamespace: {
			Name:        api.DefaultNamespace,
			Labels:      map[string]string{api.NamespaceMarkerLabel: api.NamespaceMarkerValue},
			Annotations: map[string]string{},
		}},
		functions: map[key]*function{},
		secrets:   map[key]api.Secret{},
		followers: map[*follower]struct{}{},
	}
}

// Info reports the back-end's name.
func (m *Memory) Info(context.Context) api.ProviderInfo {
	return api.ProviderInfo{Name: "gofaas-memory", Orchestration: "memory", Version: &api.VersionInfo{Release: "dev"}}
}

func invalid(err error) error { return fmt.Errorf("%w: %w", provider.ErrInvalid, err) }

// checkNamespace returns ErrNotFound (wrapped) if ns does not exist. The
// caller holds m.mu.
func (m *Memory) checkNamespace(ns string) error {
	if err := api.ValidateName("namespace", ns); err != nil {
		return invalid(err)
	}
	if _, ok := m.namespaces[ns]; !ok {
		return fmt.Errorf("namespace %q: %w", ns, provider.ErrNotFound)
	}
	return nil
}

// checkDeployment validates fn for Deploy and Update. The caller holds m.mu.
func (m *Memory) checkDeployment(fn api.FunctionDeployment) error {
	if err := api.ValidateName("function", fn.Service); err != nil {
		return invalid(err)
	}
	if fn.Image == "" {
		return fmt.Errorf("%w: function %q has no image", provider.ErrInvalid, fn.Service)
	}
	if err := api.ValidateName("namespace", fn.Namespace); err != nil {
		return invalid(err)
	}
	if _, ok := m.namespaces[fn.Namespace]; !ok {
		return fmt.Errorf("%w: namespace %q does not exist", provider.ErrInvalid, fn.Namespace)
	}
	for _, s := range fn.Secrets {
		if _, ok := m.secrets[key{s, fn.Namespace}]; !ok {
			return fmt.Errorf("%w: secret %q does not exist in namespace %q", provider.ErrInvalid, s, fn.Namespace)
		}
	}
	return nil
}

// Deploy creates a function with one replica.
func (m *Memory) Deploy(_ context.Context, fn api.FunctionDeployment) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkDeployment(fn); err != nil {
		return err
	}
	k := key{fn.Service, fn.Namespace}
	if _, ok := m.functions[k]; ok {
		return fmt.Errorf("function %s: %w", api.JoinName(k.name, k.namespace), provider.ErrExists)
	}
	m.functions[k] = &function{dep: copyDeployment(fn), replicas: 1, createdAt: time.Now().UTC()}
	return nil
}

// Update replaces a function's deployment, keeping its replicas.
func (m *Memory) Update(_ context.Context, fn api.FunctionDeployment) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkDeployment(fn); err != nil {
		return err
	}
	f, err := m.function(fn.Service, fn.Namespace)
	if err != nil {
		return err
	}
	f.dep = copyDeployment(fn)
	return nil
}

// function finds a function. The caller holds m.mu.
func (m *Memory) function(name, ns string) (*function, error) {
	if err := api.ValidateName("function", name); err != nil {
		return nil, invalid(err)
	}
	if err := m.checkNamespace(ns); err != nil {
		return nil, err
	}
	f, ok := m.functions[key{name, ns}]
	if !ok {
		return nil, fmt.Errorf("function %s: %w", api.JoinName(name, ns), provider.ErrNotFound)
	}
	return f, nil
}

// Remove deletes a function.
func (m *Memory) Remove(_ context.Context, name, namespace string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.function(name, namespace); err != nil {
		return err
	}
	delete(m.functions, key{name, namespace})
	return nil
}

// Functions lists a namespace's functions sorted by name.
func (m *Memory) Functions(_ context.Context, namespace string) ([]api.FunctionStatus, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkNamespace(namespace); err != nil {
		return nil, err
	}
	list := []api.FunctionStatus{}
	for k, f := range m.functions {
		if k.namespace == namespace {
			list = append(list, f.status())
		}
	}
	slices.SortFunc(list, func(a, b api.FunctionStatus) int { return cmp.Compare(a.Name, b.Name) })
	return list, nil
}

// Function returns one function; usage adds zero usage figures.
func (m *Memory) Function(_ context.Context, name, namespace string, usage bool) (api.FunctionStatus, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, err := m.function(name, namespace)
	if err != nil {
		return api.FunctionStatus{}, err
	}
	st := f.status()
	if usage {
		st.Usage = &api.FunctionUsage{}
	}
	return st, nil
}

// Scale sets the replica count; every replica is available at once.
func (m *Memory) Scale(_ context.Context, name, namespace string, replicas uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, err := m.function(name, namespace)
	if err != nil {
		return err
	}
	f.replicas = replicas
	return nil
}

// Resolve returns the upstream URL, or ErrNoReplicas when scaled to zero.
func (m *Memory) Resolve(_ context.Context, name, namespace string) (provider.Target, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, err := m.function(name, namespace)
	if err != nil {
		return provider.Target{}, err
	}
	if f.replicas == 0 {
		return provider.Target{}, fmt.Errorf("%w: no replica of %s is ready (0 desired)", provider.ErrNoReplicas, api.JoinName(name, namespace))
	}
	return provider.Target{URL: m.upstream}, nil
}

func (f *function) status() api.FunctionStatus {
	d := copyDeployment(f.dep)
	return api.FunctionStatus{
		Name: d.Service, Image: d.Image, Namespace: d.Namespace, EnvProcess: d.EnvProcess,
		EnvVars: d.EnvVars, Constraints: d.Constraints, Secrets: d.Secrets,
		Labels: d.Labels, Annotations: d.Annotations, Limits: d.Limits, Requests: d.Requests,
		ReadOnlyRootFilesystem: d.ReadOnlyRootFilesystem,
		Replicas:               f.replicas, AvailableReplicas: f.replicas, CreatedAt: f.createdAt,
	}
}

// copyDeployment deep-copies fn so callers never share its maps and slices.
func copyDeployment(fn api.FunctionDeployment) api.FunctionDeployment {
	fn.EnvVars = maps.Clone(fn.EnvVars)
	fn.Labels = maps.Clone(fn.Labels)
	fn.Annotations = maps.Clone(fn.Annotations)
	fn.Constraints = slices.Clone(fn.Constraints)
	fn.Secrets = slices.Clone(fn.Secrets)
	if fn.Limits != nil {
		l := *fn.Limits
		fn.Limits = &l
	}
	if fn.Requests != nil {
		r := *fn.Requests
		fn.Requests = &r
	}
	return fn
}
