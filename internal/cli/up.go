package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/gofaas/gofaas/internal/stack"
)

// PushOptions are the parsed flags of `gofaas push`.
type PushOptions struct {
	f       *Factory
	Gateway GatewayFlags
	Stack   StackFlags
	Tag     string
}

// NewCmdPush returns `gofaas push`.
func NewCmdPush(f *Factory, runF func(*PushOptions) error) *cobra.Command {
	opts := &PushOptions{f: f}
	cmd := &cobra.Command{
		Use:   "push [-f stack.yaml] [--filter GLOB | --regex RE]",
		Short: "Push the images gofaas build made",
		Long: `Push each function's image. An image naming no registry host (hello:latest)
goes to the embedded registry of a gofaas gateway, with the gateway's
credentials; any other goes to the registry it names, with the credentials of
~/.docker/config.json.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkBuildFlags(cmd, opts.Stack, BuildFlags{Tag: opts.Tag}); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return pushRun(cmd.Context(), opts)
		},
	}
	addGatewayFlags(cmd, &opts.Gateway)
	addStackFlags(cmd, &opts.Stack, true)
	cmd.Flags().StringVar(&opts.Tag, "tag", "latest", "image tag: latest, sha or branch (as given to build)")
	return cmd
}

func pushRun(ctx context.Context, opts *PushOptions) error {
	p, err := opts.f.project(ctx, opts.Stack)
	if err != nil {
		return err
	}
	images := map[string]string{}
	for _, name := range p.file.Names() {
		if fn := p.file.Functions[name]; !fn.SkipBuild {
			if images[name], err = p.tagged(fn.Image, opts.Tag); err != nil {
				return err
			}
		}
	}
	return opts.f.pushAll(ctx, p, images, "", opts.Gateway)
}

// pushAll pushes images (function name → reference) built by kind ("" when
// not known).
func (f *Factory) pushAll(ctx context.Context, p *project, images map[string]string, kind string, g GatewayFlags) error {
	t, err := f.pushTarget(ctx, g, p.file)
	if err != nil {
		return err
	}
	progress := newProgress(f)
	var errs []error
	for _, name := range p.file.Names() {
		image, ok := images[name]
		if !ok {
			continue
		}
		ref, err := pushImage(ctx, p.dir, image, kind, t, progress)
		if err != nil {
			errs = append(errs, fmt.Errorf("pushing %s: %w", name, err))
			continue
		}
		fmt.Fprintf(f.IO.Out, "Pushed: %s\n", ref)
	}
	return errors.Join(errs...)
}

// pushTarget finds out whether the gateway has an embedded registry.
func (f *Factory) pushTarget(ctx context.Context, g GatewayFlags, file *stack.File) (pushTarget, error) {
	conn, err := f.Connect(g, file.Provider.Gateway)
	if err != nil {
		return pushTarget{}, err
	}
	hc := f.HTTPClient()
	if conn.TLSNoVerify {
		hc = insecure(hc)
	}
	return pushTarget{Registry: gatewayRegistry(ctx, hc, conn.URL, conn.User, conn.Password), Gateway: conn.URL, User: conn.User, Password: conn.Password}, nil
}

// UpOptions are the parsed flags of `gofaas up`.
type UpOptions struct {
	f          *Factory
	Gateway    GatewayFlags
	Stack      StackFlags
	Build      BuildFlags
	Deploy     DeployFlags
	SkipPush   bool
	SkipDeploy bool
	Watch      bool
}

// NewCmdUp returns `gofaas up`.
func NewCmdUp(f *Factory, runF func(*UpOptions) error) *cobra.Command {
	opts := &UpOptions{f: f}
	cmd := &cobra.Command{
		Use:   "up [-f stack.yaml] [--filter GLOB | --regex RE] [--watch]",
		Short: "Build, push and deploy a stack file's functions",
		Long: `gofaas up runs build, push and deploy in one go. Against gofaas server no
registry is needed: images go to the server's embedded registry. --watch
rebuilds and redeploys a function each time a file of its handler changes.`,
		Example: `  gofaas up
  gofaas up --builder local --filter hello
  gofaas up --watch`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkBuildFlags(cmd, opts.Stack, opts.Build); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return upRun(cmd.Context(), opts)
		},
	}
	addGatewayFlags(cmd, &opts.Gateway)
	addStackFlags(cmd, &opts.Stack, true)
	addBuildFlags(cmd, &opts.Build)
	addDeployFlags(cmd, &opts.Deploy)
	fs := cmd.Flags()
	fs.BoolVar(&opts.SkipPush, "skip-push", false, "do not push the images")
	fs.BoolVar(&opts.SkipDeploy, "skip-deploy", false, "do not deploy the functions")
	fs.BoolVar(&opts.Watch, "watch", false, "rebuild and redeploy a function when its handler changes (Ctrl-C stops)")
	return cmd
}

func upRun(ctx context.Context, opts *UpOptions) error {
	p, err := opts.f.project(ctx, opts.Stack)
	if err != nil {
		return err
	}
	set, err := opts.f.buildSettings(ctx, opts.Build, opts.Gateway, p.file)
	if err != nil {
		return err
	}
	err = opts.upOnce(ctx, p, set)
	if !opts.Watch {
		return err
	}
	if err != nil {
		fmt.Fprintf(opts.f.IO.ErrOut, "gofaas: %v\n", err)
	}
	return opts.watch(ctx, p, set)
}

// upOnce builds, pushes and deploys every function of p.
func (opts *UpOptions) upOnce(ctx context.Context, p *project, set buildSettings) error {
	images, err := p.buildAll(ctx, opts.f, set, opts.Build)
	if err != nil {
		return err
	}
	if !opts.SkipPush {
		if err := opts.f.pushAll(ctx, p, images, set.Builder, opts.Gateway); err != nil {
			return err
		}
	}
	if opts.SkipDeploy {
		return nil
	}
	for name, image := range images {
		fn := p.file.Functions[name]
		fn.Image = image
		p.file.Functions[name] = fn
	}
	specs, err := StackDeployments(p.file, opts.Deploy)
	if err != nil {
		return err
	}
	c, conn, err := opts.f.Client(opts.Gateway, p.file.Provider.Gateway)
	if err != nil {
		return err
	}
	return DeployAll(ctx, opts.f.IO.Out, c, conn.URL, specs, opts.Deploy)
}

// watchEvery is how often --watch looks at the handlers' files.
const watchEvery = 300 * time.Millisecond

// watch polls each function's handler folder and runs up for the function
// whose files changed, until ctx ends.
func (opts *UpOptions) watch(ctx context.Context, p *project, set buildSettings) error {
	fmt.Fprintln(opts.f.IO.ErrOut, "Watching the handlers for changes; Ctrl-C stops.")
	last := map[string]string{}
	for _, name := range p.file.Names() {
		last[name] = handlerState(p, p.file.Functions[name])
	}
	tick := time.NewTicker(watchEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		for _, name := range p.file.Names() {
			state := handlerState(p, p.file.Functions[name])
			if state == last[name] {
				continue
			}
			last[name] = state
			fmt.Fprintf(opts.f.IO.ErrOut, "%s changed; rebuilding.\n", name)
			one := &project{dir: p.dir, file: only(p.file, name)}
			if err := opts.upOnce(ctx, one, set); err != nil {
				fmt.Fprintf(opts.f.IO.ErrOut, "gofaas: %v\n", err)
			}
		}
	}
}

// handlerState summarises the names, sizes and times of a handler's files;
// it changes when any of them is written, added or removed.
func handlerState(p *project, fn stack.Function) string {
	if fn.SkipBuild || fn.Handler == "" {
		return ""
	}
	var state []byte
	root := filepath.Join(p.dir, fn.Handler)
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		// The build context leaves out the handler's own build/ and
		// template/ folders, and hidden ones are editors' and tools'.
		top := filepath.Dir(path) == root
		if d.IsDir() && path != root && (top && (d.Name() == "build" || d.Name() == "template") || d.Name()[0] == '.') {
			return filepath.SkipDir
		}
		if info, err := d.Info(); err == nil && !d.IsDir() {
			state = fmt.Appendf(state, "%s %d %d\n", path, info.Size(), info.ModTime().UnixNano())
		}
		return nil
	})
	return string(state)
}

// only returns file with its function name alone.
func only(file *stack.File, name string) *stack.File {
	one := *file
	one.Functions = map[string]stack.Function{name: file.Functions[name]}
	return &one
}
