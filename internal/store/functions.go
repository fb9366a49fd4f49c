package store

import (
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/gofaas/gofaas/pkg/api"
)

// CreateFunction stores a new function. f.Deployment.Namespace must be set.
// It returns ErrExists if the name is taken and a *MissingError if the
// namespace or a named secret does not exist.
func (s *Store) CreateFunction(f Function) error {
	d := f.Deployment
	if err := validKey(d.Namespace, d.Service, "function"); err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketFunctions)
		k := key(d.Namespace, d.Service)
		if b.Get(k) != nil {
			return fmt.Errorf("function %s.%s: %w", d.Service, d.Namespace, ErrExists)
		}
		if err := checkRefs(tx, d); err != nil {
			return err
		}
		return putFunction(b, k, f)
	})
}

// UpdateFunction replaces a stored function's deployment, keeping its
// replica count and creation time, and returns the new record. It returns
// ErrNotFound if there is no such function and a *MissingError if a named
// secret does not exist.
func (s *Store) UpdateFunction(d api.FunctionDeployment) (Function, error) {
	if err := validKey(d.Namespace, d.Service, "function"); err != nil {
		return Function{}, err
	}
	var out Function
	err := s.modifyFunction(d.Namespace, d.Service, func(tx *bolt.Tx, f *Function) error {
		if err := checkRefs(tx, d); err != nil {
			return err
		}
		f.Deployment = d
		out = *f
		return nil
	})
	return out, err
}

// SetReplicas records a function's desired replica count.
func (s *Store) SetReplicas(namespace, name string, replicas uint64) error {
	return s.modifyFunction(namespace, name, func(_ *bolt.Tx, f *Function) error {
		f.Replicas = replicas
		return nil
	})
}

func (s *Store) modifyFunction(namespace, name string, change func(*bolt.Tx, *Function) error) error {
	if err := validKey(namespace, name, "function"); err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketFunctions)
		k := key(namespace, name)
		data := b.Get(k)
		if data == nil {
			return fmt.Errorf("function %s.%s: %w", name, namespace, ErrNotFound)
		}
		f, err := decodeFunction(k, data)
		if err != nil {
			return err
		}
		if err := change(tx, &f); err != nil {
			return err
		}
		return putFunction(b, k, f)
	})
}

// Function returns one stored function, or ErrNotFound.
func (s *Store) Function(namespace, name string) (Function, error) {
	if err := validKey(namespace, name, "function"); err != nil {
		return Function{}, err
	}
	var f Function
	err := s.db.View(func(tx *bolt.Tx) error {
		k := key(namespace, name)
		data := tx.Bucket(bucketFunctions).Get(k)
		if data == nil {
			return fmt.Errorf("function %s.%s: %w", name, namespace, ErrNotFound)
		}
		var err error
		f, err = decodeFunction(k, data)
		return err
	})
	return f, err
}

// Functions lists the functions of a namespace, or of every namespace when
// namespace is empty, sorted by namespace then name.
func (s *Store) Functions(namespace string) ([]Function, error) {
	var out []Function
	err := s.db.View(func(tx *bolt.Tx) error {
		return forEachIn(tx.Bucket(bucketFunctions), namespace, func(k, v []byte) error {
			f, err := decodeFunction(k, v)
			if err != nil {
				return err
			}
			out = append(out, f)
			return nil
		})
	})
	return out, err
}

// DeleteFunction removes a function, or returns ErrNotFound.
func (s *Store) DeleteFunction(namespace, name string) error {
	if err := validKey(namespace, name, "function"); err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketFunctions)
		k := key(namespace, name)
		if b.Get(k) == nil {
			return fmt.Errorf("function %s.%s: %w", name, namespace, ErrNotFound)
		}
		return b.Delete(k)
	})
}

func putFunction(b *bolt.Bucket, k []byte, f Function) error {
	data, err := encodeFunction(f)
	if err != nil {
		return fmt.Errorf("encoding function: %w", err)
	}
	return b.Put(k, data)
}

// checkRefs checks that a deployment's namespace and secrets exist.
func checkRefs(tx *bolt.Tx, d api.FunctionDeployment) error {
	if !namespaceExists(tx, d.Namespace) {
		return &MissingError{Kind: "namespace", Name: d.Namespace}
	}
	sb := tx.Bucket(bucketSecrets)
	for _, name := range d.Secrets {
		if api.ValidateName("secret", name) != nil || sb.Get(key(d.Namespace, name)) == nil {
			return &MissingError{Kind: "secret", Name: name}
		}
	}
	return nil
}

// forEachIn calls fn for every key of b in namespace ("" = all).
func forEachIn(b *bolt.Bucket, namespace string, fn func(k, v []byte) error) error {
	c := b.Cursor()
	prefix := []byte(namespace + "/")
	if namespace == "" {
		prefix = nil
	}
	for k, v := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, v = c.Next() {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

func hasPrefix(b, prefix []byte) bool {
	return len(b) >= len(prefix) && string(b[:len(prefix)]) == string(prefix)
}

// functionsUsing returns the names of the functions in namespace whose
// deployment matches use, sorted.
func functionsUsing(tx *bolt.Tx, namespace string, use func(api.FunctionDeployment) bool) ([]string, error) {
	var names []string
	err := forEachIn(tx.Bucket(bucketFunctions), namespace, func(k, v []byte) error {
		f, err := decodeFunction(k, v)
		if err != nil {
			return err
		}
		if use(f.Deployment) {
			names = append(names, f.Deployment.Service)
		}
		return nil
	})
	slices.Sort(names)
	return names, err
}
