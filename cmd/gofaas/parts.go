package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gofaas/gofaas/internal/auth"
	"github.com/gofaas/gofaas/internal/gateway"
	"github.com/gofaas/gofaas/internal/metrics"
	"github.com/gofaas/gofaas/internal/provider/process"
	"github.com/gofaas/gofaas/internal/provider/rest"
	"github.com/gofaas/gofaas/internal/registry"
	"github.com/gofaas/gofaas/internal/store"
)

// authOptions are the OpenFaaS-style basic auth settings of the separate
// parts: basic_auth and secret_mount_path.
type authOptions struct {
	enabled   bool
	secretDir string
}

func (o *authOptions) addFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.enabled, "basic-auth", false, "require basic auth on /system/* (env basic_auth=true)")
	fs.StringVar(&o.secretDir, "secret-mount-path", "/run/secrets/", "folder holding basic-auth-user and basic-auth-password (env secret_mount_path)")
}

func (o *authOptions) applyEnv(fs *pflag.FlagSet, getenv func(string) string) {
	if !fs.Changed("basic-auth") && getenv("basic_auth") == "true" {
		o.enabled = true
	}
	if v := getenv("secret_mount_path"); v != "" && !fs.Changed("secret-mount-path") {
		o.secretDir = v
	}
}

// credentials reads the basic auth files when auth is on.
func (o *authOptions) credentials() (*auth.Credentials, error) {
	if !o.enabled {
		return nil, nil
	}
	c, err := auth.ReadCredentials(o.secretDir)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// gatewayOptions are the settings of `gofaas gateway`.
type gatewayOptions struct {
	http        httpOptions
	auth        authOptions
	autoscale   autoscaleOptions
	providerURL string
	// natsURL and asyncMaxBytes turn on /async-function/: calls are queued
	// on that JetStream for separate `gofaas queue-worker` processes.
	natsURL       string
	asyncMaxBytes int64
	checkConfig   bool
}

func newGatewayCmd() *cobra.Command { return gatewayCmd(os.Getenv) }

// gatewayCmd is `gofaas gateway` reading the environment through getenv.
func gatewayCmd(getenv func(string) string) *cobra.Command {
	o := &gatewayOptions{}
	cmd := &cobra.Command{
		Use:   "gateway",
		Short: "Run only the gateway, in front of any faas-provider API (gofaas, faas-netes, faasd)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			creds, err := o.check(cmd.Flags(), getenv)
			if err != nil {
				return err
			}
			if o.checkConfig {
				return reportValid(cmd, append(o.http.warnings(), o.autoscale.warnings(&o.http)...))
			}
			return runGateway(cmd, o, creds)
		},
	}
	o.http.addFlags(cmd.Flags(), 8080)
	o.auth.addFlags(cmd.Flags())
	o.autoscale.addFlags(cmd.Flags())
	cmd.Flags().StringVar(&o.providerURL, "provider-url", "", "base URL of the faas-provider API (env functions_provider_url)")
	cmd.Flags().StringVar(&o.natsURL, "nats-url", "", "NATS server with JetStream to queue /async-function/ calls on, for `gofaas queue-worker` processes (env nats_url; empty: async calls get 501)")
	cmd.Flags().Int64Var(&o.asyncMaxBytes, "async-max-bytes", 1<<20, "largest /async-function/ request body (larger ones get 413)")
	cmd.Flags().BoolVar(&o.checkConfig, "check-config", false, "check the flags and environment, list every problem, then exit")
	return cmd
}

// check validates every flag and the environment, listing every problem,
// and reads the basic auth credentials when auth is on.
func (o *gatewayOptions) check(fs *pflag.FlagSet, getenv func(string) string) (*auth.Credentials, error) {
	o.auth.applyEnv(fs, getenv)
	if o.providerURL == "" {
		o.providerURL = getenv("functions_provider_url")
	}
	if o.natsURL == "" {
		o.natsURL = getenv("nats_url")
	}
	errs := []error{o.http.applyEnv(fs, getenv), o.autoscale.validate(), o.autoscale.checkWith(&o.http), checkAsync(o.asyncOptions())}
	if o.providerURL == "" {
		errs = append(errs, errors.New("--provider-url (or env functions_provider_url) is required"))
	} else if _, err := rest.NewClient(o.providerURL, rest.ClientConfig{}); err != nil {
		errs = append(errs, fmt.Errorf("--provider-url: %w", err))
	}
	creds, err := o.auth.credentials()
	if err != nil {
		errs = append(errs, fmt.Errorf("--basic-auth with --secret-mount-path %s: %w", o.auth.secretDir, err))
	}
	return creds, checkConfig(errs...)
}

// asyncOptions are the gateway's async settings: it queues calls and runs
// no worker.
func (o *gatewayOptions) asyncOptions() *asyncOptions {
	a := &asyncOptions{maxBytes: o.asyncMaxBytes}
	a.worker.addFlags(pflag.NewFlagSet("defaults", pflag.ContinueOnError), "")
	a.worker.natsURL = o.natsURL
	return a
}

