package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gofaas/gofaas/pkg/client"
)

// RemoveOptions are the parsed flags of `gofaas remove`.
type RemoveOptions struct {
	f         *Factory
	Gateway   GatewayFlags
	Stack     StackFlags
	Namespace string
	// Names are the functions to remove; empty means every function of the
	// stack file.
	Names []string
}

// NewCmdRemove returns `gofaas remove` (alias rm).
func NewCmdRemove(f *Factory, runF func(*RemoveOptions) error) *cobra.Command {
	opts := &RemoveOptions{f: f}
	cmd := &cobra.Command{
		Use:     "remove [NAME...] [-f stack.yaml] [--filter GLOB | --regex RE]",
		Aliases: []string{"rm", "delete"},
		Short:   "Remove functions",
		Long:    "Remove the named functions or, with no name, every function of the stack file.",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names = args
			if len(args) > 0 && (opts.Stack.Filter != "" || opts.Stack.Regex != "") {
				return usageError(cmd, "--filter and --regex select functions of the stack file; do not pass names too")
			}
			if runF != nil {
				return runF(opts)
			}
			return removeRun(cmd.Context(), opts)
		},
	}
	addGatewayFlags(cmd, &opts.Gateway)
	addStackFlags(cmd, &opts.Stack, true)
	cmd.Flags().StringVarP(&opts.Namespace, "namespace", "n", "", "namespace of the functions (wins over the stack file's)")
	return cmd
}

// target is one function to act on.
type target struct{ name, namespace string }

func removeRun(ctx context.Context, opts *RemoveOptions) error {
	targets, sg, err := removeTargets(ctx, opts)
	if err != nil {
		return err
	}
	c, _, err := opts.f.Client(opts.Gateway, sg)
	if err != nil {
		return err
	}
	out := opts.f.IO.Out
	var errs []error
	for _, t := range targets {
		fmt.Fprintf(out, "Deleting: %s.\n", t.name)
		err := c.RemoveFunction(ctx, t.name, t.namespace)
		switch {
		case errors.Is(err, client.ErrNotFound):
			errs = append(errs, fmt.Errorf("no function %s to remove", t.name))
		case err != nil:
			errs = append(errs, fmt.Errorf("removing %s: %w", t.name, err))
		default:
			fmt.Fprintln(out, "Removed.")
		}
	}
	return errors.Join(errs...)
}

// removeTargets returns the named functions, or those of the stack file,
// and the stack file's gateway.
func removeTargets(ctx context.Context, opts *RemoveOptions) ([]target, string, error) {
	file, err := opts.f.loadStack(ctx, opts.Stack, len(opts.Names) == 0)
	if errors.Is(err, errNoStack) {
		return nil, "", fmt.Errorf("%w; name the functions to remove, or pass -f", err)
	}
	if err != nil {
		return nil, "", err
	}
	var sg string
	if file != nil {
		sg = file.Provider.Gateway
	}
	var targets []target
	if len(opts.Names) > 0 {
		for _, n := range opts.Names {
			targets = append(targets, target{n, opts.Namespace})
		}
		return targets, sg, nil
	}
	for _, n := range file.Names() {
		ns := file.Functions[n].Namespace
		if opts.Namespace != "" {
			ns = opts.Namespace
		}
		targets = append(targets, target{n, ns})
	}
	return targets, sg, nil
}
