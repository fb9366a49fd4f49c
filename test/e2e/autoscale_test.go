//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofaas/gofaas/pkg/api"
)

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// status reads one function's status.
func (s *server) status(name string) api.FunctionStatus {
	s.t.Helper()
	r := s.call("GET", "/system/function/"+name, nil, true)
	want(s.t, "status of "+name, r, 200)
	return decode[api.FunctionStatus](s.t, r)
}

// load calls name from workers goroutines until stop is closed, recording
// the pid of each replica that answered 200 and counting other answers.
func (s *server) load(name string, workers int, stop <-chan struct{}) (pids *sync.Map, failed *atomic.Int64, wait func()) {
	pids, failed = &sync.Map{}, &atomic.Int64{}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				res, err := http.Get(s.URL + "/function/" + name)
				if err != nil {
					failed.Add(1)
					continue
				}
				var e struct {
					Pid int `json:"pid"`
				}
				if res.StatusCode == 200 && json.NewDecoder(res.Body).Decode(&e) == nil {
					pids.Store(e.Pid, true)
				} else {
					failed.Add(1)
				}
				res.Body.Close()
			}
		})
	}
	return pids, failed, wg.Wait
}

func TestAutoscale(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and loads a function for several seconds")
	}
	dataDir := t.TempDir()
	mport := freePort(t)
	s := startServer(t, dataDir, "server", "--port", "0", "--data-dir", dataDir,
		"--scale-interval", "200ms", "--scale-load-window", "1s", "--scale-down-window", "1s",
		"--scale-zero-duration", "2s", "--metrics-port", strconv.Itoa(mport))
	s.publish()
	image := strings.TrimPrefix(s.URL, "http://") + "/hello:latest"
	d := api.FunctionDeployment{Service: "hello", Image: image, Labels: map[string]string{
		"com.openfaas.scale.max": "3", "com.openfaas.scale.target": "5", "com.openfaas.scale.zero": "true"}}
	want(t, "deploy", s.call("POST", "/system/functions", d, true), 202)
	waitAvailable(t, s, "hello", api.DefaultNamespace, 1)

	t.Run("load raises replicas and they serve", func(t *testing.T) {
		stop := make(chan struct{})
		pids, failed, wait := s.load("hello", 4, stop)
		waitAvailable(t, s, "hello", api.DefaultNamespace, 3)
		checkFor(t, 10*time.Second, 50*time.Millisecond, func() error {
			n := 0
			pids.Range(func(any, any) bool { n++; return true })
			if n < 2 {
				return fmt.Errorf("calls were served by %d replica(s), want several", n)
			}
			return nil
		})
		close(stop)
		wait()
		if failed.Load() > 0 {
			t.Errorf("%d calls failed while scaling up", failed.Load())
		}
	})

	t.Run("idleness takes it to zero", func(t *testing.T) {
		checkFor(t, 20*time.Second, 100*time.Millisecond, func() error {
			if st := s.status("hello"); st.Replicas != 0 || st.AvailableReplicas != 0 {
				return fmt.Errorf("hello has %d replicas (%d available), want 0", st.Replicas, st.AvailableReplicas)
			}
			return nil
		})
	})

	t.Run("the next calls wake it and succeed", func(t *testing.T) {
		var wg sync.WaitGroup
		codes := make(chan int, 5)
		for range 5 {
			wg.Go(func() {
				res, err := http.Get(s.URL + "/function/hello")
				if err != nil {
					codes <- 0
					return
				}
				res.Body.Close()
				codes <- res.StatusCode
			})
		}
		wg.Wait()
		close(codes)
		for c := range codes {
			if c != 200 {
				t.Errorf("call at zero replicas got %d, want 200", c)
			}
		}
		if st := s.status("hello"); st.Replicas < 1 {
			t.Errorf("after the wake hello wants %d replicas, want at least 1", st.Replicas)
		}
	})

	t.Run("scale.min 0 deploys at zero", func(t *testing.T) {
		d := api.FunctionDeployment{Service: "lazy", Image: image, Labels: map[string]string{"com.openfaas.scale.min": "0"}}
		want(t, "deploy lazy", s.call("POST", "/system/functions", d, true), 202)
		if st := s.status("lazy"); st.Replicas != 0 {
			t.Fatalf("lazy deployed with %d replicas, want 0", st.Replicas)
		}
		want(t, "first call to lazy", s.call("GET", "/function/lazy", nil, false), 200)
	})

	t.Run("metrics port and invocation count", func(t *testing.T) {
		murl := "http://127.0.0.1:" + strconv.Itoa(mport)
		s2 := *s
		s2.URL = murl
		want(t, "metrics port healthz", s2.call("GET", "/healthz", nil, false), 200)
		checkFor(t, 5*time.Second, 100*time.Millisecond, func() error {
			body := string(s2.call("GET", "/metrics", nil, false).Body)
			// lazy has no zero label: it stays at one replica.
			for _, w := range []string{`gateway_service_count{function_name="lazy.openfaas-fn"} 1`,
				`gofaas_function_replicas_available{function_name="lazy.openfaas-fn"} 1`,
				`gofaas_function_memory_bytes{function_name="lazy.openfaas-fn"}`,
				`gateway_function_invocation_inflight{function_name="hello.openfaas-fn"} 0`} {
				if !strings.Contains(body, w) {
					return fmt.Errorf("metrics port lacks %q", w)
				}
			}
			return nil
		})
		list := decode[[]api.FunctionStatus](t, s.call("GET", "/system/functions", nil, true))
		for _, st := range list {
			if st.Name == "hello" && st.InvocationCount < 10 {
				t.Errorf("hello invocationCount = %v, want the calls of this test", st.InvocationCount)
			}
		}
	})
	if out := s.stderr.tail(1 << 20); !strings.Contains(out, `msg="autoscaler decision"`) || !strings.Contains(out, `reason="load above target"`) {
		t.Errorf("the server logged no autoscaler decision")
	}
}

