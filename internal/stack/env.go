package stack

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gofaas/gofaas/pkg/api"
)

// Environment merges the environment of fn, as faas-cli does: the
// environment section, then each environment_file in order (later files
// win), then extra (the --env flags) over both. environment_file paths are
// relative to the stack file's folder. The result is never nil.
func (f *File) Environment(fn Function, extra map[string]string) (map[string]string, error) {
	env := maps.Clone(fn.Environment)
	if env == nil {
		env = map[string]string{}
	}
	for _, name := range fn.EnvironmentFile {
		p, err := f.relative(name)
		if err != nil {
			return nil, fmt.Errorf("function %s: environment_file: %w", fn.Name, err)
		}
		fileEnv, err := readEnvFile(p)
		if err != nil {
			return nil, fmt.Errorf("function %s: %w", fn.Name, err)
		}
		maps.Copy(env, fileEnv)
	}
	maps.Copy(env, extra)
	return env, nil
}

// relative resolves a path written in the stack file against its folder.
func (f *File) relative(name string) (string, error) {
	if filepath.IsAbs(name) {
		return name, nil
	}
	if isURL(f.Path) {
		return "", fmt.Errorf("%q is relative, but the stack file came from %s; use an absolute path", name, f.Path)
	}
	return filepath.Join(filepath.Dir(f.Path), name), nil
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// readEnvFile reads a file of the form {environment: {k: v}}.
func readEnvFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading environment file: %w", err)
	}
	doc, err := decodeYAML(path, data)
	if err != nil {
		return nil, err
	}
	d := newDecoder(path)
	m, _ := d.fields(root(doc), "", []string{"environment"})
	env := d.dict(m["environment"].value, "environment")
	for _, k := range slices.Sorted(maps.Keys(env)) {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			d.add(m["environment"].line(), "environment", "%q is not a valid variable name", k)
		}
	}
	return env, joinProblems(path, d.problems)
}

// Deployment turns fn into the body of POST/PUT /system/functions: its
// merged environment (see Environment) becomes envVars and fprocess
// envProcess. Maps and lists are copies, so the caller may change them.
func (f *File) Deployment(fn Function, extraEnv map[string]string) (api.FunctionDeployment, error) {
	if err := api.ValidateName("function", fn.Name); err != nil {
		return api.FunctionDeployment{}, err
	}
	if fn.Image == "" {
		return api.FunctionDeployment{}, errors.New("function " + fn.Name + ": image is required")
	}
	env, err := f.Environment(fn, extraEnv)
	if err != nil {
		return api.FunctionDeployment{}, err
	}
	if len(env) == 0 {
		env = nil
	}
	return api.FunctionDeployment{
		Service:                fn.Name,
		Image:                  fn.Image,
		Namespace:              fn.Namespace,
		EnvProcess:             fn.FProcess,
		EnvVars:                env,
		Constraints:            slices.Clone(fn.Constraints),
		Secrets:                slices.Clone(fn.Secrets),
		Labels:                 maps.Clone(fn.Labels),
		Annotations:            maps.Clone(fn.Annotations),
		Limits:                 wireResources(fn.Limits),
		Requests:               wireResources(fn.Requests),
		ReadOnlyRootFilesystem: fn.ReadOnlyRootFilesystem,
		RegistryAuth:           fn.RegistryAuth,
	}, nil
}

func wireResources(r *Resources) *api.FunctionResources {
	if r == nil || *r == (Resources{}) {
		return nil
	}
	return &api.FunctionResources{Memory: r.Memory, CPU: r.CPU}
}
