package queue

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gofaas/gofaas/pkg/api"
)

// throttleDelay is how long a call waits when its function is at its
// in-flight bound.
const throttleDelay = 200 * time.Millisecond

// snippetBytes is how much of a failed answer a dead letter keeps.
const snippetBytes = 1024

// result is the outcome of one attempt.
type result struct {
	status   int // 0: the gateway was not reachable
	header   http.Header
	body     []byte
	err      error
	duration time.Duration
}

// handleCall runs one delivery of a queued call.
func (w *Worker) handleCall(ctx context.Context, msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		w.log.Warn("dropping message without metadata", "err", err)
		msg.Term()
		return
	}
	m, err := Decode(msg.Data())
	if err != nil {
		w.log.Warn("dropping undecodable call", "seq", md.Sequence.Stream, "err", err)
		msg.TermWithReason("undecodable")
		return
	}
	seq := md.Sequence.Stream
	if !w.acquire(m.Function, seq) {
		msg.NakWithDelay(throttleDelay)
		return
	}
	defer w.releaseFn(m.Function)
	attempt := w.attempt(seq, md.NumDelivered)
	if attempt == 1 {
		w.cfg.Metrics.queued(m.Function, time.Since(md.Timestamp).Seconds())
	}
	stop := w.keepAlive(msg)
	res := w.invoke(ctx, &m)
	stop()
	if ctx.Err() != nil {
		msg.Nak() // shutting down: hand the call back
		return
	}
	w.cfg.Metrics.observe(m.Function, res.status, res.duration.Seconds())
	w.finish(ctx, msg, seq, &m, attempt, res)
}

// acquire takes a slot of fn's in-flight bound; when none is free it
// remembers that this delivery of seq was only deferred.
func (w *Worker) acquire(fn string, seq uint64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.busy[fn] >= w.cfg.MaxInflightPerFunction {
		w.throttled[seq]++
		return false
	}
	w.busy[fn]++
	w.cfg.Metrics.addInflight(fn, 1)
	return true
}

func (w *Worker) releaseFn(fn string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.busy[fn]--; w.busy[fn] <= 0 {
		delete(w.busy, fn)
	}
	w.cfg.Metrics.addInflight(fn, -1)
}

// attempt is the number of this call attempt: deliveries minus those that
// were only deferred by this worker.
func (w *Worker) attempt(seq, delivered uint64) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return int(max(delivered-min(w.throttled[seq], delivered), 1))
}

func (w *Worker) forget(seq uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.throttled, seq)
}

// invoke calls the function through the gateway with the original method,
// path, query, headers and body, and the same X-Call-Id.
func (w *Worker) invoke(ctx context.Context, m *Message) result {
	u := w.cfg.GatewayURL + api.PathInvoke + m.Function + m.Path
	if m.QueryString != "" {
		u += "?" + m.QueryString
	}
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, m.Method, u, bytes.NewReader(m.Body))
	if err != nil {
		return result{err: fmt.Errorf("building request: %w", err)}
	}
	req.Header = m.Header.Clone()
	req.Header.Del("Content-Length")
	if m.Host != "" {
		req.Header.Set(api.HeaderForwardedHost, m.Host)
	}
	res, err := w.cfg.Invoker.Do(req)
	if err != nil {
		return result{err: fmt.Errorf("calling %s: %w", m.Function, err), duration: time.Since(start)}
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, w.maxResult()))
	if err != nil {
		return result{err: fmt.Errorf("reading answer of %s: %w", m.Function, err), duration: time.Since(start)}
	}
	return result{status: res.StatusCode, header: res.Header, body: body, duration: time.Since(start)}
}

// maxResult is the largest answer kept for a callback: what fits in one
// NATS message next to the headers.
func (w *Worker) maxResult() int64 {
	return max(w.q.js.Conn().MaxPayload()*3/4-64<<10, 4<<10)
}

