package auth

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

func TestEnsureCredentials(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "secrets")
	c, created, err := EnsureCredentials(dir)
	if err != nil || !created {
		t.Fatalf("first call: created=%v err=%v", created, err)
	}
	if c.User != "admin" || len(c.Password) < 20 {
		t.Fatalf("got %+v, want admin and a long random password", c)
	}
	for _, f := range []string{UserFile, PasswordFile} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	again, created, err := EnsureCredentials(dir)
	if err != nil || created || again != c {
		t.Fatalf("second call: %+v created=%v err=%v; want the same credentials, not created", again, created, err)
	}
}

func TestReadCredentialsTrims(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, UserFile), []byte(" alice\n"), 0o600)
	os.WriteFile(filepath.Join(dir, PasswordFile), []byte("s3cret\n"), 0o600)
	c, err := ReadCredentials(dir)
	if err != nil || c != (Credentials{"alice", "s3cret"}) {
		t.Fatalf("got %+v, %v", c, err)
	}
}

func TestBasicWrap(t *testing.T) {
	t.Parallel()
	h := NewBasic(Credentials{"admin", "pw"}).Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	tests := []struct {
		name       string
		user, pass string
		set        bool
		want       int
	}{
		{"no header", "", "", false, http.StatusUnauthorized},
		{"wrong password", "admin", "nope", true, http.StatusUnauthorized},
		{"wrong user", "root", "pw", true, http.StatusUnauthorized},
		{"prefix of password", "admin", "p", true, http.StatusUnauthorized},
		{"right", "admin", "pw", true, http.StatusTeapot},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/system/functions", nil)
			if tt.set {
				r.SetBasicAuth(tt.user, tt.pass)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d", w.Code, tt.want)
			}
			if tt.want == http.StatusUnauthorized {
				if got := w.Header().Get("WWW-Authenticate"); got != `Basic realm="Restricted"` {
					t.Errorf("WWW-Authenticate = %q", got)
				}
				if got := w.Body.String(); got != "invalid credentials\n" {
					t.Errorf("body = %q", got)
				}
			}
		})
	}
}
