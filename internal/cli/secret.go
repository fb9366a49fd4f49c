package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gofaas/gofaas/pkg/api"
	"github.com/gofaas/gofaas/pkg/client"
)

// NewCmdSecret returns `gofaas secret` and its subcommands.
func NewCmdSecret(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secret",
		Short: "Create, update, list and remove secrets",
		Args:  noArgs,
	}
	cmd.AddCommand(
		NewCmdSecretCreate(f, nil),
		NewCmdSecretUpdate(f, nil),
		NewCmdSecretList(f, nil),
		NewCmdSecretRemove(f, nil),
	)
	return cmd
}

// SecretOptions are the parsed flags of `gofaas secret create` and `update`.
type SecretOptions struct {
	f         *Factory
	Gateway   GatewayFlags
	Name      string
	Namespace string
	// Literal is --from-literal; File is --from-file; with neither the
	// value is read from stdin.
	Literal, File string
	// Trim removes surrounding white space from a literal or stdin value.
	Trim bool
	// Replace, for create, updates a secret that already exists.
	Replace bool
	// Update is true for `secret update`.
	Update bool
}

// NewCmdSecretCreate returns `gofaas secret create NAME`.
func NewCmdSecretCreate(f *Factory, runF func(*SecretOptions) error) *cobra.Command {
	opts := &SecretOptions{f: f}
	cmd := newSecretWriteCmd(opts, runF)
	cmd.Use = "create NAME [--from-literal VALUE | --from-file PATH | < stdin]"
	cmd.Short = "Create a secret"
	cmd.Example = `  gofaas secret create api-key --from-literal s3cr3t
  gofaas secret create tls-cert --from-file ./cert.pem
  cat key.txt | gofaas secret create api-key --replace`
	cmd.Flags().BoolVar(&opts.Replace, "replace", false, "update the secret when it already exists")
	return cmd
}

// NewCmdSecretUpdate returns `gofaas secret update NAME`.
func NewCmdSecretUpdate(f *Factory, runF func(*SecretOptions) error) *cobra.Command {
	opts := &SecretOptions{f: f, Update: true}
	cmd := newSecretWriteCmd(opts, runF)
	cmd.Use = "update NAME [--from-literal VALUE | --from-file PATH | < stdin]"
	cmd.Short = "Change a secret's value"
	return cmd
}

func newSecretWriteCmd(opts *SecretOptions, runF func(*SecretOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Args: exactArgs(1, "a secret name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if err := validateSecretName(opts.Name); err != nil {
				return usageError(cmd, "%v", err)
			}
			if opts.Literal != "" && opts.File != "" {
				return usageError(cmd, "pass the value one way only: --from-literal, --from-file or stdin")
			}
			if runF != nil {
				return runF(opts)
			}
			return secretWriteRun(cmd.Context(), opts)
		},
	}
	addGatewayFlags(cmd, &opts.Gateway)
	fs := cmd.Flags()
	fs.StringVarP(&opts.Namespace, "namespace", "n", "", "namespace of the secret")
	fs.StringVar(&opts.Literal, "from-literal", "", "the secret's value")
	fs.StringVar(&opts.File, "from-file", "", "file holding the secret's value (sent as bytes, untrimmed)")
	fs.BoolVar(&opts.Trim, "trim", true, "trim white space around a --from-literal or stdin value")
	return cmd
}

// secretName is a DNS-1123 subdomain, the rule faas-cli checks.
var secretName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

func validateSecretName(name string) error {
	if len(name) > 253 || !secretName.MatchString(name) {
		return fmt.Errorf("secret name %q is not valid: use lower-case letters, digits, '-' and '.', starting and ending with a letter or digit", name)
	}
	return nil
}

// secretValue reads the value from the flag, the file or stdin.
func secretValue(opts *SecretOptions) (api.Secret, error) {
	s := api.Secret{Name: opts.Name, Namespace: opts.Namespace}
	switch {
	case opts.File != "":
		data, err := os.ReadFile(opts.File)
		if err != nil {
			return s, fmt.Errorf("reading the secret: %w", err)
		}
		s.RawValue = data
	case opts.Literal != "":
		s.Value = opts.Literal
	default:
		v, err := readAllString(opts.f.IO)
		if err != nil {
			return s, err
		}
		s.Value = v
	}
	if opts.Trim && s.Value != "" {
		s.Value = strings.TrimSpace(s.Value)
	}
	if s.Value == "" && len(s.RawValue) == 0 {
		return s, errors.New("the secret is empty: pass --from-literal, --from-file or a value on stdin")
	}
	return s, nil
}

