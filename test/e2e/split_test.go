//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gofaas/gofaas/pkg/api"
)

// TestGatewayInFrontOfProvider runs the parts as separate processes, the
// way a cluster does: `gofaas provider process` serves the faas-provider
// API and `gofaas gateway --provider-url` fronts it, both with basic auth
// read from OpenFaaS-style secret files.
func TestGatewayInFrontOfProvider(t *testing.T) {
	secrets := t.TempDir()
	os.WriteFile(filepath.Join(secrets, "basic-auth-user"), []byte("admin\n"), 0o600)
	os.WriteFile(filepath.Join(secrets, "basic-auth-password"), []byte("split-secret\n"), 0o600)
	dataDir := t.TempDir()

	prov := startServer(t, "", "provider", "process", "--port", "0", "--data-dir", dataDir,
		"--basic-auth", "--secret-mount-path", secrets)
	prov.User, prov.Pass = "admin", "split-secret"
	gw := startServer(t, "", "gateway", "--port", "0", "--provider-url", prov.URL,
		"--basic-auth", "--secret-mount-path", secrets)
	gw.User, gw.Pass = "admin", "split-secret"

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
