package watchdog

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// waitDelay bounds how long Wait waits for the function's output pipes after
// the process exits or is killed (a grandchild may still hold them).
const waitDelay = 2 * time.Second

// newCommand builds the function command. The child gets its own process
// group, so a kill reaches everything it started, and SIGKILL when the
// watchdog dies, so no orphan survives a kill -9 of the watchdog. When ctx
// ends the whole group is killed.
func (w *Watchdog) newCommand(ctx context.Context, env []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, w.program, w.args...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return killGroup(cmd) }
	cmd.WaitDelay = waitDelay
	return cmd
}

// resolveProgram looks fprocess's program up in PATH once, so forking per
// request skips the search; if it is not found now, each request reports it.
func (w *Watchdog) resolveProgram() {
	name, args := w.cfg.command()
	w.program, w.args = name, args
	if path, err := exec.LookPath(name); err == nil {
		w.program = path
	}
}

// killGroup sends SIGKILL to cmd's process group.
func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// signalGroup sends sig to cmd's process group.
func signalGroup(cmd *exec.Cmd, sig syscall.Signal) error {
	if cmd.Process == nil {
		return nil
	}
	return syscall.Kill(-cmd.Process.Pid, sig)
}

// lineWriter forwards a function's output stream to dst line by line,
// prefixing each line with the time and stream name when prefix_logs is on.
// Lines longer than log_buffer_size are split; with log_buffer_size -1 the
// bytes are forwarded as they come. Pipes sharing dst share mu.
type lineWriter struct {
	dst    io.Writer
	mu     *sync.Mutex
	name   string
	prefix bool
	size   int
	buf    []byte
}

// Write forwards every complete line in b and keeps the rest.
func (l *lineWriter) Write(b []byte) (int, error) {
	if l.size < 0 {
		l.emit(b, false)
		return len(b), nil
	}
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		seg := b
		if i >= 0 {
			seg = b[:i]
		}
		l.buf = append(l.buf, seg...)
		for len(l.buf) > l.size {
			l.emit(l.buf[:l.size], true)
			l.buf = append(l.buf[:0], l.buf[l.size:]...)
		}
		if i < 0 {
			break
		}
		l.emit(l.buf, true)
		l.buf = l.buf[:0]
		b = b[i+1:]
	}
	return n, nil
}

// Close forwards a last line that had no newline.
func (l *lineWriter) Close() error {
	if len(l.buf) > 0 {
		l.emit(l.buf, true)
		l.buf = l.buf[:0]
	}
	return nil
}

func (l *lineWriter) emit(line []byte, newline bool) {
	out := make([]byte, 0, len(line)+40)
	if l.prefix && newline {
		out = time.Now().AppendFormat(out, "2006/01/02 15:04:05 ")
		out = append(out, l.name...)
		out = append(out, ": "...)
	}
	out = append(out, line...)
	if newline {
		out = append(out, '\n')
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.dst.Write(out)
}

// stderrWriter returns a writer that logs a function's stderr.
func (w *Watchdog) stderrWriter() *lineWriter {
	return &lineWriter{dst: w.stderr, mu: &w.errMu, name: "stderr", prefix: w.cfg.PrefixLogs, size: w.cfg.LogBufferSize}
}

// stdoutWriter returns a writer that logs a function's stdout.
func (w *Watchdog) stdoutWriter() *lineWriter {
	return &lineWriter{dst: w.stdout, mu: &w.outMu, name: "stdout", prefix: w.cfg.PrefixLogs, size: w.cfg.LogBufferSize}
}
