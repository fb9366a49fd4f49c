package watchdog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"time"

	"github.com/gofaas/gofaas/pkg/api"
)

// errExecTimeout is the cancel cause of an invocation that ran past its
// exec timeout.
var errExecTimeout = errors.New("exec timeout")

// execContext bounds one invocation by exec_timeout (0: no bound).
func (w *Watchdog) execContext(r *http.Request, limit time.Duration) (context.Context, context.CancelFunc) {
	if limit <= 0 {
		return context.WithCancel(r.Context())
	}
	return context.WithTimeoutCause(r.Context(), limit, errExecTimeout)
}

// timedOut reports whether ctx ended by exec timeout.
func timedOut(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), errExecTimeout)
}

// writeTimeout answers 504 for an invocation that ran past its limit.
func writeTimeout(rw http.ResponseWriter, limit time.Duration) {
	rw.Header().Set(api.HeaderInternal, internalWatchdog)
	http.Error(rw, fmt.Sprintf("function timed out after %s", limit), http.StatusGatewayTimeout)
}

// runResult is the outcome of one buffered invocation.
type runResult struct {
	out      []byte
	err      error
	timedOut bool
	duration time.Duration
}

// runBuffered runs the function once with stdin as input and collects its
// stdout (and stderr when combine is set; else stderr goes to the log).
func (w *Watchdog) runBuffered(r *http.Request, env []string, stdin []byte, combine bool) runResult {
	ctx, cancel := w.execContext(r, w.cfg.ExecTimeout)
	defer cancel()
	start := time.Now()
	cmd := w.newCommand(ctx, env)
	cmd.Stdin = bytes.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout = &out
	if combine {
		cmd.Stderr = &out
	} else {
		lw := w.stderrWriter()
		defer lw.Close()
		cmd.Stderr = lw
	}
	err := w.runCmd(cmd)
	return runResult{out: out.Bytes(), err: err, timedOut: timedOut(ctx), duration: time.Since(start)}
}

// runCmd starts cmd, tracks it for a forced shutdown, and waits.
func (w *Watchdog) runCmd(cmd *exec.Cmd) error {
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	w.procs.add(cmd)
	defer w.procs.remove(cmd)
	return cmd.Wait()
}

// writeResult writes a buffered invocation's response: 504 on timeout,
// 500 "<error>\n<output>" on failure, else 200 with the output.
func (w *Watchdog) writeResult(rw http.ResponseWriter, r *http.Request, res runResult) {
	if w.cfg.WriteDebug {
		w.log.Info("function output", "path", r.URL.Path, "duration", res.duration, "err", res.err, "output", string(res.out))
	}
	rw.Header().Set(api.HeaderDuration, formatSeconds(res.duration))
	switch {
	case res.timedOut:
		w.log.Warn("function timed out", "path", r.URL.Path, "exec_timeout", w.cfg.ExecTimeout)
		writeTimeout(rw, w.cfg.ExecTimeout)
	case res.err != nil:
		w.log.Debug("function failed", "path", r.URL.Path, "err", res.err)
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rw.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(rw, res.err.Error()+"\n")
		_, _ = rw.Write(res.out)
	default:
		if ct := w.responseType(r); ct != "" {
			rw.Header().Set("Content-Type", ct)
		}
		rw.WriteHeader(http.StatusOK)
		_, _ = rw.Write(res.out)
	}
}

// responseType is content_type, or else the request's Content-Type.
func (w *Watchdog) responseType(r *http.Request) string {
	if w.cfg.ContentType != "" {
		return w.cfg.ContentType
	}
	return r.Header.Get("Content-Type")
}

// serveClassic is the classic watchdog: read the whole body, fork, write
// the body to stdin, answer with the output.
func (w *Watchdog) serveClassic(rw http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		http.Error(rw, "Method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(rw, fmt.Sprintf("reading request body: %s", err), http.StatusBadRequest)
		return
	}
	if w.cfg.MarshalRequest {
		if body, err = marshalRequest(r, body); err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
	}
	env := w.environ
	if w.cfg.CGIHeaders {
		env = cgiEnv(env, r, cgiClassic)
	}
	w.writeResult(rw, r, w.runBuffered(r, env, body, w.cfg.CombineOutput))
}

