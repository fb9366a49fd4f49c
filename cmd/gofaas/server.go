package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

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

func newServerCmd() *cobra.Command { return serverCmd(os.Getenv) }

// serverCmd is `gofaas server` reading the environment through getenv.
func serverCmd(getenv func(string) string) *cobra.Command {
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
			if err := o.check(cmd.Flags(), getenv); err != nil {
				return err
			}
			if o.checkConfig {
				return reportValid(cmd, append(o.http.warnings(), o.autoscale.warnings(&o.http)...))
			}
			return runServer(cmd, o)
		},
	}
	o.http.addFlags(cmd.Flags(), 8080)
	cmd.Flags().StringVar(&o.dataDir, "data-dir", "~/.gofaas", "folder for state, images, logs and secrets (env GOFAAS_DATA_DIR; the CLI finds the credentials there too)")
	cmd.Flags().StringVar(&o.isolation, "isolation", "auto", "replica isolation: netns (own network namespace, needs root), ports, or auto")
	cmd.Flags().BoolVar(&o.noAuth, "no-auth", false, "turn basic auth off (only for a machine nobody else can reach)")
	cmd.Flags().BoolVar(&o.checkConfig, "check-config", false, "check the flags and environment, list every problem, then exit")
	o.async.addFlags(cmd.Flags())
	o.autoscale.addFlags(cmd.Flags())
	return cmd
}

// check validates every flag and the environment, listing every problem.
func (o *serverOptions) check(fs *pflag.FlagSet, getenv func(string) string) error {
	errs := []error{o.http.applyEnv(fs, getenv), checkIsolation(o.isolation)}
	if v := getenv("GOFAAS_DATA_DIR"); v != "" && !fs.Changed("data-dir") {
		o.dataDir = v
	}
	if _, err := expandHome(o.dataDir); err != nil {
		errs = append(errs, fmt.Errorf("--data-dir: %w", err))
	}
	errs = append(errs, checkAsync(&o.async), o.autoscale.validate(), o.autoscale.checkWith(&o.http))
	return checkConfig(errs...)
}

func checkIsolation(isolation string) error {
	switch isolation {
	case "auto", "netns", "ports":
		return nil
	}
	return fmt.Errorf("--isolation %q: use auto, netns or ports", isolation)
}

// checkAsync checks the async queue's flags (setup checks them again).
func checkAsync(o *asyncOptions) error {
	errs := []error{o.worker.validate(), checkNATSURL(o.worker.natsURL)}
	if o.maxBytes < 1 || o.maxBytes > 48<<20 {
		errs = append(errs, fmt.Errorf("--async-max-bytes %d: want 1 to %d", o.maxBytes, 48<<20))
	}
	return errors.Join(errs...)
}

// checkNATSURL checks --nats-url as the NATS client reads it: a
// comma-separated list of URLs, the scheme nats:// when left out.
func checkNATSURL(list string) error {
	if list == "" {
		return nil
	}
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if !strings.Contains(s, "://") {
			s = "nats://" + s
		}
		u, err := url.Parse(s)
		if err != nil || u.Hostname() == "" || !slices.Contains([]string{"nats", "tls", "ws", "wss"}, u.Scheme) {
			return fmt.Errorf("--nats-url %q: want URLs such as nats://host:4222, separated by commas", list)
		}
	}
	return nil
}

func runServer(cmd *cobra.Command, o *serverOptions) error {
	ctx := cmd.Context()
	log := o.http.logger()
	logWarnings(log, append(o.http.warnings(), o.autoscale.warnings(&o.http)...))
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
	// The process back-end restores its functions in the background: calls
	// that arrive while their replicas start are held, not refused.
	gcfg.ScaleFromZero.HoldAtStart = true
	gw := gateway.New(proc, parts.metrics, gcfg)
	for _, f := range parts.gatewayReady {
		f(gw)
	}
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
	// gatewayReady are told the gateway's handler once it is built.
	gatewayReady []func(http.Handler)
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
