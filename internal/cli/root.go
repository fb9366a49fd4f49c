package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gofaas/gofaas/internal/stack"
)

// AddCommands registers every client verb on root, wired to f.
func AddCommands(root *cobra.Command, f *Factory) {
	cmds := []*cobra.Command{
		NewCmdLogin(f, nil),
		NewCmdLogout(f, nil),
		NewCmdList(f, nil),
		NewCmdDescribe(f, nil),
		NewCmdDeploy(f, nil),
		NewCmdRemove(f, nil),
		NewCmdInvoke(f, nil),
		NewCmdLogs(f, nil),
		NewCmdScale(f, nil),
		NewCmdSecret(f),
		NewCmdNamespace(f),
		NewCmdVersion(f, nil),
		NewCmdNew(f, nil),
		NewCmdBuild(f, nil),
		NewCmdPush(f, nil),
		NewCmdUp(f, nil),
		NewCmdTemplate(f),
		NewCmdStore(f),
	}
	for _, c := range cmds {
		c.SetIn(f.IO.In)
		c.SetOut(f.IO.Out)
		c.SetErr(f.IO.ErrOut)
		root.AddCommand(c)
	}
}

// usageError prints msg and the command's usage to stderr and returns
// ErrUsage, which main turns into exit code 2.
func usageError(cmd *cobra.Command, format string, args ...any) error {
	fmt.Fprintf(cmd.ErrOrStderr(), "%s\n\n%s", fmt.Sprintf(format, args...), cmd.UsageString())
	return ErrUsage
}

// exactArgs accepts exactly n arguments; what names them for the message,
// such as "a function name".
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < n:
			return usageError(cmd, "%s is required", upperFirst(what))
		case len(args) > n:
			return usageError(cmd, "expected %s, got %d arguments: %s", what, len(args), strings.Join(args, " "))
		}
		return nil
	}
}

// noArgs refuses any argument.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError(cmd, "unknown command or argument %q for %q", args[0], cmd.CommandPath())
	}
	return nil
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// StackFlags pick a stack file and, for verbs acting on several functions,
// which of its functions.
type StackFlags struct {
	// File is -f/--yaml: a path or URL; empty means stack.yaml, else
	// stack.yml, in the project folder, when there is one.
	File string
	// Envsubst substitutes ${VAR} in the file (default true).
	Envsubst bool
	// Filter (a glob) and Regex keep only the matching functions.
	Filter, Regex string
}

func addStackFlags(cmd *cobra.Command, s *StackFlags, selection bool) {
	fs := cmd.Flags()
	fs.StringVarP(&s.File, "yaml", "f", "", "path or URL of the stack file (default stack.yaml, then stack.yml)")
	fs.BoolVar(&s.Envsubst, "envsubst", true, "substitute environment variables in the stack file")
	if selection {
		fs.StringVar(&s.Filter, "filter", "", "only the functions whose name matches this glob")
		fs.StringVar(&s.Regex, "regex", "", "only the functions whose name matches this regular expression")
	}
}

// errNoStack is returned by loadStack(required) when the project has no
// stack file.
var errNoStack = errors.New("no stack file")

// loadStack reads the stack file of s. Without -f it looks for stack.yaml,
// then stack.yml, in the project folder; finding neither returns nil, or an
// error wrapping errNoStack when required.
func (f *Factory) loadStack(ctx context.Context, s StackFlags, required bool) (*stack.File, error) {
	path := s.File
	if path == "" {
		dir, err := f.workDir()
		if err != nil {
			return nil, fmt.Errorf("finding the project folder: %w", err)
		}
		path, err = stack.DefaultPath(dir)
		if errors.Is(err, stack.ErrNoStackFile) {
			if required {
				return nil, fmt.Errorf("%w: no stack.yaml or stack.yml in %s", errNoStack, dir)
			}
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
	}
	return stack.Load(ctx, path, stack.Options{Envsubst: s.Envsubst, Getenv: f.Getenv, Filter: s.Filter, Regex: s.Regex})
}

// stackGateway returns the provider.gateway of the stack file s names (or
// the default one, when present), or "" without a stack file.
func (f *Factory) stackGateway(ctx context.Context, s StackFlags) (string, error) {
	s.Filter, s.Regex = "", ""
	file, err := f.loadStack(ctx, s, false)
	if err != nil || file == nil {
		return "", err
	}
	return file.Provider.Gateway, nil
}

// parseMap turns KEY=VALUE flag values into a map; what names the flag for
// messages, such as "--label".
func parseMap(values []string, what string) (map[string]string, error) {
	if len(values) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(values))
	for _, v := range values {
		k, val, ok := strings.Cut(v, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q: want KEY=VALUE", what, v)
		}
		m[k] = val
	}
	return m, nil
}
