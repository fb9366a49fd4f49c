// Package cli holds the gofaas client verbs, named and flagged like
// faas-cli's: login, list, describe, deploy, invoke, logs, secret, namespace,
// scale, remove, version, and the build pipeline (build, push, up, new,
// template, store). Each verb is an Options struct plus
// NewCmdX(f, runF) *cobra.Command, as in gh, so tests can capture the parsed
// options or run the verb against a recording server.
//
// It imports pkg/client, pkg/api, internal/cli/config, internal/stack,
// internal/builder, internal/templates and internal/version; never the
// gateway or a provider.
package cli

import (
	"errors"
	"net/http"
	"os"
)

// ErrUsage marks a command line that cannot be run as given; the usage has
// already been printed. main maps it to exit code 2.
var ErrUsage = errors.New("usage")

// Factory holds what the verbs need from the outside world, so tests can
// replace each part.
type Factory struct {
	IO *IOStreams
	// Getenv reads an environment variable.
	Getenv func(string) string
	// HomeDir returns the user's home folder.
	HomeDir func() (string, error)
	// WorkDir returns the folder relative paths start from (the project);
	// nil means os.Getwd.
	WorkDir func() (string, error)
	// HTTPClient returns the client the gateway calls go through; its
	// Timeout should be zero (pkg/client applies its own).
	HTTPClient func() *http.Client
	// Version is the client's release, sent as User-Agent gofaas/<Version>.
	Version string
}

// NewFactory returns the Factory of a real run: the process's streams,
// environment and home folder.
func NewFactory(version string) *Factory {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	hc := &http.Client{Transport: transport}
	return &Factory{
		IO:         System(),
		Getenv:     os.Getenv,
		HomeDir:    os.UserHomeDir,
		WorkDir:    os.Getwd,
		HTTPClient: func() *http.Client { return hc },
		Version:    version,
	}
}

// workDir returns the project folder.
func (f *Factory) workDir() (string, error) {
	if f.WorkDir == nil {
		return os.Getwd()
	}
	return f.WorkDir()
}
