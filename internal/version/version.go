// Package version holds the build information stamped in with -ldflags:
//
//	go build -ldflags "-X github.com/gofaas/gofaas/internal/version.Release=v0.1.0 -X github.com/gofaas/gofaas/internal/version.SHA=$(git rev-parse HEAD)"
//
// It is a leaf.
package version

import "runtime/debug"

// Set at build time; see the package comment.
var (
	// Release is the release name, "dev" when not stamped.
	Release = "dev"
	// SHA is the git commit, read from the Go build info when not stamped.
	SHA = ""
)

// Commit returns the git commit the binary was built from, or "unknown".
func Commit() string {
	if SHA != "" {
		return SHA
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}
