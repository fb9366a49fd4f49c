package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/gofaas/gofaas/internal/builder"
	"github.com/gofaas/gofaas/internal/stack"
	"github.com/gofaas/gofaas/internal/templates"
)

// The builders --builder accepts.
const (
	builderLocal  = "local"
	builderDocker = "docker"
)

// imagesDir is where the local builder keeps the images it built, relative
// to the project, so that `gofaas build` and `gofaas push` can run apart.
const imagesDir = "build/.images"

// buildSettings are the choices shared by every function of one build.
type buildSettings struct {
	Builder      string // builderLocal or builderDocker
	Shrinkwrap   bool
	BuildArgs    map[string]string
	BuildOptions []string
	Getenv       func(string) string
	// Log receives compiler and docker output.
	Log      io.Writer
	Progress *builder.Progress
}

// buildJob is one function of a stack file to build.
type buildJob struct {
	ProjectDir string
	Stack      *stack.File
	Fn         stack.Function
	// Image is the reference to tag the result with (--tag applied).
	Image string
}

// buildFunction lays out the build context of one function and, unless
// shrink-wrapping, builds its image with the chosen builder.
func buildFunction(ctx context.Context, job buildJob, set buildSettings) error {
	fn := job.Fn
	if fn.Lang == "" {
		return fmt.Errorf("function %s has no lang in %s; set lang or skip_build", fn.Name, job.Stack.Path)
	}
	tpl, err := templates.Find(job.ProjectDir, fn.Lang)
	if err != nil {
		return fmt.Errorf("function %s: %w", fn.Name, err)
	}
	watchdog, err := builder.FindWatchdog(set.Getenv)
	if err != nil {
		return err
	}
	dir := filepath.Join(job.ProjectDir, "build", fn.Name)
	bctx := builder.Context{
		Dir:           dir,
		ProjectDir:    job.ProjectDir,
		HandlerDir:    filepath.Join(job.ProjectDir, fn.Handler),
		HandlerFolder: cmp.Or(tpl.HandlerFolder, builder.DefaultHandlerFolder),
		Template:      tpl.FS,
		Copy:          job.Stack.Configuration.Copy,
		HandlerAtRoot: fn.Lang == "dockerfile",
		Watchdog:      watchdog,
	}
	if err := bctx.Prepare(); err != nil {
		return fmt.Errorf("preparing the build context of %s: %w", fn.Name, err)
	}
	if set.Shrinkwrap {
		return nil
	}
	if set.Builder == builderDocker {
		return dockerBuild(ctx, dir, job, tpl, set)
	}
	return localBuild(ctx, dir, watchdog, job, tpl, set)
}

func localBuild(ctx context.Context, dir, watchdog string, job buildJob, tpl *templates.Template, set buildSettings) error {
	if tpl.Local == nil {
		return fmt.Errorf("template %s (from %s) has no gofaas build recipe, so it cannot be built without Docker; use --builder docker", tpl.Language, tpl.Source)
	}
	if req := tpl.Local.Requires; req != "" {
		if _, err := exec.LookPath(req); err != nil {
			fmt.Fprintf(set.Log, "warning: %s is not on this machine's PATH; the process back-end runs %s functions with the host's %s\n", req, tpl.Language, req)
		}
	}
	img, err := builder.Local{
		Context:  dir,
		Build:    tpl.Local.Build,
		Include:  tpl.Local.Include,
		Env:      tpl.Local.Env,
		FProcess: cmp.Or(job.Fn.FProcess, tpl.FProcess),
		Watchdog: watchdog,
		Log:      set.Log,
		Progress: set.Progress,
	}.Image(ctx)
	if err != nil {
		return err
	}
	return builder.Save(filepath.Join(job.ProjectDir, imagesDir), job.Image, img)
}

func dockerBuild(ctx context.Context, dir string, job buildJob, tpl *templates.Template, set buildSettings) error {
	args := map[string]string{}
	for k, v := range job.Fn.BuildArgs {
		args[k] = v
	}
	for k, v := range set.BuildArgs {
		args[k] = v
	}
	pkgs, err := additionalPackages(tpl, slices.Concat(job.Fn.BuildOptions, set.BuildOptions))
	if err != nil {
		return fmt.Errorf("function %s: %w", job.Fn.Name, err)
	}
	done := set.Progress.Step(job.Fn.Name + ": docker build")
	err = builder.Docker{Context: dir, Image: job.Image, BuildArgs: args, AdditionalPackages: pkgs, Getenv: set.Getenv, Log: set.Log}.Build(ctx)
	done(err)
	return err
}

