// Package stack owns the stack file (stack.yaml or stack.yml) that faas-cli
// users know: reading it from disk or a URL, checking every field with the
// file, line and field of each problem, merging a function's environment,
// turning a function into the gateway's deploy body, and writing new files
// or appending a function to an existing one.
//
// It imports pkg/api, go.yaml.in/yaml/v3 and github.com/drone/envsubst;
// never the gateway, a back-end or the CLI.
package stack

import (
	"maps"
	"slices"
)

// File is a parsed stack file.
type File struct {
	// Version is "1.0" or "" when the file has no version key.
	Version string
	// Provider names the platform and its gateway.
	Provider Provider
	// Functions maps each function name to its definition. After Parse with
	// a filter it holds only the matching functions.
	Functions map[string]Function
	// Configuration holds the template sources and the folders copied into
	// every build.
	Configuration Configuration
	// Path is where the file was read from (a file path or a URL); messages
	// name it and environment_file paths are relative to its folder.
	Path string
}

// Provider is the provider section of a stack file.
type Provider struct {
	// Name is "openfaas" (or "faas" in very old files).
	Name string
	// Gateway is the gateway URL as written; empty when absent.
	Gateway string
	// Network is the legacy Swarm network; kept but not used.
	Network string
}

// Resources are memory and CPU quantities in Kubernetes notation
// ("128Mi", "100m"); an empty string means not set.
type Resources struct {
	Memory string
	CPU    string
}

// Function is one entry of the functions section.
type Function struct {
	// Name is the key of the entry in the functions section.
	Name string
	// Lang is the template folder under ./template; "Dockerfile" is
	// normalised to "dockerfile". Empty means the image is not built.
	Lang string
	// Handler is the folder holding the function's code.
	Handler string
	// Image is the image reference (required).
	Image string
	// FProcess overrides the template's fprocess; empty keeps it.
	FProcess string
	// SkipBuild tells build and up to leave this function alone.
	SkipBuild bool
	// Environment holds the environment variables written in the file.
	Environment map[string]string
	// EnvironmentFile lists YAML files of the form {environment: {k: v}},
	// relative to the stack file's folder; see File.Environment.
	EnvironmentFile []string
	// Secrets names the secrets mounted into the function.
	Secrets []string
	// Labels and Annotations are the function's metadata.
	Labels, Annotations map[string]string
	// Limits and Requests are the resources; nil when absent or empty.
	Limits, Requests *Resources
	// Constraints are placement constraints such as "node.platform.os=linux".
	Constraints []string
	// BuildArgs are passed to the build as --build-arg K=V.
	BuildArgs map[string]string
	// BuildOptions name template build options (their packages become the
	// ADDITIONAL_PACKAGE build argument).
	BuildOptions []string
	// BuildSecrets maps a build secret id to a local file.
	BuildSecrets map[string]string
	// Platforms is a comma-separated platform list such as
	// "linux/amd64,linux/arm64".
	Platforms string
	// ReadOnlyRootFilesystem asks for a read-only root file system.
	ReadOnlyRootFilesystem bool
	// Namespace is the function's namespace; empty means the default.
	Namespace string
	// RegistryAuth is the legacy Swarm registry credential.
	RegistryAuth string
}

// Configuration is the configuration section of a stack file.
type Configuration struct {
	// Templates are pulled before a build when missing.
	Templates []TemplateSource
	// Copy lists folders, inside the project, copied into every build
	// context.
	Copy []string
}

// TemplateSource names a template and where to get it; Source is empty
// when the name is resolved through the template store.
type TemplateSource struct {
	Name   string
	Source string
}

// Options tune Parse and Load. The zero value parses the file as written.
type Options struct {
	// Envsubst substitutes ${VAR} and ${VAR:-default} over the raw file
	// before it is parsed; unset variables become "". faas-cli does this by
	// default, so the CLI sets it unless --envsubst=false.
	Envsubst bool
	// Getenv looks variables up for Envsubst; nil means os.Getenv.
	Getenv func(string) string
	// Filter keeps only the functions whose name matches this glob
	// (path.Match syntax); empty keeps all. Exclusive with Regex.
	Filter string
	// Regex keeps only the functions whose name matches this regular
	// expression (unanchored); empty keeps all. Exclusive with Filter.
	Regex string
}

// Names returns the function names, sorted.
func (f *File) Names() []string {
	return slices.Sorted(maps.Keys(f.Functions))
}
