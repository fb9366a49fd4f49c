package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/pflag"

	"github.com/gofaas/gofaas/internal/gateway"
	"github.com/gofaas/gofaas/internal/natsd"
	"github.com/gofaas/gofaas/internal/queue"
	"github.com/gofaas/gofaas/pkg/api"
)

// workerOptions are the queue worker's settings, shared by `gofaas server`
// and `gofaas queue-worker`.
type workerOptions struct {
	natsURL          string
	maxInflight      int
	maxInflightPerFn int
	ackWait          time.Duration
	retry            queue.RetryPolicy
	callbackAttempts int
}

func (o *workerOptions) addFlags(fs *pflag.FlagSet, natsHelp string) {
	d := queue.DefaultRetryPolicy()
	fs.StringVar(&o.natsURL, "nats-url", "", natsHelp)
	fs.IntVar(&o.maxInflight, "queue-max-inflight", 64, "async calls one queue runs at once in this worker")
	fs.IntVar(&o.maxInflightPerFn, "queue-max-inflight-per-function", 0, "async calls one function runs at once in this worker (0: same as --queue-max-inflight)")
	fs.DurationVar(&o.ackWait, "queue-ack-wait", 30*time.Second, "how long a silent worker keeps a call before another worker gets it (a running call reports progress, so this is not a time limit)")
	fs.IntVar(&o.retry.Attempts, "queue-retry-attempts", d.Attempts, "calls of a failing function before it becomes a dead letter (annotation com.openfaas.retry.attempts)")
	fs.DurationVar(&o.retry.MinWait, "queue-retry-min-wait", d.MinWait, "first retry wait, doubled per attempt (annotation com.openfaas.retry.min_wait)")
	fs.DurationVar(&o.retry.MaxWait, "queue-retry-max-wait", d.MaxWait, "longest retry wait (annotation com.openfaas.retry.max_wait)")
	fs.IntSliceVar(&o.retry.Codes, "queue-retry-codes", d.Codes, "HTTP statuses that are retried (annotation com.openfaas.retry.codes)")
	fs.IntVar(&o.callbackAttempts, "queue-callback-attempts", 20, "posts of a callback before it is dropped")
}

func (o *workerOptions) validate() error {
	var errs []error
	if o.maxInflight < 1 || o.maxInflightPerFn < 0 {
		errs = append(errs, errors.New("--queue-max-inflight must be at least 1 and --queue-max-inflight-per-function not negative"))
	}
	if o.ackWait < time.Second {
		errs = append(errs, fmt.Errorf("--queue-ack-wait %v: want at least 1s", o.ackWait))
	}
	if err := o.retry.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("--queue-retry-*: %w", err))
	}
	if o.callbackAttempts < 1 {
		errs = append(errs, errors.New("--queue-callback-attempts must be at least 1"))
	}
	return errors.Join(errs...)
}

// open connects to JetStream and opens the queue.
func (o *workerOptions) open(ctx context.Context, nc *nats.Conn, m *queue.Metrics, log *slog.Logger) (*queue.Queue, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("opening jetstream: %w", err)
	}
	return queue.Open(ctx, js, queue.Config{AckWait: o.ackWait, Metrics: m, Log: log})
}

// startWorker runs a worker on q that invokes through gatewayURL, once the
// gateway answers /healthz, until the returned stop is called. A nil
// invoker means HTTP to gatewayURL.
func (o *workerOptions) startWorker(ctx context.Context, q *queue.Queue, gatewayURL string, invoker queue.Invoker, m *queue.Metrics, log *slog.Logger) (stop func(), err error) {
	if invoker == nil {
		invoker = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.maxInflight * 2, IdleConnTimeout: time.Minute}}
	}
	w, err := queue.NewWorker(q, queue.WorkerConfig{
		GatewayURL: gatewayURL, MaxInflight: o.maxInflight, MaxInflightPerFunction: o.maxInflightPerFn,
		Retry: o.retry, CallbackAttempts: o.callbackAttempts, Metrics: m, Log: log, Invoker: invoker,
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		waitHealthy(ctx, gatewayURL)
		if err := w.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("queue worker stopped", "err", err)
		}
	})
	return func() { cancel(); wg.Wait() }, nil
}

// waitHealthy polls the gateway's /healthz until it answers or ctx ends.
func waitHealthy(ctx context.Context, gatewayURL string) {
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, gatewayURL+api.PathHealthz, nil)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// asyncOptions are the settings of the async queue in `gofaas server`.
type asyncOptions struct {
	worker     workerOptions
	maxBytes   int64
	syncAlways bool
	runWorker  bool
}

func (o *asyncOptions) addFlags(fs *pflag.FlagSet) {
	o.worker.addFlags(fs, "use this NATS server (with JetStream) instead of the embedded one, e.g. nats://nats:4222")
	fs.Int64Var(&o.maxBytes, "async-max-bytes", 1<<20, "largest /async-function/ request body (larger ones get 413)")
	fs.BoolVar(&o.syncAlways, "nats-sync-always", false, "fsync every queued call (the embedded NATS server): survives power loss, slower")
	fs.BoolVar(&o.runWorker, "queue-worker", true, "run a queue worker in this process (false: only queue calls, for separate `gofaas queue-worker` processes on --nats-url)")
}

