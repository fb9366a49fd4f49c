package stack

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	yaml "go.yaml.in/yaml/v3"

	"github.com/gofaas/gofaas/pkg/api"
)

// ErrFunctionExists is returned (wrapped) by Append when the stack file
// already has a function of that name.
var ErrFunctionExists = errors.New("function already in the stack file")

// yamlFunction is a Function with the stack file's keys, for writing.
type yamlFunction struct {
	Lang                   string            `yaml:"lang,omitempty"`
	Handler                string            `yaml:"handler,omitempty"`
	Image                  string            `yaml:"image"`
	FProcess               string            `yaml:"fprocess,omitempty"`
	SkipBuild              bool              `yaml:"skip_build,omitempty"`
	Environment            map[string]string `yaml:"environment,omitempty"`
	EnvironmentFile        []string          `yaml:"environment_file,omitempty"`
	Secrets                []string          `yaml:"secrets,omitempty"`
	Labels                 map[string]string `yaml:"labels,omitempty"`
	Annotations            map[string]string `yaml:"annotations,omitempty"`
	Limits                 *yamlResources    `yaml:"limits,omitempty"`
	Requests               *yamlResources    `yaml:"requests,omitempty"`
	Constraints            []string          `yaml:"constraints,omitempty"`
	BuildArgs              map[string]string `yaml:"build_args,omitempty"`
	BuildOptions           []string          `yaml:"build_options,omitempty"`
	BuildSecrets           map[string]string `yaml:"build_secrets,omitempty"`
	Platforms              string            `yaml:"platforms,omitempty"`
	ReadOnlyRootFilesystem bool              `yaml:"readonly_root_filesystem,omitempty"`
	Namespace              string            `yaml:"namespace,omitempty"`
	RegistryAuth           string            `yaml:"registry_auth,omitempty"`
}

type yamlResources struct {
	Memory string `yaml:"memory,omitempty"`
	CPU    string `yaml:"cpu,omitempty"`
}

func toYAMLResources(r *Resources) *yamlResources {
	if r == nil || *r == (Resources{}) {
		return nil
	}
	return &yamlResources{Memory: r.Memory, CPU: r.CPU}
}

// functionNode encodes fn as a mapping node.
func functionNode(fn Function) (*yaml.Node, error) {
	var n yaml.Node
	err := n.Encode(yamlFunction{
		Lang: fn.Lang, Handler: fn.Handler, Image: fn.Image, FProcess: fn.FProcess, SkipBuild: fn.SkipBuild,
		Environment: fn.Environment, EnvironmentFile: fn.EnvironmentFile, Secrets: fn.Secrets,
		Labels: fn.Labels, Annotations: fn.Annotations,
		Limits: toYAMLResources(fn.Limits), Requests: toYAMLResources(fn.Requests),
		Constraints: fn.Constraints, BuildArgs: fn.BuildArgs, BuildOptions: fn.BuildOptions,
		BuildSecrets: fn.BuildSecrets, Platforms: fn.Platforms,
		ReadOnlyRootFilesystem: fn.ReadOnlyRootFilesystem, Namespace: fn.Namespace, RegistryAuth: fn.RegistryAuth,
	})
	if err != nil {
		return nil, fmt.Errorf("encoding function %s: %w", fn.Name, err)
	}
	return &n, nil
}

// checkForWrite checks fn as Parse would, so that written files parse.
func checkForWrite(path string, fn Function) error {
	var problems []*Error
	field := "functions." + fn.Name
	if err := api.ValidateName("function", fn.Name); err != nil {
		problems = append(problems, &Error{Path: path, Field: field, Msg: err.Error()})
	}
	for _, p := range checkFunction(fn) {
		problems = append(problems, &Error{Path: path, Field: joinField(field, p.field), Msg: p.msg})
	}
	return joinProblems(path, problems)
}

func scalar(value string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Value: value}
}

