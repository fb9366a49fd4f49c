package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gofaas/gofaas/internal/registry"
	"github.com/gofaas/gofaas/internal/store"
	"github.com/gofaas/gofaas/pkg/api"
)

// imageRoot is an unpacked "image" holding /bin/echofn, built by TestMain.
var imageRoot string

func TestMain(m *testing.M) {
	if IsReplicaInit() {
		ReplicaInitMain()
		return
	}
	code, err := buildAndRun(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "process tests:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func buildAndRun(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "gofaas-process-image-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	imageRoot = filepath.Join(dir, "root")
	for _, d := range []string{"bin", "home/app"} {
		if err := os.MkdirAll(filepath.Join(imageRoot, d), 0o755); err != nil {
			return 0, err
		}
	}
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		goTool = "go"
	}
	cmd := exec.Command(goTool, "build", "-o", filepath.Join(imageRoot, "bin", "echofn"), "./testdata/echofn")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("building echofn: %w: %s", err, out)
	}
	return m.Run(), nil
}

// fakeImages serves echofn images by reference.
type fakeImages struct{ images map[string]registry.Image }

func (f *fakeImages) Unpack(ctx context.Context, ref string) (registry.Image, error) {
	if err := ctx.Err(); err != nil {
		return registry.Image{}, err
	}
	img, ok := f.images[ref]
	if !ok {
		return registry.Image{}, fmt.Errorf("%w: %s is in no registry", registry.ErrImageNotFound, ref)
	}
	return img, nil
}

func echoImage() registry.Image {
	return registry.Image{
		Ref: "test/echofn:1", Digest: "sha256:0", Root: imageRoot,
		Entrypoint: []string{"/bin/echofn"},
		Env:        []string{"PATH=/usr/local/bin:/bin", "IMAGE_VAR=from-image", "fprocess=image-default"},
		WorkingDir: "/home/app",
	}
}

func newImages() *fakeImages {
	noEntry := echoImage()
	noEntry.Entrypoint = nil
	missing := echoImage()
	missing.Entrypoint = []string{"/bin/not-there"}
	conf := echoImage()
	conf.Env = append(conf.Env, "ECHOFN_MODE=conformance")
	return &fakeImages{images: map[string]registry.Image{
		"test/conformance:1": conf,
		"test/echofn:1":      echoImage(), "test/echofn:2": echoImage(),
		"test/noentry:1": noEntry, "test/missing:1": missing,
	}}
}

type env struct {
	p    *Process
	st   *store.Store
	dir  string
	imgs *fakeImages
}

func testConfig(dir, isolation string) Config {
	return Config{
		DataDir: dir, Isolation: isolation,
		HealthInterval: 100 * time.Millisecond, StopGrace: 2 * time.Second,
		BackoffMin: 50 * time.Millisecond, BackoffMax: 400 * time.Millisecond,
		RolloutTimeout: 10 * time.Second,
	}
}

// newEnv starts a Process on a fresh data dir (or dir, when given).
func newEnv(t *testing.T, isolation string, dir string) *env {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	imgs := newImages()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	p, err := New(testConfig(dir, isolation), imgs, st, log)
	if err != nil {
		_ = st.Close()
		t.Fatal(err)
	}
	if err := p.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	e := &env{p: p, st: st, dir: dir, imgs: imgs}
	t.Cleanup(e.close)
	return e
}

func (e *env) close() {
	_ = e.p.Close()
	_ = e.st.Close()
}

func echoFn(name string) api.FunctionDeployment {
	return api.FunctionDeployment{Service: name, Image: "test/echofn:1", Namespace: api.DefaultNamespace}
}

// checkFor polls fn every 20ms until it returns nil or timeout passes.
func checkFor(t *testing.T, timeout time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitAvailable(t *testing.T, p *Process, name, ns string, n uint64) api.FunctionStatus {
	t.Helper()
	var st api.FunctionStatus
	checkFor(t, 15*time.Second, func() error {
		var err error
		st, err = p.Function(context.Background(), name, ns, false)
		if err != nil {
			return err
		}
		if st.AvailableReplicas != n {
			return fmt.Errorf("%s: %d available, want %d; log: %s", name, st.AvailableReplicas, n, lastLines(p, name, ns))
		}
		return nil
	})
	return st
}

type echoReply struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Query   string            `json:"query"`
	Body    string            `json:"body"`
	Env     map[string]string `json:"env"`
	Cwd     string            `json:"cwd"`
	PID     int               `json:"pid"`
	Secrets map[string]string `json:"secrets"`
	Mounted map[string]string `json:"mounted"`
	TCP8080 string            `json:"tcp8080"`
	TmpFile string            `json:"tmpFile"`
}

// invoke resolves name and sends one request the way the gateway does.
func invoke(t *testing.T, p *Process, name, ns, method, pathQuery, body string) echoReply {
	t.Helper()
	tgt, err := p.Resolve(t.Context(), name, ns)
	if err != nil {
		t.Fatalf("Resolve(%s): %v", name, err)
	}
	defer tgt.Done()
	client := http.DefaultClient
	if tgt.Transport != nil {
		client = &http.Client{Transport: tgt.Transport}
	}
	req, err := http.NewRequestWithContext(t.Context(), method, tgt.URL.String()+pathQuery, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("invoking %s: %v", name, err)
	}
	defer resp.Body.Close()
	var out echoReply
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("invoking %s: status %d", name, resp.StatusCode)
	}
	if strings.HasPrefix(pathQuery, "/log") {
		return out
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("decoding echo: %v", err)
	}
	return out
}

func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s, err := parseStat(data)
	return err == nil && !strings.Contains(string(data), ") Z ") && s.pid == pid
}

func isErr(err, target error) error {
	if !errors.Is(err, target) {
		return fmt.Errorf("err = %v, want %v", err, target)
	}
	return nil
}

// lastLines returns the last log lines of a function, for failure messages.
func lastLines(p *Process, name, ns string) string {
	ch, err := p.Logs(context.Background(), api.LogRequest{Name: name, Namespace: ns, Tail: 4})
	if err != nil {
		return err.Error()
	}
	var lines []string
	for m := range ch {
		lines = append(lines, m.Text)
	}
	return strings.Join(lines, " | ")
}
