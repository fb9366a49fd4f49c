package builder

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// Where the local builder puts things in an image, and how it marks it.
const (
	// WatchdogPath is the image's entrypoint.
	WatchdogPath = "/usr/bin/fwatchdog"
	// AppDir is the working folder; included files go under it.
	AppDir = "/home/app"
	// DefaultPath is the image's PATH unless Local.Env sets one.
	DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	// LabelBuilder names the builder that made an image; Local sets it to
	// "local".
	LabelBuilder = "com.gofaas.builder"
)

// tailLines is how many lines of a failed command's output its error keeps.
const tailLines = 20

// Local builds a function image without Docker. It runs the template's
// build commands in a prepared build context, then packs the result:
//
//   - layer 1 holds only /usr/bin/fwatchdog, so its digest stays the same
//     across handler changes and a registry that has it is not sent it again;
//   - layer 2 holds the included files under /home/app.
//
// Entries are sorted, dated 1970-01-01, owned by root (uid/gid 0) and
// world-readable: folders 0755, files 0755 when their owner may execute
// them, else 0644. The config has Entrypoint ["/usr/bin/fwatchdog"],
// WorkingDir /home/app, Env PATH, fprocess then Env sorted by key, the
// label com.gofaas.builder=local and no User. The same sources give the
// same digest.
type Local struct {
	// Context is the prepared build context (see Context.Prepare).
	Context string
	// Build lists the commands run in Context, in order, e.g.
	// [["go","build","-o","handler","."]]. They inherit the environment
	// (GOFLAGS, GOCACHE, ...) with CGO_ENABLED=0, GOWORK=off (a go.work above the
	// project must not capture the handler), GOOS=linux and GOARCH set
	// to this machine's architecture.
	Build [][]string
	// Include lists the Context paths packed under /home/app (folders
	// whole). Empty means every top-level entry except Dockerfile,
	// template.yml and fwatchdog.
	Include []string
	// Env is the image environment besides PATH and fprocess (e.g. mode,
	// upstream_url).
	Env map[string]string
	// FProcess is the command the watchdog runs (env fprocess); empty
	// leaves it to Env.
	FProcess string
	// Watchdog is the fwatchdog binary put at /usr/bin/fwatchdog.
	Watchdog string
	// Log receives the build commands' output; nil discards it.
	Log io.Writer
	// Progress, when not nil, shows the "compile" and "pack" steps.
	Progress *Progress
}

// BuildError is a build command that failed, with the end of its output.
type BuildError struct {
	// Args is the command line.
	Args []string
	// Err is what exec reported (often an *exec.ExitError).
	Err error
	// Output holds the last lines the command wrote.
	Output string
}

func (e *BuildError) Error() string {
	msg := "running " + strings.Join(e.Args, " ") + ": " + e.Err.Error()
	if e.Output != "" {
		msg += "\n" + e.Output
	}
	return msg
}

func (e *BuildError) Unwrap() error { return e.Err }

// Image runs the build commands and packs the image.
func (l Local) Image(ctx context.Context) (v1.Image, error) {
	abs, err := filepath.Abs(l.Context)
	if err != nil {
		return nil, fmt.Errorf("resolving build context: %w", err)
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("build context %s is not a folder; prepare it first", l.Context)
	}
	wd, err := watchdogEntry(l.Watchdog)
	if err != nil {
		return nil, err
	}
	fn := filepath.Base(abs)
	if err := l.compile(ctx, fn); err != nil {
		return nil, err
	}
	app, err := l.appEntries()
	if err != nil {
		return nil, err
	}
	layers, err := l.pack(fn, wd, app)
	if err != nil {
		return nil, err
	}
	return assemble(layers, Config{
		Entrypoint: []string{WatchdogPath}, Env: l.env(), WorkingDir: AppDir,
		Labels: map[string]string{LabelBuilder: "local"},
	})
}

func watchdogEntry(file string) ([]entry, error) {
	if file == "" {
		return nil, errors.New("no fwatchdog binary given to the local builder")
	}
	fi, err := os.Stat(file)
	if err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("fwatchdog binary %s is not a file", file)
	}
	name := strings.TrimPrefix(WatchdogPath, "/")
	return []entry{{name: name, kind: tar.TypeReg, mode: modeExec, src: file, size: fi.Size()}}, nil
}

// compile runs the build commands as the step "<fn>: compile".
func (l Local) compile(ctx context.Context, fn string) (err error) {
	if len(l.Build) == 0 {
		return nil
	}
	done := l.Progress.Step(fn + ": compile")
	defer func() { done(err) }()
	env := append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	for _, argv := range l.Build {
		if err := run(ctx, l.Context, argv, env, l.Log); err != nil {
			return err
		}
	}
	return nil
}

