package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/gofaas/gofaas/internal/version"
	"github.com/gofaas/gofaas/pkg/api"
)

func buildVersion() api.VersionInfo {
	return api.VersionInfo{Release: version.Release, SHA: version.Commit()}
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of this binary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := buildVersion()
			fmt.Fprintf(cmd.OutOrStdout(), "gofaas %s\ncommit: %s\ngo: %s %s/%s\n", v.Release, v.SHA, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
