package watchdog

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gofaas/gofaas/internal/fastproxy"
	"github.com/gofaas/gofaas/pkg/api"
)

// The upstream's port is probed at start after 1 ms, then at doubling
// intervals up to dialPollMax: a fast upstream is found within a
// millisecond or two (cold starts), a slow one costs few dials.
const (
	dialPollMin = time.Millisecond
	dialPollMax = 20 * time.Millisecond
)

// upstream is http mode: one long-running function process (fprocess)
// serving HTTP on upstream_url, and a reverse proxy in front of it.
type upstream struct {
	w        *Watchdog
	target   *url.URL
	dialAddr string
	proxy    *httputil.ReverseProxy
	pool     *fastproxy.Pool
	buffers  *fastproxy.BufferPool
	// pathPrefix is upstream_url's path without its trailing slash.
	pathPrefix string

	cmd      *exec.Cmd
	stopping atomic.Bool
	exited   chan struct{} // closed when the process has exited
	exitErr  error         // valid once exited is closed
}

func newUpstream(w *Watchdog) (*upstream, error) {
	target, err := url.Parse(w.cfg.UpstreamURL)
	if err != nil {
		return nil, fmt.Errorf("parsing upstream_url: %w", err)
	}
	addr, err := upstreamDialAddr(w.cfg.UpstreamURL)
	if err != nil {
		return nil, err
	}
	buffers := fastproxy.NewBufferPool()
	u := &upstream{w: w, target: target, dialAddr: addr, exited: make(chan struct{}),
		pool: newPool(addr, buffers), buffers: buffers, pathPrefix: strings.TrimSuffix(target.EscapedPath(), "/")}
	u.proxy = &httputil.ReverseProxy{
		Rewrite:       u.rewrite,
		Transport:     newTransport(),
		FlushInterval: -1,
		BufferPool:    u.buffers,
		ErrorHandler:  u.proxyError,
		ErrorLog:      slog.NewLogLogger(w.log.Handler(), slog.LevelDebug),
	}
	return u, nil
}

func newTransport() *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:         d.DialContext,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
}

// start runs fprocess and waits until the upstream accepts TCP connections.
// It reports false, without error, when ctx ends or the process exits first.
func (u *upstream) start(ctx context.Context) (bool, error) {
	name, args := u.w.cfg.command()
	cmd := exec.Command(name, args...)
	cmd.Env = u.w.environ
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, stderr := u.w.stdoutWriter(), u.w.stderrWriter()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = waitDelay
	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("starting upstream %s: %w", name, err)
	}
	u.cmd = cmd
	u.w.log.Info("upstream started", "pid", cmd.Process.Pid, "fprocess", u.w.cfg.FProcess)
	go func() {
		u.exitErr = cmd.Wait()
		_ = stdout.Close()
		_ = stderr.Close()
		u.w.serving.Store(false)
		level := slog.LevelError
		if u.stopping.Load() {
			level = slog.LevelInfo
		}
		u.w.log.Log(context.Background(), level, "upstream exited", "pid", cmd.Process.Pid, "status", cmd.ProcessState.String())
		close(u.exited)
	}()
	return u.waitAccepting(ctx), nil
}

// waitAccepting polls the upstream's port until a connect succeeds; false
// when ctx ends or the process exits first.
func (u *upstream) waitAccepting(ctx context.Context) bool {
	start := time.Now()
	var d net.Dialer
	wait := dialPollMin
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		c, err := d.DialContext(dctx, "tcp", u.dialAddr)
		cancel()
		if err == nil {
			_ = c.Close()
			u.w.log.Info("upstream accepting connections", "addr", u.dialAddr, "after", time.Since(start))
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-u.exited:
			return false
		case <-t.C:
			wait = min(2*wait, dialPollMax)
			t.Reset(wait)
		}
	}
}

// stop sends SIGTERM to the upstream's process group, and SIGKILL if it
// has not exited within grace.
func (u *upstream) stop(grace time.Duration) {
	u.pool.CloseIdle()
	if u.cmd == nil {
		return
	}
	select {
	case <-u.exited:
		return
	default:
	}
	u.stopping.Store(true)
	_ = signalGroup(u.cmd, syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-u.exited:
	case <-t.C:
		u.w.log.Warn("upstream ignored SIGTERM; killing it", "grace", grace)
		_ = killGroup(u.cmd)
		<-u.exited
	}
}

