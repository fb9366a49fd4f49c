package process

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gofaas/gofaas/internal/provider"
	"github.com/gofaas/gofaas/internal/registry"
	"github.com/gofaas/gofaas/pkg/api"
)

const (
	socketName   = "watchdog.sock"
	startPoll    = 50 * time.Millisecond // slowest health poll while a replica starts
	firstPoll    = time.Millisecond      // first poll; each next one waits 1ms more
	healthFails  = 3
	logDrainWait = 2 * time.Second
)

// endpoint is how to reach a replica.
type endpoint struct {
	url       *url.URL
	transport *http.Transport // nil: the caller's default transport
}

// replica is one supervised replica slot of a function: it keeps one
// process running, restarting it with backoff, until stop is called.
type replica struct {
	p        *Process
	fn       fnKey
	spec     *spec
	logs     *logSink
	secrets  string
	id       string
	instance string
	dir      string
	log      *slog.Logger

	inflight atomic.Int64
	ready    atomic.Bool

	mu      sync.Mutex
	ep      endpoint
	procPID int

	stopOnce sync.Once
	stopCh   chan struct{}
	done     chan struct{}
}

// running is one started process of a replica.
type running struct {
	cmd      *exec.Cmd
	pid      int
	started  time.Time
	exited   chan struct{} // closed once waitErr is set
	waitErr  error
	logsDone chan struct{}
	pipe     *os.File
	ports    []int
	cgroup   string
}

// startReplica creates a replica of sp for fn and starts its supervisor.
func (p *Process) startReplica(fn *function, sp *spec) *replica {
	id := newID()
	r := &replica{
		p: p, fn: fn.key, spec: sp, logs: fn.logs, secrets: fn.secretsDir,
		id: id, instance: fn.key.name + "-" + id, dir: filepath.Join(p.dirs.replicas, id),
		stopCh: make(chan struct{}), done: make(chan struct{}),
	}
	r.log = p.log.With("function", fn.key.name, "namespace", fn.key.namespace, "instance", r.instance)
	p.goOwned(r.run)
	return r
}

// stop asks the supervisor to stop the replica; it does not wait.
func (r *replica) stop() {
	r.stopOnce.Do(func() { close(r.stopCh) })
}

func (r *replica) stopping() bool {
	select {
	case <-r.stopCh:
		return true
	default:
		return false
	}
}

func (r *replica) pid() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.procPID
}

