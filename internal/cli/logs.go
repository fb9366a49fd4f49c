package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gofaas/gofaas/pkg/api"
)

// The values of logs --format.
const (
	logsPlain    = "plain"
	logsKeyValue = "keyvalue"
	logsJSON     = "json"
)

// LogsOptions are the parsed flags of `gofaas logs`.
type LogsOptions struct {
	f         *Factory
	Gateway   GatewayFlags
	Name      string
	Namespace string
	Follow    bool
	Tail      int
	Since     time.Duration
	SinceTime string
	// InstanceID keeps only the lines of one replica.
	InstanceID string
	Format     string
	TimeFormat string
	// ShowName and ShowInstance add the function name and the replica to
	// each line (faas-cli's --name and --instance).
	ShowName, ShowInstance bool
	// now is the clock --since counts back from; nil means time.Now.
	now func() time.Time
}

// NewCmdLogs returns `gofaas logs NAME`.
func NewCmdLogs(f *Factory, runF func(*LogsOptions) error) *cobra.Command {
	opts := &LogsOptions{f: f}
	cmd := &cobra.Command{
		Use:   "logs NAME [--follow=false] [--tail N] [--since 10m]",
		Short: "Print a function's logs",
		Long: `Print a function's log lines. By default the stream follows new lines until the
gateway ends it or Control-C; --follow=false prints what is there and stops.`,
		Example: `  gofaas logs hello
  gofaas logs hello --follow=false --tail 20
  gofaas logs hello --since 10m --format json`,
		Args: exactArgs(1, "a function name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			switch opts.Format {
			case logsPlain, logsKeyValue, logsJSON:
			default:
				return usageError(cmd, "--format %q: want plain, keyvalue or json", opts.Format)
			}
			if opts.SinceTime != "" {
				if _, err := time.Parse(time.RFC3339, opts.SinceTime); err != nil {
					return usageError(cmd, "--since-time %q: want an RFC 3339 time such as 2024-05-01T10:00:00Z", opts.SinceTime)
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return logsRun(cmd.Context(), opts)
		},
	}
	addGatewayFlags(cmd, &opts.Gateway)
	fs := cmd.Flags()
	fs.StringVarP(&opts.Namespace, "namespace", "n", "", "namespace of the function")
	fs.BoolVar(&opts.Follow, "follow", true, "keep printing new lines")
	fs.IntVar(&opts.Tail, "tail", -1, "print only the last N lines; <= 0 means all")
	fs.DurationVar(&opts.Since, "since", 0, "only lines newer than this long ago, such as 5m")
	fs.StringVar(&opts.SinceTime, "since-time", "", "only lines since this RFC 3339 time")
	fs.StringVar(&opts.InstanceID, "instance-id", "", "only the lines of this replica")
	fs.StringVarP(&opts.Format, "format", "o", logsPlain, "output format: plain, keyvalue or json")
	fs.StringVar(&opts.TimeFormat, "time-format", time.RFC3339, "Go layout of the timestamp; empty leaves it out")
	fs.BoolVar(&opts.ShowName, "name", false, "print the function name on each line")
	fs.BoolVar(&opts.ShowInstance, "instance", false, "print the replica on each line")
	return cmd
}

func logsRun(ctx context.Context, opts *LogsOptions) error {
	c, _, err := opts.f.Client(opts.Gateway, "")
	if err != nil {
		return err
	}
	s, err := c.Logs(ctx, logRequest(opts))
	if err != nil {
		return err
	}
	defer s.Close()
	for s.Next() {
		fmt.Fprintln(opts.f.IO.Out, formatLog(s.Message(), opts))
	}
	if err := s.Err(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("reading logs: %w", err)
	}
	return nil
}

// logRequest turns the flags into the query; --since-time wins over --since.
func logRequest(opts *LogsOptions) api.LogRequest {
	req := api.LogRequest{
		Name: opts.Name, Namespace: opts.Namespace, Instance: opts.InstanceID,
		Tail: opts.Tail, Follow: opts.Follow,
	}
	switch {
	case opts.SinceTime != "":
		t, _ := time.Parse(time.RFC3339, opts.SinceTime)
		req.Since = &t
	case opts.Since > 0:
		now := time.Now
		if opts.now != nil {
			now = opts.now
		}
		t := now().Add(-opts.Since)
		req.Since = &t
	}
	return req
}

// formatLog writes one line as faas-cli does for each --format.
func formatLog(m api.LogMessage, opts *LogsOptions) string {
	if opts.Format == logsJSON {
		b, _ := json.Marshal(m)
		return string(b)
	}
	var b strings.Builder
	text := strings.TrimRight(m.Text, "\n")
	if opts.Format == logsKeyValue {
		if opts.TimeFormat != "" {
			fmt.Fprintf(&b, "timestamp=%q ", m.Timestamp.Format(opts.TimeFormat))
		}
		if opts.ShowName {
			fmt.Fprintf(&b, "name=%q ", m.Name)
		}
		if opts.ShowInstance {
			fmt.Fprintf(&b, "instance=%q ", m.Instance)
		}
		fmt.Fprintf(&b, "text=%q", text)
		return b.String()
	}
	if opts.TimeFormat != "" {
		b.WriteString(m.Timestamp.Format(opts.TimeFormat) + " ")
	}
	if opts.ShowName {
		b.WriteString(m.Name + " ")
	}
	if opts.ShowInstance {
		b.WriteString("(" + m.Instance + ") ")
	}
	b.WriteString(text)
	return b.String()
}
