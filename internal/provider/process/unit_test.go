package process

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gofaas/gofaas/internal/registry"
	"github.com/gofaas/gofaas/pkg/api"
)

func TestParseResources(t *testing.T) {
	tests := []struct {
		in      api.FunctionResources
		mem     int64
		cpu     int64
		wantErr string
	}{
		{in: api.FunctionResources{Memory: "128Mi", CPU: "100m"}, mem: 128 << 20, cpu: 100},
		{in: api.FunctionResources{Memory: "1G", CPU: "2"}, mem: 1_000_000_000, cpu: 2000},
		{in: api.FunctionResources{Memory: "1.5Gi", CPU: "0.25"}, mem: 3 << 29, cpu: 250},
		{in: api.FunctionResources{Memory: "1e3", CPU: ".5"}, mem: 1000, cpu: 500},
		{in: api.FunctionResources{Memory: "100", CPU: "1500u"}, mem: 100, cpu: 2},
		{in: api.FunctionResources{Memory: "0", CPU: "0"}},
		{in: api.FunctionResources{Memory: "12Ki"}, mem: 12 << 10},
		{in: api.FunctionResources{Memory: "128mb"}, wantErr: "limits.memory"},
		{in: api.FunctionResources{Memory: "-1"}, wantErr: "limits.memory"},
		{in: api.FunctionResources{Memory: " 1Mi"}, wantErr: "limits.memory"},
		{in: api.FunctionResources{Memory: "99Ei"}, wantErr: "too large"},
		{in: api.FunctionResources{CPU: "1.2.3"}, wantErr: "limits.cpu"},
		{in: api.FunctionResources{CPU: "m"}, wantErr: "limits.cpu"},
		{in: api.FunctionResources{CPU: "1e999"}, wantErr: "limits.cpu"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s", tt.in.Memory, tt.in.CPU), func(t *testing.T) {
			l, err := parseResources("limits", &tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || l.memoryBytes != tt.mem || l.cpuMillis != tt.cpu {
				t.Fatalf("= %+v, %v; want mem %d cpu %d", l, err, tt.mem, tt.cpu)
			}
		})
	}
}

func TestCgroups(t *testing.T) {
	root := t.TempDir()
	if c := setupCgroups(root); c.enforced() || !strings.Contains(c.reason, "not mounted") {
		t.Fatalf("without cgroup.controllers: %+v", c)
	}
	write := func(name, v string) {
		if err := os.WriteFile(filepath.Join(root, name), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("cgroup.controllers", "cpuset io pids")
	if c := setupCgroups(root); c.enforced() {
		t.Fatal("enforced without memory and cpu controllers")
	}
	write("cgroup.controllers", "cpuset cpu io memory pids")
	c := setupCgroups(root)
	if !c.enforced() {
		t.Fatalf("not enforced: %s", c.reason)
	}
	for _, f := range []string{"cgroup.subtree_control", "gofaas/cgroup.subtree_control"} {
		if b, _ := os.ReadFile(filepath.Join(root, f)); string(b) != "+memory +cpu" {
			t.Fatalf("%s = %q", f, b)
		}
	}
	dir, err := c.create("abc", limits{memoryBytes: 128 << 20, cpuMillis: 250})
	if err != nil || dir != filepath.Join(root, "gofaas", "abc") {
		t.Fatalf("create = %q, %v", dir, err)
	}
	want := map[string]string{"memory.max": "134217728", "cpu.max": "25000 100000"}
	for f, v := range want {
		if b, _ := os.ReadFile(filepath.Join(dir, f)); string(b) != v {
			t.Fatalf("%s = %q, want %q", f, b, v)
		}
	}
	if err := joinCgroup(dir, 42); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs")); string(b) != "42" {
		t.Fatalf("cgroup.procs = %q", b)
	}
	if dir, err := c.create("none", limits{}); dir != "" || err != nil {
		t.Fatalf("create without limits = %q, %v", dir, err)
	}
	if got := cgroupFiles(limits{cpuMillis: 1}); got["cpu.max"] != "1000 100000" {
		t.Fatalf("tiny cpu limit = %v, want the 1ms minimum quota", got)
	}
}

func TestParseStat(t *testing.T) {
	line := "1234 (my (odd) prog) S 1 1234 1234 0 -1 4194560 100 0 0 0 150 50 0 0 20 0 1 0 98765 1000000 321 18446744073709551615"
	s, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	want := procStat{pid: 1234, ppid: 1, pgrp: 1234, ticks: 200, startTime: 98765, rssPages: 321}
	if s != want {
		t.Fatalf("parseStat = %+v, want %+v", s, want)
	}
	for _, bad := range []string{"", "x (y) S", "1 (a) S 1 2 3", "abc (a) S 1 1 1 0 -1 0 0 0 0 0 1 1 0 0 0 0 0 0 1 1 1"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) succeeded", bad)
		}
	}
	self, err := readStat("/proc", os.Getpid())
	if err != nil || self.pid != os.Getpid() || self.rssPages <= 0 {
		t.Fatalf("own stat %+v, %v", self, err)
	}
}

