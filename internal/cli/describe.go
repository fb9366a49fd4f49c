package cli

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gofaas/gofaas/pkg/api"
)

// DescribeOptions are the parsed flags of `gofaas describe`.
type DescribeOptions struct {
	f         *Factory
	Gateway   GatewayFlags
	Stack     StackFlags
	Name      string
	Namespace string
}

// NewCmdDescribe returns `gofaas describe NAME`.
func NewCmdDescribe(f *Factory, runF func(*DescribeOptions) error) *cobra.Command {
	opts := &DescribeOptions{f: f}
	cmd := &cobra.Command{
		Use:   "describe NAME [-n NAMESPACE]",
		Short: "Show a function's status, image, URLs and metadata",
		Args:  exactArgs(1, "a function name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return describeRun(cmd.Context(), opts)
		},
	}
	addGatewayFlags(cmd, &opts.Gateway)
	addStackFlags(cmd, &opts.Stack, false)
	cmd.Flags().StringVarP(&opts.Namespace, "namespace", "n", "", "namespace of the function")
	return cmd
}

func describeRun(ctx context.Context, opts *DescribeOptions) error {
	sg, err := opts.f.stackGateway(ctx, opts.Stack)
	if err != nil {
		return err
	}
	c, conn, err := opts.f.Client(opts.Gateway, sg)
	if err != nil {
		return err
	}
	fn, err := c.GetFunction(ctx, opts.Name, opts.Namespace, true)
	if err != nil {
		return err
	}
	// The list carries the gateway's invocation counter, as faas-cli reads it.
	if fns, err := c.ListFunctions(ctx, opts.Namespace); err == nil {
		for _, l := range fns {
			if l.Name == fn.Name && l.InvocationCount > fn.InvocationCount {
				fn.InvocationCount = l.InvocationCount
			}
		}
	}
	name := api.JoinName(opts.Name, opts.Namespace)
	printDescription(opts.f.IO.Out, fn, conn.URL+api.PathInvoke+name, conn.URL+api.PathAsyncInvoke+name)
	return nil
}

// labelWidth aligns the values of describe's fields, as faas-cli's
// tabwriter does with its longest label, "Available Replicas:".
const labelWidth = len("Available Replicas: ")

// printDescription writes the fields of faas-cli describe, aligned.
func printDescription(out io.Writer, fn api.FunctionStatus, url, asyncURL string) {
	status := "Not Ready"
	if fn.AvailableReplicas > 0 {
		status = "Ready"
	}
	rows := [][2]string{
		{"Name", fn.Name},
		{"Status", status},
		{"Replicas", strconv.FormatUint(fn.Replicas, 10)},
		{"Available Replicas", strconv.FormatUint(fn.AvailableReplicas, 10)},
		{"Invocations", strconv.FormatInt(int64(fn.InvocationCount), 10)},
		{"Image", fn.Image},
		{"Function Process", fn.EnvProcess},
		{"URL", url},
		{"Async URL", asyncURL},
	}
	for _, r := range rows {
		field(out, r[0], r[1])
	}
	printMap(out, "Labels", fn.Labels)
	printMap(out, "Annotations", fn.Annotations)
	printMap(out, "Env", fn.EnvVars)
	printList(out, "Secrets", fn.Secrets)
	printList(out, "Constraints", fn.Constraints)
	if fn.Usage != nil {
		field(out, "Usage", "")
		fmt.Fprintf(out, "  RAM: %.2f MiB\n", fn.Usage.TotalMemoryBytes/(1<<20))
		fmt.Fprintf(out, "  CPU: %.0f millicores\n", fn.Usage.CPU)
	}
}

// field writes "Title:" padded to labelWidth, then value.
func field(w io.Writer, title, value string) {
	if value == "" {
		fmt.Fprintf(w, "%s:\n", title)
		return
	}
	fmt.Fprintf(w, "%-*s%s\n", labelWidth, title+":", value)
}

// printMap writes a section of key: value lines, keys sorted and aligned.
func printMap(w io.Writer, title string, m map[string]string) {
	if len(m) == 0 {
		field(w, title, "<none>")
		return
	}
	field(w, title, "")
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(tw, "  %s:\t%s\n", k, m[k])
	}
	tw.Flush()
}

func printList(w io.Writer, title string, items []string) {
	if len(items) == 0 {
		field(w, title, "<none>")
		return
	}
	field(w, title, "")
	for _, s := range items {
		fmt.Fprintf(w, "  - %s\n", s)
	}
}
