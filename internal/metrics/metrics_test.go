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