// setup starts the async queue and worker and hooks them into the gateway.
func (o *asyncOptions) setup(ctx context.Context, p *serverParts) error {
	if err := o.worker.validate(); err != nil {
		return err
	}
	if o.maxBytes < 1 || o.maxBytes > 48<<20 {
		return fmt.Errorf("--async-max-bytes %d: want 1 to %d", o.maxBytes, 48<<20)
	}
	// The profiling aid starts with the async part, the one that needs it
	// (bench/async/run.sh); it does nothing unless GOFAAS_PPROF is set.
	stopPprof, err := startPprof(os.Getenv, p.log)
	if err != nil {
		return err
	}
	p.onStop(stopPprof)
	log := p.log.With("component", "async")
	nc, err := o.connect(p, log)
	if err != nil {
		return err
	}
	p.onStop(nc.Close)
	m, err := queue.NewMetrics(p.metrics.Registry())
	if err != nil {
		return err
	}
	q, err := o.worker.open(ctx, nc, m, log)
	if err != nil {
		return err
	}
	if o.runWorker {
		// The worker calls the gateway's handler in this process rather
		// than over loopback HTTP (see queue.LocalInvoker).
		local := &queue.LocalInvoker{}
		p.gatewayReady = append(p.gatewayReady, local.Set)
		stop, err := o.worker.startWorker(ctx, q, p.url, local, m, log)
		if err != nil {
			return err
		}
		p.onStop(stop)
	}
	p.gateway.Enqueuer = enqueuer{q}
	p.gateway.AsyncMaxBytes = o.maxBytes
	return nil
}

// connect starts the embedded NATS server (or dials --nats-url).
func (o *asyncOptions) connect(p *serverParts, log *slog.Logger) (*nats.Conn, error) {
	if o.worker.natsURL != "" {
		nc, err := nats.Connect(o.worker.natsURL, nats.Name("gofaas-server"), nats.MaxReconnects(-1))
		if err != nil {
			return nil, fmt.Errorf("connecting to %s: %w", o.worker.natsURL, err)
		}
		log.Info("using external nats", "url", o.worker.natsURL)
		return nc, nil
	}
	ns, err := natsd.Start(natsd.Config{
		StoreDir:   filepath.Join(p.dataDir, "nats"),
		MaxPayload: int32(o.maxBytes*4/3 + 256<<10), // dead letters and callbacks hold the body in base64
		SyncAlways: o.syncAlways,
		Log:        log,
	})
	if err != nil {
		return nil, err
	}
	p.onStop(ns.Shutdown)
	log.Info("embedded nats started", "url", ns.ClientURL(), "store", filepath.Join(p.dataDir, "nats"))
	return ns.Connect("gofaas-server")
}

// enqueuer adapts the queue to the gateway's Enqueuer.
type enqueuer struct{ q *queue.Queue }

var _ gateway.Enqueuer = enqueuer{}

func (e enqueuer) Enqueue(ctx context.Context, c gateway.AsyncCall) error {
	err := e.q.Enqueue(ctx, &queue.Message{
		Header: c.Header, Host: c.Host, Body: c.Body, Method: c.Method, Path: c.Path, QueryString: c.Query,
		Function: api.JoinName(c.Name, c.Namespace), QueueName: c.QueueName, Annotations: c.Annotations,
		CallbackUrl: c.CallbackURL,
	})
	return mapQueueErr(err)
}

func (e enqueuer) Cancel(ctx context.Context, id string) error {
	return mapQueueErr(e.q.Cancel(ctx, id))
}

func (e enqueuer) Replay(ctx context.Context, id string) error {
	return mapQueueErr(e.q.Replay(ctx, id))
}

func (e enqueuer) DeadLetters(ctx context.Context, limit int) ([]gateway.DeadLetter, error) {
	dls, err := e.q.DeadLetters(ctx, limit)
	if err != nil {
		return nil, err
	}
	out := make([]gateway.DeadLetter, 0, len(dls))
	for _, d := range dls {
		out = append(out, gateway.DeadLetter{
			CallID: d.Message.CallID(), Function: d.Message.Function, Method: d.Message.Method, Path: d.Message.Path,
			Status: d.Status, Attempts: d.Attempts, Error: d.Error, Body: d.Body, FailedAt: d.FailedAt,
		})
	}
	return out, nil
}

// mapQueueErr turns the queue's errors into the gateway's.
func mapQueueErr(err error) error {
	switch {
	case errors.Is(err, queue.ErrNotFound):
		return fmt.Errorf("%w: %w", gateway.ErrCallNotFound, err)
	case errors.Is(err, queue.ErrStarted):
		return fmt.Errorf("%w: %w", gateway.ErrCallStarted, err)
	case errors.Is(err, queue.ErrTooLarge):
		return fmt.Errorf("%w: %w", gateway.ErrCallTooLarge, err)
	}
	return err
}
