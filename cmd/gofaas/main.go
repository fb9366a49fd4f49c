// Command gofaas is the gofaas platform in one binary: `gofaas server` runs
// everything on one machine; `gofaas gateway` and `gofaas provider` run the
// parts separately.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/gofaas/gofaas/internal/cli"
	"github.com/gofaas/gofaas/internal/provider/process"
	"github.com/gofaas/gofaas/internal/version"
)

func main() {
	// A replica of the process back-end starting inside its own namespaces
	// re-executes this binary; that step must run before anything else.
	if process.IsReplicaInit() {
		process.ReplicaInitMain()
		return
	}
	// The gateway allocates per request; a larger GC target trades a few MB
	// of memory for throughput (bench/gateway/run.sh). GOGC still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	os.Exit(exitCode(err))
}

// exitCode is the one place errors become exit codes.
func exitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintln(os.Stderr, "gofaas:", err)
		return 1
	}
}

// errUsage is the client verbs' usage error, so flag and argument mistakes
// of every command exit with 2.
var errUsage = cli.ErrUsage

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "gofaas",
		Short:         "gofaas: functions as a service, OpenFaaS-compatible, in one binary",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		fmt.Fprintf(c.ErrOrStderr(), "%v\n\n%s", err, c.UsageString())
		return errUsage
	})
	root.AddCommand(newServerCmd(), newGatewayCmd(), newProviderCmd(), newQueueWorkerCmd())
	cli.AddCommands(root, cli.NewFactory(version.Release))
	return root
}