// run runs argv in dir, streaming its output to log. A failure is a
// *BuildError holding the output's last lines.
func run(ctx context.Context, dir string, argv, env []string, log io.Writer) error {
	if len(argv) == 0 || argv[0] == "" {
		return errors.New("empty build command")
	}
	if log == nil {
		log = io.Discard
	}
	tail := &tailBuffer{}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout = io.MultiWriter(log, tail)
	cmd.Stderr = cmd.Stdout
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return &BuildError{Args: argv, Err: err, Output: tail.last(tailLines)}
	}
	return nil
}

// tailBuffer keeps the end of a command's output.
type tailBuffer struct{ buf []byte }

const tailKeep = 64 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*tailKeep {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailKeep:]...)
	}
	return len(p), nil
}

// last returns at most n trailing lines, without the final newline.
func (t *tailBuffer) last(n int) string {
	b := bytes.TrimRight(t.buf, "\n")
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			if n--; n == 0 {
				return string(b[i+1:])
			}
		}
	}
	return string(b)
}

// defaultExcluded are the context's top-level entries an image leaves out
// when Include is empty: they only serve docker build.
var defaultExcluded = []string{"Dockerfile", "template.yml", "fwatchdog"}

// appEntries lists the included context paths as entries under home/app.
func (l Local) appEntries() ([]entry, error) {
	paths := l.Include
	if len(paths) == 0 {
		des, err := os.ReadDir(l.Context)
		if err != nil {
			return nil, fmt.Errorf("reading build context: %w", err)
		}
		for _, de := range des {
			if !slices.Contains(defaultExcluded, de.Name()) {
				paths = append(paths, de.Name())
			}
		}
	}
	app := strings.TrimPrefix(AppDir, "/")
	out := []entry{{name: app, kind: tar.TypeDir, mode: modeDir}}
	for _, p := range paths {
		clean, src, err := l.includePath(p)
		if err != nil {
			return nil, err
		}
		es, err := treeEntries(src, path.Join(app, clean))
		if err != nil {
			return nil, err
		}
		out = append(out, es...)
	}
	return out, nil
}

// includePath checks that an Include path names something inside the
// context, symlinks in its parent folders resolved, and returns it cleaned
// (slash-separated) with its host path.
func (l Local) includePath(p string) (clean, src string, err error) {
	clean = path.Clean(filepath.ToSlash(p))
	if path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", "", fmt.Errorf("include %q must be a path inside the build context", p)
	}
	src = filepath.Join(l.Context, filepath.FromSlash(clean))
	if _, err := os.Lstat(src); err != nil {
		return "", "", fmt.Errorf("include %q is not in the build context %s (did the build make it?)", p, l.Context)
	}
	root, err := filepath.EvalSymlinks(l.Context)
	if err != nil {
		return "", "", fmt.Errorf("resolving build context: %w", err)
	}
	parent, err := filepath.EvalSymlinks(filepath.Dir(src))
	if err != nil || !within(root, parent) {
		return "", "", fmt.Errorf("include %q leads out of the build context", p)
	}
	return clean, src, nil
}

// pack makes one layer per entry list as the step "<fn>: pack".
func (l Local) pack(fn string, layers ...[]entry) (adds []mutate.Addendum, err error) {
	done := l.Progress.Step(fn + ": pack")
	defer func() { done(err) }()
	var total, n int64
	for _, es := range layers {
		total += contentSize(es)
	}
	count := func(d int64) {
		n += d
		l.Progress.Update(n, total)
	}
	for i, es := range layers {
		fl, err := newFileLayer(es, count)
		if err != nil {
			return nil, fmt.Errorf("packing layer %d: %w", i+1, err)
		}
		adds = append(adds, mutate.Addendum{Layer: fl, History: history(fmt.Sprintf("gofaas builder: layer %d", i+1))})
	}
	return adds, nil
}

// env is PATH, fprocess, then the rest of Env sorted by key.
func (l Local) env() []string {
	vars := map[string]string{"PATH": DefaultPath}
	for k, v := range l.Env {
		vars[k] = v
	}
	if l.FProcess != "" {
		vars["fprocess"] = l.FProcess
	}
	out := []string{"PATH=" + vars["PATH"]}
	if v, ok := vars["fprocess"]; ok {
		out = append(out, "fprocess="+v)
	}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		if k != "PATH" && k != "fprocess" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		out = append(out, k+"="+vars[k])
	}
	return out
}
