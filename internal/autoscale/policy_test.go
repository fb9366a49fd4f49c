package autoscale

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofaas/gofaas/internal/metrics"
)

func scrape(m *metrics.Gateway) string {
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	return w.Body.String()
}

func TestParsePolicy(t *testing.T) {
	t.Parallel()
	def := Policy{Min: 1, Max: 20, Mode: ModeRPS, Target: 50, Proportion: 0.9, ZeroDuration: 15 * time.Minute, DownWindow: 2 * time.Minute}
	tests := []struct {
		name    string
		labels  map[string]string
		want    Policy
		problem string
	}{
		{"defaults", nil, def, ""},
		{"all set", map[string]string{LabelMin: "0", LabelMax: "7", LabelType: "CPU", LabelTarget: "250",
			LabelProportion: "0.5", LabelZero: "true", LabelZeroDuration: "90", LabelDownWindow: "30s"},
			Policy{Min: 0, Max: 7, Mode: ModeCPU, Target: 250, Proportion: 0.5, Zero: true,
				ZeroDuration: 90 * time.Second, DownWindow: 30 * time.Second}, ""},
		{"max below min", map[string]string{LabelMin: "5", LabelMax: "2"},
			withPolicy(def, func(p *Policy) { p.Min, p.Max = 5, 5 }), "below"},
		{"unknown mode", map[string]string{LabelType: "queue"}, withPolicy(def, func(p *Policy) { p.Mode = "" }), "unknown mode"},
		{"bad values keep defaults", map[string]string{LabelMin: "-1", LabelTarget: "0", LabelProportion: "1.5",
			LabelZero: "yes", LabelZeroDuration: "soon"}, def, LabelProportion},
	}
	for _, tt := range tests {
		got, err := ParsePolicy(tt.labels, 15*time.Minute, 2*time.Minute)
		if got != tt.want {
			t.Errorf("%s: ParsePolicy = %+v, want %+v", tt.name, got, tt.want)
		}
		if (err != nil) != (tt.problem != "") || err != nil && !strings.Contains(err.Error(), tt.problem) {
			t.Errorf("%s: error %v, want one mentioning %q", tt.name, err, tt.problem)
		}
	}
}

func withPolicy(p Policy, f func(*Policy)) Policy {
	f(&p)
	return p
}

func TestDesired(t *testing.T) {
	t.Parallel()
	p := Policy{Min: 2, Max: 10, Target: 50, Proportion: 0.9}
	tests := []struct {
		load float64
		want uint64
	}{{0, 2}, {45, 2}, {90, 2}, {91, 3}, {450, 10}, {1e12, 10}, {-3, 2}}
	for _, tt := range tests {
		if got := p.Desired(tt.load); got != tt.want {
			t.Errorf("Desired(%v) = %d, want %d", tt.load, got, tt.want)
		}
	}
	if got := (Policy{Min: 0, Max: 4, Target: 1, Proportion: 1}).Desired(0); got != 1 {
		t.Errorf("min 0 with no load = %d, want 1 (only idleness goes to zero)", got)
	}
}

// FuzzParsePolicy checks that any labels give a usable policy: min ≤ max,
// a positive target and proportion, non-negative durations, and a Desired
// inside [max(1, min), max] for any load.
func FuzzParsePolicy(f *testing.F) {
	f.Add("1", "20", "rps", "50", "0.9", "true", "15m", "2m", 10.0)
	f.Add("0", "0", "cpu", "1e309", "NaN", "1", "-5s", "99999999999", -1.0)
	f.Add("7", "3", "Capacity", "0.0001", "1", "", "", "", 1e300)
	f.Fuzz(func(t *testing.T, minL, maxL, mode, target, prop, zero, zeroDur, window string, load float64) {
		labels := map[string]string{LabelMin: minL, LabelMax: maxL, LabelType: mode, LabelTarget: target,
			LabelProportion: prop, LabelZero: zero, LabelZeroDuration: zeroDur, LabelDownWindow: window}
		p, _ := ParsePolicy(labels, time.Minute, time.Minute)
		if p.Min > p.Max || !(p.Target > 0) || !(p.Proportion > 0) || p.Proportion > 1 || p.ZeroDuration < 0 || p.DownWindow < 0 {
			t.Fatalf("ParsePolicy(%v) = %+v", labels, p)
		}
		d := p.Desired(load)
		if d < max(1, p.Min) && p.Max >= 1 || d > max(1, p.Max) {
			t.Fatalf("Desired(%v) = %d outside [max(1,%d), %d]", load, d, p.Min, p.Max)
		}
	})
}
