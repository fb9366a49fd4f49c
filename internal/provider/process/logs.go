package process

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gofaas/gofaas/pkg/api"
)

const (
	// maxLineBytes caps one log line; longer output is split.
	maxLineBytes = 16 << 10
	// followBuffer is how many lines a slow follower may lag behind before
	// lines are dropped for it.
	followBuffer = 1024
)

// logSink is the on-disk log of one function: NDJSON api.LogMessage lines
// in <name>.ndjson, rotated to <name>.ndjson.1 at maxBytes. Followers get
// new lines through channels.
type logSink struct {
	path     string
	maxBytes int64
	now      func() time.Time

	mu     sync.Mutex
	f      *os.File
	size   int64
	closed bool
	subs   map[chan api.LogMessage]struct{}
}

func openLogSink(path string, maxBytes int64) (*logSink, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating log dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("reading log size: %w", err)
	}
	return &logSink{path: path, maxBytes: maxBytes, now: time.Now, f: f, size: st.Size(),
		subs: map[chan api.LogMessage]struct{}{}}, nil
}

// write appends one line; it is dropped once the sink is closed.
func (s *logSink) write(msg api.LogMessage) {
	line, err := json.Marshal(msg)
	if err != nil {
		return
	}
	line = append(line, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if s.size > 0 && s.size+int64(len(line)) > s.maxBytes {
		s.rotate()
	}
	if s.f != nil {
		n, _ := s.f.Write(line)
		s.size += int64(n)
	}
	for ch := range s.subs {
		select {
		case ch <- msg:
		default: // a follower that does not keep up loses lines
		}
	}
}

// rotate keeps the current file as .1 and starts a new one; s.mu is held.
func (s *logSink) rotate() {
	_ = s.f.Close()
	_ = os.Rename(s.path, s.path+".1")
	f, err := os.OpenFile(s.path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		s.f = nil
		return
	}
	s.f, s.size = f, 0
}

// snapshot opens the current files for reading, remembering their sizes so
// lines written later are not read twice, and subscribes when follow is set;
// both under the lock, so no line is lost or duplicated between them.
func (s *logSink) snapshot(follow bool) ([]io.Reader, []io.Closer, chan api.LogMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, nil, errors.New("log is closed")
	}
	var readers []io.Reader
	var closers []io.Closer
	for _, p := range []string{s.path + ".1", s.path} {
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			closeAll(closers)
			return nil, nil, nil, fmt.Errorf("opening log: %w", err)
		}
		st, err := f.Stat()
		if err != nil {
			_ = f.Close()
			closeAll(closers)
			return nil, nil, nil, fmt.Errorf("reading log size: %w", err)
		}
		readers = append(readers, io.LimitReader(f, st.Size()))
		closers = append(closers, f)
	}
	var sub chan api.LogMessage
	if follow {
		sub = make(chan api.LogMessage, followBuffer)
		s.subs[sub] = struct{}{}
	}
	return readers, closers, sub, nil
}

func (s *logSink) unsubscribe(ch chan api.LogMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.subs[ch]; ok {
		delete(s.subs, ch)
		close(ch)
	}
}

// close stops the sink and ends every follower; remove also deletes the
// files.
func (s *logSink) close(remove bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	if s.f != nil {
		_ = s.f.Close()
	}
	for ch := range s.subs {
		close(ch)
	}
	clear(s.subs)
	if remove {
		_ = os.Remove(s.path)
		_ = os.Remove(s.path + ".1")
	}
}

func closeAll(cs []io.Closer) {
	for _, c := range cs {
		_ = c.Close()
	}
}

// logFilter selects lines for a log request.
type logFilter struct {
	instance string
	since    *time.Time
}

func (f logFilter) match(m api.LogMessage) bool {
	if f.instance != "" && m.Instance != f.instance {
		return false
	}
	return f.since == nil || !m.Timestamp.Before(*f.since)
}

// history reads the matching lines of readers, keeping the last tail (all
// when tail <= 0). Lines that do not decode are skipped.
func history(readers []io.Reader, f logFilter, tail int) []api.LogMessage {
	var out []api.LogMessage
	for _, r := range readers {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 4*maxLineBytes)
		for sc.Scan() {
			var m api.LogMessage
			if json.Unmarshal(sc.Bytes(), &m) != nil || !f.match(m) {
				continue
			}
			out = append(out, m)
			if tail > 0 && len(out) > 2*tail {
				out = append(out[:0], out[len(out)-tail:]...)
			}
		}
	}
	if tail > 0 && len(out) > tail {
		out = out[len(out)-tail:]
	}
	return out
}

// stream sends the history and then, when sub is non-nil, followed lines,
// until ctx ends, stop is closed or sub is closed. It closes out.
func stream(ctx context.Context, stop <-chan struct{}, out chan<- api.LogMessage, hist []api.LogMessage, sub <-chan api.LogMessage, f logFilter) {
	defer close(out)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for _, m := range hist {
		select {
		case out <- m:
		case <-ctx.Done():
			return
		}
	}
	if sub == nil {
		return
	}
	for {
		select {
		case m, ok := <-sub:
			if !ok {
				return
			}
			if !f.match(m) {
				continue
			}
			select {
			case out <- m:
			case <-ctx.Done():
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// copyLines reads r until EOF and calls emit for every line, without its
// newline; lines longer than maxLineBytes are split.
func copyLines(r io.Reader, emit func(string)) {
	br := bufio.NewReaderSize(r, maxLineBytes)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			emit(string(bytes.TrimRight(line, "\r\n")))
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

// Logs streams a function's log lines: the stored ones matching req
// (instance, since, tail), then, with Follow, new lines until ctx ends or
// the function is removed.
func (p *Process) Logs(ctx context.Context, req api.LogRequest) (<-chan api.LogMessage, error) {
	req.Namespace = orDefault(req.Namespace)
	p.mu.Lock()
	fn, err := p.lookup(req.Name, req.Namespace)
	if err != nil {
		p.mu.Unlock()
		return nil, err
	}
	readers, closers, sub, err := fn.logs.snapshot(req.Follow)
	p.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("reading logs of %s: %w", fn.key, err)
	}
	f := logFilter{instance: req.Instance, since: req.Since}
	hist := history(readers, f, req.Tail)
	closeAll(closers)
	out := make(chan api.LogMessage)
	p.goOwned(func() {
		if sub != nil {
			defer fn.logs.unsubscribe(sub)
		}
		stream(ctx, p.done, out, hist, sub, f)
	})
	return out, nil
}