// marshalRequest is the classic watchdog's marshal_request stdin:
// {"header":{...},"body":{"raw":"<base64>"}}.
func marshalRequest(r *http.Request, body []byte) ([]byte, error) {
	type marshalBody struct {
		Raw []byte `json:"raw"`
	}
	b, err := json.Marshal(struct {
		Header http.Header `json:"header"`
		Body   marshalBody `json:"body"`
	}{r.Header, marshalBody{Raw: body}})
	if err != nil {
		return nil, fmt.Errorf("marshalling request: %w", err)
	}
	return b, nil
}

// serveSerializing is of-watchdog's serializing mode: buffer the body (up
// to Content-Length), fork, answer with the buffered stdout; stderr is
// logged.
func (w *Watchdog) serveSerializing(rw http.ResponseWriter, r *http.Request) {
	src := io.Reader(r.Body)
	if r.ContentLength >= 0 {
		src = io.LimitReader(r.Body, r.ContentLength)
	}
	body, err := io.ReadAll(src)
	if err != nil {
		http.Error(rw, fmt.Sprintf("reading request body: %s", err), http.StatusBadRequest)
		return
	}
	env := w.environ
	if w.cfg.CGIHeaders {
		env = cgiEnv(env, r, cgiOF)
	}
	w.writeResult(rw, r, w.runBuffered(r, env, body, false))
}

// serveStreaming is of-watchdog's streaming mode: the body streams to
// stdin and stdout streams back, with status 200 once output starts.
// A timeout before any output is a 504; after, the connection is cut.
func (w *Watchdog) serveStreaming(rw http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(rw)
	_ = rc.EnableFullDuplex()
	ctx, cancel := w.execContext(r, w.cfg.ExecTimeout)
	defer cancel()
	env := w.environ
	if w.cfg.CGIHeaders {
		env = cgiEnv(env, r, cgiOF)
	}
	cmd := w.newCommand(ctx, env)
	cmd.Stdin = r.Body
	out := &streamWriter{rw: rw, rc: rc, contentType: w.cfg.ContentType}
	cmd.Stdout = out
	lw := w.stderrWriter()
	defer lw.Close()
	cmd.Stderr = lw
	err := w.runCmd(cmd)
	switch {
	case timedOut(ctx) && !out.started:
		writeTimeout(rw, w.cfg.ExecTimeout)
	case cmd.Process == nil:
		w.log.Error("function did not start", "err", err)
		http.Error(rw, err.Error(), http.StatusInternalServerError)
	case timedOut(ctx):
		w.log.Warn("function timed out mid-stream; closing the connection", "path", r.URL.Path, "exec_timeout", w.cfg.ExecTimeout)
		panic(http.ErrAbortHandler)
	case err != nil:
		w.log.Warn("function failed", "path", r.URL.Path, "err", err)
		out.start()
	default:
		out.start()
	}
}

// streamWriter sends the function's stdout to the client as it comes.
type streamWriter struct {
	rw          http.ResponseWriter
	rc          *http.ResponseController
	contentType string
	started     bool
}

func (s *streamWriter) start() {
	if s.started {
		return
	}
	s.started = true
	if s.contentType != "" {
		s.rw.Header().Set("Content-Type", s.contentType)
	}
	s.rw.WriteHeader(http.StatusOK)
}

func (s *streamWriter) Write(b []byte) (int, error) {
	s.start()
	n, err := s.rw.Write(b)
	if err != nil {
		return n, fmt.Errorf("writing response: %w", err)
	}
	if err := s.rc.Flush(); err != nil {
		return n, fmt.Errorf("flushing response: %w", err)
	}
	return n, nil
}
