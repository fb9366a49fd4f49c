package cli

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gofaas/gofaas/internal/stack"
	"github.com/gofaas/gofaas/pkg/api"
	"github.com/gofaas/gofaas/store"
)

// storeFunction is one function of a store file: v2 functions.json
// (images per platform) or v1 store.json (one image), plus gofaas's own
// field naming the template and the sources of a built-in function.
type storeFunction struct {
	Title                  string            `json:"title"`
	Name                   string            `json:"name"`
	Description            string            `json:"description"`
	Author                 string            `json:"author"`
	Images                 map[string]string `json:"images"`
	Image                  string            `json:"image"`
	FProcess               string            `json:"fprocess"`
	RepoURL                string            `json:"repo_url"`
	ReadOnlyRootFilesystem bool              `json:"readOnlyRootFilesystem"`
	Environment            map[string]string `json:"environment"`
	Labels                 map[string]string `json:"labels"`
	Annotations            map[string]string `json:"annotations"`
	Gofaas                 *struct {
		Lang    string `json:"lang"`
		Handler string `json:"handler"`
	} `json:"gofaas"`
}

// image returns the function's image for platform ("" when it has none).
func (s storeFunction) image(platform string) string {
	if s.Image != "" && len(s.Images) == 0 {
		return s.Image
	}
	return s.Images[platform]
}

// parseStore decodes a v2 store ({"version", "functions"}) or a v1 one (an
// array).
func parseStore(data []byte, from string) ([]storeFunction, error) {
	data = bytes.TrimSpace(data)
	var list []storeFunction
	if len(data) > 0 && data[0] == '[' {
		if err := json.Unmarshal(data, &list); err != nil {
			return nil, fmt.Errorf("decoding store %s: %w", from, err)
		}
		return list, nil
	}
	var v2 struct {
		Functions []storeFunction `json:"functions"`
	}
	if err := json.Unmarshal(data, &v2); err != nil {
		return nil, fmt.Errorf("decoding store %s: %w", from, err)
	}
	return v2.Functions, nil
}

// storePlatform maps a --platform value or GOARCH to the store's keys.
func storePlatform(p string) string {
	switch p {
	case "", "linux/amd64", "amd64", "x86_64":
		if p == "" && runtime.GOARCH != "amd64" {
			return storePlatform(runtime.GOARCH)
		}
		return "x86_64"
	case "linux/arm64", "arm64":
		return "arm64"
	case "linux/arm/v6", "linux/arm/v7", "arm", "armhf":
		return "armhf"
	}
	return p
}

// StoreOptions are the parsed flags of the store verbs.
type StoreOptions struct {
	f        *Factory
	URL      string
	Platform string
	Gateway  GatewayFlags
	Deploy   DeployFlags
	Name     string
	Verbose  bool
}

// NewCmdStore returns `gofaas store` with list, describe and deploy.
func NewCmdStore(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "List and deploy ready-made functions",
		Long: `The built-in store holds example functions made from gofaas's templates
(echo, sha512sum, banner, markdown, env); deploying one to gofaas server
builds it from its sources and pushes it to the server's registry when the
registry lacks it. --url (env OPENFAAS_STORE) reads another store, such as
OpenFaaS's functions.json.`,
		Args: noArgs,
	}
	cmd.AddCommand(newCmdStoreList(f), newCmdStoreDescribe(f), newCmdStoreDeploy(f))
	return cmd
}

func addStoreFlags(cmd *cobra.Command, opts *StoreOptions) {
	cmd.Flags().StringVarP(&opts.URL, "url", "u", "", "store URL or file (env OPENFAAS_STORE; default the built-in store)")
	cmd.Flags().StringVarP(&opts.Platform, "platform", "p", "", "platform of the images, e.g. linux/amd64 (default this machine's)")
}

// load reads the store and keeps the functions with an image for the
// platform.
func (opts *StoreOptions) load(ctx context.Context) ([]storeFunction, bool, error) {
	url := cmp.Or(opts.URL, opts.f.Getenv("OPENFAAS_STORE"))
	var data []byte
	var err error
	builtIn := url == ""
	switch {
	case builtIn:
		data, url = store.Functions(), "built-in store"
	case strings.HasPrefix(url, "http://") || strings.HasPrefix(url, "https://"):
		data, err = fetchStore(ctx, opts.f.HTTPClient(), url)
	default:
		data, err = os.ReadFile(url)
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading store %s: %w", url, err)
	}
	list, err := parseStore(data, url)
	if err != nil {
		return nil, false, err
	}
	platform := storePlatform(opts.Platform)
	list = slices.DeleteFunc(list, func(s storeFunction) bool { return s.image(platform) == "" })
	return list, builtIn, nil
}

func fetchStore(ctx context.Context, hc *http.Client, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 8<<20))
}

// find returns the store function called name.
func (opts *StoreOptions) find(ctx context.Context, name string) (storeFunction, bool, error) {
	list, builtIn, err := opts.load(ctx)
	if err != nil {
		return storeFunction{}, false, err
	}
	i := slices.IndexFunc(list, func(s storeFunction) bool { return s.Name == name || s.Title == name })
	if i < 0 {
		return storeFunction{}, false, fmt.Errorf("the store has no function %q for %s; gofaas store list shows them", name, storePlatform(opts.Platform))
	}
	return list[i], builtIn, nil
}

