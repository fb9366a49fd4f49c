package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gofaas/gofaas/pkg/api"
	"github.com/gofaas/gofaas/pkg/client"
)

// InvokeOptions are the parsed flags of `gofaas invoke`.
type InvokeOptions struct {
	f           *Factory
	Gateway     GatewayFlags
	Stack       StackFlags
	Name        string
	Namespace   string
	Async       bool
	Method      string
	ContentType string
	Headers     []string
	Query       []string
}

// NewCmdInvoke returns `gofaas invoke NAME`.
func NewCmdInvoke(f *Factory, runF func(*InvokeOptions) error) *cobra.Command {
	opts := &InvokeOptions{f: f}
	cmd := &cobra.Command{
		Use:   "invoke NAME [--async] [-H K=V] [--query K=V] [-m METHOD]",
		Short: "Call a function with stdin as the body and print its answer",
		Long: `Call a function through the gateway with stdin as the request body and print
the answer on stdout. An answer other than 2xx goes to stderr and the exit
code is 1. With --async the gateway queues the call and prints its id.`,
		Example: `  echo hi | gofaas invoke hello
  gofaas invoke hello --query page=2 -H X-Trace=1 -m GET < /dev/null
  echo '{"a":1}' | gofaas invoke hello --async --content-type application/json`,
		Args: exactArgs(1, "a function name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return invokeRun(cmd.Context(), opts)
		},
	}
	addGatewayFlags(cmd, &opts.Gateway)
	addStackFlags(cmd, &opts.Stack, false)
	fs := cmd.Flags()
	fs.StringVarP(&opts.Namespace, "namespace", "n", "", "namespace of the function")
	fs.BoolVarP(&opts.Async, "async", "a", false, "queue the call (/async-function/) instead of waiting for the answer")
	fs.StringVarP(&opts.Method, "method", "m", http.MethodPost, "HTTP method")
	fs.StringVar(&opts.ContentType, "content-type", "text/plain", "Content-Type of the body")
	fs.StringArrayVarP(&opts.Headers, "header", "H", nil, "request header KEY=VALUE (repeatable)")
	fs.StringArrayVar(&opts.Query, "query", nil, "query parameter KEY=VALUE (repeatable)")
	return cmd
}

func invokeRun(ctx context.Context, opts *InvokeOptions) error {
	req, err := invokeRequest(opts)
	if err != nil {
		return err
	}
	body, err := readAllString(opts.f.IO)
	if err != nil {
		return err
	}
	req.Body = strings.NewReader(body)
	sg, err := opts.f.stackGateway(ctx, opts.Stack)
	if err != nil {
		return err
	}
	c, _, err := opts.f.Client(opts.Gateway, sg)
	if err != nil {
		return err
	}
	resp, err := c.Invoke(ctx, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return printInvokeAnswer(opts, resp)
}

// invokeRequest builds the call from the flags.
func invokeRequest(opts *InvokeOptions) (client.InvokeRequest, error) {
	headers, err := parseMultiMap(opts.Headers, "--header")
	if err != nil {
		return client.InvokeRequest{}, err
	}
	query, err := parseMultiMap(opts.Query, "--query")
	if err != nil {
		return client.InvokeRequest{}, err
	}
	h := http.Header{}
	for k, vs := range headers {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	if h.Get("Content-Type") == "" && opts.ContentType != "" {
		h.Set("Content-Type", opts.ContentType)
	}
	return client.InvokeRequest{
		Name: opts.Name, Namespace: opts.Namespace, Async: opts.Async,
		Method: strings.ToUpper(opts.Method), Query: url.Values(query), Header: h,
	}, nil
}

// printInvokeAnswer copies a 2xx answer to stdout (or, for an async call,
// says it was queued) and any other answer to stderr, returning an error.
func printInvokeAnswer(opts *InvokeOptions, resp *http.Response) error {
	ios := opts.f.IO
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		io.Copy(ios.ErrOut, resp.Body)
		return fmt.Errorf("%s answered %s", api.JoinName(opts.Name, opts.Namespace), resp.Status)
	}
	if opts.Async {
		fmt.Fprintln(ios.Out, "Function submitted asynchronously.")
		if id := resp.Header.Get(api.HeaderCallID); id != "" {
			fmt.Fprintf(ios.Out, "Call ID: %s\n", id)
		}
		return nil
	}
	if _, err := io.Copy(ios.Out, resp.Body); err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	return nil
}

// parseMultiMap turns KEY=VALUE flag values into a map of lists, keeping
// repeated keys.
func parseMultiMap(values []string, what string) (map[string][]string, error) {
	m := map[string][]string{}
	for _, v := range values {
		k, val, ok := strings.Cut(v, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q: want KEY=VALUE", what, v)
		}
		m[k] = append(m[k], val)
	}
	return m, nil
}