func TestEnvAndArgv(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"usr/bin/tool", "app/main.py", "home/app/run.sh"} {
		p := filepath.Join(root, f)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	img := registry.Image{Root: root, Env: []string{"PATH=/usr/bin:/bin", "A=image", "prefix_logs=true"},
		WorkingDir: "/home/app"}
	d := api.FunctionDeployment{EnvVars: map[string]string{"B": "fn", "A": "fn"}, EnvProcess: "tool"}
	env := baseEnv(img, d)
	want := []string{"PATH=/usr/bin:/bin", "A=fn", "prefix_logs=true", "B=fn", "fprocess=tool", "healthcheck_interval=0"}
	if got := env.Environ(); !reflect.DeepEqual(got, want) {
		t.Fatalf("env = %v, want %v", got, want)
	}
	if _, ok := baseEnv(registry.Image{}, api.FunctionDeployment{}).Get("prefix_logs"); !ok {
		t.Fatal("prefix_logs not defaulted")
	}
	search := append(imagePath(img, env), "/usr/bin", "/bin")
	tests := []struct {
		entry, cmd []string
		want       []string
		err        bool
	}{
		{entry: []string{"tool"}, cmd: []string{"/app/main.py", "/not/there", "-x"},
			want: []string{filepath.Join(root, "usr/bin/tool"), filepath.Join(root, "app/main.py"), "/not/there", "-x"}},
		{entry: []string{"/usr/bin/tool"}, want: []string{filepath.Join(root, "usr/bin/tool")}},
		{cmd: []string{"./run.sh"}, want: []string{filepath.Join(root, "home/app/run.sh")}},
		{cmd: []string{"sh", "-c", "true"}, want: []string{"", "-c", "true"}}, // the host's sh
		{entry: []string{"/bin/nope"}, err: true},
		{entry: []string{"no-such-program-anywhere"}, err: true},
		{err: true},
	}
	for _, tt := range tests {
		img.Entrypoint, img.Cmd = tt.entry, tt.cmd
		got, err := resolveArgv(img, search)
		if tt.err != (err != nil) {
			t.Fatalf("resolveArgv(%v %v) err = %v", tt.entry, tt.cmd, err)
		}
		if tt.err {
			continue
		}
		if tt.want[0] == "" {
			tt.want[0] = got[0] // found on the host PATH
			if !strings.HasSuffix(got[0], "/sh") || strings.HasPrefix(got[0], root) {
				t.Fatalf("host program resolved to %q", got[0])
			}
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Fatalf("resolveArgv(%v %v) = %v, want %v", tt.entry, tt.cmd, got, tt.want)
		}
	}
	if got := initialReplicas(map[string]string{LabelScaleMin: "3"}); got != 3 {
		t.Fatalf("scale.min 3 = %d", got)
	}
	if got := initialReplicas(map[string]string{LabelScaleMin: "0"}); got != 0 {
		t.Fatalf("scale.min 0 = %d, want 0 (deploy at zero)", got)
	}
	for _, v := range []string{"", "-2", "x", "1.5"} {
		if got := initialReplicas(map[string]string{LabelScaleMin: v}); got != 1 {
			t.Fatalf("scale.min %q = %d, want 1", v, got)
		}
	}
}

func TestConfig(t *testing.T) {
	c := Config{DataDir: "/x"}.Defaults()
	if c.Isolation != IsolationAuto || c.LogMaxBytes != 4<<20 || c.BackoffMin <= 0 || c.HostPath == "" {
		t.Fatalf("Defaults = %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	err := Config{Isolation: "vm"}.Defaults().Validate()
	if err == nil || !strings.Contains(err.Error(), "DataDir") || !strings.Contains(err.Error(), `"vm"`) {
		t.Fatalf("Validate = %v, want both problems", err)
	}
}

func FuzzParseQuantity(f *testing.F) {
	for _, s := range []string{"128Mi", "100m", "0.5", "1e3", "1E-2", ".5Gi", "5.", "", "Mi", "1e99"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseQuantity(s)
		if err != nil {
			return
		}
		if v.Sign() < 0 || v.Cmp(maxQuantity) > 0 {
			t.Fatalf("parseQuantity(%q) = %s out of range", s, v)
		}
		if ceilInt(v) < 0 {
			t.Fatalf("ceil of %q overflowed", s)
		}
	})
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("1234 (prog) S 1 1234 1234 0 -1 4194560 100 0 0 0 150 50 0 0 20 0 1 0 98765 1000000 321 0"))
	f.Add([]byte("1 ((((a) S"))
	f.Add([]byte(") 1 ("))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = parseStat(data) // must not panic
	})
}
