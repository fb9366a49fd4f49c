package config

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// faasCLIFile is a credentials file as `faas-cli login` writes it for two
// gateways, one with options.
const faasCLIFile = `auths:
- gateway: http://127.0.0.1:8080
  auth: basic
  token: YWRtaW46c2VjcmV0
- gateway: https://gw.example.com
  auth: oauth2
  token: eyJhbGciOi
  options:
  - name: client_id
    value: abc
`

func writeFile(t *testing.T, dir, data string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestDir(t *testing.T) {
	t.Parallel()
	home := func() (string, error) { return "/home/u", nil }
	noHome := func() (string, error) { return "", errors.New("no home") }
	tests := []struct {
		name string
		env  map[string]string
		home func() (string, error)
		want string
		ok   bool
	}{
		{"home", nil, home, "/home/u/.openfaas", true},
		{"OPENFAAS_CONFIG wins", map[string]string{"OPENFAAS_CONFIG": "/etc/of", "CI": "true"}, noHome, "/etc/of", true},
		{"CI=true", map[string]string{"CI": "true"}, noHome, ".openfaas", true},
		{"CI=1", map[string]string{"CI": "1"}, noHome, ".openfaas", true},
		{"CI=false", map[string]string{"CI": "false"}, home, "/home/u/.openfaas", true},
		{"no home", nil, noHome, "", false},
	}
	for _, tt := range tests {
		got, err := Dir(func(k string) string { return tt.env[k] }, tt.home)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("%s: Dir = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

func TestRoundTripWithFaasCLIFile(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), ".openfaas")
	writeFile(t, dir, faasCLIFile)
	f, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, ok := f.Lookup("HTTP://127.0.0.1:8080/")
	if !ok || a.Auth != BasicAuth {
		t.Fatalf("Lookup = %+v, %v", a, ok)
	}
	user, pass, err := DecodeBasic(a.Token)
	if err != nil || user != "admin" || pass != "secret" {
		t.Errorf("DecodeBasic = %q, %q, %v", user, pass, err)
	}
	if o, _ := f.Lookup("https://gw.example.com"); len(o.Options) != 1 || o.Options[0].Value != "abc" {
		t.Errorf("oauth2 entry = %+v", o)
	}

	// Saving unchanged writes back what faas-cli wrote.
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, FileName))
	if string(data) != faasCLIFile {
		t.Errorf("saved file differs from faas-cli's:\n%s\nwant:\n%s", data, faasCLIFile)
	}

	f.Update(Auth{Gateway: "http://127.0.0.1:8080", Auth: BasicAuth, Token: EncodeBasic("admin", "new")})
	f.Update(Auth{Gateway: "HTTP://10.0.0.1:8080/", Auth: BasicAuth, Token: EncodeBasic("u", "p")})
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(filepath.Join(dir, FileName))
	want := strings.Replace(faasCLIFile, "YWRtaW46c2VjcmV0", EncodeBasic("admin", "new"), 1) +
		"- gateway: http://10.0.0.1:8080\n  auth: basic\n  token: " + EncodeBasic("u", "p") + "\n"
	if string(data) != want {
		t.Errorf("after Update:\n%s\nwant:\n%s", data, want)
	}

	if !f.Remove("http://127.0.0.1:8080") || f.Remove("http://127.0.0.1:8080") {
		t.Error("Remove did not report the entry exactly once")
	}
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	g, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Auths) != 2 || g.Auths[0].Gateway != "https://gw.example.com" || g.Auths[1].Gateway != "http://10.0.0.1:8080" {
		t.Errorf("after Remove: %+v", g.Auths)
	}
}

func TestUnknownKeysKept(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "auths:\n- gateway: http://a\n  auth: basic\n  token: eDp5\n  future: 1\nplugins: [x]\n")
	f, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	f.Update(Auth{Gateway: "http://b", Auth: BasicAuth, Token: "eDp6"})
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, FileName))
	for _, want := range []string{"future: 1", "plugins:", "http://b"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("saved file lacks %q:\n%s", want, data)
		}
	}
}

func TestSaveModes(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("no POSIX modes")
	}
	dir := filepath.Join(t.TempDir(), "new", ".openfaas")
	f, err := Load(dir)
	if err != nil || len(f.Auths) != 0 {
		t.Fatalf("Load of a missing file = %+v, %v", f, err)
	}
	f.Update(Auth{Gateway: "http://127.0.0.1:8080", Auth: BasicAuth, Token: EncodeBasic("a", "b")})
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, FileName): 0o600} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s mode = %o, want %o", path, st.Mode().Perm(), want)
		}
	}
}

func TestLoadBadFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "auths: {not: a list\n")
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), FileName) {
		t.Errorf("Load of bad YAML: %v", err)
	}
}

func TestDecodeBasic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		token, user, pass string
		ok                bool
	}{
		{EncodeBasic("admin", "pa:ss"), "admin", "pa:ss", true},
		{EncodeBasic("", ""), "", "", true},
		{"not base64!", "", "", false},
		{"YWRtaW4=", "", "", false}, // "admin", no colon
	}
	for _, tt := range tests {
		u, p, err := DecodeBasic(tt.token)
		if (err == nil) != tt.ok || u != tt.user || p != tt.pass {
			t.Errorf("DecodeBasic(%q) = %q, %q, %v", tt.token, u, p, err)
		}
	}
}

func TestResolveGateway(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, flag, stack, env, want string
	}{
		{"nothing", "", "", "", "http://127.0.0.1:8080"},
		{"flag default is ignored", DefaultGateway, "", "http://env:8080", "http://env:8080"},
		{"flag wins", "http://flag:1", "http://stack:2", "http://env:3", "http://flag:1"},
		{"stack over env", "", "http://stack:2", "http://env:3", "http://stack:2"},
		{"stack default is ignored", "", DefaultGateway, "http://env:3", "http://env:3"},
		{"env", "", "", "http://env:3/", "http://env:3"},
		{"normalised", "GW.Example.com:8080//", "", "", "http://gw.example.com:8080"},
		{"https kept", "HTTPS://gw", "", "", "https://gw"},
	}
	for _, tt := range tests {
		if got := ResolveGateway(tt.flag, tt.stack, tt.env); got != tt.want {
			t.Errorf("%s: ResolveGateway(%q, %q, %q) = %q, want %q", tt.name, tt.flag, tt.stack, tt.env, got, tt.want)
		}
	}
}

// FuzzLoad checks that any file either fails to parse or survives a save and
// a second load with the same entries.
func FuzzLoad(f *testing.F) {
	f.Add(faasCLIFile)
	f.Add("auths: []\n")
	f.Add("x: 1\n")
	f.Fuzz(func(t *testing.T, data string) {
		dir := t.TempDir()
		writeFile(t, dir, data)
		c, err := Load(dir)
		if err != nil {
			return
		}
		if err := c.Save(); err != nil {
			return
		}
		d, err := Load(dir)
		if err != nil {
			t.Fatalf("reloading a saved file: %v", err)
		}
		if len(d.Auths) != len(c.Auths) {
			t.Fatalf("entries %d after reload, %d before", len(d.Auths), len(c.Auths))
		}
	})
}

// FuzzNormalizeURL checks that normalising is idempotent, so a URL stored
// by one run is found again by the next.
func FuzzNormalizeURL(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:8080/", "GW:8080", "HTTPS://x//", "", " /"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := NormalizeURL(s)
		if again := NormalizeURL(n); again != n {
			t.Fatalf("NormalizeURL(%q) = %q, then %q", s, n, again)
		}
	})
}
