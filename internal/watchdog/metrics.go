package watchdog

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the watchdog's Prometheus metrics, with the names and labels
// of both OpenFaaS watchdogs, in a registry of their own.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inflight prometheus.Gauge

	// series caches the children of requests and duration by label
	// values, so a request costs one map lookup instead of two label
	// hashes.
	series sync.Map // seriesKey → *series
}

type seriesKey struct {
	code   int
	method string // methodLabel's answer
}

type series struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "Function requests served, by status code and method.",
		}, []string{"code", "method"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "Function request latency in seconds, by status code and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"code", "method"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "http_requests_in_flight",
			Help: "Function requests being served.",
		}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.inflight,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observe records one finished request. Labels follow promhttp (the real
// watchdogs' instrumentation): lower-case method, numeric code; methods
// outside RFC 9110 are counted as "other".
func (m *metrics) observe(method string, code int, d time.Duration) {
	k := seriesKey{code: code, method: methodLabel(method)}
	v, ok := m.series.Load(k)
	if !ok {
		c := statusLabel(code)
		v, _ = m.series.LoadOrStore(k, &series{
			requests: m.requests.WithLabelValues(c, k.method),
			duration: m.duration.WithLabelValues(c, k.method),
		})
	}
	s := v.(*series)
	s.requests.Inc()
	s.duration.Observe(d.Seconds())
}

func (m *metrics) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	return mux
}

func statusLabel(code int) string {
	switch code {
	case http.StatusOK:
		return "200"
	case http.StatusInternalServerError:
		return "500"
	}
	return strconv.Itoa(code)
}

func methodLabel(m string) string {
	switch m {
	case http.MethodGet:
		return "get"
	case http.MethodPost:
		return "post"
	case http.MethodPut:
		return "put"
	case http.MethodDelete:
		return "delete"
	case http.MethodPatch:
		return "patch"
	case http.MethodHead:
		return "head"
	case http.MethodOptions:
		return "options"
	case http.MethodConnect, http.MethodTrace:
		return strings.ToLower(m)
	}
	return "other" // bounded label cardinality for made-up methods

}
