package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

// ScaleOptions are the parsed flags of `gofaas scale`.
type ScaleOptions struct {
	f         *Factory
	Gateway   GatewayFlags
	Name      string
	Namespace string
	Replicas  uint64
}

// NewCmdScale returns `gofaas scale NAME --replicas N`.
func NewCmdScale(f *Factory, runF func(*ScaleOptions) error) *cobra.Command {
	opts := &ScaleOptions{f: f}
	cmd := &cobra.Command{
		Use:     "scale NAME --replicas N [-n NAMESPACE]",
		Short:   "Set a function's replica count",
		Example: "  gofaas scale hello --replicas 3",
		Args:    exactArgs(1, "a function name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if !cmd.Flags().Changed("replicas") {
				return usageError(cmd, "--replicas is required")
			}
			if runF != nil {
				return runF(opts)
			}
			return scaleRun(cmd.Context(), opts)
		},
	}
	addGatewayFlags(cmd, &opts.Gateway)
	cmd.Flags().StringVarP(&opts.Namespace, "namespace", "n", "", "namespace of the function")
	cmd.Flags().Uint64Var(&opts.Replicas, "replicas", 0, "desired number of replicas")
	return cmd
}

func scaleRun(ctx context.Context, opts *ScaleOptions) error {
	c, _, err := opts.f.Client(opts.Gateway, "")
	if err != nil {
		return err
	}
	if err := c.Scale(ctx, opts.Name, opts.Namespace, opts.Replicas); err != nil {
		return err
	}
	fmt.Fprintf(opts.f.IO.Out, "Function %s scaled to %d replica(s)\n", opts.Name, opts.Replicas)
	return nil
}
