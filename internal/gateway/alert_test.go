package gateway

import "testing"

func TestAlertReplicas(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		current uint64
		labels  map[string]string
		status  string
		want    uint64
	}{
		{"firing defaults: step 4 of max 20", 1, nil, "firing", 5},
		{"firing clamps at max", 18, nil, "firing", 20},
		{"resolved goes to min", 17, nil, "resolved", 1},
		{"custom labels", 2, map[string]string{labelScaleMin: "2", labelScaleMax: "10", labelScaleFactor: "50"}, "firing", 7},
		{"factor 0 keeps min", 4, map[string]string{labelScaleFactor: "0"}, "firing", 1},
		{"factor over 100 uses default", 1, map[string]string{labelScaleFactor: "500"}, "firing", 5},
		{"bad labels use defaults", 1, map[string]string{labelScaleMax: "lots", labelScaleMin: "-3"}, "firing", 5},
		{"min 0 ignored", 3, map[string]string{labelScaleMin: "0"}, "resolved", 1},
		{"max below min raised to min", 1, map[string]string{labelScaleMin: "3", labelScaleMax: "2"}, "firing", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := alertReplicas(tt.current, tt.labels, tt.status); got != tt.want {
				t.Fatalf("alertReplicas(%d, %v, %s) = %d, want %d", tt.current, tt.labels, tt.status, got, tt.want)
			}
		})
	}
}
