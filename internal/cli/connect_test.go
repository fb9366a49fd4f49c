package cli

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gofaas/gofaas/internal/cli/config"
)

func writeConfig(t *testing.T, dir, data string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, config.FileName), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func writeLocalSecrets(t *testing.T, dataDir, user, pass string) {
	t.Helper()
	dir := filepath.Join(dataDir, "secrets")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "basic-auth-user"), []byte(user+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "basic-auth-password"), []byte(pass+"\n"), 0o600)
}

func TestConnectGateway(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, flag, stack, envURL, want string
	}{
		{"default", config.DefaultGateway, "", "", "http://127.0.0.1:8080"},
		{"env", config.DefaultGateway, "", "http://env:1/", "http://env:1"},
		{"stack over env", config.DefaultGateway, "http://stack:2", "http://env:1", "http://stack:2"},
		{"flag over all", "HTTP://Flag:3", "http://stack:2", "http://env:1", "http://flag:3"},
		{"default stack gateway ignored", "", config.DefaultGateway, "http://env:1", "http://env:1"},
	}
	for _, tt := range tests {
		e := newEnv(t, tt.envURL, "")
		conn, err := e.f.Connect(GatewayFlags{Gateway: tt.flag}, tt.stack)
		if err != nil || conn.URL != tt.want {
			t.Errorf("%s: URL = %q, %v; want %q", tt.name, conn.URL, err, tt.want)
		}
	}
}

func TestConnectCredentials(t *testing.T) {
	t.Parallel()
	faasCLI := "auths:\n- gateway: http://127.0.0.1:8080\n  auth: basic\n  token: " + config.EncodeBasic("admin", "fromconfig") + "\n" +
		"- gateway: https://gw.example.com\n  auth: oauth2\n  token: jwt-token\n"
	tests := []struct {
		name       string
		gateway    string
		token      string
		config     bool
		local      bool
		dataDirEnv bool
		wantUser   string
		wantPass   string
		wantToken  string
	}{
		{"token flag wins", "http://127.0.0.1:8080", "flag-token", true, true, false, "", "", "flag-token"},
		{"config basic", "http://127.0.0.1:8080", "", true, true, false, "admin", "fromconfig", ""},
		{"config oauth2", "https://gw.example.com", "", true, false, false, "", "", "jwt-token"},
		{"local server secrets", "http://127.0.0.1:8080", "", false, true, false, "admin", "local", ""},
		{"localhost counts as local", "http://localhost:9999", "", false, true, false, "admin", "local", ""},
		{"GOFAAS_DATA_DIR", "http://127.0.0.1:8080", "", false, true, true, "admin", "local", ""},
		{"remote gateway gets no local secrets", "http://10.1.2.3:8080", "", false, true, false, "", "", ""},
		{"nothing", "http://127.0.0.1:8080", "", false, false, false, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "", "")
			if tt.config {
				writeConfig(t, filepath.Join(e.home, ".openfaas"), faasCLI)
			}
			if tt.local {
				dataDir := filepath.Join(e.home, ".gofaas")
				if tt.dataDirEnv {
					dataDir = filepath.Join(e.work, "data")
					e.vars["GOFAAS_DATA_DIR"] = dataDir
				}
				writeLocalSecrets(t, dataDir, "admin", "local")
			}
			conn, err := e.f.Connect(GatewayFlags{Gateway: tt.gateway, Token: tt.token}, "")
			if err != nil {
				t.Fatal(err)
			}
			if conn.User != tt.wantUser || conn.Password != tt.wantPass || conn.Token != tt.wantToken {
				t.Errorf("credentials = %q/%q token %q; want %q/%q token %q", conn.User, conn.Password, conn.Token, tt.wantUser, tt.wantPass, tt.wantToken)
			}
		})
	}
}

func TestConnectConfigDirFromEnv(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "", "")
	dir := filepath.Join(e.work, "cfg")
	e.vars["OPENFAAS_CONFIG"] = dir
	writeConfig(t, dir, "auths:\n- gateway: http://127.0.0.1:8080\n  auth: basic\n  token: "+config.EncodeBasic("u", "p")+"\n")
	conn, err := e.f.Connect(GatewayFlags{}, "")
	if err != nil || conn.User != "u" || conn.From != filepath.Join(dir, config.FileName) {
		t.Errorf("Connect = %+v, %v", conn, err)
	}
}

func TestConnectBadConfig(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "", "")
	writeConfig(t, filepath.Join(e.home, ".openfaas"), "auths: [unclosed\n")
	if _, err := e.f.Connect(GatewayFlags{}, ""); err == nil {
		t.Error("a broken config file was ignored")
	}
}

func TestDumpHTTP(t *testing.T) {
	t.Parallel()
	gw := newFakeGateway(t, map[string]route{"GET /system/functions": {200, "[]", nil}})
	e := newEnv(t, gw.URL(), "")
	e.vars["OPENFAAS_DUMP_HTTP"] = "true"
	e.mustRun(t, "list", "--token", "secret-token")
	if got := e.errOut.String(); !contains(got, "GET "+gw.URL()+"/system/functions") || contains(got, "secret-token") {
		t.Errorf("dump on stderr:\n%s", got)
	}
	if r := gw.requests()[0]; r.Header.Get("User-Agent") != "gofaas/1.2.3" || r.Auth != "Bearer secret-token" {
		t.Errorf("User-Agent %q, Authorization %q", r.Header.Get("User-Agent"), r.Auth)
	}
}

func TestTLSNoVerify(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "[]")
	}))
	t.Cleanup(srv.Close)
	e := newEnv(t, srv.URL, "")
	if err := e.run(t, "list"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("list against a self-signed gateway: %v, want a certificate error", err)
	}
	e.mustRun(t, "list", "--tls-no-verify")
}
