package watchdog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// proc is the fwatchdog binary running as a child of the test.
type proc struct {
	cmd    *exec.Cmd
	sock   string
	dir    string
	client *http.Client
	out    *syncBuffer
	exited chan struct{}
}

// startBinary runs the built fwatchdog on a Unix socket in a private
// TMPDIR, with env added, and waits until it is healthy unless noWait.
func startBinary(t *testing.T, noWait bool, env ...string) *proc {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the fwatchdog binary")
	}
	bin := buildWatchdog(t)
	dir := t.TempDir()
	p := &proc{sock: filepath.Join(dir, "wd.sock"), dir: dir, out: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin)
	p.cmd.Env = append(childEnviron("TMPDIR="+dir, "unix_socket="+p.sock, "metrics_port=0", "healthcheck_interval=0"), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.client = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", p.sock)
		},
	}}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("fwatchdog output:\n%s", p.out)
		}
	})
	if !noWait {
		checkFor(t, 10*time.Second, 10*time.Millisecond, func() error { return p.status(PathHealth, 200) })
	}
	return p
}

func (p *proc) url(path string) string { return "http://watchdog" + path }

func (p *proc) status(path string, want int) error {
	resp, err := p.client.Get(p.url(path))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
	}
	return nil
}

func (p *proc) waitExit(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		t.Fatalf("fwatchdog did not exit within %s", timeout)
		return -1
	}
}

// TestBinarySIGTERMDrain: on SIGTERM the watchdog turns unready at once,
// keeps serving for healthcheck_interval, lets the in-flight request
// finish, then exits 0 and cleans up its lock file and socket.
func TestBinarySIGTERMDrain(t *testing.T) {
	t.Parallel()
	mark := filepath.Join(t.TempDir(), "started")
	p := startBinary(t, false, "fprocess="+fprocess(t, "sleep", "1500ms"), "healthcheck_interval=500ms", "WDTEST_MARK="+mark)
	slow := make(chan string, 1)
	go func() {
		resp, err := p.client.Post(p.url("/"), "text/plain", nil)
		if err != nil {
			slow <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		slow <- fmt.Sprintf("%d %s", resp.StatusCode, b)
	}()
	checkFor(t, 5*time.Second, 5*time.Millisecond, func() error { _, err := os.Stat(mark); return err })
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 2*time.Second, 5*time.Millisecond, func() error { return p.status(PathHealth, 503) })
	if _, err := os.Stat(filepath.Join(p.dir, ".lock")); !os.IsNotExist(err) {
		t.Errorf("lock file still present while draining: %v", err)
	}
	if got := <-slow; got != "200 done" {
		t.Errorf("in-flight request during drain: %s", got)
	}
	if code := p.waitExit(t, 10*time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	if _, err := os.Stat(p.sock); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
}

// TestBinaryHTTPModeLifecycle: kill -9 of the watchdog leaves no upstream
// behind (Pdeathsig), and an upstream that ignores SIGTERM is killed after
// write_timeout on a normal stop.
func TestBinaryHTTPModeLifecycle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		signal syscall.Signal
		env    []string
		code   int
	}{
		{name: "kill -9 leaves no orphan", signal: syscall.SIGKILL, code: -1},
		{name: "upstream ignoring SIGTERM is killed", signal: syscall.SIGTERM, env: []string{"WDTEST_IGNORE_TERM=1", "write_timeout=1s"}, code: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pidFile := filepath.Join(t.TempDir(), "pid")
			addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			env := append([]string{"mode=http", "fprocess=" + fprocess(t, "upstream", addr, "0s"),
				"upstream_url=http://" + addr, "WDTEST_PIDFILE=" + pidFile}, tt.env...)
			p := startBinary(t, false, env...)
			pid := readPid(t, pidFile)
			if err := p.cmd.Process.Signal(tt.signal); err != nil {
				t.Fatal(err)
			}
			if code := p.waitExit(t, 10*time.Second); code != tt.code {
				t.Errorf("exit code %d, want %d", code, tt.code)
			}
			checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
				if alive(pid) {
					return fmt.Errorf("upstream %d still running", pid)
				}
				return nil
			})
		})
	}
}

