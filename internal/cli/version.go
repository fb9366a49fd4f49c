package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/gofaas/gofaas/internal/version"
	"github.com/gofaas/gofaas/pkg/api"
	"github.com/gofaas/gofaas/pkg/client"
)

// versionTimeout bounds the /system/info call, so `version` stays quick
// when no gateway answers.
const versionTimeout = 5 * time.Second

// VersionOptions are the parsed flags of `gofaas version`.
type VersionOptions struct {
	f            *Factory
	Gateway      GatewayFlags
	ShortVersion bool
}

// NewCmdVersion returns `gofaas version`: the client's release and commit
// and, when a gateway answers, its /system/info, as `faas-cli version`.
func NewCmdVersion(f *Factory, runF func(*VersionOptions) error) *cobra.Command {
	opts := &VersionOptions{f: f}
	cmd := &cobra.Command{
		Use:   "version [--short-version] [-g GATEWAY]",
		Short: "Print the version of this binary and of the gateway",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return versionRun(cmd.Context(), opts)
		},
	}
	addGatewayFlags(cmd, &opts.Gateway)
	cmd.Flags().BoolVar(&opts.ShortVersion, "short-version", false, "print only this binary's release")
	return cmd
}

func versionRun(ctx context.Context, opts *VersionOptions) error {
	out := opts.f.IO.Out
	release := cmp.Or(opts.f.Version, version.Release)
	if opts.ShortVersion {
		fmt.Fprintln(out, release)
		return nil
	}
	fmt.Fprintf(out, "gofaas %s\ncommit: %s\ngo: %s %s/%s\n", release, version.Commit(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	conn, err := opts.f.Connect(opts.Gateway, "")
	if err != nil {
		return err
	}
	c, err := opts.f.NewClient(conn, client.WithTimeout(versionTimeout))
	if err != nil {
		return err
	}
	info, err := c.Info(ctx)
	if err != nil {
		fmt.Fprintf(opts.f.IO.ErrOut, "\nNo gateway information: %v\n", err)
		return nil
	}
	printServerVersion(out, conn.URL, info)
	return nil
}

// printServerVersion writes the gateway and provider sections of
// `faas-cli version`.
func printServerVersion(out io.Writer, url string, info api.GatewayInfo) {
	gw := info.Version
	if gw == nil {
		gw = &api.VersionInfo{}
	}
	fmt.Fprintf(out, "\nGateway\n uri:     %s\n version: %s\n sha:     %s\n", url, gw.Release, gw.SHA)
	if info.Provider == nil {
		return
	}
	pv := info.Provider.Version
	if pv == nil {
		pv = &api.VersionInfo{}
	}
	fmt.Fprintf(out, "\nProvider\n name:          %s\n orchestration: %s\n version:       %s\n sha:           %s\n",
		info.Provider.Name, info.Provider.Orchestration, pv.Release, pv.SHA)
}
