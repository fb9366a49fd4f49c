package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gofaas/gofaas/internal/cli/config"
)

func TestLogin(t *testing.T) {
	t.Parallel()
	existing := "auths:\n- gateway: https://other.example.com\n  auth: oauth2\n  token: keep-me\n"
	tests := []struct {
		name      string
		code      int
		args      []string
		stdin     string
		wantSaved bool
		wantErr   string
		wantWarn  bool
	}{
		{"stdin", 200, []string{"login", "--password-stdin"}, "secret\n", true, "", false},
		{"password flag warns", 200, []string{"login", "-u", "admin", "-p", "secret"}, "", true, "", true},
		{"wrong password", 401, []string{"login", "-s"}, "secret", false, "wrong user or password", false},
		{"server error", 500, []string{"login", "-s"}, "secret", false, "500", false},
		{"empty password", 200, []string{"login", "-s"}, "  \n", false, "no password", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gw := newFakeGateway(t, map[string]route{"GET /system/functions": {tt.code, "[]", nil}})
			e := newEnv(t, "", tt.stdin)
			cfgDir := filepath.Join(e.home, ".openfaas")
			writeConfig(t, cfgDir, existing)
			err := e.run(t, append(tt.args, "-g", gw.URL())...)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("login: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("login error = %v, want %q", err, tt.wantErr)
			}
			if got := strings.Contains(e.errOut.String(), "WARNING! Using --password is insecure"); got != tt.wantWarn {
				t.Errorf("warning shown = %v, want %v; stderr %q", got, tt.wantWarn, e.errOut)
			}
			file, err := config.Load(cfgDir)
			if err != nil {
				t.Fatal(err)
			}
			a, saved := file.Lookup(gw.URL())
			if saved != tt.wantSaved {
				t.Fatalf("saved = %v, want %v", saved, tt.wantSaved)
			}
			if other, ok := file.Lookup("https://other.example.com"); !ok || other.Token != "keep-me" {
				t.Errorf("the other gateway's entry changed: %+v", other)
			}
			if !saved {
				return
			}
			if a.Auth != "basic" || a.Token != config.EncodeBasic("admin", "secret") {
				t.Errorf("saved entry = %+v", a)
			}
			if want := "credentials saved for admin " + gw.URL(); !strings.Contains(e.out.String(), want) {
				t.Errorf("stdout %q lacks %q", e.out, want)
			}
			if r := gw.requests()[0]; r.Auth != "Basic YWRtaW46c2VjcmV0" || r.Path != "/system/functions" {
				t.Errorf("login request = %+v", r)
			}
		})
	}
}

func TestLoginUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"login", "-p", "x", "--password-stdin"},
		{"login", "-u", "", "-s"},
		{"login", "--bogus"},
		{"login", "extra-arg"},
	} {
		e := newEnv(t, "", "")
		if err := e.run(t, args...); !isUsage(err) {
			t.Errorf("%v: error = %v, want a usage error", args, err)
		}
	}
}

func TestLogout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "http://10.0.0.1:8080", "")
	dir := filepath.Join(e.home, ".openfaas")
	writeConfig(t, dir, "auths:\n- gateway: http://10.0.0.1:8080\n  auth: basic\n  token: eDp5\n- gateway: http://b\n  auth: basic\n  token: eDp6\n")
	e.mustRun(t, "logout")
	data, _ := os.ReadFile(filepath.Join(dir, config.FileName))
	if want := "auths:\n- gateway: http://b\n  auth: basic\n  token: eDp6\n"; string(data) != want {
		t.Errorf("after logout:\n%s\nwant:\n%s", data, want)
	}
	if err := e.run(t, "logout"); err == nil || !strings.Contains(err.Error(), "no credentials saved") {
		t.Errorf("second logout: %v", err)
	}
}

// TestLoginThenCall checks that saved credentials are sent by later verbs.
func TestLoginThenCall(t *testing.T) {
	t.Parallel()
	gw := newFakeGateway(t, map[string]route{"GET /system/functions": {200, "[]", nil}})
	e := newEnv(t, gw.URL(), "pw")
	e.mustRun(t, "login", "-u", "bob", "--password-stdin")
	e.mustRun(t, "list")
	reqs := gw.requests()
	if got := reqs[len(reqs)-1].Auth; got != "Basic "+config.EncodeBasic("bob", "pw") {
		t.Errorf("list sent %q", got)
	}
}
