package queue

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the queue's Prometheus collectors. A nil *Metrics records
// nothing.
type Metrics struct {
	enqueued    *prometheus.CounterVec
	depth       *prometheus.GaugeVec
	inflight    *prometheus.GaugeVec
	retries     *prometheus.CounterVec
	deadLetters *prometheus.CounterVec
	processing  *prometheus.HistogramVec
	delay       *prometheus.HistogramVec
	callbacks   *prometheus.CounterVec
}

// NewMetrics registers the queue's collectors on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	fn := []string{"function_name"}
	m := &Metrics{
		enqueued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gofaas_queue_enqueued_total", Help: "Async calls stored."}, fn),
		depth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gofaas_queue_depth", Help: "Async calls waiting in a queue (not yet delivered plus delivered but unfinished)."}, []string{"queue"}),
		inflight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gofaas_queue_inflight", Help: "Async calls being invoked by this worker."}, fn),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gofaas_queue_retries_total", Help: "Async calls scheduled for another attempt."}, fn),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gofaas_queue_dead_letters_total", Help: "Async calls given up and stored as dead letters."}, fn),
		processing: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gofaas_queue_processing_seconds", Help: "Duration of one async invocation attempt.",
			Buckets: prometheus.DefBuckets}, []string{"function_name", "code"}),
		delay: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gofaas_queue_delay_seconds", Help: "Time from enqueue to the first attempt.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}}, fn),
		callbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gofaas_queue_callbacks_total", Help: "Callback posts by result (ok, retry, failed)."}, []string{"result"}),
	}
	for _, c := range []prometheus.Collector{m.enqueued, m.depth, m.inflight, m.retries, m.deadLetters, m.processing, m.delay, m.callbacks} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering queue metrics: %w", err)
		}
	}
	return m, nil
}

// Enqueued counts one stored call for function ("name.namespace").
func (m *Metrics) Enqueued(function string) {
	if m != nil {
		m.enqueued.WithLabelValues(function).Inc()
	}
}

func (m *Metrics) setDepth(queue string, n float64) {
	if m != nil {
		m.depth.WithLabelValues(queue).Set(n)
	}
}

func (m *Metrics) addInflight(function string, d float64) {
	if m != nil {
		m.inflight.WithLabelValues(function).Add(d)
	}
}

func (m *Metrics) retry(function string) {
	if m != nil {
		m.retries.WithLabelValues(function).Inc()
	}
}

func (m *Metrics) dead(function string) {
	if m != nil {
		m.deadLetters.WithLabelValues(function).Inc()
	}
}

func (m *Metrics) observe(function string, code int, seconds float64) {
	if m != nil {
		m.processing.WithLabelValues(function, fmt.Sprint(code)).Observe(seconds)
	}
}

func (m *Metrics) queued(function string, seconds float64) {
	if m != nil {
		m.delay.WithLabelValues(function).Observe(seconds)
	}
}

func (m *Metrics) callback(result string) {
	if m != nil {
		m.callbacks.WithLabelValues(result).Inc()
	}
}
