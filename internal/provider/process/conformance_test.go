package process

import (
	"testing"
	"time"

	"github.com/gofaas/gofaas/internal/provider"
	"github.com/gofaas/gofaas/internal/provider/providertest"
)

func TestConformance(t *testing.T) {
	modes := []string{IsolationPorts}
	if probeNetns(t.Context(), mustExecutable(t)) == nil {
		modes = append(modes, IsolationNetns)
	}
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			providertest.Run(t, providertest.Harness{
				New:          func(t *testing.T) provider.Provider { return newEnv(t, mode, "").p },
				Image:        "test/conformance:1",
				ReadyTimeout: 20 * time.Second,
			})
		})
	}
}
