package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/spf13/cobra"

	"github.com/gofaas/gofaas/internal/builder"
	"github.com/gofaas/gofaas/internal/stack"
)

// BuildFlags are the flags build, push and up share.
type BuildFlags struct {
	// Builder is --builder: "local", "docker" or "" (choose).
	Builder string
	// Shrinkwrap writes the build context only (build).
	Shrinkwrap bool
	// BuildArgs (--build-arg K=V) and BuildOptions (--build-option) go to
	// docker builds.
	BuildArgs, BuildOptions []string
	// Tag is --tag: latest (as written), sha, or branch.
	Tag string
}

func addBuildFlags(cmd *cobra.Command, b *BuildFlags) {
	fs := cmd.Flags()
	fs.StringVar(&b.Builder, "builder", "", `"local" (no Docker: Go is compiled on this machine, other languages are packed as sources) or "docker" (the template's Dockerfile); default: local when the gateway runs functions as local processes or no Docker engine answers, else docker (env GOFAAS_BUILDER)`)
	fs.StringArrayVar(&b.BuildArgs, "build-arg", nil, "docker build argument KEY=VALUE (repeatable)")
	fs.StringArrayVar(&b.BuildOptions, "build-option", nil, "template build option adding packages, e.g. dev (repeatable; docker builds)")
	fs.StringVar(&b.Tag, "tag", "latest", `image tag: "latest" (as written in the stack file), "sha" (append -<git sha>) or "branch" (append -<branch>-<git sha>)`)
}

// BuildOptions are the parsed flags of `gofaas build`.
type BuildOptions struct {
	f       *Factory
	Gateway GatewayFlags
	Stack   StackFlags
	Build   BuildFlags
}

// NewCmdBuild returns `gofaas build`.
func NewCmdBuild(f *Factory, runF func(*BuildOptions) error) *cobra.Command {
	opts := &BuildOptions{f: f}
	cmd := &cobra.Command{
		Use:   "build [-f stack.yaml] [--filter GLOB | --regex RE]",
		Short: "Build the images of a stack file's functions",
		Long: `Lay out each function's build context in ./build/<name> (the template, with
the handler in its handler folder) and build its image.

The local builder needs no Docker: Go handlers are compiled on this machine
(static, CGO off); Python, Node and Bash handlers are packed as sources,
which the process back-end of gofaas server runs with this machine's
interpreter. Its images are kept in ./build/.images for gofaas push. The
docker builder runs docker build with the template's Dockerfile, as
faas-cli does. --shrinkwrap writes the build context only.`,
		Example: `  gofaas build
  gofaas build --builder docker --filter 'api-*'
  gofaas build --shrinkwrap`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkBuildFlags(cmd, opts.Stack, opts.Build); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return buildRun(cmd.Context(), opts)
		},
	}
	addGatewayFlags(cmd, &opts.Gateway)
	addStackFlags(cmd, &opts.Stack, true)
	addBuildFlags(cmd, &opts.Build)
	cmd.Flags().BoolVar(&opts.Build.Shrinkwrap, "shrinkwrap", false, "write the build context to ./build/<name> and stop")
	return cmd
}

func checkBuildFlags(cmd *cobra.Command, s StackFlags, b BuildFlags) error {
	switch {
	case s.Filter != "" && s.Regex != "":
		return usageError(cmd, "--filter and --regex are mutually exclusive")
	case b.Builder != "" && b.Builder != builderLocal && b.Builder != builderDocker:
		return usageError(cmd, "--builder %q: want local or docker", b.Builder)
	case b.Tag != "latest" && b.Tag != "sha" && b.Tag != "branch":
		return usageError(cmd, "--tag %q: want latest, sha or branch", b.Tag)
	}
	return nil
}

func buildRun(ctx context.Context, opts *BuildOptions) error {
	p, err := opts.f.project(ctx, opts.Stack)
	if err != nil {
		return err
	}
	set, err := opts.f.buildSettings(ctx, opts.Build, opts.Gateway, p.file)
	if err != nil {
		return err
	}
	_, err = p.buildAll(ctx, opts.f, set, opts.Build)
	return err
}

// project is a loaded stack file and the folder it lives in.
type project struct {
	dir  string
	file *stack.File
}

// project loads the stack file of s (required) and finds its folder.
func (f *Factory) project(ctx context.Context, s StackFlags) (*project, error) {
	file, err := f.loadStack(ctx, s, true)
	if errors.Is(err, errNoStack) {
		return nil, fmt.Errorf("%w; create one with gofaas new NAME --lang LANG, or pass -f", err)
	}
	if err != nil {
		return nil, err
	}
	dir, err := f.workDir()
	if err != nil {
		return nil, fmt.Errorf("finding the project folder: %w", err)
	}
	if !strings.Contains(file.Path, "://") {
		abs, err := filepath.Abs(filepath.Join(dir, file.Path))
		if filepath.IsAbs(file.Path) {
			abs, err = file.Path, nil
		}
		if err != nil {
			return nil, err
		}
		dir = filepath.Dir(abs)
	}
	return &project{dir: dir, file: file}, nil
}

