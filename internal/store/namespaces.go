package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/gofaas/gofaas/pkg/api"
)

// defaultNamespace is what Namespace returns for api.DefaultNamespace until
// it has been updated.
func defaultNamespace() api.FunctionNamespace {
	return api.FunctionNamespace{
		Name:        api.DefaultNamespace,
		Labels:      map[string]string{api.NamespaceMarkerLabel: api.NamespaceMarkerValue},
		Annotations: map[string]string{},
	}
}

func namespaceExists(tx *bolt.Tx, name string) bool {
	return name == api.DefaultNamespace || tx.Bucket(bucketNamespaces).Get([]byte(name)) != nil
}

// CreateNamespace stores a new namespace, or returns ErrExists (always for
// the default namespace).
func (s *Store) CreateNamespace(ns api.FunctionNamespace) error {
	if err := validName("namespace", ns.Name); err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		if namespaceExists(tx, ns.Name) {
			return fmt.Errorf("namespace %s: %w", ns.Name, ErrExists)
		}
		return putNamespace(tx, ns)
	})
}

// UpdateNamespace replaces a namespace's labels and annotations, or returns
// ErrNotFound.
func (s *Store) UpdateNamespace(ns api.FunctionNamespace) error {
	if err := validName("namespace", ns.Name); err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		if !namespaceExists(tx, ns.Name) {
			return fmt.Errorf("namespace %s: %w", ns.Name, ErrNotFound)
		}
		return putNamespace(tx, ns)
	})
}

func putNamespace(tx *bolt.Tx, ns api.FunctionNamespace) error {
	data, err := encodeNamespace(ns)
	if err != nil {
		return fmt.Errorf("encoding namespace: %w", err)
	}
	return tx.Bucket(bucketNamespaces).Put([]byte(ns.Name), data)
}

// Namespace returns one namespace, or ErrNotFound.
func (s *Store) Namespace(name string) (api.FunctionNamespace, error) {
	if err := validName("namespace", name); err != nil {
		return api.FunctionNamespace{}, err
	}
	var ns api.FunctionNamespace
	err := s.db.View(func(tx *bolt.Tx) error {
		data := tx.Bucket(bucketNamespaces).Get([]byte(name))
		switch {
		case data != nil:
			var err error
			ns, err = decodeNamespace([]byte(name), data)
			return err
		case name == api.DefaultNamespace:
			ns = defaultNamespace()
			return nil
		}
		return fmt.Errorf("namespace %s: %w", name, ErrNotFound)
	})
	return ns, err
}

// Namespaces lists every namespace: the default one first, then the others
// sorted by name.
func (s *Store) Namespaces() ([]api.FunctionNamespace, error) {
	out := []api.FunctionNamespace{defaultNamespace()}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketNamespaces).ForEach(func(k, v []byte) error {
			ns, err := decodeNamespace(k, v)
			if err != nil {
				return err
			}
			if ns.Name == api.DefaultNamespace {
				out[0] = ns
				return nil
			}
			out = append(out, ns)
			return nil
		})
	})
	return out, err
}

// DeleteNamespace removes an empty namespace. It returns ErrNotFound, an
// ErrInvalid for the default namespace, or an *InUseError listing the
// functions and secrets still in it.
func (s *Store) DeleteNamespace(name string) error {
	if err := validName("namespace", name); err != nil {
		return err
	}
	if name == api.DefaultNamespace {
		return fmt.Errorf("%w: the default namespace %s cannot be deleted", ErrInvalid, name)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketNamespaces)
		if b.Get([]byte(name)) == nil {
			return fmt.Errorf("namespace %s: %w", name, ErrNotFound)
		}
		fns, err := functionsUsing(tx, name, func(api.FunctionDeployment) bool { return true })
		if err != nil {
			return err
		}
		var secrets []string
		_ = forEachIn(tx.Bucket(bucketSecrets), name, func(k, _ []byte) error {
			secrets = append(secrets, string(k[len(name)+1:]))
			return nil
		})
		if len(fns) > 0 || len(secrets) > 0 {
			return &InUseError{Kind: "namespace", Name: name, Functions: fns, Secrets: secrets}
		}
		return b.Delete([]byte(name))
	})
}
