package queue

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Invoker sends one HTTP request; *http.Client satisfies it.
type Invoker interface {
	Do(*http.Request) (*http.Response, error)
}

// WorkerConfig configures a Worker.
type WorkerConfig struct {
	// GatewayURL is where functions are invoked, as
	// GatewayURL/function/<name.namespace><path>?<query> (required), so the
	// gateway's metrics and scale-from-zero apply to async calls too.
	GatewayURL string
	// MaxInflight bounds the calls one queue runs at once in this worker
	// (default 64). Each queue has its own bound, so a slow queue never
	// holds another queue's slots.
	MaxInflight int
	// MaxInflightPerFunction bounds the calls of one function at once in
	// this worker (default MaxInflight); calls above it wait in the queue.
	MaxInflightPerFunction int
	// Retry is the default retry policy; the com.openfaas.retry.*
	// annotations override it per function (default DefaultRetryPolicy).
	Retry RetryPolicy
	// CallbackAttempts is how often a callback is tried before it is
	// dropped (default 20), with the function's retry waits in between.
	CallbackAttempts int
	// CallbackTimeout bounds one callback post (default 30s).
	CallbackTimeout time.Duration
	// Invoker calls the gateway (default an http.Client without timeout:
	// the gateway's upstream timeout bounds a call).
	Invoker Invoker
	// Callbacks posts callbacks (default an http.Client).
	Callbacks Invoker
	// DiscoverEvery is how often new named queues are looked for and the
	// depth gauges updated (default 2s).
	DiscoverEvery time.Duration
	// Metrics records the worker's figures; nil records nothing.
	Metrics *Metrics
	// Log receives the worker's logs; nil discards them.
	Log *slog.Logger
}

// Worker consumes every queue and the callbacks.
type Worker struct {
	q         *Queue
	cfg       WorkerConfig
	log       *slog.Logger
	mu        sync.Mutex
	busy      map[string]int    // calls in flight per function
	throttled map[uint64]uint64 // deliveries per stream sequence that were only deferred
}