// buildSettings decides the builder and wires the output.
func (f *Factory) buildSettings(ctx context.Context, b BuildFlags, g GatewayFlags, file *stack.File) (buildSettings, error) {
	args, err := parseMap(b.BuildArgs, "--build-arg")
	if err != nil {
		return buildSettings{}, err
	}
	set := buildSettings{
		Shrinkwrap:   b.Shrinkwrap,
		BuildArgs:    args,
		BuildOptions: b.BuildOptions,
		Getenv:       f.Getenv,
		Log:          f.IO.ErrOut,
		Progress:     newProgress(f),
	}
	if !b.Shrinkwrap {
		set.Builder, err = f.chooseBuilder(ctx, b.Builder, g, file)
	}
	return set, err
}

// chooseBuilder returns --builder, else $GOFAAS_BUILDER, else local when no
// Docker engine answers or the gateway runs functions as local processes
// (a container image's interpreter would not run there), else docker.
func (f *Factory) chooseBuilder(ctx context.Context, flag string, g GatewayFlags, file *stack.File) (string, error) {
	choice := flag
	if choice == "" {
		choice = f.Getenv("GOFAAS_BUILDER")
	}
	switch choice {
	case builderLocal, builderDocker:
		return choice, nil
	case "":
	default:
		return "", fmt.Errorf("GOFAAS_BUILDER=%q: want local or docker", choice)
	}
	if !builder.DockerAvailable(ctx) {
		fmt.Fprintln(f.IO.ErrOut, "Builder: local (no Docker engine answers)")
		return builderLocal, nil
	}
	if f.gatewayRunsProcesses(ctx, g, file) {
		fmt.Fprintln(f.IO.ErrOut, "Builder: local (the gateway runs functions as local processes)")
		return builderLocal, nil
	}
	fmt.Fprintln(f.IO.ErrOut, "Builder: docker")
	return builderDocker, nil
}

// gatewayRunsProcesses asks the gateway's /system/info, briefly.
func (f *Factory) gatewayRunsProcesses(ctx context.Context, g GatewayFlags, file *stack.File) bool {
	c, _, err := f.Client(g, file.Provider.Gateway)
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	info, err := c.Info(ctx)
	return err == nil && info.Provider != nil && info.Provider.Orchestration == "process"
}

// buildAll builds every function of the project that is not skip_build, in
// name order, printing faas-cli's lines; it returns the image of each.
func (p *project) buildAll(ctx context.Context, f *Factory, set buildSettings, b BuildFlags) (map[string]string, error) {
	images := map[string]string{}
	var errs []error
	total := time.Now()
	for i, name := range p.file.Names() {
		fn := p.file.Functions[name]
		if fn.SkipBuild {
			fmt.Fprintf(f.IO.Out, "Skipping build of: %s.\n", name)
			continue
		}
		image, err := p.tagged(fn.Image, b.Tag)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		fmt.Fprintf(f.IO.Out, "[%d] > Building %s.\n", i, name)
		err = buildFunction(ctx, buildJob{ProjectDir: p.dir, Stack: p.file, Fn: fn, Image: image}, set)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("building %s: %w", name, err))
			fmt.Fprintf(f.IO.Out, "[%d] < Building %s failed.\n", i, name)
			continue
		case set.Shrinkwrap:
			fmt.Fprintf(f.IO.Out, "%s shrink-wrapped to %s\n", name, filepath.Join("build", name))
		default:
			fmt.Fprintf(f.IO.Out, "Image: %s built.\n[%d] < Building %s done in %.2fs.\n", image, i, name, time.Since(start).Seconds())
		}
		images[name] = image
	}
	if len(errs) == 0 && !set.Shrinkwrap {
		fmt.Fprintf(f.IO.Out, "\nTotal build time: %.2fs\n", time.Since(total).Seconds())
	}
	return images, errors.Join(errs...)
}

// tagged applies --tag to image: ":latest" is added when it names no tag,
// then sha appends "-<sha>" and branch "-<branch>-<sha>" of the project's
// git HEAD.
func (p *project) tagged(image, mode string) (string, error) {
	repo, tag := splitTag(image)
	if mode == "latest" || mode == "" {
		return repo + ":" + tag, nil
	}
	r, err := git.PlainOpenWithOptions(p.dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return "", fmt.Errorf("--tag %s needs a git repository at %s: %w", mode, p.dir, err)
	}
	head, err := r.Head()
	if err != nil {
		return "", fmt.Errorf("--tag %s: reading git HEAD: %w", mode, err)
	}
	sha := head.Hash().String()[:7]
	if mode == "sha" {
		return repo + ":" + tag + "-" + sha, nil
	}
	if !head.Name().IsBranch() {
		return "", fmt.Errorf("--tag branch: HEAD is detached, not on a branch")
	}
	// A tag allows [A-Za-z0-9_.-]: feature/x becomes feature-x.
	branch := strings.Map(func(r rune) rune {
		if r == '_' || r == '.' || r == '-' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' {
			return r
		}
		return '-'
	}, head.Name().Short())
	return repo + ":" + tag + "-" + branch + "-" + sha, nil
}

// splitTag splits "repo[:tag][@digest]" into repository and tag ("latest"
// when absent).
func splitTag(image string) (repo, tag string) {
	image, _, _ = strings.Cut(image, "@")
	slash := strings.LastIndex(image, "/")
	if i := strings.LastIndex(image, ":"); i > slash {
		return image[:i], image[i+1:]
	}
	return image, "latest"
}

// exists reports whether path exists.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
