package queue

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Stream names and subjects.
const (
	StreamCalls       = "GOFAAS_ASYNC"
	StreamDeadLetters = "GOFAAS_ASYNC_DLQ"
	StreamCallbacks   = "GOFAAS_ASYNC_CALLBACKS"

	subjectCalls     = "gofaas.async."
	subjectDead      = "gofaas.dlq."
	subjectCallbacks = "gofaas.callback."
	consumerPrefix   = "q-"
	consumerCallback = "callbacks"
	// DefaultQueue is the queue of functions without com.openfaas.queue.
	DefaultQueue = "default"
)

// Errors of the queue's API, wrapped with %w.
var (
	// ErrNotFound: no queued call or dead letter with that id.
	ErrNotFound = errors.New("no such call")
	// ErrStarted: the call was already handed to a worker.
	ErrStarted = errors.New("call already started")
	// ErrTooLarge: the message is above the NATS payload limit.
	ErrTooLarge = errors.New("message too large")
	// ErrBadQueue: the queue name cannot be used.
	ErrBadQueue = errors.New("bad queue name")
)

// Config configures the streams and consumers.
type Config struct {
	// AckWait is how long a worker may stay silent about a delivered call
	// before JetStream hands it to another worker (default 30s). Workers
	// report progress every AckWait/3 while a call runs, so a long call is
	// never redelivered while it runs.
	AckWait time.Duration
	// DeadLetterMaxAge is how long dead letters are kept (default 7 days).
	DeadLetterMaxAge time.Duration
	// Metrics counts enqueued calls; nil records nothing.
	Metrics *Metrics
	// Log receives the queue's logs; nil discards them.
	Log *slog.Logger
}

// Queue stores calls, dead letters and callbacks in JetStream.
type Queue struct {
	js   jetstream.JetStream
	cfg  Config
	log  *slog.Logger
	mu   sync.Mutex
	have map[string]bool // queues whose consumer exists
}

// Open creates or updates the streams on js and returns the queue.
func Open(ctx context.Context, js jetstream.JetStream, cfg Config) (*Queue, error) {
	cfg.AckWait = cmp.Or(cfg.AckWait, 30*time.Second)
	cfg.DeadLetterMaxAge = cmp.Or(cfg.DeadLetterMaxAge, 7*24*time.Hour)
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	q := &Queue{js: js, cfg: cfg, log: log.With("component", "queue"), have: map[string]bool{}}
	streams := []jetstream.StreamConfig{
		{Name: StreamCalls, Subjects: []string{subjectCalls + ">"}, Retention: jetstream.WorkQueuePolicy},
		{Name: StreamCallbacks, Subjects: []string{subjectCallbacks + ">"}, Retention: jetstream.WorkQueuePolicy},
		{Name: StreamDeadLetters, Subjects: []string{subjectDead + ">"}, MaxAge: cfg.DeadLetterMaxAge},
	}
	for _, sc := range streams {
		sc.Storage = jetstream.FileStorage
		sc.Description = "gofaas async invocation"
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return nil, fmt.Errorf("creating stream %s: %w", sc.Name, err)
		}
	}
	if err := q.ensureConsumer(ctx, DefaultQueue); err != nil {
		return nil, err
	}
	return q, nil
}

// ensureConsumer creates the durable pull consumer of a queue once.
func (q *Queue) ensureConsumer(ctx context.Context, queue string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.have[queue] {
		return nil
	}
	_, err := q.js.CreateOrUpdateConsumer(ctx, StreamCalls, jetstream.ConsumerConfig{
		Durable:       consumerPrefix + queue,
		Description:   "gofaas queue " + queue,
		FilterSubject: subjectCalls + queue + ".>",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       q.cfg.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: 100_000,
	})
	if err != nil {
		return fmt.Errorf("creating consumer of queue %s: %w", queue, err)
	}
	q.have[queue] = true
	return nil
}

// Enqueue stores m durably: when it returns nil, JetStream has the call on
// disk. m.QueueName picks the queue ("" is the default one).
func (q *Queue) Enqueue(ctx context.Context, m *Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	queue := cmp.Or(m.QueueName, DefaultQueue)
	if !validQueueName(queue) {
		return fmt.Errorf("%w: %q: use letters, digits, '-' and '_'", ErrBadQueue, queue)
	}
	if err := q.ensureConsumer(ctx, queue); err != nil {
		return err
	}
	data, err := m.Encode()
	if err != nil {
		return err
	}
	if err := q.publish(ctx, subjectCalls+queue+"."+token(m.CallID()), data); err != nil {
		return err
	}
	q.cfg.Metrics.Enqueued(m.Function)
	return nil
}

