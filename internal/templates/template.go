package templates

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// DefaultHandlerFolder is the template's sub-folder holding the handler
// scaffold when template.yml names no handler_folder.
const DefaultHandlerFolder = "function"

// maxTemplateYAML bounds the size of a template.yml.
const maxTemplateYAML = 1 << 20

// localKeys are the keys the gofaas block accepts.
var localKeys = []string{"build", "include", "requires", "env"}

// BuildOption is a named set of extra packages (template.yml
// build_options); the docker builder passes the chosen ones as the build
// argument ADDITIONAL_PACKAGE.
type BuildOption struct {
	Name     string
	Packages []string
}

// Local tells the Docker-less local builder how to build a template (the
// gofaas block of template.yml).
type Local struct {
	// Build lists the commands run in the build context, in order; none
	// for interpreted languages.
	Build [][]string
	// Include lists the build context paths packed under /home/app; empty
	// means everything except Dockerfile and template.yml.
	Include []string
	// Requires names the host program the process back-end runs the
	// function with (e.g. python3); empty for static binaries.
	Requires string
	// Env is the image environment besides fprocess (e.g. mode,
	// upstream_url).
	Env map[string]string
}

// Template is one function template.
type Template struct {
	// Language is the template's name (template.yml language; the folder
	// name when that is empty).
	Language string
	// FProcess is the command the watchdog runs (template.yml fprocess).
	FProcess string
	// WelcomeMessage is printed by `gofaas new`.
	WelcomeMessage string
	// HandlerFolder is the sub-folder holding the handler scaffold, and
	// where the build context gets the handler; DefaultHandlerFolder when
	// template.yml sets none.
	HandlerFolder string
	// BuildOptions are template.yml's build_options.
	BuildOptions []BuildOption
	// MountSSH is template.yml's mount_ssh (docker builds only).
	MountSSH bool
	// Local is the gofaas block; nil when template.yml has none (e.g. a
	// template pulled from OpenFaaS), and then the local builder cannot
	// build it.
	Local *Local
	// FS holds the template's files, rooted at the template folder.
	FS fs.FS
	// Source is "embedded" or the folder the template was read from.
	Source string
}

// templateYAML is template.yml as written. Keys other than these are
// ignored, so that templates written for newer faas-cli versions load.
type templateYAML struct {
	Language       string       `yaml:"language"`
	FProcess       string       `yaml:"fprocess"`
	WelcomeMessage string       `yaml:"welcome_message"`
	HandlerFolder  string       `yaml:"handler_folder"`
	BuildOptions   []optionYAML `yaml:"build_options"`
	MountSSH       bool         `yaml:"mount_ssh"`
	Gofaas         yaml.Node    `yaml:"gofaas"`
}

type optionYAML struct {
	Name     string   `yaml:"name"`
	Packages []string `yaml:"packages"`
}

type localYAML struct {
	Build    [][]string        `yaml:"build"`
	Include  []string          `yaml:"include"`
	Requires string            `yaml:"requires"`
	Env      map[string]string `yaml:"env"`
}

// ParseTemplateYAML reads a template.yml. Unknown top-level keys are
// ignored (faas-cli adds some now and then); unknown keys in the gofaas
// block are errors. FS and Source are left for the caller to fill.
func ParseTemplateYAML(data []byte) (*Template, error) {
	if len(data) > maxTemplateYAML {
		return nil, fmt.Errorf("template.yml is larger than %d bytes", maxTemplateYAML)
	}
	var raw templateYAML
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&raw); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading template.yml: %w", err)
	}
	t := &Template{
		Language:       strings.TrimSpace(raw.Language),
		FProcess:       raw.FProcess,
		WelcomeMessage: raw.WelcomeMessage,
		HandlerFolder:  raw.HandlerFolder,
		MountSSH:       raw.MountSSH,
	}
	if t.HandlerFolder == "" {
		t.HandlerFolder = DefaultHandlerFolder
	}
	if !fs.ValidPath(t.HandlerFolder) || t.HandlerFolder == "." {
		return nil, fmt.Errorf("template.yml: handler_folder %q must be a folder inside the template", t.HandlerFolder)
	}
	for _, o := range raw.BuildOptions {
		t.BuildOptions = append(t.BuildOptions, BuildOption{Name: o.Name, Packages: o.Packages})
	}
	local, err := parseLocal(&raw.Gofaas)
	if err != nil {
		return nil, fmt.Errorf("template.yml: gofaas: %w", err)
	}
	t.Local = local
	return t, nil
}

// parseLocal decodes the gofaas block; nil when it is absent or null.
func parseLocal(n *yaml.Node) (*Local, error) {
	if n.Kind == 0 || n.Tag == "!!null" {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: want a mapping", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; !slices.Contains(localKeys, k.Value) {
			return nil, fmt.Errorf("line %d: unknown key %q (known: %s)", k.Line, k.Value, strings.Join(localKeys, ", "))
		}
	}
	var raw localYAML
	if err := n.Decode(&raw); err != nil {
		return nil, err
	}
	l := &Local{Build: raw.Build, Include: raw.Include, Requires: strings.TrimSpace(raw.Requires), Env: raw.Env}
	return l, l.validate()
}

func (l *Local) validate() error {
	for i, argv := range l.Build {
		if len(argv) == 0 || strings.TrimSpace(argv[0]) == "" {
			return fmt.Errorf("build command %d is empty", i+1)
		}
	}
	for _, p := range l.Include {
		if !fs.ValidPath(p) || p == "." {
			return fmt.Errorf("include path %q must name something inside the build context", p)
		}
	}
	for k := range l.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return fmt.Errorf("env name %q is not a valid variable name", k)
		}
	}
	return nil
}
