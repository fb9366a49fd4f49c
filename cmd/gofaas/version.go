package main

import (
	"github.com/gofaas/gofaas/internal/version"
	"github.com/gofaas/gofaas/pkg/api"
)

// buildVersion is what the gateway reports in /system/info and X-Served-By.
// The version verb itself lives in internal/cli.
func buildVersion() api.VersionInfo {
	return api.VersionInfo{Release: version.Release, SHA: version.Commit()}
}
