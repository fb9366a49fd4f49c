package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// replicaGauges are the per-function gauges a poller (the autoscaler) keeps
// up to date from the back-end: replicas ready to serve and, where the
// back-end measures them, CPU and memory.
type replicaGauges struct {
	available *prometheus.GaugeVec
	cpu       *prometheus.GaugeVec
	memory    *prometheus.GaugeVec
}

func newReplicaGauges() replicaGauges {
	gauge := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, []string{"function_name"})
	}
	return replicaGauges{
		available: gauge("gofaas_function_replicas_available", "Replicas ready to serve per function."),
		cpu:       gauge("gofaas_function_cpu_millicores", "CPU used by all replicas of a function, in millicores."),
		memory:    gauge("gofaas_function_memory_bytes", "Resident memory of all replicas of a function, in bytes."),
	}
}

// Load is what the gateway has seen of one function's invocations.
type Load struct {
	// Started counts invocations started since the gateway started.
	Started uint64
	// InFlight is the number of invocations in flight now.
	InFlight int64
}

// Load returns the invocation counters of function ("name.namespace"); a
// function never invoked has a zero Load.
func (g *Gateway) Load(function string) Load {
	s, ok := g.fns.Load(function)
	if !ok {
		return Load{}
	}
	fs := s.(*fnSeries)
	return Load{Started: fs.startedN.Load(), InFlight: fs.inflightN.Load()}
}

// Sample is one poll of a function's state in the back-end.
type Sample struct {
	// Desired is the desired replica count (gateway_service_count).
	Desired uint64
	// Available is the number of replicas ready to serve.
	Available uint64
	// HasUsage tells whether CPUMillicores and MemoryBytes were measured.
	HasUsage      bool
	CPUMillicores float64
	MemoryBytes   float64
}

// SetFunction records a poll of function: gateway_service_count,
// gofaas_function_replicas_available and, with usage, the CPU and memory
// gauges.
func (g *Gateway) SetFunction(function string, s Sample) {
	g.SetReplicas(function, s.Desired)
	g.replicas.available.WithLabelValues(function).Set(float64(s.Available))
	if s.HasUsage {
		g.replicas.cpu.WithLabelValues(function).Set(s.CPUMillicores)
		g.replicas.memory.WithLabelValues(function).Set(s.MemoryBytes)
	}
}

// Forget drops the polled gauges of a removed function. Its invocation
// counters stay, as Prometheus counters must not go back.
func (g *Gateway) Forget(function string) {
	g.services.DeleteLabelValues(function)
	g.replicas.available.DeleteLabelValues(function)
	g.replicas.cpu.DeleteLabelValues(function)
	g.replicas.memory.DeleteLabelValues(function)
}
