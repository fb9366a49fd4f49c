// Package metrics owns the gateway's Prometheus metrics, with the names,
// types and labels OpenFaaS uses (gateway_function_invocation_total and
// friends), and the invocation counts the gateway mixes into function
// listings without asking Prometheus.
//
// It is a leaf: it imports only the Prometheus client.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Gateway holds the gateway's metrics in its own registry.
type Gateway struct {
	reg         *prometheus.Registry
	invocations *prometheus.CounterVec
	seconds     *prometheus.HistogramVec
	started     *prometheus.CounterVec
	inflight    *prometheus.GaugeVec
	services    *prometheus.GaugeVec
	replicas    replicaGauges

	// fns caches per-function series and counts, so the hot path does one
	// map lookup instead of hashing label values three times.
	fns sync.Map // function name → *fnSeries
}

type fnSeries struct {
	started   prometheus.Counter
	inflight  prometheus.Gauge
	total     atomic.Uint64
	startedN  atomic.Uint64 // invocations started, for Load
	inflightN atomic.Int64  // invocations in flight, for Load
	codes     sync.Map      // int → *codeSeries
}

type codeSeries struct {
	invocations prometheus.Counter
	seconds     prometheus.Observer
}

// NewGateway registers the gateway metrics, plus Go runtime and process
// collectors, in a fresh registry.
func NewGateway() *Gateway {
	g := &Gateway{
		reg: prometheus.NewRegistry(),
		invocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_function_invocation_total",
			Help: "Function invocations by function and status code.",
		}, []string{"function_name", "code"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gateway_functions_seconds",
			Help:    "Function invocation time taken.",
			Buckets: prometheus.DefBuckets,
		}, []string{"function_name", "code"}),
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_function_invocation_started",
			Help: "Function invocations started.",
		}, []string{"function_name"}),
		inflight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gateway_function_invocation_inflight",
			Help: "Function invocations in flight.",
		}, []string{"function_name"}),
		services: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gateway_service_count",
			Help: "Desired replicas per function.",
		}, []string{"function_name"}),
	}
	g.replicas = newReplicaGauges()
	g.reg.MustRegister(g.invocations, g.seconds, g.started, g.inflight, g.services,
		g.replicas.available, g.replicas.cpu, g.replicas.memory,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return g
}

// Registry returns the registry, for other parts to add their collectors.
func (g *Gateway) Registry() *prometheus.Registry { return g.reg }

// Handler serves the metrics in the Prometheus text format.
func (g *Gateway) Handler() http.Handler {
	return promhttp.HandlerFor(g.reg, promhttp.HandlerOpts{})
}

func (g *Gateway) series(function string) *fnSeries {
	if s, ok := g.fns.Load(function); ok {
		return s.(*fnSeries)
	}
	s, _ := g.fns.LoadOrStore(function, &fnSeries{
		started:  g.started.WithLabelValues(function),
		inflight: g.inflight.WithLabelValues(function),
	})
	return s.(*fnSeries)
}

// Started records the start of an invocation of function ("name.namespace").
func (g *Gateway) Started(function string) {
	s := g.series(function)
	s.startedN.Add(1)
	s.inflightN.Add(1)
	s.started.Inc()
	s.inflight.Inc()
}

// Finished records the end of an invocation with the status code the client
// got and the time it took.
func (g *Gateway) Finished(function string, code int, d time.Duration) {
	s := g.series(function)
	s.inflightN.Add(-1)
	s.inflight.Dec()
	s.total.Add(1)
	c, ok := s.codes.Load(code)
	if !ok {
		label := strconv.Itoa(code)
		c, _ = s.codes.LoadOrStore(code, &codeSeries{
			invocations: g.invocations.WithLabelValues(function, label),
			seconds:     g.seconds.WithLabelValues(function, label),
		})
	}
	cs := c.(*codeSeries)
	cs.invocations.Inc()
	cs.seconds.Observe(d.Seconds())
}

// InvocationCount returns the invocations of function ("name.namespace")
// finished since the gateway started, all status codes together.
func (g *Gateway) InvocationCount(function string) float64 {
	if s, ok := g.fns.Load(function); ok {
		return float64(s.(*fnSeries).total.Load())
	}
	return 0
}

// SetReplicas sets gateway_service_count for function.
func (g *Gateway) SetReplicas(function string, replicas uint64) {
	g.services.WithLabelValues(function).Set(float64(replicas))
}
