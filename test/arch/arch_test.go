// Package arch checks that package dependencies point the way STYLE.md
// draws them: leaves import nothing of the repository, back-ends never
// import each other or the gateway, the gateway never a concrete back-end.
package arch

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/gofaas/gofaas/"

// allowed lists, per package (prefix match on the path below the module),
// the repository packages it may import. Packages not listed are free
// (cmd/*, tests, examples).
var allowed = map[string][]string{
	"pkg/api":             {},
	"internal/version":    {},
	"internal/auth":       {},
	"internal/metrics":    {},
	"internal/autoscale":  {"pkg/api", "internal/metrics"},
	"internal/lane":       {},
	"internal/fastproxy":  {"internal/lane"},
	"internal/store":      {"pkg/api"},
	"internal/registry":   {"pkg/api"},
	"internal/builder":    {"pkg/api"},
	"internal/stack":      {"pkg/api"},
	"internal/templates":  {},
	"store":               {},
	"pkg/client":          {"pkg/api"},
	"internal/cli/config": {},
	"internal/cli": {"pkg/api", "pkg/client", "internal/cli/config", "internal/stack", "internal/templates",
		"internal/builder", "store"},
	"internal/watchdog":              {"pkg/api", "internal/metrics", "internal/httpmw", "internal/fastproxy", "internal/lane"},
	"internal/provider":              {"pkg/api"},
	"internal/proxy":                 {"pkg/api", "internal/provider", "internal/fastproxy", "internal/lane"},
	"internal/provider/rest":         {"pkg/api", "internal/provider", "internal/proxy"},
	"internal/provider/memory":       {"pkg/api", "internal/provider"},
	"internal/provider/providertest": {"pkg/api", "internal/provider"},
	"internal/lane/lanetest":         {"internal/lane"},
	"internal/provider/process":      {"pkg/api", "internal/provider", "internal/store", "internal/registry"},
	"internal/queue":                 {"pkg/api", "internal/metrics"},
	"internal/natsd":                 {},
	"internal/gateway": {"pkg/api", "internal/provider", "internal/provider/rest", "internal/proxy",
		"internal/auth", "internal/metrics", "internal/httpmw", "internal/lane"},
}

// anywhere lists leaves every package may import.
var anywhere = []string{"internal/version"}

func TestDependencyDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "../../...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		rules, ok := rulesFor(pkg)
		if !ok {
			continue
		}
		for _, imp := range fields[1:] {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			dep := strings.TrimPrefix(imp, module)
			if !contains(rules, dep) && !contains(anywhere, dep) {
				t.Errorf("%s imports %s; allowed: %v", pkg, dep, rules)
			}
		}
	}
}

// rulesFor finds the rule of pkg itself (exact match, so that
// internal/provider does not cover internal/provider/process).
func rulesFor(pkg string) ([]string, bool) {
	r, ok := allowed[pkg]
	return r, ok
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