// TestPrometheusAlertManager runs Debian's Prometheus and AlertManager with
// the files of deploy/prometheus against `gofaas server --autoscale=false`:
// load fires APIHighInvocationRate, AlertManager calls /system/alert, and
// the function grows by ceil(max × factor / 100) replicas.
func TestPrometheusAlertManager(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Prometheus and AlertManager for about 30 seconds")
	}
	promBin, err1 := exec.LookPath("prometheus")
	amBin, err2 := exec.LookPath("prometheus-alertmanager")
	if err2 != nil {
		amBin, err2 = exec.LookPath("alertmanager")
	}
	if err1 != nil || err2 != nil {
		t.Skip("prometheus and prometheus-alertmanager are not installed (scripts/test-deps.sh installs them from Debian's packages)")
	}
	dataDir := t.TempDir()
	s := startServer(t, dataDir, "server", "--port", "0", "--data-dir", dataDir, "--autoscale=false")
	s.publish()
	d := api.FunctionDeployment{Service: "hello", Image: strings.TrimPrefix(s.URL, "http://") + "/hello:latest",
		Labels: map[string]string{"com.openfaas.scale.max": "4", "com.openfaas.scale.factor": "50"}}
	want(t, "deploy", s.call("POST", "/system/functions", d, true), 202)
	waitAvailable(t, s, "hello", api.DefaultNamespace, 1)

	work := t.TempDir()
	promPort, amPort := freePort(t), freePort(t)
	gwHost := strings.TrimPrefix(s.URL, "http://")
	writeDeployFile(t, work, "alert.rules.yml", nil)
	writeDeployFile(t, work, "prometheus.yml", map[string]string{
		"scrape_interval: 15s": "scrape_interval: 1s", "evaluation_interval: 15s": "evaluation_interval: 1s",
		"scrape_interval: 5s": "scrape_interval: 1s", `"127.0.0.1:8080"`: `"` + gwHost + `"`,
		`"127.0.0.1:9093"`: `"127.0.0.1:` + strconv.Itoa(amPort) + `"`, `"localhost:9090"`: `"127.0.0.1:` + strconv.Itoa(promPort) + `"`})
	writeDeployFile(t, work, "alertmanager.yml", map[string]string{
		"http://127.0.0.1:8080": s.URL, "group_wait: 5s": "group_wait: 1s",
		"/root/.gofaas/secrets/basic-auth-password": filepath.Join(dataDir, "secrets", "basic-auth-password")})
	runTool(t, amBin, "--config.file="+filepath.Join(work, "alertmanager.yml"), "--storage.path="+filepath.Join(work, "am"),
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(amPort), "--cluster.listen-address=")
	runTool(t, promBin, "--config.file="+filepath.Join(work, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(work, "prom"),
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(promPort))

	stop := make(chan struct{})
	_, _, wait := s.load("hello", 2, stop)
	defer func() { close(stop); wait() }()
	// Firing: 1 + ceil(4 × 50 / 100) = 3 replicas.
	checkFor(t, 60*time.Second, 250*time.Millisecond, func() error {
		if st := s.status("hello"); st.Replicas < 3 {
			return fmt.Errorf("hello has %d replicas; AlertManager has not scaled it up yet", st.Replicas)
		}
		return nil
	})
	if !strings.Contains(s.stderr.tail(1<<20), `msg="scaling on alert"`) {
		t.Errorf("the gateway logged no alert")
	}
}

// writeDeployFile copies deploy/prometheus/name into dir with the
// replacements made, failing if one does not apply (the file changed).
func writeDeployFile(t *testing.T, dir, name string, repl map[string]string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "prometheus", name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for from, to := range repl {
		if !strings.Contains(s, from) {
			t.Fatalf("deploy/prometheus/%s lacks %q", name, from)
		}
		s = strings.ReplaceAll(s, from, to)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// runTool starts a helper process that is killed when the test ends.
func runTool(t *testing.T, bin string, args ...string) {
	t.Helper()
	out := &lockedBuffer{}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("%s output (tail):\n%s", filepath.Base(bin), out.tail(3000))
		}
	})
}
