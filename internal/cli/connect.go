package cli

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gofaas/gofaas/internal/cli/config"
	"github.com/gofaas/gofaas/pkg/client"
)

// GatewayFlags are the flags of every verb that calls the gateway.
type GatewayFlags struct {
	// Gateway is --gateway/-g; the default value counts as unset.
	Gateway string
	// Token is --token/-k, a bearer token used instead of saved credentials.
	Token string
	// TLSNoVerify is --tls-no-verify.
	TLSNoVerify bool
}

func addGatewayFlags(cmd *cobra.Command, g *GatewayFlags) {
	fs := cmd.Flags()
	fs.StringVarP(&g.Gateway, "gateway", "g", config.DefaultGateway, "gateway URL starting with http(s)://")
	fs.StringVarP(&g.Token, "token", "k", "", "bearer token to send instead of the saved credentials")
	fs.BoolVar(&g.TLSNoVerify, "tls-no-verify", false, "do not check the gateway's TLS certificate")
}

// Connection is a resolved gateway URL and the credentials to use with it.
type Connection struct {
	// URL is the normalised gateway URL.
	URL string
	// User and Password are basic auth credentials; empty when none.
	User, Password string
	// Token is a bearer token; it wins over User and Password.
	Token string
	// From says where the credentials came from: "--token", the config
	// file's path, or the gofaas data dir's secrets folder; empty when none.
	From string
	// TLSNoVerify turns certificate checks off.
	TLSNoVerify bool
}

// Connect resolves the gateway (see config.ResolveGateway; stackGateway is
// the stack file's provider.gateway, or empty) and its credentials: --token,
// else the faas-cli config entry of that gateway, else, for a gateway on
// this machine, the credentials `gofaas server` keeps in its data dir.
func (f *Factory) Connect(g GatewayFlags, stackGateway string) (Connection, error) {
	conn := Connection{
		URL:         config.ResolveGateway(g.Gateway, stackGateway, f.Getenv("OPENFAAS_URL")),
		TLSNoVerify: g.TLSNoVerify,
	}
	if g.Token != "" {
		conn.Token, conn.From = g.Token, "--token"
		return conn, nil
	}
	found, err := f.savedCredentials(&conn)
	if err != nil || found || !isLoopback(conn.URL) {
		return conn, err
	}
	return conn, f.localServerCredentials(&conn)
}

// savedCredentials fills conn from the faas-cli config file.
func (f *Factory) savedCredentials(conn *Connection) (bool, error) {
	dir, err := config.Dir(f.Getenv, f.HomeDir)
	if err != nil {
		return false, err
	}
	file, err := config.Load(dir)
	if err != nil {
		return false, err
	}
	a, ok := file.Lookup(conn.URL)
	if !ok {
		return false, nil
	}
	conn.From = file.Path()
	if a.Auth == config.OAuth2 {
		conn.Token = a.Token
		return true, nil
	}
	conn.User, conn.Password, err = config.DecodeBasic(a.Token)
	if err != nil {
		return false, fmt.Errorf("credentials of %s in %s: %w", conn.URL, file.Path(), err)
	}
	return true, nil
}

// localServerCredentials fills conn from the secrets `gofaas server` writes
// under its data dir ($GOFAAS_DATA_DIR, default ~/.gofaas); missing files
// leave conn without credentials.
func (f *Factory) localServerCredentials(conn *Connection) error {
	dir, err := f.dataDir()
	if err != nil {
		return nil
	}
	secrets := filepath.Join(dir, "secrets")
	user, uerr := os.ReadFile(filepath.Join(secrets, "basic-auth-user"))
	pass, perr := os.ReadFile(filepath.Join(secrets, "basic-auth-password"))
	switch {
	case errors.Is(uerr, fs.ErrNotExist) || errors.Is(perr, fs.ErrNotExist):
		return nil
	case uerr != nil:
		return fmt.Errorf("reading the local server's credentials: %w", uerr)
	case perr != nil:
		return fmt.Errorf("reading the local server's credentials: %w", perr)
	}
	conn.User = strings.TrimSpace(string(user))
	conn.Password = strings.TrimSpace(string(pass))
	conn.From = secrets
	return nil
}

// dataDir is the data dir of a local `gofaas server`.
func (f *Factory) dataDir() (string, error) {
	dir := f.Getenv("GOFAAS_DATA_DIR")
	if dir == "" {
		dir = "~/.gofaas"
	}
	if dir == "~" || strings.HasPrefix(dir, "~/") {
		home, err := f.HomeDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(home, strings.TrimPrefix(dir, "~"))
	}
	return dir, nil
}

// isLoopback reports whether the gateway URL names this machine.
func isLoopback(gateway string) bool {
	u, err := url.Parse(gateway)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// NewClient returns a client of conn's gateway with its credentials, the
// gofaas User-Agent and, when OPENFAAS_DUMP_HTTP=true or FAAS_DEBUG=1, a
// dump of every call on stderr. extra options come last and win.
func (f *Factory) NewClient(conn Connection, extra ...client.Option) (*client.Client, error) {
	hc := f.HTTPClient()
	if conn.TLSNoVerify {
		hc = insecure(hc)
	}
	opts := []client.Option{
		client.WithHTTPClient(hc),
		client.WithUserAgent("gofaas/" + f.Version),
	}
	switch {
	case conn.Token != "":
		opts = append(opts, client.WithToken(conn.Token))
	case conn.User != "" || conn.Password != "":
		opts = append(opts, client.WithBasicAuth(conn.User, conn.Password))
	}
	if f.Getenv("OPENFAAS_DUMP_HTTP") == "true" || f.Getenv("FAAS_DEBUG") == "1" {
		opts = append(opts, client.WithDump(f.IO.ErrOut))
	}
	return client.New(conn.URL, append(opts, extra...)...)
}

// Client resolves the connection (see Connect) and returns a client of it.
func (f *Factory) Client(g GatewayFlags, stackGateway string) (*client.Client, Connection, error) {
	conn, err := f.Connect(g, stackGateway)
	if err != nil {
		return nil, conn, err
	}
	c, err := f.NewClient(conn)
	return c, conn, err
}

// insecure returns a copy of hc whose transport skips certificate checks.
func insecure(hc *http.Client) *http.Client {
	cp := *hc
	var t *http.Transport
	if ht, ok := hc.Transport.(*http.Transport); ok {
		t = ht.Clone()
	} else {
		t = http.DefaultTransport.(*http.Transport).Clone()
	}
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{}
	}
	t.TLSClientConfig.InsecureSkipVerify = true
	cp.Transport = t
	return &cp
}
