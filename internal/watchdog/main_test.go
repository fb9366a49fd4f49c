package watchdog

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// childEnv switches the test binary into one of the child roles below, so
// tests fork real processes without extra programs.
const childEnv = "WDTEST_CHILD"

// fwatchdogBin is the built cmd/fwatchdog, set by buildWatchdog.
var (
	buildOnce    sync.Once
	fwatchdogBin string
	buildErr     error
	buildDir     string
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(runChild(os.Args[1:]))
	}
	flag.Parse()
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// buildWatchdog builds cmd/fwatchdog once per test run.
func buildWatchdog(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "fwatchdog-test")
		if buildErr != nil {
			return
		}
		fwatchdogBin = filepath.Join(buildDir, "fwatchdog")
		cmd := exec.Command("go", "build", "-o", fwatchdogBin, "../../cmd/fwatchdog")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return fwatchdogBin
}

// fprocess returns an fprocess value that runs this test binary as role.
func fprocess(t *testing.T, role string, args ...string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(append([]string{exe, role}, args...), " ")
}

// childEnviron is the environment function processes get in tests.
func childEnviron(extra ...string) []string {
	return append([]string{childEnv + "=1", "PATH=" + os.Getenv("PATH")}, extra...)
}

// checkFor polls f until it returns nil or timeout passes.
func checkFor(t *testing.T, timeout, every time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %s: %v", timeout, err)
		}
		time.Sleep(every)
	}
}

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

// testCfg returns a config for mode with a private lock dir and the
// children's environment.
func testCfg(t *testing.T, mode Mode, fproc string) Config {
	t.Helper()
	c := DefaultsFor(mode)
	c.FProcess = fproc
	c.LockDir = t.TempDir()
	c.Port = 0
	c.MetricsPort = 0
	c.HealthcheckInterval = 0
	c.WriteTimeout = 30 * time.Second
	c.Environ = childEnviron()
	return c
}

// running is a watchdog served in-process on a loopback port.
type running struct {
	w    *Watchdog
	url  string
	logs *syncBuffer
	done chan error
	stop context.CancelFunc
}

// startWatchdog serves cfg on 127.0.0.1:0 and waits for readiness unless
// noWait. It stops when the test ends.
func startWatchdog(t *testing.T, cfg Config, noWait bool) *running {
	t.Helper()
	logs := &syncBuffer{}
	w, err := New(cfg, Options{
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Stdout: logs, Stderr: logs,
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{w: w, url: "http://" + ln.Addr().String(), logs: logs, done: make(chan error, 1), stop: cancel}
	go func() { r.done <- w.Serve(ctx, ln, nil) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
		if t.Failed() {
			t.Logf("watchdog logs:\n%s", logs.String())
		}
	})
	if !noWait {
		checkFor(t, 10*time.Second, 10*time.Millisecond, func() error {
			return expectStatus(r.url+PathHealth, http.StatusOK)
		})
	}
	return r
}

func expectStatus(url string, want int) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("GET %s: status %d, want %d", url, resp.StatusCode, want)
	}
	return nil
}

// do sends one request and returns the response with its body read.
func do(t *testing.T, method, url string, body string, hdr http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s %s: %v", method, url, err)
	}
	return resp, string(b)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runChild plays a function process.
func runChild(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "no role")
		return 2
	}
	role, args := args[0], args[1:]
	switch role {
	case "echo":
		_, _ = io.Copy(os.Stdout, os.Stdin)
	case "env":
		printEnv()
	case "fail":
		fmt.Print("partial output")
		fmt.Fprint(os.Stderr, "oops on stderr")
		return 3
	case "sleep":
		if mark := os.Getenv("WDTEST_MARK"); mark != "" {
			_ = os.WriteFile(mark, nil, 0o644)
		}
		d, _ := time.ParseDuration(args[0])
		time.Sleep(d)
		fmt.Print("done")
	case "count":
		n, _ := io.Copy(io.Discard, os.Stdin)
		fmt.Print(n)
	case "stream":
		n, _ := strconv.ParseInt(args[0], 10, 64)
		_, _ = io.Copy(os.Stdout, io.LimitReader(zeros{}, n))
	case "stream-or-count":
		switch os.Getenv("Http_Path") {
		case "/count":
			n, _ := io.Copy(io.Discard, os.Stdin)
			fmt.Print(n)
		case "/stream":
			n, _ := strconv.ParseInt(os.Getenv("WDTEST_STREAM_BYTES"), 10, 64)
			_, _ = io.Copy(os.Stdout, io.LimitReader(zeros{}, n))
		default:
			fmt.Print("ok")
		}
	case "logs":
		fmt.Println("line one")
		fmt.Fprintln(os.Stderr, "line two")
	case "upstream":
		return runUpstream(args)
	default:
		fmt.Fprintln(os.Stderr, "unknown role", role)
		return 2
	}
	return 0
}

func printEnv() {
	var lines []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "Http_") {
			lines = append(lines, kv)
		}
	}
	sort.Strings(lines)
	fmt.Print(strings.Join(lines, "\n"))
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// runUpstream is an http-mode upstream: args are the listen address and a
// delay before listening. With WDTEST_IGNORE_TERM=1 it ignores SIGTERM;
// with WDTEST_PIDFILE it writes its pid there.
func runUpstream(args []string) int {
	delay, _ := time.ParseDuration(args[1])
	if os.Getenv("WDTEST_IGNORE_TERM") == "1" {
		signal.Ignore(syscall.SIGTERM)
	}
	if f := os.Getenv("WDTEST_PIDFILE"); f != "" {
		_ = os.WriteFile(f, []byte(strconv.Itoa(os.Getpid())), 0o644)
	}
	fmt.Println("upstream starting")
	time.Sleep(delay)
	ln, err := net.Listen("tcp", args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	err = http.Serve(ln, upstreamMux())
	fmt.Fprintln(os.Stderr, err)
	return 1
}

// upstreamMux serves the special paths below and echoes every other
// request exactly (no ServeMux path cleaning).
func upstreamMux() http.Handler {
	mux := http.NewServeMux()
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Upstream", "yes")
		fmt.Fprintf(w, "%s %s %s host=%s call=%s xff=%s len=%d te=%v\n%s", r.Method, r.URL.Path, r.URL.RawQuery,
			r.Host, r.Header.Get("X-Call-Id"), r.Header.Get("X-Forwarded-For"), r.ContentLength, r.TransferEncoding, body)
	})
	mux.Handle("/", echo)
	mux.HandleFunc("/count", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, n)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
		_, _ = io.Copy(w, io.LimitReader(zeros{}, n))
	})
	mux.HandleFunc("/sleep", func(w http.ResponseWriter, r *http.Request) {
		d, _ := time.ParseDuration(r.URL.Query().Get("d"))
		time.Sleep(d)
		fmt.Fprint(w, "slept")
	})
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		w.WriteHeader(code)
		fmt.Fprint(w, "custom status")
	})
	mux.HandleFunc("/hangup", func(w http.ResponseWriter, r *http.Request) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = c.Close()
		}
	})
	mux.HandleFunc("/exit", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "bye")
		go func() { time.Sleep(50 * time.Millisecond); os.Exit(7) }()
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		for i := range 3 {
			fmt.Fprintf(w, "event %d\n", i)
			_ = rc.Flush()
			time.Sleep(20 * time.Millisecond)
		}
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "/" {
			echo(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// lines reads a response body line by line, for streaming checks.
func lines(r io.Reader) []string {
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

var errNotYet = errors.New("not yet")
