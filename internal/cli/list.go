package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/spf13/cobra"

	"github.com/gofaas/gofaas/pkg/api"
)

// ListOptions are the parsed flags of `gofaas list`.
type ListOptions struct {
	f         *Factory
	Gateway   GatewayFlags
	Stack     StackFlags
	Namespace string
	Verbose   bool
	Quiet     bool
	Sort      string
}

// NewCmdList returns `gofaas list` (alias ls).
func NewCmdList(f *Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{f: f}
	cmd := &cobra.Command{
		Use:     "list [-n NAMESPACE] [-v] [-q]",
		Aliases: []string{"ls"},
		Short:   "List the deployed functions",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Sort != "name" && opts.Sort != "invocations" {
				return usageError(cmd, "--sort %q: want name or invocations", opts.Sort)
			}
			if runF != nil {
				return runF(opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
	addGatewayFlags(cmd, &opts.Gateway)
	addStackFlags(cmd, &opts.Stack, false)
	fs := cmd.Flags()
	fs.StringVarP(&opts.Namespace, "namespace", "n", "", "namespace of the functions (default: the gateway's)")
	fs.BoolVarP(&opts.Verbose, "verbose", "v", false, "also show each function's image")
	fs.BoolVarP(&opts.Quiet, "quiet", "q", false, "print only the function names")
	fs.StringVar(&opts.Sort, "sort", "name", "sort by name or invocations")
	return cmd
}

func listRun(ctx context.Context, opts *ListOptions) error {
	sg, err := opts.f.stackGateway(ctx, opts.Stack)
	if err != nil {
		return err
	}
	c, _, err := opts.f.Client(opts.Gateway, sg)
	if err != nil {
		return err
	}
	fns, err := c.ListFunctions(ctx, opts.Namespace)
	if err != nil {
		return err
	}
	sortFunctions(fns, opts.Sort)
	printFunctions(opts.f.IO.Out, fns, opts.Verbose, opts.Quiet)
	return nil
}

// sortFunctions orders by name, or by invocations (most first, then name).
func sortFunctions(fns []api.FunctionStatus, by string) {
	slices.SortFunc(fns, func(a, b api.FunctionStatus) int {
		if by == "invocations" {
			if c := cmp.Compare(b.InvocationCount, a.InvocationCount); c != 0 {
				return c
			}
		}
		return cmp.Compare(a.Name, b.Name)
	})
}

// printFunctions writes faas-cli's list table.
func printFunctions(w io.Writer, fns []api.FunctionStatus, verbose, quiet bool) {
	switch {
	case quiet:
		for _, fn := range fns {
			fmt.Fprintln(w, fn.Name)
		}
	case verbose:
		fmt.Fprintf(w, "%-30s\t%-40s\t%-15s\t%-5s\n", "Function", "Image", "Invocations", "Replicas")
		for _, fn := range fns {
			image := fn.Image
			if len(image) > 40 {
				image = image[:38] + ".."
			}
			fmt.Fprintf(w, "%-30s\t%-40s\t%-15d\t%-5d\n", fn.Name, image, int64(fn.InvocationCount), fn.Replicas)
		}
	default:
		fmt.Fprintf(w, "%-30s\t%-15s\t%-5s\n", "Function", "Invocations", "Replicas")
		for _, fn := range fns {
			fmt.Fprintf(w, "%-30s\t%-15d\t%-5d\n", fn.Name, int64(fn.InvocationCount), fn.Replicas)
		}
	}
}
