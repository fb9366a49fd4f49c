package process

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gofaas/gofaas/internal/registry"
	"github.com/gofaas/gofaas/pkg/api"
)

// defaultImagePath is the PATH Docker assumes for an image that sets none.
const defaultImagePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Environment variables set for every replica.
const (
	EnvReplica    = "GOFAAS_REPLICA"
	EnvSecretsDir = "OPENFAAS_SECRETS_DIR"
)

// envList is an ordered environment where a later Set replaces the value
// but keeps the first position.
type envList struct {
	keys []string
	vals map[string]string
}

func newEnvList() *envList { return &envList{vals: map[string]string{}} }

func (e *envList) Set(k, v string) {
	if _, ok := e.vals[k]; !ok {
		e.keys = append(e.keys, k)
	}
	e.vals[k] = v
}

func (e *envList) Get(k string) (string, bool) {
	v, ok := e.vals[k]
	return v, ok
}

func (e *envList) Environ() []string {
	out := make([]string, 0, len(e.keys))
	for _, k := range e.keys {
		out = append(out, k+"="+e.vals[k])
	}
	return out
}

// baseEnv is the image env, then the function's envVars (sorted), then
// fprocess, then prefix_logs=false and healthcheck_interval=0 unless
// already set: the back-end timestamps log lines itself, and it stops
// routing to a replica before signalling it, so the watchdog need not keep
// serving unready after SIGTERM and can drain at once.
func baseEnv(img registry.Image, d api.FunctionDeployment) *envList {
	env := newEnvList()
	for _, kv := range img.Env {
		k, v, _ := strings.Cut(kv, "=")
		if k != "" {
			env.Set(k, v)
		}
	}
	keys := make([]string, 0, len(d.EnvVars))
	for k := range d.EnvVars {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		env.Set(k, d.EnvVars[k])
	}
	if d.EnvProcess != "" {
		env.Set("fprocess", d.EnvProcess)
	}
	for _, kv := range [][2]string{{"prefix_logs", "false"}, {"healthcheck_interval", "0"}} {
		if _, ok := env.Get(kv[0]); !ok {
			env.Set(kv[0], kv[1])
		}
	}
	return env
}

// imagePath returns the image's PATH entries mapped under root.
func imagePath(img registry.Image, env *envList) []string {
	p, ok := env.Get("PATH")
	if !ok {
		p = defaultImagePath
	}
	var out []string
	for _, dir := range filepath.SplitList(p) {
		if filepath.IsAbs(dir) {
			out = append(out, filepath.Join(img.Root, dir))
		}
	}
	return out
}

// workDir is the image's working directory under its root, created when
// the image lacks it (as container runtimes do for WORKDIR). It never
// leaves the root, even through ".." or symlinks in the image.
func workDir(img registry.Image) (string, error) {
	rel := strings.TrimPrefix(filepath.Clean("/"+img.WorkingDir), "/")
	if rel == "" {
		return img.Root, nil
	}
	root, err := os.OpenRoot(img.Root)
	if err != nil {
		return "", fmt.Errorf("opening image root: %w", err)
	}
	defer root.Close()
	if err := root.MkdirAll(rel, 0o755); err != nil {
		return "", fmt.Errorf("creating working dir %s in the image: %w", img.WorkingDir, err)
	}
	return filepath.Join(img.Root, rel), nil
}

// resolveArgv returns the command line of the image with the program (and
// any absolute argument that exists in the image) mapped under the root;
// a bare program name is looked up in searchPath.
func resolveArgv(img registry.Image, searchPath []string) ([]string, error) {
	argv := slices.Concat(img.Entrypoint, img.Cmd)
	if len(argv) == 0 || argv[0] == "" {
		return nil, errors.New("the image has no entrypoint or command")
	}
	prog, err := findProgram(img, argv[0], searchPath)
	if err != nil {
		return nil, err
	}
	out := []string{prog}
	for _, a := range argv[1:] {
		if filepath.IsAbs(a) {
			if _, err := os.Stat(filepath.Join(img.Root, a)); err == nil {
				a = filepath.Join(img.Root, a)
			}
		}
		out = append(out, a)
	}
	return out, nil
}

func findProgram(img registry.Image, name string, searchPath []string) (string, error) {
	switch {
	case filepath.IsAbs(name):
		p := filepath.Join(img.Root, name)
		return p, checkExecutable(p, name)
	case strings.Contains(name, "/"):
		p := filepath.Join(img.Root, filepath.Clean("/"+img.WorkingDir), name)
		return p, checkExecutable(p, name)
	}
	for _, dir := range searchPath {
		p := filepath.Join(dir, name)
		if checkExecutable(p, name) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("the image's program %q is not in the image or on the PATH", name)
}

func checkExecutable(path, name string) error {
	st, err := os.Stat(path)
	if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("the image's program %q is missing or not executable", name)
	}
	return nil
}
