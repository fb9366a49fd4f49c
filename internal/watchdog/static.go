package watchdog

import (
	"fmt"
	"net/http"
	"os"
)

// newStatic serves the files under dir (static mode).
func newStatic(dir string) (http.Handler, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("static_path: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("static_path %s is not a directory", dir)
	}
	return http.FileServer(http.Dir(dir)), nil
}
