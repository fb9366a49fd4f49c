// Package auth owns authentication of the gateway's protected routes: HTTP
// basic auth with credentials read from files (the OpenFaaS
// basic-auth-user and basic-auth-password files), compared in constant time.
//
// It is a leaf: it imports only the standard library.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// File names inside the secrets folder, as OpenFaaS uses them.
const (
	UserFile     = "basic-auth-user"
	PasswordFile = "basic-auth-password"
)

// Credentials is one user name and password.
type Credentials struct {
	User     string
	Password string
}

// ReadCredentials reads basic-auth-user and basic-auth-password from dir,
// trimming white space as OpenFaaS does.
func ReadCredentials(dir string) (Credentials, error) {
	user, err := os.ReadFile(filepath.Join(dir, UserFile))
	if err != nil {
		return Credentials{}, fmt.Errorf("reading basic auth user: %w", err)
	}
	pass, err := os.ReadFile(filepath.Join(dir, PasswordFile))
	if err != nil {
		return Credentials{}, fmt.Errorf("reading basic auth password: %w", err)
	}
	c := Credentials{User: strings.TrimSpace(string(user)), Password: strings.TrimSpace(string(pass))}
	if c.User == "" || c.Password == "" {
		return Credentials{}, fmt.Errorf("basic auth files in %s are empty", dir)
	}
	return c, nil
}

// EnsureCredentials reads the credentials in dir, creating them first when
// absent: user "admin" and a random password, written with mode 0600 in a
// 0700 folder. created tells whether they were made now.
func EnsureCredentials(dir string) (c Credentials, created bool, err error) {
	c, err = ReadCredentials(dir)
	if err == nil {
		return c, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return Credentials{}, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Credentials{}, false, fmt.Errorf("creating secrets folder: %w", err)
	}
	c = Credentials{User: "admin", Password: randomPassword()}
	if err := writeFile(filepath.Join(dir, UserFile), c.User); err != nil {
		return Credentials{}, false, err
	}
	if err := writeFile(filepath.Join(dir, PasswordFile), c.Password); err != nil {
		return Credentials{}, false, err
	}
	return c, true, nil
}

func randomPassword() string {
	b := make([]byte, 24)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

func writeFile(path, content string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	return nil
}

// Basic checks HTTP basic auth against one set of credentials.
type Basic struct {
	user, pass [sha256.Size]byte
}

// NewBasic returns a checker for c.
func NewBasic(c Credentials) *Basic {
	return &Basic{user: sha256.Sum256([]byte(c.User)), pass: sha256.Sum256([]byte(c.Password))}
}

// Allow reports whether r carries the right credentials. Both parts are
// compared in constant time over fixed-length hashes, so neither the
// content nor the length of the secret leaks through timing.
func (b *Basic) Allow(r *http.Request) bool {
	u, p, ok := r.BasicAuth()
	if !ok {
		return false
	}
	hu, hp := sha256.Sum256([]byte(u)), sha256.Sum256([]byte(p))
	okUser := subtle.ConstantTimeCompare(hu[:], b.user[:])
	okPass := subtle.ConstantTimeCompare(hp[:], b.pass[:])
	return okUser&okPass == 1
}

// Wrap returns next guarded by b: requests without the right credentials get
// 401, WWW-Authenticate: Basic realm="Restricted" and "invalid credentials".
func (b *Basic) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !b.Allow(r) {
			Deny(w)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Deny writes the OpenFaaS 401 answer.
func Deny(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="Restricted"`)
	http.Error(w, "invalid credentials", http.StatusUnauthorized)
}