// WriteNew creates a stack file holding version 1.0, the openfaas provider
// with gateway (left out when empty) and fns. It refuses to replace an
// existing file (the error wraps fs.ErrExist).
func WriteNew(path string, gateway string, fns ...Function) error {
	data, err := render(path, gateway, fns)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("creating stack file: %w", err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing stack file: %w", err)
	}
	return nil
}

// render is the text WriteNew writes; path names it in messages.
func render(path, gateway string, fns []Function) ([]byte, error) {
	provider := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{scalar("name"), scalar("openfaas")}}
	if gateway != "" {
		provider.Content = append(provider.Content, scalar("gateway"), &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: gateway})
	}
	functions := &yaml.Node{Kind: yaml.MappingNode}
	top := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
		scalar("version"), scalar("1.0"), scalar("provider"), provider, scalar("functions"), functions}}
	for _, fn := range fns {
		if err := addFunction(path, functions, fn); err != nil {
			return nil, err
		}
	}
	return encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{top}})
}

// addFunction checks fn and appends it to the functions mapping, refusing
// a name already there.
func addFunction(path string, functions *yaml.Node, fn Function) error {
	if err := checkForWrite(path, fn); err != nil {
		return err
	}
	for i := 0; i+1 < len(functions.Content); i += 2 {
		if k := functions.Content[i]; k.Value == fn.Name && k.Line > 0 {
			return fmt.Errorf("%w: %s already has %s (line %d)", ErrFunctionExists, path, fn.Name, k.Line)
		} else if k.Value == fn.Name {
			return fmt.Errorf("%w: %s is given twice", ErrFunctionExists, fn.Name)
		}
	}
	n, err := functionNode(fn)
	if err != nil {
		return err
	}
	functions.Content = append(functions.Content, scalar(fn.Name), n)
	return nil
}

func encode(doc *yaml.Node) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encoding stack file: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding stack file: %w", err)
	}
	return buf.Bytes(), nil
}

// Append adds fn to the functions section of the stack file at path,
// keeping the rest of the file, its comments included (the YAML is
// re-indented by two spaces). A function of the same name already there
// wraps ErrFunctionExists. The file is replaced atomically.
func Append(path string, fn Function) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading stack file: %w", err)
	}
	doc, err := decodeYAML(path, data)
	if err != nil {
		return err
	}
	top := root(doc)
	if top == nil || top.Kind != yaml.MappingNode {
		return &Error{Path: path, Line: 1, Msg: "cannot append: the file is not a mapping with a functions section"}
	}
	functions, err := functionsNode(path, top)
	if err != nil {
		return err
	}
	if err := addFunction(path, functions, fn); err != nil {
		return err
	}
	if data, err = encode(doc); err != nil {
		return err
	}
	return replaceFile(path, data)
}

// functionsNode returns the functions mapping of top, adding an empty one
// when the key is missing or null.
func functionsNode(path string, top *yaml.Node) (*yaml.Node, error) {
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value != "functions" {
			continue
		}
		v := top.Content[i+1]
		if isNull(v) {
			*v = yaml.Node{Kind: yaml.MappingNode, Line: v.Line, Column: v.Column, HeadComment: v.HeadComment,
				LineComment: v.LineComment, FootComment: v.FootComment}
		}
		if v.Kind == yaml.MappingNode && len(v.Content) == 0 {
			v.Style &^= yaml.FlowStyle // "functions: {}" becomes a block
		}
		if v.Kind != yaml.MappingNode {
			return nil, &Error{Path: path, Line: v.Line, Field: "functions", Msg: "cannot append: must be a plain mapping (not " + kindName(v) + " or an alias)"}
		}
		return v, nil
	}
	v := &yaml.Node{Kind: yaml.MappingNode}
	top.Content = append(top.Content, scalar("functions"), v)
	return v, nil
}

// replaceFile writes data next to path and renames it over path, keeping
// path's permissions.
func replaceFile(path string, data []byte) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("writing stack file: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing stack file: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	_, err = tmp.Write(data)
	err = errors.Join(err, tmp.Chmod(info.Mode().Perm()), tmp.Close())
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("writing stack file: %w", err)
	}
	return nil
}
