package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"

	"github.com/spf13/cobra"

	"github.com/gofaas/gofaas/internal/stack"
	"github.com/gofaas/gofaas/pkg/api"
	"github.com/gofaas/gofaas/pkg/client"
)

// DeployFlags are the per-function settings deploy (and up) take from flags;
// with a stack file they are merged into each function as faas-cli does.
type DeployFlags struct {
	Namespace   string
	Env         []string
	Labels      []string
	Annotations []string
	Constraints []string
	Secrets     []string
	ReadOnly    bool
	// Update sends PUT then, on 404, POST (default true); false sends POST.
	Update bool
	// Replace removes each function before creating it again.
	Replace bool
}

func addDeployFlags(cmd *cobra.Command, d *DeployFlags) {
	fs := cmd.Flags()
	fs.StringVarP(&d.Namespace, "namespace", "n", "", "namespace to deploy to (wins over the stack file's)")
	fs.StringArrayVarP(&d.Env, "env", "e", nil, "environment variable KEY=VALUE (repeatable; wins over the stack file)")
	fs.StringArrayVarP(&d.Labels, "label", "l", nil, "label KEY=VALUE (repeatable; wins over the stack file)")
	fs.StringArrayVar(&d.Annotations, "annotation", nil, "annotation KEY=VALUE (repeatable; wins over the stack file)")
	fs.StringArrayVar(&d.Constraints, "constraint", nil, "placement constraint (repeatable; used when the stack file has none)")
	fs.StringArrayVar(&d.Secrets, "secret", nil, "secret to give the function (repeatable; added to the stack file's)")
	fs.BoolVar(&d.ReadOnly, "readonly", false, "read-only root file system")
	fs.BoolVar(&d.Update, "update", true, "update existing functions (PUT, then POST when missing)")
	fs.BoolVar(&d.Replace, "replace", false, "remove each function, then create it again")
}

// DeployOptions are the parsed flags of `gofaas deploy`.
type DeployOptions struct {
	f       *Factory
	Gateway GatewayFlags
	Stack   StackFlags
	Deploy  DeployFlags
	// Image, Name and FProcess deploy one function without a stack file.
	Image, Name, FProcess string
}

// NewCmdDeploy returns `gofaas deploy`.
func NewCmdDeploy(f *Factory, runF func(*DeployOptions) error) *cobra.Command {
	opts := &DeployOptions{f: f}
	cmd := &cobra.Command{
		Use:   "deploy [-f stack.yaml] [--filter GLOB | --regex RE] | --image IMAGE --name NAME",
		Short: "Deploy functions from a stack file, or one from flags",
		Long: `Deploy the functions of the stack file (stack.yaml, then stack.yml, or -f), or
one function given by --image and --name. Existing functions are updated
(PUT, then POST when missing); --replace removes them first.`,
		Example: `  gofaas deploy
  gofaas deploy -f stack.yml --filter 'api-*'
  gofaas deploy --image ghcr.io/openfaas/figlet:latest --name figlet --env greeting=hi`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkDeployFlags(cmd, opts); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return deployRun(cmd.Context(), opts)
		},
	}
	addGatewayFlags(cmd, &opts.Gateway)
	addStackFlags(cmd, &opts.Stack, true)
	addDeployFlags(cmd, &opts.Deploy)
	fs := cmd.Flags()
	fs.StringVar(&opts.Image, "image", "", "image to deploy (with --name, instead of a stack file)")
	fs.StringVar(&opts.Name, "name", "", "name of the function to deploy (with --image)")
	fs.StringVar(&opts.FProcess, "fprocess", "", "process the watchdog runs for each request (with --image)")
	return cmd
}

func checkDeployFlags(cmd *cobra.Command, opts *DeployOptions) error {
	fromFlags := opts.Image != "" || opts.Name != ""
	switch {
	case fromFlags && (opts.Image == "" || opts.Name == ""):
		return usageError(cmd, "--image and --name go together")
	case fromFlags && (opts.Stack.File != "" || opts.Stack.Filter != "" || opts.Stack.Regex != ""):
		return usageError(cmd, "pass either a stack file (-f, --filter, --regex) or --image and --name, not both")
	case opts.Stack.Filter != "" && opts.Stack.Regex != "":
		return usageError(cmd, "--filter and --regex are mutually exclusive")
	case opts.FProcess != "" && !fromFlags:
		return usageError(cmd, "--fprocess goes with --image and --name; set fprocess in the stack file instead")
	}
	return nil
}