// finish acknowledges, retries or dead-letters a call (stream sequence
// seq) after an attempt.
func (w *Worker) finish(ctx context.Context, msg jetstream.Msg, seq uint64, m *Message, attempt int, res result) {
	policy := w.cfg.Retry.withAnnotations(m.Annotations)
	// Most calls log nothing: build the logger only when it is used.
	log := func() *slog.Logger {
		return w.log.With("function", m.Function, api.HeaderCallID, m.CallID(), "attempt", attempt, "status", res.status)
	}
	if policy.retryable(res.status) && attempt < policy.Attempts {
		delay := policy.backoff(attempt, parseRetryAfter(res.header.Get("Retry-After"), time.Now()))
		log().Debug("async call will be retried", "delay", delay, "err", res.err)
		w.cfg.Metrics.retry(m.Function)
		msg.NakWithDelay(delay)
		return
	}
	if policy.retryable(res.status) {
		if err := w.q.deadLetter(ctx, deadLetterOf(m, attempt, res)); err != nil {
			log().Error("storing dead letter; the call stays queued", "err", err)
			msg.NakWithDelay(policy.MaxWait)
			return
		}
		log().Warn("async call failed for good", "err", res.err)
		w.cfg.Metrics.dead(m.Function)
	}
	if err := w.sendCallback(ctx, m, policy, res); err != nil {
		log().Error("storing callback; the call stays queued", "err", err)
		msg.NakWithDelay(policy.MinWait)
		return
	}
	w.forget(seq)
	if err := msg.Ack(); err != nil {
		log().Warn("acknowledging call; it may run again", "err", err)
	}
}

func deadLetterOf(m *Message, attempt int, res result) DeadLetter {
	dl := DeadLetter{Message: *m, Status: res.status, Attempts: attempt, FailedAt: time.Now().UTC()}
	if res.err != nil {
		dl.Error = res.err.Error()
	}
	dl.Body = string(res.body[:min(len(res.body), snippetBytes)])
	return dl
}

// sendCallback stores the result for the callback sender when the call has
// an X-Callback-Url. An unreachable function reports 503, as OpenFaaS does.
func (w *Worker) sendCallback(ctx context.Context, m *Message, p RetryPolicy, res result) error {
	if m.CallbackUrl == "" {
		return nil
	}
	status := res.status
	if status == 0 {
		status = http.StatusServiceUnavailable
	}
	return w.q.queueCallback(ctx, callback{
		URL: m.CallbackUrl, Function: m.Function, CallID: m.CallID(), Status: status,
		Header: res.header, Body: res.body, Duration: res.duration, MinWait: p.MinWait, MaxWait: p.MaxWait,
	})
}

// handleCallback posts one stored callback, retrying with back-off.
func (w *Worker) handleCallback(ctx context.Context, msg jetstream.Msg) {
	cb, err := decodeCallback(msg.Data())
	if err != nil {
		w.log.Warn("dropping undecodable callback", "err", err)
		msg.TermWithReason("undecodable")
		return
	}
	md, err := msg.Metadata()
	if err != nil {
		msg.Term()
		return
	}
	stop := w.keepAlive(msg)
	status, retryAfter, err := w.postCallback(ctx, &cb)
	stop()
	log := w.log.With("function", cb.Function, api.HeaderCallID, cb.CallID, "attempt", md.NumDelivered, "status", status)
	switch {
	case ctx.Err() != nil:
		msg.Nak()
	case err == nil && status < 500 && status != 408 && status != 429:
		w.cfg.Metrics.callback("ok")
		msg.Ack()
	case int(md.NumDelivered) < w.cfg.CallbackAttempts:
		p := RetryPolicy{MinWait: max(cb.MinWait, time.Millisecond), MaxWait: max(cb.MaxWait, cb.MinWait, time.Millisecond)}
		delay := p.backoff(int(md.NumDelivered), retryAfter)
		log.Debug("callback will be retried", "delay", delay, "err", err)
		w.cfg.Metrics.callback("retry")
		msg.NakWithDelay(delay)
	default:
		log.Warn("callback given up", "err", err)
		w.cfg.Metrics.callback("failed")
		msg.Term()
	}
}

// postCallback posts the function's answer with the spec's headers.
func (w *Worker) postCallback(ctx context.Context, cb *callback) (int, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.CallbackTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cb.URL, bytes.NewReader(cb.Body))
	if err != nil {
		return 0, 0, fmt.Errorf("building callback: %w", err)
	}
	for k, v := range cb.Header {
		if !hopByHop(k) {
			req.Header[k] = v
		}
	}
	req.Header.Set(api.HeaderCallID, cb.CallID)
	req.Header.Set(api.HeaderFunctionStatus, strconv.Itoa(cb.Status))
	req.Header.Set(api.HeaderFunctionName, cb.Function)
	req.Header.Set(api.HeaderDuration, strconv.FormatFloat(cb.Duration.Seconds(), 'f', 6, 64))
	res, err := w.cfg.Callbacks.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("posting callback: %w", err)
	}
	defer res.Body.Close()
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	return res.StatusCode, parseRetryAfter(res.Header.Get("Retry-After"), time.Now()), nil
}

func hopByHop(k string) bool {
	switch http.CanonicalHeaderKey(k) {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length":
		return true
	}
	return false
}
