package gateway

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/gofaas/gofaas/pkg/api"
)

// Scaling labels and their defaults (spec §9).
const (
	labelScaleMin    = "com.openfaas.scale.min"
	labelScaleMax    = "com.openfaas.scale.max"
	labelScaleFactor = "com.openfaas.scale.factor"

	defaultScaleMin    = 1
	defaultScaleMax    = 20
	defaultScaleFactor = 20
)

// alertRequest is the part of AlertManager's webhook body the gateway reads.
type alertRequest struct {
	Status   string `json:"status"`
	Receiver string `json:"receiver"`
	Alerts   []struct {
		Status string            `json:"status"`
		Labels map[string]string `json:"labels"`
	} `json:"alerts"`
}

// alert handles POST /system/alert: each firing alert grows its function by
// a step of ceil(max × factor / 100) replicas up to max; a resolved alert
// (or a factor of 0) sets it back to min.
func (g *Gateway) alert(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, cmp.Or(g.cfg.MaxBodyBytes, 1<<20)))
	if err != nil || len(body) == 0 {
		http.Error(w, "A body is required for this endpoint", http.StatusBadRequest)
		return
	}
	var req alertRequest
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, "Unable to parse alert, bad format.", http.StatusBadRequest)
		return
	}
	var errs []string
	for i, a := range req.Alerts {
		fn := a.Labels["function_name"]
		if err := g.scaleForAlert(r.Context(), fn, a.Status); err != nil {
			errs = append(errs, fmt.Sprintf("[%d] %s", i, err))
		}
	}
	if len(errs) > 0 {
		http.Error(w, strings.Join(errs, "\n"), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (g *Gateway) scaleForAlert(ctx context.Context, function, status string) error {
	name, ns := api.SplitName(function)
	ns = cmp.Or(ns, g.cfg.DefaultNamespace)
	st, err := g.p.Function(ctx, name, ns, false)
	if err != nil {
		return fmt.Errorf("reading %s: %w", api.JoinName(name, ns), err)
	}
	want := alertReplicas(st.Replicas, st.Labels, status)
	if want == st.Replicas {
		return nil
	}
	g.log.Info("scaling on alert", "function", api.JoinName(name, ns), "alert_status", status,
		"from", st.Replicas, "to", want)
	if err := g.p.Scale(ctx, name, ns, want); err != nil {
		return fmt.Errorf("scaling %s: %w", api.JoinName(name, ns), err)
	}
	return nil
}

// alertReplicas is the replica count an alert of status asks for.
func alertReplicas(current uint64, labels map[string]string, status string) uint64 {
	minR := labelUint(labels, labelScaleMin, defaultScaleMin, false)
	maxR := labelUint(labels, labelScaleMax, defaultScaleMax, false)
	factor := labelUint(labels, labelScaleFactor, defaultScaleFactor, true)
	if factor > 100 {
		factor = defaultScaleFactor
	}
	maxR = max(maxR, minR)
	step := uint64(math.Ceil(float64(maxR) / 100 * float64(factor)))
	if status == "firing" && step > 0 {
		return max(minR, min(current+step, maxR))
	}
	return minR
}

// labelUint reads a whole-number label; a missing or bad value, or 0 when
// zero is not allowed, gives def.
func labelUint(labels map[string]string, key string, def uint64, zeroOK bool) uint64 {
	v, err := strconv.ParseUint(labels[key], 10, 64)
	if err != nil || v == 0 && !zeroOK {
		return def
	}
	return v
}
