package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/gofaas/gofaas/pkg/api"
)

// NewCmdNamespace returns `gofaas namespace` (alias namespaces, ns): alone
// it lists the namespaces, as `faas-cli namespaces` does; its subcommands
// create, get, update and remove one.
func NewCmdNamespace(f *Factory) *cobra.Command {
	list := &NamespaceOptions{f: f}
	cmd := &cobra.Command{
		Use:     "namespace",
		Aliases: []string{"namespaces", "ns"},
		Short:   "List, create, show, update and remove namespaces",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return namespaceListRun(cmd.Context(), list)
		},
	}
	addGatewayFlags(cmd, &list.Gateway)
	cmd.AddCommand(
		NewCmdNamespaceList(f, nil),
		NewCmdNamespaceGet(f, nil),
		NewCmdNamespaceCreate(f, nil),
		NewCmdNamespaceUpdate(f, nil),
		NewCmdNamespaceRemove(f, nil),
	)
	return cmd
}

// NamespaceOptions are the parsed flags of the namespace subcommands.
type NamespaceOptions struct {
	f           *Factory
	Gateway     GatewayFlags
	Name        string
	Labels      []string
	Annotations []string
	// Verb is create or update for the write subcommands.
	Verb string
}

// NewCmdNamespaceList returns `gofaas namespace list` (alias ls).
func NewCmdNamespaceList(f *Factory, runF func(*NamespaceOptions) error) *cobra.Command {
	opts := &NamespaceOptions{f: f}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the namespaces",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return namespaceListRun(cmd.Context(), opts)
		},
	}
	addGatewayFlags(cmd, &opts.Gateway)
	return cmd
}

func namespaceListRun(ctx context.Context, opts *NamespaceOptions) error {
	c, _, err := opts.f.Client(opts.Gateway, "")
	if err != nil {
		return err
	}
	names, err := c.ListNamespaces(ctx)
	if err != nil {
		return err
	}
	out := opts.f.IO.Out
	fmt.Fprintln(out, "Namespaces:")
	for _, n := range names {
		fmt.Fprintf(out, " - %s\n", n)
	}
	return nil
}

// NewCmdNamespaceGet returns `gofaas namespace get NAME`.
func NewCmdNamespaceGet(f *Factory, runF func(*NamespaceOptions) error) *cobra.Command {
	opts := &NamespaceOptions{f: f}
	cmd := &cobra.Command{
		Use:   "get NAME",
		Short: "Show a namespace's labels and annotations",
		Args:  exactArgs(1, "a namespace name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return namespaceGetRun(cmd.Context(), opts)
		},
	}
	addGatewayFlags(cmd, &opts.Gateway)
	return cmd
}

func namespaceGetRun(ctx context.Context, opts *NamespaceOptions) error {
	c, _, err := opts.f.Client(opts.Gateway, "")
	if err != nil {
		return err
	}
	ns, err := c.GetNamespace(ctx, opts.Name)
	if err != nil {
		return err
	}
	printNamespace(opts.f.IO.Out, ns)
	return nil
}

func printNamespace(out io.Writer, ns api.FunctionNamespace) {
	field(out, "Name", ns.Name)
	printMap(out, "Labels", ns.Labels)
	printMap(out, "Annotations", ns.Annotations)
}

// NewCmdNamespaceCreate returns `gofaas namespace create NAME`.
func NewCmdNamespaceCreate(f *Factory, runF func(*NamespaceOptions) error) *cobra.Command {
	return newCmdNamespaceWrite(f, runF, "create")
}

// NewCmdNamespaceUpdate returns `gofaas namespace update NAME`.
func NewCmdNamespaceUpdate(f *Factory, runF func(*NamespaceOptions) error) *cobra.Command {
	return newCmdNamespaceWrite(f, runF, "update")
}

func newCmdNamespaceWrite(f *Factory, runF func(*NamespaceOptions) error, verb string) *cobra.Command {
	opts := &NamespaceOptions{f: f, Verb: verb}
	short := map[string]string{"create": "Create a namespace", "update": "Replace a namespace's labels and annotations"}[verb]
	cmd := &cobra.Command{
		Use:   verb + " NAME [--label K=V] [--annotation K=V]",
		Short: short,
		Args:  exactArgs(1, "a namespace name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if err := api.ValidateName("namespace", opts.Name); err != nil {
				return usageError(cmd, "%v", err)
			}
			if runF != nil {
				return runF(opts)
			}
			return namespaceWriteRun(cmd.Context(), opts)
		},
	}
	addGatewayFlags(cmd, &opts.Gateway)
	cmd.Flags().StringArrayVarP(&opts.Labels, "label", "l", nil, "label KEY=VALUE (repeatable)")
	cmd.Flags().StringArrayVar(&opts.Annotations, "annotation", nil, "annotation KEY=VALUE (repeatable)")
	return cmd
}

func namespaceWriteRun(ctx context.Context, opts *NamespaceOptions) error {
	ns := api.FunctionNamespace{Name: opts.Name}
	var err error
	if ns.Labels, err = parseMap(opts.Labels, "--label"); err != nil {
		return err
	}
	if ns.Annotations, err = parseMap(opts.Annotations, "--annotation"); err != nil {
		return err
	}
	c, _, err := opts.f.Client(opts.Gateway, "")
	if err != nil {
		return err
	}
	out := opts.f.IO.Out
	if opts.Verb == "update" {
		fmt.Fprintf(out, "Updating Namespace: %s\n", ns.Name)
		if err := c.UpdateNamespace(ctx, ns); err != nil {
			return err
		}
		fmt.Fprintf(out, "Namespace Updated: %s\n", ns.Name)
		return nil
	}
	fmt.Fprintf(out, "Creating Namespace: %s\n", ns.Name)
	if err := c.CreateNamespace(ctx, ns); err != nil {
		return err
	}
	fmt.Fprintf(out, "Namespace Created: %s\n", ns.Name)
	return nil
}

// NewCmdNamespaceRemove returns `gofaas namespace remove NAME` (alias rm,
// delete).
func NewCmdNamespaceRemove(f *Factory, runF func(*NamespaceOptions) error) *cobra.Command {
	opts := &NamespaceOptions{f: f}
	cmd := &cobra.Command{
		Use:     "remove NAME",
		Aliases: []string{"rm", "delete"},
		Short:   "Remove a namespace",
		Args:    exactArgs(1, "a namespace name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return namespaceRemoveRun(cmd.Context(), opts)
		},
	}
	addGatewayFlags(cmd, &opts.Gateway)
	return cmd
}

func namespaceRemoveRun(ctx context.Context, opts *NamespaceOptions) error {
	c, _, err := opts.f.Client(opts.Gateway, "")
	if err != nil {
		return err
	}
	if err := c.RemoveNamespace(ctx, opts.Name); err != nil {
		return err
	}
	fmt.Fprintf(opts.f.IO.Out, "Namespace Removed: %s\n", opts.Name)
	return nil
}