// NewWorker returns a worker for q's queues.
func NewWorker(q *Queue, cfg WorkerConfig) (*Worker, error) {
	if cfg.GatewayURL == "" {
		return nil, errors.New("queue worker: no gateway URL")
	}
	cfg.GatewayURL = strings.TrimSuffix(cfg.GatewayURL, "/")
	cfg.MaxInflight = cmp.Or(cfg.MaxInflight, 64)
	cfg.MaxInflightPerFunction = cmp.Or(cfg.MaxInflightPerFunction, cfg.MaxInflight)
	if cfg.Retry.Attempts == 0 {
		cfg.Retry = DefaultRetryPolicy()
	}
	if err := cfg.Retry.Validate(); err != nil {
		return nil, fmt.Errorf("queue worker: %w", err)
	}
	cfg.CallbackAttempts = cmp.Or(cfg.CallbackAttempts, 20)
	cfg.CallbackTimeout = cmp.Or(cfg.CallbackTimeout, 30*time.Second)
	cfg.DiscoverEvery = cmp.Or(cfg.DiscoverEvery, 2*time.Second)
	if cfg.Invoker == nil {
		cfg.Invoker = &http.Client{}
	}
	if cfg.Callbacks == nil {
		cfg.Callbacks = &http.Client{}
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Worker{
		q: q, cfg: cfg, log: log.With("component", "queue-worker"),
		busy: map[string]int{}, throttled: map[uint64]uint64{},
	}, nil
}

// Run consumes until ctx ends, then waits for the calls in flight to stop
// and returns. Calls cut short by ctx are handed back to the queue.
func (w *Worker) Run(ctx context.Context) error {
	calls, err := w.q.js.Stream(ctx, StreamCalls)
	if err != nil {
		return fmt.Errorf("opening stream: %w", err)
	}
	cbs, err := w.q.js.CreateOrUpdateConsumer(ctx, StreamCallbacks, jetstream.ConsumerConfig{
		Durable: consumerCallback, AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: w.q.cfg.AckWait, MaxDeliver: -1, MaxAckPending: 100_000,
	})
	if err != nil {
		return fmt.Errorf("creating callback consumer: %w", err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { w.consume(ctx, cbs, w.cfg.MaxInflight, w.handleCallback) })
	running := map[string]bool{}
	tick := time.NewTicker(w.cfg.DiscoverEvery)
	defer tick.Stop()
	for {
		for _, c := range w.discover(ctx, calls) {
			if !running[c.CachedInfo().Name] {
				running[c.CachedInfo().Name] = true
				w.log.Info("consuming queue", "queue", strings.TrimPrefix(c.CachedInfo().Name, consumerPrefix))
				wg.Go(func() { w.consume(ctx, c, w.cfg.MaxInflight, w.handleCall) })
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// discover lists the queue consumers and updates the depth gauges.
func (w *Worker) discover(ctx context.Context, st jetstream.Stream) []jetstream.Consumer {
	var out []jetstream.Consumer
	l := st.ListConsumers(ctx)
	for ci := range l.Info() {
		queue, ok := strings.CutPrefix(ci.Name, consumerPrefix)
		if !ok {
			continue
		}
		w.cfg.Metrics.setDepth(queue, float64(ci.NumPending)+float64(ci.NumAckPending))
		c, err := st.Consumer(ctx, ci.Name)
		if err != nil {
			w.log.Warn("opening consumer", "queue", queue, "err", err)
			continue
		}
		out = append(out, c)
	}
	if err := l.Err(); err != nil && ctx.Err() == nil {
		w.log.Warn("listing queues", "err", err)
	}
	return out
}

// consume fetches from c while slots are free and runs handle for each
// message, at most limit at once. Messages go to long-lived runners rather
// than a goroutine each: a runner's stack has grown to what the handler
// needs once, where a fresh goroutine grows (copies) its stack per call.
func (w *Worker) consume(ctx context.Context, c jetstream.Consumer, limit int, handle func(context.Context, jetstream.Msg)) {
	sem := make(chan struct{}, limit)
	work := make(chan jetstream.Msg)
	var runners sync.WaitGroup
	defer runners.Wait()
	defer close(work)
	run := func(msg jetstream.Msg) {
		for ok := true; ok; msg, ok = <-work {
			handle(ctx, msg)
			release(sem, 1)
		}
	}
	started := 0
	for {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		n := 1 + reserve(sem, limit-1)
		batch, err := c.Fetch(n, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			release(sem, n)
			w.log.Warn("fetching calls", "consumer", c.CachedInfo().Name, "err", err)
			sleep(ctx, time.Second)
			continue
		}
		got := 0
		for msg := range batch.Messages() {
			got++
			select {
			case work <- msg: // an idle runner took it
			default:
				if started < limit {
					started++
					runners.Go(func() { run(msg) })
				} else {
					work <- msg // every runner is busy; one is about to finish
				}
			}
		}
		release(sem, n-got)
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoHeartbeat) && ctx.Err() == nil {
			w.log.Debug("fetch ended", "err", err)
		}
	}
}

// reserve takes up to n more free slots without blocking.
func reserve(sem chan struct{}, n int) int {
	for i := range n {
		select {
		case sem <- struct{}{}:
		default:
			return i
		}
	}
	return n
}

func release(sem chan struct{}, n int) {
	for range n {
		<-sem
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// keepAlive tells JetStream every AckWait/3 that msg is still being worked
// on, so a long call is not redelivered while it runs; stop ends it. It
// uses a timer, not a goroutine, because most calls end long before the
// first report is due.
func (w *Worker) keepAlive(msg jetstream.Msg) (stop func()) {
	every := w.q.cfg.AckWait / 3
	var (
		mu      sync.Mutex
		stopped bool
		t       *time.Timer
	)
	mu.Lock()
	defer mu.Unlock()
	t = time.AfterFunc(every, func() {
		// Holding mu makes stop wait for a report under way: a report after
		// a Nak with delay would cut the delay short.
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		if err := msg.InProgress(); err != nil {
			w.log.Debug("reporting progress", "err", err)
		}
		t.Reset(every)
	})
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		t.Stop()
	}
}
