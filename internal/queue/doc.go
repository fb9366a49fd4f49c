// Package queue owns asynchronous invocation: the durable NATS JetStream
// streams that hold queued calls, dead letters and pending callbacks, the
// queue worker that invokes functions with retries and back-off, and the
// callback sender.
//
// Calls are stored in the work-queue stream ASYNC on the subject
// gofaas.async.<queue>.<call>, one durable pull consumer per queue (the
// annotation com.openfaas.queue names a queue; "default" otherwise), so a
// slow queue never takes another queue's workers. Failed calls end in the
// stream ASYNC_DLQ; callbacks are stored in ASYNC_CALLBACKS and retried on
// their own. Delivery is at least once: every delivery of a call carries the
// same X-Call-Id. Calls are stored in a compact binary form (codec.go);
// JSON QueueRequests stored by earlier versions are still read.
//
// It imports pkg/api, the NATS client and the Prometheus client only; it
// reaches functions through its own Invoker interface.
package queue
