package memory

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/gofaas/gofaas/internal/provider"
	"github.com/gofaas/gofaas/pkg/api"
)

// SecretList returns the names of a namespace's secrets, sorted, without
// values.
func (m *Memory) SecretList(_ context.Context, namespace string) ([]api.Secret, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkNamespace(namespace); err != nil {
		return nil, err
	}
	list := []api.Secret{}
	for k := range m.secrets {
		if k.namespace == namespace {
			list = append(list, api.Secret{Name: k.name, Namespace: k.namespace})
		}
	}
	slices.SortFunc(list, func(a, b api.Secret) int { return cmp.Compare(a.Name, b.Name) })
	return list, nil
}

// checkSecret validates a secret's name and namespace. The caller holds m.mu.
func (m *Memory) checkSecret(name, namespace string) error {
	if err := api.ValidateName("secret", name); err != nil {
		return invalid(err)
	}
	return m.checkNamespace(namespace)
}

// CreateSecret stores a new secret.
func (m *Memory) CreateSecret(_ context.Context, s api.Secret) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkSecret(s.Name, s.Namespace); err != nil {
		return err
	}
	k := key{s.Name, s.Namespace}
	if _, ok := m.secrets[k]; ok {
		return fmt.Errorf("secret %s: %w", api.JoinName(s.Name, s.Namespace), provider.ErrExists)
	}
	m.secrets[k] = api.Secret{Name: s.Name, Namespace: s.Namespace, RawValue: slices.Clone(s.Bytes())}
	return nil
}

// UpdateSecret replaces an existing secret's value.
func (m *Memory) UpdateSecret(_ context.Context, s api.Secret) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkSecret(s.Name, s.Namespace); err != nil {
		return err
	}
	k := key{s.Name, s.Namespace}
	if _, ok := m.secrets[k]; !ok {
		return fmt.Errorf("secret %s: %w", api.JoinName(s.Name, s.Namespace), provider.ErrNotFound)
	}
	m.secrets[k] = api.Secret{Name: s.Name, Namespace: s.Namespace, RawValue: slices.Clone(s.Bytes())}
	return nil
}

// DeleteSecret removes a secret.
func (m *Memory) DeleteSecret(_ context.Context, name, namespace string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkSecret(name, namespace); err != nil {
		return err
	}
	k := key{name, namespace}
	if _, ok := m.secrets[k]; !ok {
		return fmt.Errorf("secret %s: %w", api.JoinName(name, namespace), provider.ErrNotFound)
	}
	delete(m.secrets, k)
	return nil
}

// SecretValue returns a secret's content, for tests.
func (m *Memory) SecretValue(name, namespace string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.secrets[key{name, namespace}]
	if !ok {
		return nil, fmt.Errorf("secret %s: %w", api.JoinName(name, namespace), provider.ErrNotFound)
	}
	return slices.Clone(s.RawValue), nil
}

// NamespaceList returns the namespaces, sorted.
func (m *Memory) NamespaceList(context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.namespaces)), nil
}

// Namespace returns one namespace.
func (m *Memory) Namespace(_ context.Context, name string) (api.FunctionNamespace, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkNamespace(name); err != nil {
		return api.FunctionNamespace{}, err
	}
	return copyNamespace(m.namespaces[name]), nil
}

// checkMutableNamespace applies the rules for creating and updating a
// namespace: a valid name other than kube-system and the openfaas="1" label.
func checkMutableNamespace(ns api.FunctionNamespace) error {
	if err := api.ValidateName("namespace", ns.Name); err != nil {
		return invalid(err)
	}
	if ns.Name == api.ReservedNamespaceKube {
		return fmt.Errorf("%w: namespace %q is reserved", provider.ErrInvalid, ns.Name)
	}
	if ns.Labels[api.NamespaceMarkerLabel] != api.NamespaceMarkerValue {
		return fmt.Errorf("%w: namespace %q needs the label %s=%q", provider.ErrInvalid, ns.Name, api.NamespaceMarkerLabel, api.NamespaceMarkerValue)
	}
	return nil
}

// CreateNamespace adds a namespace.
func (m *Memory) CreateNamespace(_ context.Context, ns api.FunctionNamespace) error {
	if err := checkMutableNamespace(ns); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.namespaces[ns.Name]; ok {
		return fmt.Errorf("namespace %q: %w", ns.Name, provider.ErrExists)
	}
	m.namespaces[ns.Name] = copyNamespace(ns)
	return nil
}

// UpdateNamespace replaces a namespace's labels and annotations.
func (m *Memory) UpdateNamespace(_ context.Context, ns api.FunctionNamespace) error {
	if err := checkMutableNamespace(ns); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkNamespace(ns.Name); err != nil {
		return err
	}
	m.namespaces[ns.Name] = copyNamespace(ns)
	return nil
}

// DeleteNamespace removes an empty namespace other than the default one.
func (m *Memory) DeleteNamespace(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkNamespace(name); err != nil {
		return err
	}
	if name == api.DefaultNamespace {
		return fmt.Errorf("%w: the default namespace %q cannot be deleted", provider.ErrInvalid, name)
	}
	for k := range m.functions {
		if k.namespace == name {
			return fmt.Errorf("%w: namespace %q still has functions", provider.ErrInvalid, name)
		}
	}
	for k := range m.secrets {
		if k.namespace == name {
			delete(m.secrets, k)
		}
	}
	delete(m.namespaces, name)
	return nil
}

func copyNamespace(ns api.FunctionNamespace) api.FunctionNamespace {
	ns.Labels = maps.Clone(ns.Labels)
	ns.Annotations = maps.Clone(ns.Annotations)
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	if ns.Annotations == nil {
		ns.Annotations = map[string]string{}
	}
	return ns
}
