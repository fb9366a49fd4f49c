package gateway

import (
	"encoding/json"
	"net/http"
	"runtime"

	"github.com/gofaas/gofaas/internal/provider"
	"github.com/gofaas/gofaas/pkg/api"
)

// info answers GET /system/info with the gateway's version and the
// provider's description.
func (g *Gateway) info(w http.ResponseWriter, r *http.Request) {
	pi := api.ProviderInfo{Name: "unknown", Orchestration: "unknown", Version: &api.VersionInfo{}}
	if in, ok := g.p.(provider.Informer); ok {
		pi = in.Info(r.Context())
	}
	v := g.cfg.Version
	writeJSON(w, http.StatusOK, api.GatewayInfo{Provider: &pi, Version: &v, Arch: arch()})
}

// arch names the machine as `uname -m` does, which is what OpenFaaS reports.
func arch() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	case "arm":
		return "armv7l"
	}
	return runtime.GOARCH
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
