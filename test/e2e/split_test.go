//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gofaas/gofaas/internal/natsd"
	"github.com/gofaas/gofaas/pkg/api"
)

// TestGatewayInFrontOfProvider runs the parts as separate processes, the
// way a cluster does: `gofaas provider process` serves the faas-provider
// API and `gofaas gateway --provider-url` fronts it, both with basic auth
// read from OpenFaaS-style secret files.
func TestGatewayInFrontOfProvider(t *testing.T) {
	prov, gw := startSplit(t)

	want(t, "provider guards /system", prov.call("GET", "/system/functions", nil, false), 401)
	want(t, "provider healthz", prov.call("GET", "/healthz", nil, false), 200)
	want(t, "gateway guards /system", gw.call("GET", "/system/functions", nil, false), 401)

	prov.publish()
	d := api.FunctionDeployment{Service: "hello", Image: strings.TrimPrefix(prov.URL, "http://") + "/hello:latest"}
	want(t, "deploy through the gateway", gw.call("POST", "/system/functions", d, true), 202)
	waitAvailable(t, gw, "hello", api.DefaultNamespace, 1)

	r := gw.call("PUT", "/function/hello/x?q=1", "via gateway", false)
	want(t, "invoke through the gateway", r, 200)
	if e := decode[echoed](t, r); e.Method != "PUT" || e.Path != "/x" || e.Query != "q=1" || e.Body != "via gateway" {
		t.Errorf("function saw %+v", e)
	}
	want(t, "invoke the provider directly", prov.call("GET", "/function/hello", nil, false), 200)

	info := decode[api.GatewayInfo](t, gw.call("GET", "/system/info", nil, true))
	if info.Provider == nil || info.Provider.Orchestration != "process" {
		t.Errorf("gateway info %+v: want the provider's own description", info)
	}
	want(t, "remove through the gateway", gw.call("DELETE", "/system/functions", api.DeleteFunctionRequest{FunctionName: "hello"}, true), 202)
	want(t, "gone", gw.call("GET", "/function/hello", nil, false), 404)
}

// startSplit starts `gofaas provider process` and `gofaas gateway
// --provider-url` in front of it, both with the same basic auth.
func startSplit(t *testing.T, gatewayArgs ...string) (prov, gw *server) {
	t.Helper()
	secrets := t.TempDir()
	os.WriteFile(filepath.Join(secrets, "basic-auth-user"), []byte("admin\n"), 0o600)
	os.WriteFile(filepath.Join(secrets, "basic-auth-password"), []byte("split-secret\n"), 0o600)
	dataDir := t.TempDir()

	prov = startServer(t, "", "provider", "process", "--port", "0", "--data-dir", dataDir,
		"--basic-auth", "--secret-mount-path", secrets)
	prov.User, prov.Pass = "admin", "split-secret"
	gw = startServer(t, "", append([]string{"gateway", "--port", "0", "--provider-url", prov.URL,
		"--basic-auth", "--secret-mount-path", secrets}, gatewayArgs...)...)
	gw.User, gw.Pass = "admin", "split-secret"
	return prov, gw
}

// TestSplitScaleFromZero: behind `gofaas gateway --provider-url`, the first
// call to a function at zero replicas starts one and is served, and a call
// made right after a deploy waits for the new replica instead of getting
// 503.
func TestSplitScaleFromZero(t *testing.T) {
	prov, gw := startSplit(t)
	prov.publish()
	image := strings.TrimPrefix(prov.URL, "http://") + "/hello:latest"

	idle := api.FunctionDeployment{Service: "idle", Image: image, Labels: map[string]string{"com.openfaas.scale.min": "0"}}
	want(t, "deploy at zero replicas", gw.call("POST", "/system/functions", idle, true), 202)
	if st := decode[api.FunctionStatus](t, gw.call("GET", "/system/function/idle", nil, true)); st.Replicas != 0 {
		t.Fatalf("deployed with %d replicas, want 0", st.Replicas)
	}
	want(t, "first call to a function at zero", gw.call("POST", "/function/idle", "wake up", false), 200)
	if st := decode[api.FunctionStatus](t, prov.call("GET", "/system/function/idle", nil, true)); st.Replicas != 1 {
		t.Errorf("after the first call the provider has %d replicas, want 1", st.Replicas)
	}

	// Scaled to zero through the gateway (as its autoscaler does): the next
	// call wakes it again.
	want(t, "scale to zero", gw.call("POST", "/system/scale-function/idle", api.ScaleServiceRequest{ServiceName: "idle"}, true), 202)
	waitAvailable(t, prov, "idle", api.DefaultNamespace, 0)
	want(t, "call after scaling to zero", gw.call("GET", "/function/idle", nil, false), 200)

	// A call right after a deploy, while the replica starts.
	fresh := api.FunctionDeployment{Service: "fresh", Image: image}
	want(t, "deploy", gw.call("POST", "/system/functions", fresh, true), 202)
	want(t, "call right after the deploy", gw.call("GET", "/function/fresh", nil, false), 200)
}

// TestServerHoldsCallAfterDeploy: in `gofaas server`, a call made right
// after a deploy waits for the new replica instead of getting 503.
func TestServerHoldsCallAfterDeploy(t *testing.T) {
	dataDir := t.TempDir()
	s := startServer(t, dataDir, "server", "--port", "0", "--data-dir", dataDir)
	s.publish()
	image := strings.TrimPrefix(s.URL, "http://") + "/hello:latest"
	for i, name := range []string{"first", "second", "third"} {
		d := api.FunctionDeployment{Service: name, Image: image}
		want(t, "deploy "+name, s.call("POST", "/system/functions", d, true), 202)
		start := time.Now()
		want(t, "call right after deploying "+name, s.call("GET", "/function/"+name, nil, false), 200)
		t.Logf("call %d answered %v after the deploy", i+1, time.Since(start).Round(time.Millisecond))
	}
}

// TestSplitAsync is the cluster layout of OpenFaaS: provider, gateway and
// queue-worker as separate processes around one NATS JetStream. The gateway
// queues /async-function/ calls; the worker runs them through the gateway.
func TestSplitAsync(t *testing.T) {
	ns, err := natsd.Start(natsd.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	prov, gw := startSplit(t, "--nats-url", ns.ClientURL())
	prov.publish()
	d := api.FunctionDeployment{Service: "hello", Image: "hello:latest"}
	want(t, "deploy", gw.call("POST", "/system/functions", d, true), 202)
	waitAvailable(t, gw, "hello", api.DefaultNamespace, 1)

	cb := newCallbacks(t)
	const n = 20
	enqueueMany(t, gw, "e2e-gw-", n, cb.URL+"/up")
	startServer(t, "", "queue-worker", "--port", "0", "--nats-url", ns.ClientURL(), "--gateway-url", gw.URL)
	checkFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		if d, _ := cb.echoedIDs("e2e-gw-"); d != n {
			return fmt.Errorf("%d of %d calls queued by the gateway reached the function", d, n)
		}
		return nil
	})
}
