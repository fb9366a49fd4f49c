package process

import (
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gofaas/gofaas/pkg/api"
)

// quantityRE is a Kubernetes quantity without a sign: a decimal number and
// an optional binary suffix, decimal suffix or exponent.
var quantityRE = regexp.MustCompile(`^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][-+]?[0-9]{1,2})?$`)

// maxQuantity bounds parsed values (2^62) so they fit cgroup files.
var maxQuantity = new(big.Rat).SetInt64(1 << 62)

// parseQuantity parses a non-negative Kubernetes quantity such as "128Mi",
// "0.5", "100m" or "1e3".
func parseQuantity(s string) (*big.Rat, error) {
	m := quantityRE.FindStringSubmatch(s)
	if m == nil {
		return nil, fmt.Errorf("%q is not a quantity like 128Mi, 1G, 500m or 0.5", s)
	}
	v, ok := new(big.Rat).SetString(m[1])
	if !ok {
		return nil, fmt.Errorf("%q is not a number", s)
	}
	v.Mul(v, suffixFactor(m[2]))
	if v.Cmp(maxQuantity) > 0 {
		return nil, fmt.Errorf("%q is too large", s)
	}
	return v, nil
}

func suffixFactor(suffix string) *big.Rat {
	pow := func(base, exp int64) *big.Rat {
		return new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(base), big.NewInt(exp), nil))
	}
	binary := []string{"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"}
	decimal := []string{"k", "M", "G", "T", "P", "E"}
	if i := slices.Index(binary, suffix); i >= 0 {
		return pow(1024, int64(i+1))
	}
	if i := slices.Index(decimal, suffix); i >= 0 {
		return pow(1000, int64(i+1))
	}
	switch suffix {
	case "":
		return big.NewRat(1, 1)
	case "m":
		return big.NewRat(1, 1000)
	case "u":
		return big.NewRat(1, 1000_000)
	case "n":
		return big.NewRat(1, 1000_000_000)
	}
	exp, _ := strconv.Atoi(suffix[1:]) // the regexp allows only 1-2 digits
	if exp < 0 {
		return new(big.Rat).Inv(pow(10, int64(-exp)))
	}
	return pow(10, int64(exp))
}

// ceilInt rounds a non-negative rational up to an integer.
func ceilInt(v *big.Rat) int64 {
	q, r := new(big.Int).QuoRem(v.Num(), v.Denom(), new(big.Int))
	if r.Sign() != 0 {
		q.Add(q, big.NewInt(1))
	}
	return q.Int64()
}

// limits are the enforced resource limits of a function; zero means none.
type limits struct {
	memoryBytes int64
	cpuMillis   int64
}

func (l limits) any() bool { return l.memoryBytes > 0 || l.cpuMillis > 0 }

// parseResources checks the memory and CPU quantities of limits or
// requests (what names them for messages) and returns them.
func parseResources(what string, r *api.FunctionResources) (limits, error) {
	var l limits
	if r == nil {
		return l, nil
	}
	if r.Memory != "" {
		v, err := parseQuantity(r.Memory)
		if err != nil {
			return l, fmt.Errorf("%s.memory: %w", what, err)
		}
		l.memoryBytes = ceilInt(v)
	}
	if r.CPU != "" {
		v, err := parseQuantity(r.CPU)
		if err != nil {
			return l, fmt.Errorf("%s.cpu: %w", what, err)
		}
		l.cpuMillis = ceilInt(new(big.Rat).Mul(v, big.NewRat(1000, 1)))
	}
	return l, nil
}

// cpuPeriod is the cgroup cpu.max period in microseconds.
const cpuPeriod = 100_000

// cgroupFiles returns the cgroup v2 files to write for l.
func cgroupFiles(l limits) map[string]string {
	files := map[string]string{}
	if l.memoryBytes > 0 {
		files["memory.max"] = strconv.FormatInt(l.memoryBytes, 10)
	}
	if l.cpuMillis > 0 {
		quota := max(l.cpuMillis*cpuPeriod/1000, 1000)
		files["cpu.max"] = fmt.Sprintf("%d %d", quota, cpuPeriod)
	}
	return files
}

// cgroups creates a cgroup v2 per replica under <root>/gofaas, or does
// nothing when cgroup v2 cannot be used.
type cgroups struct {
	parent string // <root>/gofaas; empty when not enforced
	reason string // why limits are not enforced
}

// setupCgroups checks that cgroup v2 with memory and cpu is mounted at root
// and prepares <root>/gofaas for per-replica cgroups.
func setupCgroups(root string) cgroups {
	ctrl, err := os.ReadFile(filepath.Join(root, "cgroup.controllers"))
	if err != nil {
		return cgroups{reason: "cgroup v2 is not mounted at " + root}
	}
	have := strings.Fields(string(ctrl))
	if !slices.Contains(have, "memory") || !slices.Contains(have, "cpu") {
		return cgroups{reason: "cgroup v2 at " + root + " does not offer the memory and cpu controllers"}
	}
	parent := filepath.Join(root, "gofaas")
	err = errors.Join(
		os.WriteFile(filepath.Join(root, "cgroup.subtree_control"), []byte("+memory +cpu"), 0o644),
		mkdirIfMissing(parent),
	)
	if err == nil {
		err = os.WriteFile(filepath.Join(parent, "cgroup.subtree_control"), []byte("+memory +cpu"), 0o644)
	}
	if err != nil {
		return cgroups{reason: "cgroup v2 is not writable: " + err.Error()}
	}
	return cgroups{parent: parent}
}

func mkdirIfMissing(dir string) error {
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return nil
}

func (c cgroups) enforced() bool { return c.parent != "" }

// create makes the cgroup of one replica and writes its limits; it returns
// "" when limits are not enforced or l sets none.
func (c cgroups) create(id string, l limits) (string, error) {
	if !c.enforced() || !l.any() {
		return "", nil
	}
	dir := filepath.Join(c.parent, id)
	if err := mkdirIfMissing(dir); err != nil {
		return "", fmt.Errorf("creating cgroup: %w", err)
	}
	for name, v := range cgroupFiles(l) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o644); err != nil {
			_ = os.Remove(dir)
			return "", fmt.Errorf("writing cgroup %s: %w", name, err)
		}
	}
	return dir, nil
}

// join moves pid into the cgroup dir.
func joinCgroup(dir string, pid int) error {
	if dir == "" {
		return nil
	}
	return os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644)
}
