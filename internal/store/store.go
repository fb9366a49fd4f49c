package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gofaas/gofaas/pkg/api"
)

// Errors returned by the Store, wrapped with %w. Referential problems are
// *MissingError and *InUseError values instead.
var (
	// ErrNotFound: no such function, namespace or secret.
	ErrNotFound = errors.New("not found")
	// ErrExists: the function, namespace or secret already exists.
	ErrExists = errors.New("already exists")
	// ErrInvalid: a name is not a DNS-1123 label, or the change is not allowed.
	ErrInvalid = errors.New("invalid")
)

// MissingError says that something a change refers to does not exist.
type MissingError struct {
	// Kind is "namespace" or "secret".
	Kind string
	// Name is the missing thing's name.
	Name string
}

func (e *MissingError) Error() string { return fmt.Sprintf("%s %q does not exist", e.Kind, e.Name) }

// InUseError says that something cannot be deleted because others use it.
type InUseError struct {
	// Kind is "secret" or "namespace".
	Kind string
	// Name is the thing that was to be deleted.
	Name string
	// Functions and Secrets name what still uses it.
	Functions []string
	Secrets   []string
}

func (e *InUseError) Error() string {
	msg := fmt.Sprintf("%s %q is in use", e.Kind, e.Name)
	if len(e.Functions) > 0 {
		msg += fmt.Sprintf("; functions: %s", joinNames(e.Functions))
	}
	if len(e.Secrets) > 0 {
		msg += fmt.Sprintf("; secrets: %s", joinNames(e.Secrets))
	}
	return msg
}

// File and directory names under the data dir.
const (
	// DBFile is the bbolt database under the data dir.
	DBFile = "state.db"
	// SecretsDir holds secret values as <namespace>/<name> files.
	SecretsDir = "fn-secrets"
)

var (
	bucketFunctions  = []byte("functions")
	bucketNamespaces = []byte("namespaces")
	bucketSecrets    = []byte("secrets")
)

// Store is the persistent state. It is safe for concurrent use.
type Store struct {
	db      *bolt.DB
	dataDir string
	now     func() time.Time
}

// Open opens (creating if needed) the state under dataDir. It fails after a
// second if another process holds the database.
func Open(dataDir string) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dataDir, SecretsDir), 0o700); err != nil {
		return nil, fmt.Errorf("creating data dir: %w", err)
	}
	db, err := bolt.Open(filepath.Join(dataDir, DBFile), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", DBFile, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketFunctions, bucketNamespaces, bucketSecrets} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("creating buckets: %w", err)
	}
	return &Store{db: db, dataDir: dataDir, now: time.Now}, nil
}

// Close closes the database.
func (s *Store) Close() error {
	return s.db.Close()
}

// DataDir is the directory the store was opened in.
func (s *Store) DataDir() string { return s.dataDir }

func key(namespace, name string) []byte {
	return []byte(namespace + "/" + name)
}

func validName(what, name string) error {
	if err := api.ValidateName(what, name); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

func validKey(namespace, name, what string) error {
	if err := validName("namespace", namespace); err != nil {
		return err
	}
	return validName(what, name)
}

func joinNames(names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ", "
		}
		out += n
	}
	return out
}
