package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gofaas/gofaas/internal/cli/config"
	"github.com/gofaas/gofaas/internal/stack"
	"github.com/gofaas/gofaas/internal/templates"
	"github.com/gofaas/gofaas/pkg/api"
)

// NewOptions are the parsed flags of `gofaas new`.
type NewOptions struct {
	f       *Factory
	Name    string
	Lang    string
	Prefix  string
	Append  string
	File    string
	Handler string
	Gateway string
	List    bool
	Quiet   bool
}

// NewCmdNew returns `gofaas new`.
func NewCmdNew(f *Factory, runF func(*NewOptions) error) *cobra.Command {
	opts := &NewOptions{f: f}
	cmd := &cobra.Command{
		Use:   "new NAME --lang LANG",
		Short: "Create a function from a template",
		Long: `Create a function folder from a template (./template/<lang> first, then the
templates built into gofaas) and write it into stack.yaml (or -f), or add it
to an existing stack file with --append.

Built-in templates: ` + strings.Join(templates.Embedded(), ", ") + `.`,
		Example: `  gofaas new hello --lang golang-http
  gofaas new tasks --lang python3-http --append stack.yaml
  gofaas new --list`,
		Args: func(cmd *cobra.Command, args []string) error {
			if opts.List {
				return noArgs(cmd, args)
			}
			return exactArgs(1, "a function name")(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if !opts.List {
				opts.Name = args[0]
				if opts.Lang == "" {
					return usageError(cmd, "--lang is required; gofaas new --list shows the templates")
				}
				if opts.Append != "" && opts.File != "" {
					return usageError(cmd, "--append and -f are mutually exclusive")
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return newRun(cmd.Context(), opts)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&opts.Lang, "lang", "", "template of the function")
	fs.StringVarP(&opts.Prefix, "prefix", "p", "", "image prefix, e.g. a registry account: PREFIX/NAME:latest (env OPENFAAS_PREFIX)")
	fs.StringVarP(&opts.Append, "append", "a", "", "add the function to this existing stack file")
	fs.StringVarP(&opts.File, "yaml", "f", "", "stack file to write (default stack.yaml)")
	fs.StringVar(&opts.Handler, "handler", "", "folder of the handler (default ./NAME)")
	fs.StringVarP(&opts.Gateway, "gateway", "g", config.DefaultGateway, "gateway URL written into a new stack file (env OPENFAAS_URL)")
	fs.BoolVar(&opts.List, "list", false, "list the templates")
	fs.BoolVarP(&opts.Quiet, "quiet", "q", false, "do not print the template's welcome message")
	return cmd
}

func newRun(_ context.Context, opts *NewOptions) error {
	f := opts.f
	dir, err := f.workDir()
	if err != nil {
		return fmt.Errorf("finding the project folder: %w", err)
	}
	if opts.List {
		return listTemplates(f, dir)
	}
	if err := api.ValidateName("function name", opts.Name); err != nil {
		return err
	}
	tpl, err := templates.Find(dir, opts.Lang)
	if err != nil {
		return err
	}
	handler := opts.Handler
	if handler == "" {
		handler = "./" + opts.Name
	}
	stackPath := inDir(dir, opts.File, "stack.yaml")
	if opts.Append != "" {
		stackPath = inDir(dir, opts.Append, "")
		if !exists(stackPath) {
			return fmt.Errorf("stack file %s does not exist; drop --append to create it", opts.Append)
		}
	} else if exists(stackPath) {
		return fmt.Errorf("%s already exists; add the function to it with --append %s", filepath.Base(stackPath), filepath.Base(stackPath))
	}
	handlerDir := inDir(dir, handler, "")
	if exists(handlerDir) {
		return fmt.Errorf("folder %s already exists; choose another name or --handler", handler)
	}
	fn := stack.Function{Name: opts.Name, Lang: tpl.Language, Handler: handler, Image: imageName(opts.Prefix, f.Getenv("OPENFAAS_PREFIX"), opts.Name)}
	if err := tpl.Scaffold(handlerDir); err != nil {
		return err
	}
	if opts.Append != "" {
		err = stack.Append(stackPath, fn)
	} else {
		err = stack.WriteNew(stackPath, config.ResolveGateway(opts.Gateway, "", f.Getenv("OPENFAAS_URL")), fn)
	}
	if err != nil {
		// The folder did not exist before: leave nothing that would make
		// the next try fail with "already exists".
		os.RemoveAll(handlerDir)
		return err
	}
	fmt.Fprintf(f.IO.Out, "Folder: %s created.\nFunction created in folder: %s\nStack file written: %s\n", handler, handler, filepath.Base(stackPath))
	if msg := strings.TrimSpace(tpl.WelcomeMessage); msg != "" && !opts.Quiet {
		fmt.Fprintf(f.IO.Out, "\nNotes:\n%s\n", msg)
	}
	return nil
}

// imageName is [prefix/]name:latest; the flag wins over OPENFAAS_PREFIX.
func imageName(flag, env, name string) string {
	prefix := strings.TrimSuffix(strings.TrimSpace(flag), "/")
	if prefix == "" {
		prefix = strings.TrimSuffix(strings.TrimSpace(env), "/")
	}
	if prefix == "" {
		return name + ":latest"
	}
	return prefix + "/" + name + ":latest"
}

// inDir resolves p (or def when empty) against dir.
func inDir(dir, p, def string) string {
	if p == "" {
		p = def
	}
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

func listTemplates(f *Factory, dir string) error {
	names := templates.Embedded()
	local, _ := filepath.Glob(filepath.Join(dir, "template", "*", "template.yml"))
	for _, l := range local {
		names = append(names, filepath.Base(filepath.Dir(l)))
	}
	slices.Sort(names)
	names = slices.Compact(names)
	fmt.Fprintln(f.IO.Out, "Languages available as templates:")
	for _, n := range names {
		fmt.Fprintf(f.IO.Out, "- %s\n", n)
	}
	return nil
}
