package process

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/gofaas/gofaas/internal/provider"
	"github.com/gofaas/gofaas/pkg/api"
)

// SecretList returns the names of a namespace's secrets, never values.
func (p *Process) SecretList(_ context.Context, namespace string) ([]api.Secret, error) {
	namespace = orDefault(namespace)
	if err := p.checkNamespace(namespace); err != nil {
		return nil, err
	}
	list, err := p.st.Secrets(namespace)
	if err != nil {
		return nil, storeError(err)
	}
	out := make([]api.Secret, 0, len(list))
	for _, s := range list {
		out = append(out, api.Secret{Name: s.Name, Namespace: s.Namespace})
	}
	return out, nil
}

// CreateSecret stores a new secret, or returns ErrExists.
func (p *Process) CreateSecret(_ context.Context, s api.Secret) error {
	s.Namespace = orDefault(s.Namespace)
	if err := p.checkSecret(s); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return storeError(p.st.CreateSecret(s.Namespace, s.Name, s.Bytes()))
}

// UpdateSecret replaces a secret's value and refreshes the copies of the
// functions that use it, or returns ErrNotFound.
func (p *Process) UpdateSecret(_ context.Context, s api.Secret) error {
	s.Namespace = orDefault(s.Namespace)
	if err := p.checkSecret(s); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.st.UpdateSecret(s.Namespace, s.Name, s.Bytes()); err != nil {
		return storeError(err)
	}
	for _, fn := range p.fns {
		if fn.key.namespace == s.Namespace && slices.Contains(fn.spec.dep.Secrets, s.Name) {
			if err := writeFileAtomic(filepath.Join(fn.secretsDir, s.Name), s.Bytes()); err != nil {
				return fmt.Errorf("refreshing secret of %s: %w", fn.key, err)
			}
		}
	}
	return nil
}

// DeleteSecret removes a secret; it refuses (ErrInvalid) while a function
// still names it.
func (p *Process) DeleteSecret(_ context.Context, name, namespace string) error {
	namespace = orDefault(namespace)
	if err := p.checkNamespace(namespace); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return storeError(p.st.DeleteSecret(namespace, name))
}

func (p *Process) checkSecret(s api.Secret) error {
	if err := api.ValidateName("secret", s.Name); err != nil {
		return &mappedError{provider.ErrInvalid, err}
	}
	return p.checkNamespace(s.Namespace)
}

// syncSecrets makes fn's secrets dir hold exactly the named secrets.
func (p *Process) syncSecrets(fn *function, names []string) error {
	for _, name := range names {
		v, err := p.st.SecretValue(fn.key.namespace, name)
		if err != nil {
			return storeError(err)
		}
		if err := writeFileAtomic(filepath.Join(fn.secretsDir, name), v); err != nil {
			return fmt.Errorf("copying secret %s: %w", name, err)
		}
	}
	entries, err := os.ReadDir(fn.secretsDir)
	if err != nil {
		return fmt.Errorf("reading secrets dir: %w", err)
	}
	for _, e := range entries {
		if !slices.Contains(names, e.Name()) {
			_ = os.Remove(filepath.Join(fn.secretsDir, e.Name()))
		}
	}
	return nil
}

// writeFileAtomic writes data with mode 0600 through a temporary file and
// a rename, so a reader sees the old or the new value, never half.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, werr := f.Write(data)
	cerr := f.Close()
	if werr != nil || cerr != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(path), errorsJoin(werr, cerr))
	}
	return os.Rename(f.Name(), path)
}

func orDefault(ns string) string {
	if ns == "" {
		return api.DefaultNamespace
	}
	return ns
}
