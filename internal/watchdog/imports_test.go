package watchdog

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports keeps the watchdog small and independent: from this module it
// may import pkg/api and the leaves internal/fastproxy and internal/lane
// only.
func TestImports(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append(files, "../../cmd/fwatchdog/main.go") {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			own := strings.HasPrefix(path, "github.com/gofaas/gofaas/")
			allowed := path == "github.com/gofaas/gofaas/pkg/api" || path == "github.com/gofaas/gofaas/internal/watchdog" ||
				path == "github.com/gofaas/gofaas/internal/fastproxy" || path == "github.com/gofaas/gofaas/internal/lane"
			if own && !allowed {
				t.Errorf("%s imports %s; the watchdog may import only pkg/api, internal/fastproxy and internal/lane from this module", f, path)
			}
		}
	}
}