func newCmdStoreList(f *Factory) *cobra.Command {
	opts := &StoreOptions{f: f}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the functions of the store",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			list, _, err := opts.load(cmd.Context())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(f.IO.Out, 0, 0, 1, ' ', 0)
			fmt.Fprintln(w, "FUNCTION\tAUTHOR\tDESCRIPTION")
			for _, s := range list {
				desc := s.Description
				if !opts.Verbose && len(desc) > 60 {
					desc = desc[:57] + "..."
				}
				fmt.Fprintf(w, "%s\t%s\t%s\n", s.Name, s.Author, desc)
			}
			return w.Flush()
		},
	}
	addStoreFlags(cmd, opts)
	cmd.Flags().BoolVarP(&opts.Verbose, "verbose", "v", false, "show whole descriptions")
	return cmd
}

func newCmdStoreDescribe(f *Factory) *cobra.Command {
	opts := &StoreOptions{f: f}
	cmd := &cobra.Command{
		Use:     "describe NAME",
		Aliases: []string{"inspect"},
		Short:   "Show one function of the store",
		Args:    exactArgs(1, "a function name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, _, err := opts.find(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(f.IO.Out, 0, 0, 1, ' ', 0)
			fmt.Fprintf(w, "Title:\t%s\nName:\t%s\nDescription:\t%s\nImage:\t%s\nProcess:\t%s\nRepo URL:\t%s\n",
				s.Title, s.Name, s.Description, s.image(storePlatform(opts.Platform)), s.FProcess, s.RepoURL)
			if s.Gofaas != nil {
				fmt.Fprintf(w, "Template:\t%s\n", s.Gofaas.Lang)
			}
			return w.Flush()
		},
	}
	addStoreFlags(cmd, opts)
	return cmd
}

func newCmdStoreDeploy(f *Factory) *cobra.Command {
	opts := &StoreOptions{f: f}
	cmd := &cobra.Command{
		Use:   "deploy NAME",
		Short: "Deploy a function of the store",
		Example: `  gofaas store deploy sha512sum
  echo hi | gofaas invoke sha512sum`,
		Args: exactArgs(1, "a function name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return storeDeploy(cmd.Context(), opts, args[0])
		},
	}
	addStoreFlags(cmd, opts)
	addGatewayFlags(cmd, &opts.Gateway)
	addDeployFlags(cmd, &opts.Deploy)
	cmd.Flags().StringVar(&opts.Name, "name", "", "name to deploy the function under (default the store's)")
	return cmd
}

func storeDeploy(ctx context.Context, opts *StoreOptions, name string) error {
	s, builtIn, err := opts.find(ctx, name)
	if err != nil {
		return err
	}
	image := s.image(storePlatform(opts.Platform))
	file := &stack.File{Path: "store", Functions: map[string]stack.Function{}}
	if builtIn && s.Gofaas != nil {
		if err := opts.ensureImage(ctx, s, image, file); err != nil {
			return err
		}
	}
	fn := stack.Function{
		Name: cmp.Or(opts.Name, s.Name), Image: image, FProcess: s.FProcess,
		Environment: s.Environment, Labels: s.Labels, Annotations: s.Annotations,
		ReadOnlyRootFilesystem: s.ReadOnlyRootFilesystem,
	}
	if err := api.ValidateName("function name", fn.Name); err != nil {
		return err
	}
	file.Functions = map[string]stack.Function{fn.Name: fn}
	specs, err := StackDeployments(file, opts.Deploy)
	if err != nil {
		return err
	}
	c, conn, err := opts.f.Client(opts.Gateway, "")
	if err != nil {
		return err
	}
	return DeployAll(ctx, opts.f.IO.Out, c, conn.URL, specs, opts.Deploy)
}

// ensureImage builds a built-in store function from its sources with the
// local builder and pushes it to the gateway's registry, unless the
// registry has the image already.
func (opts *StoreOptions) ensureImage(ctx context.Context, s storeFunction, image string, file *stack.File) error {
	t, err := opts.f.pushTarget(ctx, opts.Gateway, file)
	if err != nil || t.Registry == "" {
		return err // another registry: the image must be published there
	}
	if opts.registryHas(ctx, t, image) {
		return nil
	}
	src, err := store.Handler(s.Gofaas.Handler)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "gofaas-store-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.CopyFS(filepath.Join(dir, "handler"), src); err != nil {
		return fmt.Errorf("writing the sources of %s: %w", s.Name, err)
	}
	fn := stack.Function{Name: s.Name, Lang: s.Gofaas.Lang, Handler: "./handler", Image: image, FProcess: s.FProcess}
	job := buildJob{ProjectDir: dir, Stack: &stack.File{Path: filepath.Join(dir, "stack.yaml")}, Fn: fn, Image: image}
	fmt.Fprintf(opts.f.IO.ErrOut, "Building %s from the store's sources.\n", s.Name)
	set := buildSettings{Builder: builderLocal, Getenv: opts.f.Getenv, Log: opts.f.IO.ErrOut, Progress: newProgress(opts.f)}
	if err := buildFunction(ctx, job, set); err != nil {
		return fmt.Errorf("building %s: %w", s.Name, err)
	}
	_, err = pushImage(ctx, dir, image, builderLocal, t, set.Progress)
	return err
}

// registryHas asks the gateway's registry for image's manifest.
func (opts *StoreOptions) registryHas(ctx context.Context, t pushTarget, image string) bool {
	repo, tag := splitTag(image)
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, strings.TrimSuffix(t.Gateway, "/")+"/v2/"+repo+"/manifests/"+tag, nil)
	if err != nil {
		return false
	}
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
	req.SetBasicAuth(t.User, t.Password)
	resp, err := opts.f.HTTPClient().Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
