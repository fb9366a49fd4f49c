package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/gofaas/gofaas/pkg/api"
)

// SecretPath is the file holding a secret's value.
func (s *Store) SecretPath(namespace, name string) string {
	return filepath.Join(s.dataDir, SecretsDir, namespace, name)
}

// CreateSecret stores a new secret. It returns ErrExists, or a *MissingError
// if the namespace does not exist.
func (s *Store) CreateSecret(namespace, name string, value []byte) error {
	if err := validKey(namespace, name, "secret"); err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		if !namespaceExists(tx, namespace) {
			return &MissingError{Kind: "namespace", Name: namespace}
		}
		b := tx.Bucket(bucketSecrets)
		k := key(namespace, name)
		if b.Get(k) != nil {
			return fmt.Errorf("secret %s in %s: %w", name, namespace, ErrExists)
		}
		now := s.now().UTC()
		return s.putSecret(b, Secret{Name: name, Namespace: namespace, CreatedAt: now, UpdatedAt: now}, value)
	})
}

// UpdateSecret replaces a secret's value, or returns ErrNotFound.
func (s *Store) UpdateSecret(namespace, name string, value []byte) error {
	if err := validKey(namespace, name, "secret"); err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSecrets)
		k := key(namespace, name)
		data := b.Get(k)
		if data == nil {
			return fmt.Errorf("secret %s in %s: %w", name, namespace, ErrNotFound)
		}
		meta, err := decodeSecret(k, data)
		if err != nil {
			return err
		}
		meta.UpdatedAt = s.now().UTC()
		return s.putSecret(b, meta, value)
	})
}

// putSecret records the metadata and writes the value file; it runs inside
// the transaction, so a failed write rolls the metadata back.
func (s *Store) putSecret(b *bolt.Bucket, meta Secret, value []byte) error {
	data, err := encodeSecret(meta)
	if err != nil {
		return fmt.Errorf("encoding secret: %w", err)
	}
	if err := b.Put(key(meta.Namespace, meta.Name), data); err != nil {
		return err
	}
	return writeFileAtomic(s.SecretPath(meta.Namespace, meta.Name), value)
}

// DeleteSecret removes a secret and its value. It returns ErrNotFound, or an
// *InUseError naming the functions of the namespace that still use it.
func (s *Store) DeleteSecret(namespace, name string) error {
	if err := validKey(namespace, name, "secret"); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSecrets)
		k := key(namespace, name)
		if b.Get(k) == nil {
			return fmt.Errorf("secret %s in %s: %w", name, namespace, ErrNotFound)
		}
		users, err := functionsUsing(tx, namespace, func(d api.FunctionDeployment) bool {
			return slices.Contains(d.Secrets, name)
		})
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return &InUseError{Kind: "secret", Name: name, Functions: users}
		}
		return b.Delete(k)
	})
	if err != nil {
		return err
	}
	// The metadata is gone; a value file left by a crash here is harmless
	// because CreateSecret overwrites it.
	if err := os.Remove(s.SecretPath(namespace, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing secret value: %w", err)
	}
	return nil
}

// Secrets lists the secrets of a namespace ("" = all), without values.
func (s *Store) Secrets(namespace string) ([]Secret, error) {
	var out []Secret
	err := s.db.View(func(tx *bolt.Tx) error {
		return forEachIn(tx.Bucket(bucketSecrets), namespace, func(k, v []byte) error {
			meta, err := decodeSecret(k, v)
			if err != nil {
				return err
			}
			out = append(out, meta)
			return nil
		})
	})
	return out, err
}

// SecretValue reads a secret's value, or returns ErrNotFound.
func (s *Store) SecretValue(namespace, name string) ([]byte, error) {
	if err := validKey(namespace, name, "secret"); err != nil {
		return nil, err
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketSecrets).Get(key(namespace, name)) == nil {
			return fmt.Errorf("secret %s in %s: %w", name, namespace, ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	v, err := os.ReadFile(s.SecretPath(namespace, name))
	if err != nil {
		return nil, fmt.Errorf("reading secret value: %w", err)
	}
	return v, nil
}

// writeFileAtomic writes data to path with mode 0600 through a temporary
// file, fsync and rename, creating parent directories with mode 0700.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating secret dir: %w", err)
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("creating temp file: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
		return fmt.Errorf("chmod temp file: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("writing temp file: %w", err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("syncing temp file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing temp file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("renaming secret file: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing dir: %w", err)
	}
	return nil
}
