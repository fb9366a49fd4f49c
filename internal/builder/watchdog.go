package builder

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// FindWatchdog returns the fwatchdog binary the builders put into images:
// $GOFAAS_FWATCHDOG when set (it must exist), else a fwatchdog beside the
// running executable (where `go build -o bin/ ./cmd/...` puts it), else
// the first fwatchdog in $PATH. getenv is usually os.Getenv.
func FindWatchdog(getenv func(string) string) (string, error) {
	if p := getenv("GOFAAS_FWATCHDOG"); p != "" {
		if !isExecutable(p) {
			return "", fmt.Errorf("GOFAAS_FWATCHDOG=%s is not an executable file", p)
		}
		return p, nil
	}
	if exe, err := os.Executable(); err == nil {
		if p := filepath.Join(filepath.Dir(exe), "fwatchdog"); isExecutable(p) {
			return p, nil
		}
	}
	for _, dir := range filepath.SplitList(getenv("PATH")) {
		if dir == "" {
			continue
		}
		if p := filepath.Join(dir, "fwatchdog"); isExecutable(p) {
			return p, nil
		}
	}
	return "", errors.New("fwatchdog binary not found: build it beside gofaas with " +
		"`go build -o bin/ ./cmd/...` in the gofaas source tree, put it in PATH, or set GOFAAS_FWATCHDOG to its path")
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