// additionalPackages maps build_options names to the template's packages.
func additionalPackages(tpl *templates.Template, names []string) ([]string, error) {
	var pkgs []string
	for _, n := range names {
		i := slices.IndexFunc(tpl.BuildOptions, func(o templates.BuildOption) bool { return o.Name == n })
		if i < 0 {
			var have []string
			for _, o := range tpl.BuildOptions {
				have = append(have, o.Name)
			}
			return nil, fmt.Errorf("build option %q is not offered by template %s (it offers: %s)", n, tpl.Language, strings.Join(have, ", "))
		}
		pkgs = append(pkgs, tpl.BuildOptions[i].Packages...)
	}
	return pkgs, nil
}

// builtImage finds the image the builder kind made; for kind "" (not
// known) the local builder's store first, then the Docker engine.
func builtImage(ctx context.Context, projectDir, image, kind string) (v1.Image, error) {
	if kind == builderDocker {
		return builder.DockerImage(ctx, image)
	}
	img, err := builder.Load(filepath.Join(projectDir, imagesDir), image)
	if err == nil || kind == builderLocal {
		return img, err
	}
	if !errors.Is(err, builder.ErrImageNotFound) || !builder.DockerAvailable(ctx) {
		return nil, err
	}
	img, derr := builder.DockerImage(ctx, image)
	if derr != nil {
		return nil, fmt.Errorf("%w (and the Docker engine has no such image: %w)", err, derr)
	}
	return img, nil
}

// pushTarget says where images go and with which credentials.
type pushTarget struct {
	// Registry is the gateway's host when it serves an embedded registry.
	Registry string
	// Gateway is the gateway's URL.
	Gateway        string
	User, Password string
}

// destination is the reference image is pushed to: an image naming no
// registry host goes to the gateway's embedded registry when it has one
// (the process back-end looks there first by repository path), otherwise
// it is pushed where it names.
func (t pushTarget) destination(image string) string {
	if t.Registry == "" || hasRegistryHost(image) {
		return image
	}
	return t.Registry + "/" + image
}

// credentials returns the basic auth for ref: the gateway's own for its
// registry, none (the Docker config keychain) elsewhere.
func (t pushTarget) credentials(ref string) (user, password string) {
	if t.Registry != "" && strings.HasPrefix(ref, t.Registry+"/") {
		return t.User, t.Password
	}
	return "", ""
}

// hasRegistryHost reports whether image's first path element is a host, as
// Docker decides: it holds a dot or a colon, or is localhost.
func hasRegistryHost(image string) bool {
	first, _, ok := strings.Cut(image, "/")
	if !ok {
		return false
	}
	return strings.ContainsAny(first, ".:") || first == "localhost"
}

// gatewayRegistry returns the gateway's host when GET /v2/ answers as a
// registry does (200 or 401 with Docker-Distribution-API-Version).
func gatewayRegistry(ctx context.Context, hc *http.Client, gateway, user, password string) string {
	u, err := url.Parse(gateway)
	if err != nil || u.Host == "" {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(gateway, "/")+"/v2/", nil)
	if err != nil {
		return ""
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return ""
	}
	resp.Body.Close()
	if resp.Header.Get("Docker-Distribution-API-Version") == "" {
		return ""
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized {
		return ""
	}
	return u.Host
}

// pushImage pushes one image built by kind and returns the reference it went to
// with its digest.
func pushImage(ctx context.Context, projectDir, image, kind string, t pushTarget, p *builder.Progress) (string, error) {
	img, err := builtImage(ctx, projectDir, image, kind)
	if err != nil {
		return "", err
	}
	ref := t.destination(image)
	user, pw := t.credentials(ref)
	digest, err := builder.PushImage(ctx, img, ref, builder.PushOptions{User: user, Password: pw, Progress: p})
	if err != nil {
		return "", err
	}
	return ref + "@" + digest.String(), nil
}

// newProgress shows long steps on the error stream.
func newProgress(f *Factory) *builder.Progress {
	return builder.NewProgress(f.IO.ErrOut, f.IO.ErrTTY)
}