func secretWriteRun(ctx context.Context, opts *SecretOptions) error {
	s, err := secretValue(opts)
	if err != nil {
		return err
	}
	c, _, err := opts.f.Client(opts.Gateway, "")
	if err != nil {
		return err
	}
	out := opts.f.IO.Out
	label := api.JoinName(s.Name, s.Namespace)
	if opts.Update {
		fmt.Fprintf(out, "Updating secret: %s\n", label)
		return printSecretCode(opts, "Updated")(c.UpdateSecret(ctx, s))
	}
	fmt.Fprintf(out, "Creating secret: %s\n", label)
	code, err := c.CreateSecret(ctx, s)
	if errors.Is(err, client.ErrConflict) {
		if !opts.Replace {
			return fmt.Errorf("secret %s already exists; pass --replace or use `gofaas secret update`", label)
		}
		fmt.Fprintln(out, "The secret exists; updating it.")
		return printSecretCode(opts, "Updated")(c.UpdateSecret(ctx, s))
	}
	return printSecretCode(opts, "Created")(code, err)
}

// printSecretCode returns a func printing "Created: 202 Accepted" after a
// successful call.
func printSecretCode(opts *SecretOptions, done string) func(int, error) error {
	return func(code int, err error) error {
		if err != nil {
			return err
		}
		fmt.Fprintf(opts.f.IO.Out, "%s: %d %s\n", done, code, http.StatusText(code))
		return nil
	}
}

// SecretListOptions are the parsed flags of `gofaas secret list`.
type SecretListOptions struct {
	f         *Factory
	Gateway   GatewayFlags
	Namespace string
}

// NewCmdSecretList returns `gofaas secret list` (alias ls).
func NewCmdSecretList(f *Factory, runF func(*SecretListOptions) error) *cobra.Command {
	opts := &SecretListOptions{f: f}
	cmd := &cobra.Command{
		Use:     "list [-n NAMESPACE]",
		Aliases: []string{"ls"},
		Short:   "List the secrets' names (never their values)",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return secretListRun(cmd.Context(), opts)
		},
	}
	addGatewayFlags(cmd, &opts.Gateway)
	cmd.Flags().StringVarP(&opts.Namespace, "namespace", "n", "", "namespace of the secrets")
	return cmd
}

func secretListRun(ctx context.Context, opts *SecretListOptions) error {
	c, _, err := opts.f.Client(opts.Gateway, "")
	if err != nil {
		return err
	}
	secrets, err := c.ListSecrets(ctx, opts.Namespace)
	if err != nil {
		return err
	}
	out := opts.f.IO.Out
	if len(secrets) == 0 {
		fmt.Fprintln(out, "No secrets found.")
		return nil
	}
	fmt.Fprintf(out, "%-30s\t%s\n", "NAME", "NAMESPACE")
	for _, s := range secrets {
		fmt.Fprintf(out, "%-30s\t%s\n", s.Name, s.Namespace)
	}
	return nil
}

// SecretRemoveOptions are the parsed flags of `gofaas secret remove`.
type SecretRemoveOptions struct {
	f         *Factory
	Gateway   GatewayFlags
	Name      string
	Namespace string
}

// NewCmdSecretRemove returns `gofaas secret remove NAME` (alias rm).
func NewCmdSecretRemove(f *Factory, runF func(*SecretRemoveOptions) error) *cobra.Command {
	opts := &SecretRemoveOptions{f: f}
	cmd := &cobra.Command{
		Use:     "remove NAME [-n NAMESPACE]",
		Aliases: []string{"rm", "delete"},
		Short:   "Remove a secret",
		Args:    exactArgs(1, "a secret name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return secretRemoveRun(cmd.Context(), opts)
		},
	}
	addGatewayFlags(cmd, &opts.Gateway)
	cmd.Flags().StringVarP(&opts.Namespace, "namespace", "n", "", "namespace of the secret")
	return cmd
}

func secretRemoveRun(ctx context.Context, opts *SecretRemoveOptions) error {
	c, _, err := opts.f.Client(opts.Gateway, "")
	if err != nil {
		return err
	}
	if err := c.RemoveSecret(ctx, opts.Name, opts.Namespace); err != nil {
		return err
	}
	fmt.Fprintln(opts.f.IO.Out, "Removed.. OK.")
	return nil
}