// endpoint returns where to reach the replica, if it is ready.
func (r *replica) endpoint() (endpoint, bool) {
	if !r.ready.Load() {
		return endpoint{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ep, r.ep.url != nil
}

// target counts one invocation in flight until Done.
func (r *replica) target(ep endpoint) provider.Target {
	r.inflight.Add(1)
	l := &lease{u: *ep.url, r: r}
	t := provider.Target{URL: &l.u, Done: l.release}
	if ep.transport != nil {
		t.Transport = ep.transport
	}
	return t
}

// lease is one invocation's hold on a replica: a copy of its URL (callers
// may edit theirs) and the in-flight count it releases once.
type lease struct {
	u        url.URL
	r        *replica
	released atomic.Bool
}

func (l *lease) release() {
	if l.released.CompareAndSwap(false, true) {
		l.r.inflight.Add(-1)
	}
}

// run is the supervisor loop.
func (r *replica) run() {
	defer close(r.done)
	defer removeAllQuiet(r.dir)
	delay := r.p.cfg.BackoffMin
	for {
		healthy, stopped := r.runOnce()
		if stopped {
			return
		}
		if healthy >= r.p.cfg.BackoffReset {
			delay = r.p.cfg.BackoffMin
		}
		r.log.Info("replica restarting", "in", delay)
		t := time.NewTimer(delay)
		select {
		case <-r.stopCh:
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(delay*2, r.p.cfg.BackoffMax)
	}
}

// runOnce starts the process and supervises it until it exits or the
// replica is stopped; healthy is how long it was ready before it exited.
func (r *replica) runOnce() (healthy time.Duration, stopped bool) {
	c, err := r.launch()
	if err != nil {
		r.log.Error("replica did not start", "error", err)
		r.emit("gofaas: replica did not start: " + err.Error())
		return 0, r.stopping()
	}
	return r.supervise(c)
}

func (r *replica) supervise(c *running) (healthy time.Duration, stopped bool) {
	var readySince time.Time
	fails, polls := 0, 0
	timer := time.NewTimer(firstPoll)
	defer timer.Stop()
	for {
		select {
		case <-c.exited:
			r.ready.Store(false)
			r.finish(c)
			if !readySince.IsZero() {
				healthy = time.Since(readySince)
			}
			status := exitStatus(c.waitErr)
			r.log.Warn("replica exited", "pid", c.pid, "status", status, "ran", time.Since(c.started).Round(time.Millisecond))
			r.emit("gofaas: process exited: " + status)
			return healthy, r.stopping()
		case <-r.stopCh:
			r.ready.Store(false)
			r.terminate(c)
			r.finish(c)
			r.log.Info("replica stopped", "pid", c.pid, "status", exitStatus(c.waitErr))
			return 0, true
		case <-timer.C:
		}
		ok := r.check()
		switch {
		case ok && readySince.IsZero():
			readySince = time.Now()
			r.ready.Store(true)
			r.log.Info("replica ready", "pid", c.pid, "after", time.Since(c.started).Round(time.Millisecond))
		case ok:
			fails = 0
		case !readySince.IsZero():
			if fails++; fails >= healthFails {
				readySince, fails = time.Time{}, 0
				r.ready.Store(false)
				r.log.Warn("replica failed its health checks", "pid", c.pid)
			}
		}
		// A starting replica is polled every 1, 2, 3… ms up to startPoll,
		// so a cold start is seen within a millisecond or two of being ready.
		polls++
		next := min(startPoll, time.Duration(polls)*firstPoll)
		if !readySince.IsZero() {
			next = r.p.cfg.HealthInterval
		}
		timer.Reset(next)
	}
}

// check asks the replica's /_/health.
func (r *replica) check() bool {
	r.mu.Lock()
	ep := r.ep
	r.mu.Unlock()
	if ep.url == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.p.cfg.HealthTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ep.url.String()+"/_/health", nil)
	if err != nil {
		return false
	}
	client := r.p.health
	if ep.transport != nil {
		client = &http.Client{Transport: ep.transport}
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// terminate sends SIGTERM to the process group, then SIGKILL after the
// grace period, and waits for the process to exit.
func (r *replica) terminate(c *running) {
	_ = syscall.Kill(-c.pid, syscall.SIGTERM)
	t := time.NewTimer(r.p.cfg.StopGrace)
	defer t.Stop()
	select {
	case <-c.exited:
	case <-t.C:
		r.log.Warn("replica did not stop in time; killing it", "pid", c.pid, "grace", r.p.cfg.StopGrace)
		_ = syscall.Kill(-c.pid, syscall.SIGKILL)
		<-c.exited
	}
}

// finish cleans up after the process exited: kills what is left of its
// group, drains its output and frees its ports and cgroup.
func (r *replica) finish(c *running) {
	_ = syscall.Kill(-c.pid, syscall.SIGKILL)
	select {
	case <-c.logsDone:
	case <-time.After(logDrainWait):
	}
	_ = c.pipe.Close()
	<-c.logsDone
	r.p.ports.release(c.ports)
	if c.cgroup != "" {
		_ = os.Remove(c.cgroup)
	}
	_ = os.Remove(filepath.Join(r.dir, recordName))
	r.mu.Lock()
	if r.ep.transport != nil {
		r.ep.transport.CloseIdleConnections()
	}
	r.ep, r.procPID = endpoint{}, 0
	r.mu.Unlock()
}

// emit writes a line of gofaas's own into the function's log.
func (r *replica) emit(text string) {
	r.logs.write(api.LogMessage{Name: r.fn.name, Namespace: r.fn.namespace, Instance: r.instance,
		Timestamp: time.Now().UTC(), Text: text})
}

// image returns the spec's image, unpacking it when a restore could not.
func (r *replica) image() (registry.Image, error) {
	if img, ok := r.spec.image(); ok {
		return img, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-r.stopCh:
			cancel()
		case <-ctx.Done():
		}
	}()
	img, err := r.p.images.Unpack(ctx, r.spec.dep.Image)
	if err != nil {
		return registry.Image{}, fmt.Errorf("unpacking image %s: %w", r.spec.dep.Image, err)
	}
	r.spec.setImage(img)
	return img, nil
}

// launch starts the replica's process.
func (r *replica) launch() (*running, error) {
	img, err := r.image()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(r.dir, "tmp"), 0o700); err != nil {
		return nil, fmt.Errorf("creating replica dir: %w", err)
	}
	cmd, ep, ports, err := r.command(img)
	if err != nil {
		return nil, err
	}
	c, err := r.startCmd(cmd, ports)
	if err != nil {
		r.p.ports.release(ports)
		return nil, err
	}
	r.mu.Lock()
	r.ep, r.procPID = ep, c.pid
	r.mu.Unlock()
	r.log.Info("replica started", "pid", c.pid, "program", cmd.Args[0])
	return c, nil
}

// command builds the process of one start: program, environment and the
// endpoint it will serve on.
func (r *replica) command(img registry.Image) (*exec.Cmd, endpoint, []int, error) {
	env := baseEnv(img, r.spec.dep)
	search := append(imagePath(img, env), pathList(r.p.cfg.HostPath)...)
	argv, err := resolveArgv(img, search)
	if err != nil {
		return nil, endpoint{}, nil, err
	}
	env.Set("PATH", strings.Join(search, string(os.PathListSeparator)))
	env.Set(EnvReplica, r.instance)
	dir, err := workDir(img)
	if err != nil {
		return nil, endpoint{}, nil, err
	}
	cmd := &exec.Cmd{Path: argv[0], Args: argv, Dir: dir}
	tmp := filepath.Join(r.dir, "tmp")
	if r.p.isolation == IsolationNetns {
		sock := filepath.Join(r.dir, socketName)
		_ = os.Remove(sock)
		env.Set(EnvSecretsDir, SecretsMountPath)
		env.Set("unix_socket", sock)
		// The upstream keeps its own port in its own namespace; templates
		// that read $http_port learn it the same way in both modes.
		if up, ok := env.Get("upstream_url"); ok {
			if _, set := env.Get("http_port"); !set {
				if u, err := url.Parse(up); err == nil && u.Port() != "" {
					env.Set("http_port", u.Port())
				}
			}
		}
		initEnv := []string{envInit + "=1", envInitSecrets + "=" + r.secrets}
		// Binding over /tmp would hide the image or the replica's own
		// files when they live under /tmp; then $TMPDIR is all it gets.
		if underTmp(img.Root, r.dir, r.secrets) {
			env.Set("TMPDIR", tmp)
		} else {
			env.Set("TMPDIR", "/tmp")
			initEnv = append(initEnv, envInitTmp+"="+tmp)
		}
		exe := r.p.cfg.Executable
		cmd.Path, cmd.Args = exe, append([]string{exe}, argv...)
		cmd.Env = append(env.Environ(), initEnv...)
		cmd.SysProcAttr = netnsSysProcAttr()
		return cmd, unixEndpoint(r.instance, sock), nil, nil
	}
	ports, err := r.p.ports.take(2)
	if err != nil {
		return nil, endpoint{}, nil, err
	}
	env.Set("TMPDIR", tmp)
	env.Set(EnvSecretsDir, r.secrets)
	env.Set("port", strconv.Itoa(ports[0]))
	env.Set("metrics_port", "0")
	if _, ok := env.Get("upstream_url"); ok {
		env.Set("upstream_url", "http://127.0.0.1:"+strconv.Itoa(ports[1]))
		env.Set("http_port", strconv.Itoa(ports[1]))
	}
	cmd.Env = env.Environ()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	u := &url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(ports[0])}
	return cmd, endpoint{url: u}, ports, nil
}

func unixEndpoint(instance, sock string) endpoint {
	t := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
	}
	return endpoint{url: &url.URL{Scheme: "http", Host: instance}, transport: t}
}

