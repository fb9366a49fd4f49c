package process

import (
	"context"
	"errors"

	"github.com/gofaas/gofaas/internal/provider"
	"github.com/gofaas/gofaas/pkg/api"
)

// NamespaceList returns the namespace names, the default one first.
func (p *Process) NamespaceList(context.Context) ([]string, error) {
	list, err := p.st.Namespaces()
	if err != nil {
		return nil, storeError(err)
	}
	out := make([]string, 0, len(list))
	for _, ns := range list {
		out = append(out, ns.Name)
	}
	return out, nil
}

// Namespace returns one namespace, or ErrNotFound.
func (p *Process) Namespace(_ context.Context, name string) (api.FunctionNamespace, error) {
	if name == api.ReservedNamespaceKube || api.ValidateName("namespace", name) != nil {
		return api.FunctionNamespace{}, invalidf("namespace %q cannot be used", name)
	}
	ns, err := p.st.Namespace(name)
	return ns, storeError(err)
}

// CreateNamespace creates a namespace labelled openfaas=1, or returns
// ErrExists.
func (p *Process) CreateNamespace(_ context.Context, ns api.FunctionNamespace) error {
	if err := checkNamespaceBody(ns); err != nil {
		return err
	}
	return storeError(p.st.CreateNamespace(ns))
}

// UpdateNamespace replaces a namespace's labels and annotations.
func (p *Process) UpdateNamespace(_ context.Context, ns api.FunctionNamespace) error {
	if err := checkNamespaceBody(ns); err != nil {
		return err
	}
	return storeError(p.st.UpdateNamespace(ns))
}

// DeleteNamespace deletes an empty namespace other than the default one.
func (p *Process) DeleteNamespace(_ context.Context, name string) error {
	if name == api.ReservedNamespaceKube {
		return invalidf("namespace %s cannot be used", name)
	}
	if name == api.DefaultNamespace {
		return invalidf("the default namespace %s cannot be deleted", name)
	}
	if err := api.ValidateName("namespace", name); err != nil {
		return &mappedError{provider.ErrInvalid, err}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return storeError(p.st.DeleteNamespace(name))
}

func checkNamespaceBody(ns api.FunctionNamespace) error {
	if ns.Name == api.ReservedNamespaceKube {
		return invalidf("namespace %s cannot be used", ns.Name)
	}
	if err := api.ValidateName("namespace", ns.Name); err != nil {
		return &mappedError{provider.ErrInvalid, err}
	}
	if ns.Labels[api.NamespaceMarkerLabel] != api.NamespaceMarkerValue {
		return invalidf("namespace %s needs the label %s: %q", ns.Name, api.NamespaceMarkerLabel, api.NamespaceMarkerValue)
	}
	return nil
}

func errorsJoin(errs ...error) error { return errors.Join(errs...) }