func deployRun(ctx context.Context, opts *DeployOptions) error {
	var (
		specs []api.FunctionDeployment
		sg    string
		err   error
	)
	if opts.Image != "" {
		specs, err = flagDeployment(opts)
	} else {
		var file *stack.File
		file, err = opts.f.loadStack(ctx, opts.Stack, true)
		if errors.Is(err, errNoStack) {
			return fmt.Errorf("%w; pass -f or --image and --name", err)
		}
		if err != nil {
			return err
		}
		sg = file.Provider.Gateway
		specs, err = StackDeployments(file, opts.Deploy)
	}
	if err != nil {
		return err
	}
	c, conn, err := opts.f.Client(opts.Gateway, sg)
	if err != nil {
		return err
	}
	return DeployAll(ctx, opts.f.IO.Out, c, conn.URL, specs, opts.Deploy)
}

// flagDeployment is the one function deploy --image --name describes.
func flagDeployment(opts *DeployOptions) ([]api.FunctionDeployment, error) {
	d := opts.Deploy
	spec := api.FunctionDeployment{
		Service:                opts.Name,
		Image:                  opts.Image,
		Namespace:              d.Namespace,
		EnvProcess:             opts.FProcess,
		Constraints:            d.Constraints,
		Secrets:                dedupe(d.Secrets),
		ReadOnlyRootFilesystem: d.ReadOnly,
	}
	var err error
	if spec.EnvVars, err = parseMap(d.Env, "--env"); err != nil {
		return nil, err
	}
	if spec.Labels, err = parseMap(d.Labels, "--label"); err != nil {
		return nil, err
	}
	if spec.Annotations, err = parseMap(d.Annotations, "--annotation"); err != nil {
		return nil, err
	}
	return []api.FunctionDeployment{spec}, nil
}

// StackDeployments turns every function of file into a deploy body, with
// the flags merged as faas-cli merges them: --env over environment_file over
// environment, --label and --annotation over the file's, the file's
// constraints else --constraint, the union of secrets, -n over the file's
// namespace, --readonly or the file's setting.
func StackDeployments(file *stack.File, d DeployFlags) ([]api.FunctionDeployment, error) {
	env, err := parseMap(d.Env, "--env")
	if err != nil {
		return nil, err
	}
	labels, err := parseMap(d.Labels, "--label")
	if err != nil {
		return nil, err
	}
	annotations, err := parseMap(d.Annotations, "--annotation")
	if err != nil {
		return nil, err
	}
	var specs []api.FunctionDeployment
	for _, name := range file.Names() {
		spec, err := file.Deployment(file.Functions[name], env)
		if err != nil {
			return nil, fmt.Errorf("function %s: %w", name, err)
		}
		spec.Labels = merged(spec.Labels, labels)
		spec.Annotations = merged(spec.Annotations, annotations)
		if len(spec.Constraints) == 0 {
			spec.Constraints = d.Constraints
		}
		spec.Secrets = dedupe(append(spec.Secrets, d.Secrets...))
		if d.Namespace != "" {
			spec.Namespace = d.Namespace
		}
		spec.ReadOnlyRootFilesystem = spec.ReadOnlyRootFilesystem || d.ReadOnly
		specs = append(specs, spec)
	}
	return specs, nil
}

// merged returns base with over's keys set over it; nil when both are empty.
func merged(base, over map[string]string) map[string]string {
	if len(base) == 0 && len(over) == 0 {
		return nil
	}
	m := maps.Clone(base)
	if m == nil {
		m = map[string]string{}
	}
	maps.Copy(m, over)
	return m
}

// dedupe drops repeated strings, keeping the first of each.
func dedupe(s []string) []string {
	var out []string
	for _, v := range s {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// DeployAll deploys specs one by one, printing faas-cli's lines for each
// ("Deploying: NAME." then "Deployed. 202 Accepted." and the URL). It goes
// on after a failure and returns every failure joined.
func DeployAll(ctx context.Context, out io.Writer, c *client.Client, gateway string, specs []api.FunctionDeployment, d DeployFlags) error {
	var errs []error
	for _, spec := range specs {
		fmt.Fprintf(out, "Deploying: %s.\n", spec.Service)
		var code int
		var err error
		if d.Replace {
			code, err = c.Replace(ctx, spec)
		} else {
			code, err = c.Deploy(ctx, spec, d.Update)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("deploying %s: %w", spec.Service, err))
			continue
		}
		fmt.Fprintf(out, "Deployed. %d %s.\nURL: %s%s%s\n\n", code, http.StatusText(code), gateway, api.PathInvoke, api.JoinName(spec.Service, spec.Namespace))
	}
	return errors.Join(errs...)
}
