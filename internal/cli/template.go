package cli

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gofaas/gofaas/internal/templates"
)

// defaultTemplateStore is the templates.json faas-cli reads.
const defaultTemplateStore = "https://raw.githubusercontent.com/openfaas/store/master/templates.json"

// TemplateOptions are the parsed flags of the template verbs.
type TemplateOptions struct {
	f         *Factory
	Repo      string
	Overwrite bool
	StoreURL  string
	Name      string
	Platform  string
}

// NewCmdTemplate returns `gofaas template` with pull and store.
func NewCmdTemplate(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "template",
		Short: "Pull templates from git repositories or a template store",
		Args:  noArgs,
	}
	store := &cobra.Command{Use: "store", Short: "Browse and pull from a template store", Args: noArgs}
	store.AddCommand(newCmdTemplateStoreList(f), newCmdTemplateStorePull(f))
	cmd.AddCommand(newCmdTemplatePull(f), store)
	return cmd
}

func newCmdTemplatePull(f *Factory) *cobra.Command {
	opts := &TemplateOptions{f: f}
	cmd := &cobra.Command{
		Use:   "pull [REPOSITORY[#REF]]",
		Short: "Copy the templates of a git repository into ./template",
		Long: `Fetch a git repository (no git binary needed) and copy each folder of its
template/ folder into ./template. Without an argument: $OPENFAAS_TEMPLATE_URL,
else ` + templates.DefaultRepo + `. #REF picks a branch or tag.`,
		Example: `  gofaas template pull https://github.com/openfaas/golang-http-template#0.7.0
  gofaas template pull ./my-templates --overwrite`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Repo = args[0]
			}
			return templatePull(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Overwrite, "overwrite", false, "replace templates already in ./template")
	return cmd
}

func templatePull(ctx context.Context, opts *TemplateOptions) error {
	dir, err := opts.f.workDir()
	if err != nil {
		return err
	}
	repo := cmp.Or(opts.Repo, opts.f.Getenv("OPENFAAS_TEMPLATE_URL"), templates.DefaultRepo)
	names, err := templates.Pull(ctx, repo, dir, opts.Overwrite, opts.f.IO.ErrOut)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		fmt.Fprintln(opts.f.IO.Out, "No new templates (pass --overwrite to replace those in ./template).")
		return nil
	}
	fmt.Fprintf(opts.f.IO.Out, "Wrote %d template(s) to ./template: %v\n", len(names), names)
	return nil
}

func addStoreURLFlag(cmd *cobra.Command, opts *TemplateOptions) {
	cmd.Flags().StringVarP(&opts.StoreURL, "url", "u", "", "templates.json URL or file (env OPENFAAS_TEMPLATE_STORE_URL, default the OpenFaaS store)")
	cmd.Flags().StringVarP(&opts.Platform, "platform", "p", "x86_64", "platform of the templates to show")
}

func (opts *TemplateOptions) loadStore(ctx context.Context) ([]templates.StoreTemplate, error) {
	url := cmp.Or(opts.StoreURL, opts.f.Getenv("OPENFAAS_TEMPLATE_STORE_URL"), defaultTemplateStore)
	return templates.LoadStore(ctx, url)
}

func newCmdTemplateStoreList(f *Factory) *cobra.Command {
	opts := &TemplateOptions{f: f}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the templates of a template store",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			list, err := opts.loadStore(cmd.Context())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(opts.f.IO.Out, 0, 0, 1, ' ', 0)
			fmt.Fprintln(w, "NAME\tRECOMMENDED\tDESCRIPTION\tSOURCE")
			for _, t := range list {
				if t.Platform != "" && t.Platform != opts.Platform {
					continue
				}
				fmt.Fprintf(w, "%s\t%v\t%s\t%s\n", t.Template, t.Recommended, t.Description, t.Source)
			}
			return w.Flush()
		},
	}
	addStoreURLFlag(cmd, opts)
	return cmd
}

func newCmdTemplateStorePull(f *Factory) *cobra.Command {
	opts := &TemplateOptions{f: f}
	cmd := &cobra.Command{
		Use:   "pull NAME",
		Short: "Pull one template of a template store into ./template",
		Args:  exactArgs(1, "a template name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			list, err := opts.loadStore(cmd.Context())
			if err != nil {
				return err
			}
			i := slices.IndexFunc(list, func(t templates.StoreTemplate) bool {
				return t.Template == args[0] && (t.Platform == "" || t.Platform == opts.Platform)
			})
			if i < 0 {
				return fmt.Errorf("the template store has no template %q for %s; gofaas template store list shows them", args[0], opts.Platform)
			}
			opts.Repo = list[i].Repo
			return templatePull(cmd.Context(), opts)
		},
	}
	addStoreURLFlag(cmd, opts)
	cmd.Flags().BoolVar(&opts.Overwrite, "overwrite", false, "replace templates already in ./template")
	return cmd
}