// TestBinaryUpstreamExitIsFatal: the watchdog exits non-zero, logging the
// upstream's exit status, and restarts nothing.
func TestBinaryUpstreamExitIsFatal(t *testing.T) {
	t.Parallel()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p := startBinary(t, false, "mode=http", "fprocess="+fprocess(t, "upstream", addr, "0s"), "upstream_url=http://"+addr)
	resp, err := p.client.Get(p.url("/exit"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if code := p.waitExit(t, 10*time.Second); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if !strings.Contains(p.out.String(), "exit status 7") {
		t.Errorf("exit status not logged:\n%s", p.out)
	}
}

func readPid(t *testing.T, file string) int {
	t.Helper()
	var pid int
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		b, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		pid, err = strconv.Atoi(string(b))
		return err
	})
	return pid
}

// alive reports whether pid runs and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	return !strings.Contains(string(b), "State:\tZ")
}

// vmHWM reads a process's peak resident memory in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb * 1024
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// TestBinaryLargeBodiesStream: 200 MB in and 200 MB out pass through http
// and streaming modes while the watchdog's peak memory grows by less than
// 32 MB.
func TestBinaryLargeBodiesStream(t *testing.T) {
	t.Parallel()
	const size = 200 << 20
	const maxGrowth = 32 << 20
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	tests := []struct {
		name             string
		env              []string
		upload, download string
	}{
		{name: "http", env: []string{"mode=http", "fprocess=" + fprocess(t, "upstream", addr, "0s"), "upstream_url=http://" + addr},
			upload: "/count", download: fmt.Sprintf("/big?n=%d", size)},
		{name: "streaming", env: []string{"mode=streaming", "fprocess=" + fprocess(t, "stream-or-count")},
			upload: "/count", download: "/stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := append(tt.env, "write_timeout=2m", "read_timeout=2m", "exec_timeout=2m",
				fmt.Sprintf("WDTEST_STREAM_BYTES=%d", size))
			p := startBinary(t, false, env...)
			if err := p.status("/warmup", 200); err != nil {
				t.Fatal(err)
			}
			before := vmHWM(t, p.cmd.Process.Pid)

			resp, err := p.client.Post(p.url(tt.upload), "application/octet-stream", io.LimitReader(zeros{}, size))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != strconv.Itoa(size) {
				t.Fatalf("upload: function counted %q bytes, want %d", b, size)
			}

			resp, err = p.client.Get(p.url(tt.download))
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || n != size {
				t.Fatalf("download: %d bytes, %v; want %d", n, err, size)
			}
			if growth := vmHWM(t, p.cmd.Process.Pid) - before; growth > maxGrowth {
				t.Errorf("peak memory grew by %d MB moving 2×200 MB, limit %d MB", growth>>20, maxGrowth>>20)
			} else {
				t.Logf("peak memory grew by %.1f MB", float64(growth)/(1<<20))
			}
		})
	}
}

func TestBinaryFlags(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the fwatchdog binary")
	}
	bin := buildWatchdog(t)
	dir := t.TempDir()
	run := func(env []string, args ...string) (int, string) {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode(), string(out)
	}
	if code, _ := run([]string{"TMPDIR=" + dir}, "-run-healthcheck"); code != 1 {
		t.Errorf("-run-healthcheck without lock: exit %d, want 1", code)
	}
	if err := os.WriteFile(filepath.Join(dir, ".lock"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _ := run([]string{"TMPDIR=" + dir}, "-run-healthcheck"); code != 0 {
		t.Errorf("-run-healthcheck with lock: exit %d, want 0", code)
	}
	code, out := run([]string{"mode=http", "write_timeout=abc"}, "--check-config")
	if code != 1 || !strings.Contains(out, "fprocess") || !strings.Contains(out, "upstream_url") || !strings.Contains(out, "write_timeout") {
		t.Errorf("--check-config on a bad env: exit %d\n%s", code, out)
	}
	code, out = run([]string{"fprocess=cat", "exec_timeout=5"}, "--check-config")
	if code != 0 || !strings.Contains(out, "exec_timeout=5s") {
		t.Errorf("--check-config on a good env: exit %d\n%s", code, out)
	}
}