func (q *Queue) publish(ctx context.Context, subject string, data []byte) error {
	if limit := q.js.Conn().MaxPayload(); int64(len(data)) > limit-1024 {
		return fmt.Errorf("%w: %d bytes stored, the NATS limit is %d", ErrTooLarge, len(data), limit)
	}
	if _, err := q.js.Publish(ctx, subject, data); err != nil {
		if errors.Is(err, nats.ErrMaxPayload) {
			return fmt.Errorf("%w: %w", ErrTooLarge, err)
		}
		return fmt.Errorf("publishing %s: %w", subject, err)
	}
	return nil
}

// Cancel removes a queued call that no worker has received yet. It returns
// ErrNotFound when there is no such call (or it is done) and ErrStarted
// when a worker has it.
func (q *Queue) Cancel(ctx context.Context, callID string) error {
	st, err := q.js.Stream(ctx, StreamCalls)
	if err != nil {
		return fmt.Errorf("opening stream: %w", err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(subjectCalls+"*."+token(callID)))
	if err != nil {
		return fmt.Errorf("finding call: %w", err)
	}
	for subject := range info.State.Subjects {
		return q.cancelSubject(ctx, st, subject)
	}
	return ErrNotFound
}

func (q *Queue) cancelSubject(ctx context.Context, st jetstream.Stream, subject string) error {
	msg, err := st.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return ErrNotFound
	} else if err != nil {
		return fmt.Errorf("reading call: %w", err)
	}
	queue := strings.Split(strings.TrimPrefix(subject, subjectCalls), ".")[0]
	c, err := st.Consumer(ctx, consumerPrefix+queue)
	if err != nil {
		return fmt.Errorf("opening consumer of queue %s: %w", queue, err)
	}
	ci, err := c.Info(ctx)
	if err != nil {
		return fmt.Errorf("reading consumer of queue %s: %w", queue, err)
	}
	if msg.Sequence <= ci.Delivered.Stream {
		return ErrStarted
	}
	if err := st.DeleteMsg(ctx, msg.Sequence); err != nil {
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return ErrNotFound
		}
		return fmt.Errorf("deleting call: %w", err)
	}
	return nil
}

// DeadLetters returns up to limit dead letters, newest first.
func (q *Queue) DeadLetters(ctx context.Context, limit int) ([]DeadLetter, error) {
	st, err := q.js.Stream(ctx, StreamDeadLetters)
	if err != nil {
		return nil, fmt.Errorf("opening dead letters: %w", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading dead letters: %w", err)
	}
	out := []DeadLetter{}
	for seq := info.State.LastSeq; seq >= info.State.FirstSeq && seq > 0 && len(out) < limit; seq-- {
		raw, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("reading dead letter %d: %w", seq, err)
		}
		dl, err := decodeDeadLetter(raw.Data)
		if err != nil {
			q.log.Warn("skipping unreadable dead letter", "seq", seq, "err", err)
			continue
		}
		out = append(out, dl)
	}
	return out, nil
}

// Replay queues a dead letter again, with the same X-Call-Id, and removes
// it from the dead letters.
func (q *Queue) Replay(ctx context.Context, callID string) error {
	st, err := q.js.Stream(ctx, StreamDeadLetters)
	if err != nil {
		return fmt.Errorf("opening dead letters: %w", err)
	}
	raw, err := st.GetLastMsgForSubject(ctx, subjectDead+token(callID))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return ErrNotFound
	} else if err != nil {
		return fmt.Errorf("reading dead letter: %w", err)
	}
	dl, err := decodeDeadLetter(raw.Data)
	if err != nil {
		return err
	}
	if err := q.Enqueue(ctx, &dl.Message); err != nil {
		return err
	}
	if err := st.DeleteMsg(ctx, raw.Sequence); err != nil {
		return fmt.Errorf("removing replayed dead letter: %w", err)
	}
	return nil
}

// deadLetter stores a failed call.
func (q *Queue) deadLetter(ctx context.Context, dl DeadLetter) error {
	data, err := encodeJSON(dl)
	if err != nil {
		return err
	}
	return q.publish(ctx, subjectDead+token(dl.Message.CallID()), data)
}

// queueCallback stores a result for the callback sender.
func (q *Queue) queueCallback(ctx context.Context, cb callback) error {
	data, err := encodeJSON(cb)
	if err != nil {
		return err
	}
	return q.publish(ctx, subjectCallbacks+token(cb.CallID), data)
}