// ServeHTTP proxies one request, bounded by exec_timeout or a smaller
// X-Timeout header. Requests that arrive before the upstream is ready wait
// for it within that bound.
func (u *upstream) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	limit := u.timeout(r)
	if fastproxy.Eligible(r) && u.isReady() {
		// The fast path bounds the exchange with a connection deadline
		// rather than a timer context per request.
		var deadline time.Time
		if limit > 0 {
			deadline = time.Now().Add(limit)
		}
		u.serveFast(rw, r, deadline, limit)
		return
	}
	if limit > 0 {
		ctx, cancel := context.WithTimeoutCause(r.Context(), limit, errExecTimeout)
		defer cancel()
		r = r.WithContext(ctx)
	}
	if !u.awaitReady(rw, r, limit) {
		return
	}
	if u.w.cfg.BufferHTTP && r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody {
		if !bufferBody(rw, r) {
			return
		}
	}
	if fastproxy.Eligible(r) {
		u.serveFast(rw, r, time.Time{}, limit) // r's context carries the limit
		return
	}
	u.proxy.ServeHTTP(rw, r)
}

// isReady reports, without waiting, whether the upstream is ready.
func (u *upstream) isReady() bool {
	select {
	case <-u.w.ready:
		return true
	default:
		return false
	}
}

func (u *upstream) timeout(r *http.Request) time.Duration {
	return u.timeoutFor(r.Header.Get(api.HeaderTimeout))
}

// timeoutFor is exec_timeout, or the X-Timeout value xTimeout when smaller.
func (u *upstream) timeoutFor(xTimeout string) time.Duration {
	limit := u.w.cfg.ExecTimeout
	if v := xTimeout; v != "" {
		if d, err := ParseDuration(v); err == nil && d > 0 && (limit == 0 || d < limit) {
			limit = d
		}
	}
	return limit
}

func (u *upstream) awaitReady(rw http.ResponseWriter, r *http.Request, limit time.Duration) bool {
	if u.isReady() {
		return true
	}
	select {
	case <-u.w.ready:
		return true
	case <-u.exited:
		u.fail(rw, http.StatusBadGateway, "upstream process exited")
	case <-r.Context().Done():
		if timedOut(r.Context()) {
			writeTimeout(rw, limit)
		}
	}
	return false
}

// bufferBody reads the whole body so it is sent with a Content-Length
// (buffer_http), for upstreams that cannot read chunked bodies.
func bufferBody(rw http.ResponseWriter, r *http.Request) bool {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(rw, fmt.Sprintf("reading request body: %s", err), http.StatusBadRequest)
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	r.TransferEncoding = nil
	return true
}

// rewrite sends the request to upstream_url + the request URI, keeping the
// method, headers (X-Forwarded-* included) and Host.
func (u *upstream) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(u.target)
	pr.Out.Host = pr.In.Host
	for _, h := range [...]string{api.HeaderForwardedFor, api.HeaderForwardedHost, "X-Forwarded-Proto"} {
		if v, ok := pr.In.Header[h]; ok {
			pr.Out.Header[h] = v
		}
	}
}

// proxyError maps a failed proxy attempt: 504 past the deadline, 502 when
// the upstream cannot be reached or drops the connection.
func (u *upstream) proxyError(rw http.ResponseWriter, r *http.Request, err error) {
	ctx := r.Context()
	switch {
	case timedOut(ctx):
		u.w.log.Warn("function timed out", "path", r.URL.Path)
		writeTimeout(rw, u.timeout(r))
	case ctx.Err() != nil:
		u.w.log.Debug("client went away", "path", r.URL.Path, "err", err)
		rw.WriteHeader(http.StatusBadGateway)
	default:
		u.w.log.Warn("upstream request failed", "path", r.URL.Path, "err", err)
		u.fail(rw, http.StatusBadGateway, fmt.Sprintf("cannot reach the function's upstream %s: %s", u.dialAddr, err))
	}
}

func (u *upstream) fail(rw http.ResponseWriter, code int, msg string) {
	rw.Header().Set(api.HeaderInternal, internalWatchdog)
	http.Error(rw, msg, code)
}
