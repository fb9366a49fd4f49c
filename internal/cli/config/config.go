// Package config reads and writes faas-cli's credentials file,
// ~/.openfaas/config.yml, in exactly the format faas-cli uses, so a
// `faas-cli login` is honoured by gofaas and a `gofaas login` by faas-cli. It
// also resolves the gateway URL as faas-cli does.
//
// It imports go.yaml.in/yaml/v3 and the standard library only. The
// environment and the home folder are passed in, never read here.
package config

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FileName is the credentials file's name inside its folder.
const FileName = "config.yml"

// The values of Auth.Auth.
const (
	// BasicAuth means Token is base64("user:password").
	BasicAuth = "basic"
	// OAuth2 means Token is a bearer token.
	OAuth2 = "oauth2"
)

// File is the credentials file. Keys gofaas does not know are kept as read.
type File struct {
	// Auths holds one entry per gateway.
	Auths []Auth `yaml:"auths"`
	// Rest keeps the other top-level keys.
	Rest map[string]any `yaml:",inline"`

	path string
}

// Auth is the credential of one gateway.
type Auth struct {
	// Gateway is the normalised gateway URL, the lookup key.
	Gateway string `yaml:"gateway,omitempty"`
	// Auth is BasicAuth or OAuth2.
	Auth string `yaml:"auth,omitempty"`
	// Token is base64("user:password") for basic, the raw token for oauth2.
	Token string `yaml:"token,omitempty"`
	// Options are faas-cli's extra settings (such as an OIDC client id).
	Options []Option `yaml:"options,omitempty"`
	// Rest keeps the other keys of the entry.
	Rest map[string]any `yaml:",inline"`
}

// Option is one name/value setting of an Auth entry.
type Option struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

// Dir returns the folder of the credentials file: $OPENFAAS_CONFIG, else
// ./.openfaas when CI is "true" or "1", else $HOME/.openfaas.
func Dir(getenv func(string) string, home func() (string, error)) (string, error) {
	if d := getenv("OPENFAAS_CONFIG"); d != "" {
		return d, nil
	}
	if ci := getenv("CI"); ci == "true" || ci == "1" {
		return ".openfaas", nil
	}
	h, err := home()
	if err != nil {
		return "", fmt.Errorf("finding the home folder: %w", err)
	}
	return filepath.Join(h, ".openfaas"), nil
}

// Load reads the credentials file in dir; a missing file gives an empty
// File that Save creates.
func Load(dir string) (*File, error) {
	path := filepath.Join(dir, FileName)
	f := &File{path: path}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading credentials: %w", err)
	}
	if err := yaml.Unmarshal(data, f); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	return f, nil
}

// Path returns where the file is read from and written to.
func (f *File) Path() string { return f.path }

// Lookup returns the entry of gateway, compared after normalisation.
func (f *File) Lookup(gateway string) (Auth, bool) {
	key := NormalizeURL(gateway)
	for _, a := range f.Auths {
		if NormalizeURL(a.Gateway) == key {
			return a, true
		}
	}
	return Auth{}, false
}

// Update replaces the entry of a.Gateway, or appends it; other entries are
// left as they are. The gateway is stored normalised.
func (f *File) Update(a Auth) {
	a.Gateway = NormalizeURL(a.Gateway)
	for i, old := range f.Auths {
		if NormalizeURL(old.Gateway) == a.Gateway {
			f.Auths[i] = a
			return
		}
	}
	f.Auths = append(f.Auths, a)
}

// Remove deletes the entry of gateway and reports whether there was one.
func (f *File) Remove(gateway string) bool {
	key := NormalizeURL(gateway)
	for i, a := range f.Auths {
		if NormalizeURL(a.Gateway) == key {
			f.Auths = append(f.Auths[:i], f.Auths[i+1:]...)
			return true
		}
	}
	return false
}

// Save writes the file atomically: the folder gets mode 0700 and the file
// 0600, as faas-cli makes them.
func (f *File) Save() error {
	if f.Auths == nil {
		f.Auths = []Auth{}
	}
	data, err := f.encode()
	if err != nil {
		return err
	}
	dir := filepath.Dir(f.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating the credentials folder: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".config-*.yml")
	if err != nil {
		return fmt.Errorf("writing credentials: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("writing credentials: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing credentials: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing credentials: %w", err)
	}
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		return fmt.Errorf("writing credentials: %w", err)
	}
	return nil
}

// encode writes the YAML as faas-cli (yaml.v2) does: two-space indent and
// list items flush with their key.
func (f *File) encode() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	enc.CompactSeqIndent()
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("encoding credentials: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding credentials: %w", err)
	}
	return buf.Bytes(), nil
}

// EncodeBasic returns the token of a basic entry: base64("user:password").
func EncodeBasic(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}

// DecodeBasic splits the token of a basic entry into user and password.
func DecodeBasic(token string) (user, password string, err error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(token))
	if err != nil {
		return "", "", fmt.Errorf("decoding a basic auth token: %w", err)
	}
	user, password, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", errors.New("basic auth token holds no user:password pair")
	}
	return user, password, nil
}
