package main

import (
	"cmp"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gofaas/gofaas/internal/queue"
)

func newQueueWorkerCmd() *cobra.Command {
	var (
		h          httpOptions
		w          workerOptions
		gatewayURL string
	)
	cmd := &cobra.Command{
		Use:   "queue-worker",
		Short: "Run only the async queue worker, against a NATS JetStream server and a gateway",
		Long: `Run the async queue worker as its own process: it takes calls from the
NATS JetStream streams that gofaas gateways write to (--nats-url), invokes
the functions through the gateway (--gateway-url) and posts callbacks.
Start as many as you like; they share the queues. It serves /metrics and
/healthz on --port.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := h.applyEnv(cmd.Flags(), os.Getenv); err != nil {
				return err
			}
			if err := w.applyEnv(cmd.Flags(), os.Getenv, &gatewayURL); err != nil {
				return err
			}
			if err := w.validate(); err != nil {
				return err
			}
			return runQueueWorker(cmd, &h, &w, gatewayURL)
		},
	}
	h.addFlags(cmd.Flags(), 8083)
	w.addFlags(cmd.Flags(), "NATS server with JetStream (env faas_nats_address and faas_nats_port)")
	cmd.Flags().StringVar(&gatewayURL, "gateway-url", "", "gateway the functions are invoked through (env faas_gateway_address and faas_gateway_port)")
	return cmd
}

// applyEnv reads the OpenFaaS queue-worker variables for flags not given.
func (o *workerOptions) applyEnv(fs *pflag.FlagSet, getenv func(string) string, gatewayURL *string) error {
	if o.natsURL == "" {
		o.natsURL = "nats://" + cmp.Or(getenv("faas_nats_address"), "127.0.0.1") + ":" + cmp.Or(getenv("faas_nats_port"), "4222")
	}
	if *gatewayURL == "" {
		*gatewayURL = "http://" + cmp.Or(getenv("faas_gateway_address"), "127.0.0.1") + ":" + cmp.Or(getenv("faas_gateway_port"), "8080")
	}
	if v := getenv("max_inflight"); v != "" && !fs.Changed("queue-max-inflight") {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("env max_inflight=%q: %w", v, err)
		}
		o.maxInflight = n
	}
	if v := getenv("ack_wait"); v != "" && !fs.Changed("queue-ack-wait") {
		d, err := parseDuration(v)
		if err != nil {
			return fmt.Errorf("env ack_wait=%q: %w", v, err)
		}
		o.ackWait = d
	}
	return nil
}

func runQueueWorker(cmd *cobra.Command, h *httpOptions, w *workerOptions, gatewayURL string) error {
	ctx := cmd.Context()
	log := h.logger().With("component", "queue-worker")
	stopPprof, err := startPprof(os.Getenv, log)
	if err != nil {
		return err
	}
	defer stopPprof()
	nc, err := nats.Connect(w.natsURL, nats.Name("gofaas-queue-worker"), nats.MaxReconnects(-1), nats.ReconnectWait(2*time.Second))
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", w.natsURL, err)
	}
	defer nc.Close()
	reg := prometheus.NewRegistry()
	m, err := queue.NewMetrics(reg)
	if err != nil {
		return err
	}
	q, err := w.open(ctx, nc, m, log)
	if err != nil {
		return err
	}
	stop, err := w.startWorker(ctx, q, gatewayURL, nil, m, log)
	if err != nil {
		return err
	}
	defer stop()
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) {
		if !nc.IsConnected() {
			http.Error(rw, "not connected to nats", http.StatusServiceUnavailable)
		}
	})
	ln, err := h.listen()
	if err != nil {
		return err
	}
	log.Info("gofaas queue-worker started", "url", baseURL(ln), "nats", w.natsURL, "gateway", gatewayURL,
		"max_inflight", w.maxInflight, "ack_wait", w.ackWait)
	fmt.Fprintf(cmd.OutOrStdout(), "gofaas queue-worker is ready at %s (nats %s, gateway %s)\n", baseURL(ln), w.natsURL, gatewayURL)
	return h.serve(ctx, ln, mux, log)
}
