package builder

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindWatchdog(t *testing.T) {
	t.Parallel()
	wd := fakeWatchdog(t)
	inPath := filepath.Dir(fakeWatchdog(t))
	notExec := filepath.Join(t.TempDir(), "fwatchdog")
	if err := os.WriteFile(notExec, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    string
		wantErr string
	}{
		{"env var", map[string]string{"GOFAAS_FWATCHDOG": wd, "PATH": inPath}, wd, ""},
		{"env var missing file", map[string]string{"GOFAAS_FWATCHDOG": wd + ".gone"}, "", "GOFAAS_FWATCHDOG"},
		{"PATH", map[string]string{"PATH": "::" + filepath.Dir(notExec) + ":" + inPath}, filepath.Join(inPath, "fwatchdog"), ""},
		{"nowhere", map[string]string{"PATH": filepath.Dir(notExec)}, "", "go build -o bin/ ./cmd/..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := FindWatchdog(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("FindWatchdog = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
