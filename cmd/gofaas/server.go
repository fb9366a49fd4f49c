package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/gofaas/gofaas/internal/auth"
	"github.com/gofaas/gofaas/internal/gateway"
	"github.com/gofaas/gofaas/internal/metrics"
	"github.com/gofaas/gofaas/internal/provider"
	"github.com/gofaas/gofaas/internal/provider/process"
	"github.com/gofaas/gofaas/internal/registry"
	"github.com/gofaas/gofaas/internal/store"
)

type serverOptions struct {
	http        httpOptions
	async       asyncOptions
	autoscale   autoscaleOptions
	dataDir     string
	isolation   string
	noAuth      bool
	checkConfig bool
}

func newServerCmd() *cobra.Command {
	o := &serverOptions{}
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the whole platform on this machine: gateway, process back-end and registry",
		Long: `Run the whole gofaas platform in one process: the OpenFaaS gateway API, the
process back-end (each function replica is a local process under the
watchdog) and an OCI registry at /v2/. No Docker, no root, no other service.

Basic auth guards /system/* and /v2/. On first start a password for the user
"admin" is generated, printed once, and kept in <data-dir>/secrets.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.http.applyEnv(cmd.Flags(), os.Getenv); err != nil {
				return err
			}
			if o.isolation != "auto" && o.isolation != "netns" && o.isolation != "ports" {
				return fmt.Errorf("--isolation %q: use auto, netns or ports", o.isolation)
			}
			if o.checkConfig {
				fmt.Fprintln(cmd.OutOrStdout(), "configuration is valid")
				return nil
			}
			return runServer(cmd, o)
		},
	}
	o.http.addFlags(cmd.Flags(), 8080)
	cmd.Flags().StringVar(&o.dataDir, "data-dir", "~/.gofaas", "folder for state, images, logs and secrets")
	cmd.Flags().StringVar(&o.isolation, "isolation", "auto", "replica isolation: netns (own network namespace, needs root), ports, or auto")
	cmd.Flags().BoolVar(&o.noAuth, "no-auth", false, "turn basic auth off (only for a machine nobody else can reach)")
	cmd.Flags().BoolVar(&o.checkConfig, "check-config", false, "check the flags and environment, then exit")
	o.async.addFlags(cmd.Flags())
	o.autoscale.addFlags(cmd.Flags())
	return cmd
}

func runServer(cmd *cobra.Command, o *serverOptions) error {
	ctx := cmd.Context()
	log := o.http.logger()
	dataDir, err := expandHome(o.dataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("creating data dir: %w", err)
	}
	secretsDir := filepath.Join(dataDir, "secrets")
	creds, created, err := auth.EnsureCredentials(secretsDir)
	if err != nil {
		return err
	}
	st, err := store.Open(dataDir)
	if err != nil {
		return fmt.Errorf("opening state: %w", err)
	}
	defer st.Close()
	reg, err := registry.New(filepath.Join(dataDir, "registry"), log.With("component", "registry"))
	if err != nil {
		return fmt.Errorf("opening registry: %w", err)
	}
	cache := registry.NewCache(filepath.Join(dataDir, "images"), reg, log.With("component", "images"))
	proc, err := process.New(process.Config{DataDir: dataDir, Isolation: o.isolation}, cache, st, log.With("component", "process"))
	if err != nil {
		return fmt.Errorf("starting process back-end: %w", err)
	}
	defer proc.Close()
	if err := proc.Start(ctx); err != nil {
		return fmt.Errorf("restoring functions: %w", err)
	}
	ln, err := o.http.listen()
	if err != nil {
		return err
	}
	gcfg := gateway.Config{
		UpstreamTimeout: o.http.upstreamTimeout,
		MaxBodyBytes:    o.http.maxBodyBytes,
		Registry:        reg,
		Version:         buildVersion(),
		Log:             log,
	}
	if !o.noAuth {
		gcfg.Auth = auth.NewBasic(creds)
	}
	parts := &serverParts{
		dataDir: dataDir, log: log, proc: proc, backend: proc, metrics: metrics.NewGateway(),
		gateway: &gcfg, url: baseURL(ln), creds: creds,
	}
	defer parts.stop()
	if err := o.async.setup(ctx, parts); err != nil {
		return fmt.Errorf("starting the async queue: %w", err)
	}
	if err := o.autoscale.setup(ctx, parts); err != nil {
		return fmt.Errorf("starting the autoscaler: %w", err)
	}
	gw := gateway.New(proc, parts.metrics, gcfg)
	printWelcome(cmd, baseURL(ln), creds, created, secretsDir, o.noAuth)
	log.Info("gofaas server started", "url", baseURL(ln), "data_dir", dataDir,
		"isolation", proc.Isolation(), "limits_enforced", proc.LimitsEnforced(), "auth", !o.noAuth, "upstream_timeout", o.http.upstreamTimeout,
		"read_timeout", o.http.readTimeout, "write_timeout", o.http.writeTimeout)
	return o.http.serve(ctx, ln, gw, log)
}

// serverParts is what the optional parts of `gofaas server` (the async
// queue, the autoscaler) are wired from. Each part's setup, in its own file,
// may add hooks to the gateway config before the gateway is built and
// registers a stop function for what it started.
type serverParts struct {
	dataDir string
	log     *slog.Logger
	proc    *process.Process  // nil in `gofaas gateway`
	backend provider.Provider // what the gateway fronts
	metrics *metrics.Gateway
	gateway *gateway.Config
	url     string // where the gateway listens
	creds   auth.Credentials
	stops   []func()
}

// onStop registers f to run when the server stops, last registered first.
func (p *serverParts) onStop(f func()) { p.stops = append(p.stops, f) }

func (p *serverParts) stop() {
	for i := len(p.stops) - 1; i >= 0; i-- {
		p.stops[i]()
	}
}

func printWelcome(cmd *cobra.Command, url string, c auth.Credentials, created bool, secretsDir string, noAuth bool) {
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "gofaas is ready at %s\n", url)
	switch {
	case noAuth:
		fmt.Fprintln(out, "  basic auth is OFF (--no-auth)")
	case created:
		fmt.Fprintf(out, "  user:     %s\n  password: %s\n  (saved in %s; shown only this once)\n",
			c.User, c.Password, filepath.Join(secretsDir, auth.PasswordFile))
	default:
		fmt.Fprintf(out, "  user: %s, password in %s\n", c.User, filepath.Join(secretsDir, auth.PasswordFile))
	}
}
