package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gofaas/gofaas/internal/cli/config"
)

// LoginOptions are the parsed flags of `gofaas login`.
type LoginOptions struct {
	f             *Factory
	Gateway       GatewayFlags
	Username      string
	Password      string
	PasswordStdin bool
}

// NewCmdLogin returns `gofaas login`; runF, when not nil, replaces the run
// (for tests).
func NewCmdLogin(f *Factory, runF func(*LoginOptions) error) *cobra.Command {
	opts := &LoginOptions{f: f}
	cmd := &cobra.Command{
		Use:   "login [-u USER] [-p PASSWORD | --password-stdin] [-g GATEWAY]",
		Short: "Save the credentials of a gateway",
		Long: `Check a user and password against the gateway (GET /system/functions) and,
when it accepts them, save them in the faas-cli config file
(~/.openfaas/config.yml), where faas-cli finds them too.`,
		Example: `  cat ~/.gofaas/secrets/basic-auth-password | gofaas login --password-stdin
  gofaas login -u admin -p secret -g http://10.0.0.2:8080`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Username == "" {
				return usageError(cmd, "--username must not be empty")
			}
			if opts.Password != "" && opts.PasswordStdin {
				return usageError(cmd, "--password and --password-stdin are mutually exclusive")
			}
			if runF != nil {
				return runF(opts)
			}
			return loginRun(cmd.Context(), opts)
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&opts.Gateway.Gateway, "gateway", "g", config.DefaultGateway, "gateway URL starting with http(s)://")
	fs.BoolVar(&opts.Gateway.TLSNoVerify, "tls-no-verify", false, "do not check the gateway's TLS certificate")
	fs.StringVarP(&opts.Username, "username", "u", "admin", "gateway user")
	fs.StringVarP(&opts.Password, "password", "p", "", "gateway password (visible to other users of this machine; prefer --password-stdin)")
	fs.BoolVarP(&opts.PasswordStdin, "password-stdin", "s", false, "read the password from stdin")
	return cmd
}

func loginRun(ctx context.Context, opts *LoginOptions) error {
	ios := opts.f.IO
	password := opts.Password
	if password != "" {
		fmt.Fprintln(ios.ErrOut, "WARNING! Using --password is insecure, consider using: cat ~/password.txt | gofaas login -u user --password-stdin")
	}
	if opts.PasswordStdin {
		p, err := readAllString(ios)
		if err != nil {
			return err
		}
		password = p
	}
	password = strings.TrimSpace(password)
	if password == "" {
		return fmt.Errorf("no password given: pass --password-stdin (or --password)")
	}
	conn := Connection{
		URL:         config.ResolveGateway(opts.Gateway.Gateway, "", opts.f.Getenv("OPENFAAS_URL")),
		TLSNoVerify: opts.Gateway.TLSNoVerify,
	}
	c, err := opts.f.NewClient(conn)
	if err != nil {
		return err
	}
	fmt.Fprintln(ios.Out, "Calling the gateway to validate the credentials...")
	if err := c.Login(ctx, opts.Username, password); err != nil {
		return err
	}
	if strings.HasPrefix(conn.URL, "http://") && !isLoopback(conn.URL) {
		fmt.Fprintln(ios.ErrOut, "WARNING! Communication is not secure, please consider using HTTPS.")
	}
	return saveLogin(opts.f, conn.URL, opts.Username, password)
}

func saveLogin(f *Factory, gateway, user, password string) error {
	dir, err := config.Dir(f.Getenv, f.HomeDir)
	if err != nil {
		return err
	}
	file, err := config.Load(dir)
	if err != nil {
		return err
	}
	file.Update(config.Auth{Gateway: gateway, Auth: config.BasicAuth, Token: config.EncodeBasic(user, password)})
	if err := file.Save(); err != nil {
		return err
	}
	fmt.Fprintln(f.IO.Out, "credentials saved for", user, gateway)
	return nil
}

// readAllString reads stdin, telling a person at a terminal how to end it.
func readAllString(ios *IOStreams) (string, error) {
	if ios.InTTY {
		fmt.Fprintln(ios.ErrOut, "Reading from STDIN - hit (Control + D) to stop.")
	}
	data, err := io.ReadAll(ios.In)
	if err != nil {
		return "", fmt.Errorf("reading stdin: %w", err)
	}
	return string(data), nil
}

// LogoutOptions are the parsed flags of `gofaas logout`.
type LogoutOptions struct {
	f       *Factory
	Gateway string
}

// NewCmdLogout returns `gofaas logout`.
func NewCmdLogout(f *Factory, runF func(*LogoutOptions) error) *cobra.Command {
	opts := &LogoutOptions{f: f}
	cmd := &cobra.Command{
		Use:   "logout [-g GATEWAY]",
		Short: "Forget the saved credentials of a gateway",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return logoutRun(opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Gateway, "gateway", "g", config.DefaultGateway, "gateway URL starting with http(s)://")
	return cmd
}

func logoutRun(opts *LogoutOptions) error {
	f := opts.f
	gateway := config.ResolveGateway(opts.Gateway, "", f.Getenv("OPENFAAS_URL"))
	dir, err := config.Dir(f.Getenv, f.HomeDir)
	if err != nil {
		return err
	}
	file, err := config.Load(dir)
	if err != nil {
		return err
	}
	if !file.Remove(gateway) {
		return fmt.Errorf("no credentials saved for %s in %s", gateway, file.Path())
	}
	if err := file.Save(); err != nil {
		return err
	}
	fmt.Fprintln(f.IO.Out, "credentials removed for", gateway)
	return nil
}
