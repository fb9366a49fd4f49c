package process

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofaas/gofaas/pkg/api"
)

func TestNetnsIsolation(t *testing.T) {
	if err := probeNetns(t.Context(), mustExecutable(t)); err != nil {
		t.Skipf("netns isolation unavailable: %v", err)
	}
	outside := outsideTmp(t)
	tests := []struct {
		name       string
		dir        string
		root       string
		privateTmp bool
	}{
		{"data outside /tmp", filepath.Join(outside, "data"), copyImageRoot(t, filepath.Join(outside, "image")), true},
		{"data under /tmp", t.TempDir(), imageRoot, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testNetns(t, tt.dir, tt.root, tt.privateTmp)
		})
	}
}

func testNetns(t *testing.T, dir, root string, privateTmp bool) {
	e := newEnv(t, IsolationNetns, dir)
	ctx := t.Context()
	img := echoImage()
	img.Root = root
	e.imgs.images["test/netns:1"] = img
	if e.p.Isolation() != IsolationNetns {
		t.Fatalf("Isolation = %s", e.p.Isolation())
	}
	if err := e.p.CreateSecret(ctx, api.Secret{Name: "token", Value: "abc"}); err != nil {
		t.Fatal(err)
	}
	d := echoFn("iso")
	d.Image = "test/netns:1"
	d.Secrets = []string{"token"}
	d.Labels = map[string]string{LabelScaleMin: "2"}
	if err := e.p.Deploy(ctx, d); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, e.p, "iso", api.DefaultNamespace, 2)
	seen := map[int]echoReply{}
	checkFor(t, 10*time.Second, func() error {
		r := invoke(t, e.p, "iso", api.DefaultNamespace, "PUT", "/x?y=z", "b")
		seen[r.PID] = r
		if len(seen) < 2 {
			return fmt.Errorf("reached %d replicas", len(seen))
		}
		return nil
	})
	hostNet, _ := os.Readlink("/proc/self/ns/net")
	for pid, r := range seen {
		if r.Method != "PUT" || r.Path != "/x" || r.Query != "y=z" || r.Body != "b" {
			t.Errorf("echo %+v", r)
		}
		if r.TCP8080 != "ok" {
			t.Errorf("replica %d could not bind 127.0.0.1:8080 in its namespace: %s", pid, r.TCP8080)
		}
		if r.Mounted["token"] != "abc|600" {
			t.Errorf("replica %d sees %s as %v", pid, SecretsMountPath, r.Mounted)
		}
		if got := r.Env["TMPDIR"] == "/tmp"; got != privateTmp || !strings.HasPrefix(r.TmpFile, r.Env["TMPDIR"]) {
			t.Errorf("replica %d TMPDIR %q tmp file %q", pid, r.Env["TMPDIR"], r.TmpFile)
		}
		if !strings.HasSuffix(r.Env["unix_socket"], "/"+socketName) || r.Env[envInit] != "" {
			t.Errorf("replica %d env unix_socket=%q init=%q", pid, r.Env["unix_socket"], r.Env[envInit])
		}
		if ns, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/net"); ns == hostNet || ns == "" {
			t.Errorf("replica %d shares the host network namespace %s", pid, ns)
		}
	}
	if _, err := os.Stat("/tmp/echofn-probe"); privateTmp && err == nil {
		t.Error("replica wrote to the host's /tmp")
	}
}

// outsideTmp is a temporary directory that is not under /tmp, so a replica
// can get a private /tmp without hiding its own files.
func outsideTmp(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/var/tmp", "gofaas-netns-")
	if err != nil {
		t.Skipf("no directory outside /tmp: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func copyImageRoot(t *testing.T, root string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(imageRoot, "bin", "echofn"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"bin", "home/app"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "echofn"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

func mustExecutable(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	return exe
}

func TestPortsUpstreamRewritten(t *testing.T) {
	e := newEnv(t, IsolationPorts, "")
	d := echoFn("ofw")
	d.EnvVars = map[string]string{"upstream_url": "http://127.0.0.1:8082", "mode": "http"}
	d.Labels = map[string]string{LabelScaleMin: "2"}
	if err := e.p.Deploy(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, e.p, "ofw", api.DefaultNamespace, 2)
	ports := map[string]bool{}
	checkFor(t, 10*time.Second, func() error {
		r := invoke(t, e.p, "ofw", api.DefaultNamespace, "GET", "/", "")
		hp := r.Env["http_port"]
		if r.Env["upstream_url"] != "http://127.0.0.1:"+hp || hp == "8082" || hp == r.Env["port"] {
			t.Fatalf("upstream_url %q http_port %q port %q", r.Env["upstream_url"], hp, r.Env["port"])
		}
		ports[hp] = true
		if len(ports) < 2 {
			return fmt.Errorf("saw http ports %v", ports)
		}
		return nil
	})
}