func runGateway(cmd *cobra.Command, o *gatewayOptions, creds *auth.Credentials) error {
	ccfg := rest.ClientConfig{}
	if creds != nil {
		// As OpenFaaS does, the gateway uses its own credentials upstream.
		ccfg.Username, ccfg.Password = creds.User, creds.Password
	}
	client, err := rest.NewClient(strings.TrimSuffix(o.providerURL, "/"), ccfg)
	if err != nil {
		return err
	}
	log := o.http.logger()
	logWarnings(log, append(o.http.warnings(), o.autoscale.warnings(&o.http)...))
	gcfg := gateway.Config{
		UpstreamTimeout: o.http.upstreamTimeout, MaxBodyBytes: o.http.maxBodyBytes,
		Version: buildVersion(), Log: log,
	}
	if creds != nil {
		gcfg.Auth = auth.NewBasic(*creds)
	}
	ln, err := o.http.listen()
	if err != nil {
		return err
	}
	parts := &serverParts{log: log, backend: client, metrics: metrics.NewGateway(), gateway: &gcfg, url: baseURL(ln)}
	defer parts.stop()
	if err := o.autoscale.setup(cmd.Context(), parts); err != nil {
		return fmt.Errorf("starting the autoscaler: %w", err)
	}
	if o.natsURL != "" {
		if err := o.asyncOptions().setup(cmd.Context(), parts); err != nil {
			return fmt.Errorf("starting the async queue: %w", err)
		}
	}
	log.Info("gofaas gateway started", "url", baseURL(ln), "provider_url", o.providerURL, "auth", creds != nil)
	fmt.Fprintf(cmd.OutOrStdout(), "gofaas gateway is ready at %s (provider %s)\n", baseURL(ln), o.providerURL)
	return o.http.serve(cmd.Context(), ln, gateway.New(client, parts.metrics, gcfg), log)
}

func newProviderCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "provider",
		Short: "Run one back-end as the faas-provider REST API",
	}
	cmd.AddCommand(newProviderProcessCmd())
	return cmd
}

func newProviderProcessCmd() *cobra.Command {
	var (
		h         httpOptions
		a         authOptions
		dataDir   string
		isolation string
		check     bool
	)
	cmd := &cobra.Command{
		Use:   "process",
		Short: "Serve the process back-end as the faas-provider REST API (with its registry at /v2/)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.applyEnv(cmd.Flags(), os.Getenv)
			creds, credErr := a.credentials()
			if credErr != nil {
				credErr = fmt.Errorf("--basic-auth with --secret-mount-path %s: %w", a.secretDir, credErr)
			}
			dir, dirErr := expandHome(dataDir)
			if dirErr != nil {
				dirErr = fmt.Errorf("--data-dir: %w", dirErr)
			}
			if err := checkConfig(h.applyEnv(cmd.Flags(), os.Getenv), checkIsolation(isolation), credErr, dirErr); err != nil {
				return err
			}
			if check {
				return reportValid(cmd, h.warnings())
			}
			log := h.logger()
			st, err := store.Open(dir)
			if err != nil {
				return fmt.Errorf("opening state: %w", err)
			}
			defer st.Close()
			reg, err := registry.New(filepath.Join(dir, "registry"), log.With("component", "registry"))
			if err != nil {
				return fmt.Errorf("opening registry: %w", err)
			}
			cache := registry.NewCache(filepath.Join(dir, "images"), reg, log.With("component", "images"))
			proc, err := process.New(process.Config{DataDir: dir, Isolation: isolation}, cache, st, log.With("component", "process"))
			if err != nil {
				return fmt.Errorf("starting process back-end: %w", err)
			}
			defer proc.Close()
			if err := proc.Start(cmd.Context()); err != nil {
				return fmt.Errorf("restoring functions: %w", err)
			}
			api := rest.NewHandler(proc, rest.HandlerConfig{MaxBodyBytes: h.maxBodyBytes, Log: log})
			protect := func(h http.Handler) http.Handler { return h }
			if creds != nil {
				protect = auth.NewBasic(*creds).Wrap
			}
			mux := http.NewServeMux()
			mux.Handle("/", api)
			mux.Handle("/system/", protect(api))
			mux.Handle("/v2/", protect(reg))
			ln, err := h.listen()
			if err != nil {
				return err
			}
			log.Info("gofaas provider started", "url", baseURL(ln), "backend", "process", "auth", creds != nil)
			fmt.Fprintf(cmd.OutOrStdout(), "gofaas provider (process) is ready at %s\n", baseURL(ln))
			return h.serve(cmd.Context(), ln, mux, log)
		},
	}
	h.addFlags(cmd.Flags(), 8081)
	a.addFlags(cmd.Flags())
	cmd.Flags().StringVar(&dataDir, "data-dir", "~/.gofaas", "folder for state, images, logs and secrets")
	cmd.Flags().StringVar(&isolation, "isolation", "auto", "replica isolation: netns, ports, or auto")
	cmd.Flags().BoolVar(&check, "check-config", false, "check the flags and environment, list every problem, then exit")
	return cmd
}