// startCmd starts cmd with its output going to the function's log, puts it
// in its cgroup and records its pid.
func (r *replica) startCmd(cmd *exec.Cmd, ports []int) (*running, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating output pipe: %w", err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	err = cmd.Start()
	_ = pw.Close()
	if err != nil {
		_ = pr.Close()
		return nil, fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	c := &running{cmd: cmd, pid: cmd.Process.Pid, started: time.Now(), exited: make(chan struct{}),
		logsDone: make(chan struct{}), pipe: pr, ports: ports}
	go func() {
		defer close(c.logsDone)
		copyLines(pr, r.emit)
	}()
	go func() {
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	r.setupCgroup(c)
	if err := writeRecord(r.dir, record{PID: c.pid, StartTime: startTimeOf(r.p.procDir, c.pid),
		Namespace: r.fn.namespace, Function: r.fn.name, Instance: r.instance}); err != nil {
		r.log.Warn("recording replica pid", "error", err)
	}
	return c, nil
}

func (r *replica) setupCgroup(c *running) {
	dir, err := r.p.cgroups.create(r.id, r.spec.limits)
	if err == nil {
		err = joinCgroup(dir, c.pid)
	}
	if err != nil {
		r.log.Warn("limits not applied", "error", err)
		return
	}
	c.cgroup = dir
}

// exitStatus describes how a process ended.
func exitStatus(err error) string {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return "exit status 0"
	case errors.As(err, &ee):
		return ee.ProcessState.String()
	}
	return err.Error()
}

func pathList(s string) []string {
	return filepath.SplitList(s)
}

func removeAllQuiet(dir string) {
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
}

// underTmp reports whether any of the paths is /tmp or below it.
func underTmp(paths ...string) bool {
	for _, p := range paths {
		if p == "/tmp" || strings.HasPrefix(p, "/tmp/") {
			return true
		}
	}
	return false
}
