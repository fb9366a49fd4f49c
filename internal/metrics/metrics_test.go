package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestGatewayMetrics(t *testing.T) {
	t.Parallel()
	g := NewGateway()
	g.Started("echo.openfaas-fn")
	g.Finished("echo.openfaas-fn", 200, 10*time.Millisecond)
	g.Started("echo.openfaas-fn")
	g.Finished("echo.openfaas-fn", 502, time.Millisecond)
	g.SetReplicas("echo.openfaas-fn", 2)

	if got := g.InvocationCount("echo.openfaas-fn"); got != 2 {
		t.Errorf("InvocationCount = %v, want 2", got)
	}
	if got := g.InvocationCount("other.openfaas-fn"); got != 0 {
		t.Errorf("InvocationCount of unknown = %v, want 0", got)
	}
	w := httptest.NewRecorder()
	g.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(w.Body)
	for _, want := range []string{
		`gateway_function_invocation_total{code="200",function_name="echo.openfaas-fn"} 1`,
		`gateway_function_invocation_total{code="502",function_name="echo.openfaas-fn"} 1`,
		`gateway_function_invocation_started{function_name="echo.openfaas-fn"} 2`,
		`gateway_function_invocation_inflight{function_name="echo.openfaas-fn"} 0`,
		`gateway_functions_seconds_count{code="200",function_name="echo.openfaas-fn"} 1`,
		`gateway_service_count{function_name="echo.openfaas-fn"} 2`,
		"# TYPE gateway_functions_seconds histogram",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestLoadAndGauges(t *testing.T) {
	t.Parallel()
	g := NewGateway()
	const fn = "echo.dev"
	if got := g.Load(fn); got != (Load{}) {
		t.Fatalf("Load of a function never called = %+v, want zero", got)
	}
	g.Started(fn)
	g.Started(fn)
	g.Finished(fn, 200, time.Millisecond)
	if got := g.Load(fn); got != (Load{Started: 2, InFlight: 1}) {
		t.Fatalf("Load = %+v, want 2 started, 1 in flight", got)
	}
	g.SetFunction(fn, Sample{Desired: 3, Available: 2, HasUsage: true, CPUMillicores: 125, MemoryBytes: 4096})
	body := scrape(t, g)
	for _, want := range []string{
		`gateway_service_count{function_name="echo.dev"} 3`,
		`gofaas_function_replicas_available{function_name="echo.dev"} 2`,
		`gofaas_function_cpu_millicores{function_name="echo.dev"} 125`,
		`gofaas_function_memory_bytes{function_name="echo.dev"} 4096`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	g.Forget(fn)
	body = scrape(t, g)
	for _, gone := range []string{"gateway_service_count{", "gofaas_function_replicas_available{", "gofaas_function_cpu_millicores{"} {
		if strings.Contains(body, gone) {
			t.Errorf("after Forget, metrics still hold %q", gone)
		}
	}
	if !strings.Contains(body, `gateway_function_invocation_started{function_name="echo.dev"} 2`) {
		t.Errorf("Forget dropped the invocation counter")
	}
}

func scrape(t *testing.T, g *Gateway) string {
	t.Helper()
	w := httptest.NewRecorder()
	g.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	return w.Body.String()
}
