//go:build e2e

// Package e2e drives the built gofaas binaries over HTTP exactly as faas-cli
// and curl would: it starts `gofaas server` on a random port with a temp
// data dir, pushes images to its registry and calls every route.
package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bin holds the binaries built once for all tests.
var bin string

// repoRoot is the repository's top folder.
var repoRoot string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "gofaas-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin = dir
	repoRoot, _ = filepath.Abs("../..")
	for out, pkg := range map[string]string{"gofaas": "./cmd/gofaas", "fwatchdog": "./cmd/fwatchdog", "publish": "./examples/publish"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(bin, out), pkg)
		cmd.Dir = repoRoot
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building", pkg, err)
			return 1
		}
	}
	return m.Run()
}

// server is one running gofaas process.
type server struct {
	t       *testing.T
	cmd     *exec.Cmd
	URL     string
	DataDir string
	User    string
	Pass    string
	stderr  *lockedBuffer
	done    chan struct{}
}

var readyLine = regexp.MustCompile(`is ready at (http://\S+)`)

// startServer runs `gofaas <args...>` and waits for its "ready at" line.
func startServer(t *testing.T, dataDir string, args ...string) *server {
	t.Helper()
	s := &server{t: t, DataDir: dataDir, stderr: &lockedBuffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(filepath.Join(bin, "gofaas"), args...)
	s.cmd.Stderr = s.stderr
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := readyLine.FindStringSubmatch(sc.Text()); m != nil {
				urlc <- m[1]
			}
		}
	}()
	go func() { s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("gofaas %s stderr (last 6000 bytes):\n%s", args[0], s.stderr.tail(6000))
		}
	})
	select {
	case s.URL = <-urlc:
	case <-s.done:
		t.Fatalf("gofaas exited before it was ready:\n%s", s.stderr.tail(4000))
	case <-time.After(30 * time.Second):
		t.Fatalf("gofaas not ready after 30s:\n%s", s.stderr.tail(4000))
	}
	if dataDir != "" {
		pw, err := os.ReadFile(filepath.Join(dataDir, "secrets", "basic-auth-password"))
		if err != nil {
			t.Fatal(err)
		}
		s.User, s.Pass = "admin", strings.TrimSpace(string(pw))
	}
	return s
}

func (s *server) stop() {
	if s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// kill9 kills the server as `kill -9` would.
func (s *server) kill9() {
	s.cmd.Process.Kill()
	<-s.done
}

type response struct {
	Code   int
	Header http.Header
	Body   []byte
}

func (r response) String() string { return fmt.Sprintf("%d %s", r.Code, bytes.TrimSpace(r.Body)) }

// call sends one request; body may be nil, a string, []byte or a value to
// encode as JSON. auth adds the server's basic auth.
func (s *server) call(method, path string, body any, auth bool, headers ...string) response {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if auth {
		req.SetBasicAuth(s.User, s.Pass)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return response{Code: res.StatusCode, Header: res.Header, Body: data}
}

// want fails the test unless r has the status code.
func want(t *testing.T, what string, r response, code int) {
	t.Helper()
	if r.Code != code {
		t.Fatalf("%s: got %s, want status %d", what, r, code)
	}
}

// publish pushes an image built by examples/publish to s's registry.
func (s *server) publish(args ...string) {
	s.t.Helper()
	pwFile := filepath.Join(s.t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte(s.Pass), 0o600)
	cmd := exec.Command(filepath.Join(bin, "publish"), append([]string{"-gateway", s.URL, "-password-file", pwFile}, args...)...)
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.t.Fatalf("publish %v: %v\n%s", args, err, out)
	}
}

// checkFor polls f until it returns nil or the time runs out.
func checkFor(t *testing.T, total, every time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", total, err)
		}
		time.Sleep(every)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.b.Bytes()
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// processesUsing lists pids of live processes whose environment or command
// line mentions dir: replicas and their children carry the data dir in
// TMPDIR and paths.
func processesUsing(dir string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	self := os.Getpid()
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil || pid == self {
			continue
		}
		env, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if bytes.Contains(stat, []byte(") Z ")) { // zombies are gone already
			continue
		}
		if bytes.Contains(env, []byte(dir)) || bytes.Contains(cmdline, []byte(dir)) {
			pids = append(pids, pid)
		}
	}
	return pids
}
