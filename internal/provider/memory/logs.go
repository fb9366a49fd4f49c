package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/gofaas/gofaas/pkg/api"
)

// follower is one Logs call with Follow set; AppendLog queues matching
// lines on it. Its fields are guarded by Memory.mu.
type follower struct {
	req     api.LogRequest
	pending []api.LogMessage
	wake    chan struct{} // capacity 1
}

// AppendLog adds a line to the log history and to every matching follower.
// An empty Timestamp is set to now.
func (m *Memory) AppendLog(msg api.LogMessage) {
	if msg.Timestamp.IsZero() {
		msg.Timestamp = time.Now().UTC()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.logs = append(m.logs, msg)
	if len(m.logs) > maxLogLines {
		m.logs = append(m.logs[:0], m.logs[len(m.logs)-maxLogLines:]...)
	}
	for f := range m.followers {
		if matches(f.req, msg) {
			f.pending = append(f.pending, msg)
			select {
			case f.wake <- struct{}{}:
			default:
			}
		}
	}
}

func matches(req api.LogRequest, msg api.LogMessage) bool {
	return msg.Name == req.Name && msg.Namespace == req.Namespace &&
		(req.Instance == "" || req.Instance == msg.Instance) &&
		(req.Since == nil || !msg.Timestamp.Before(*req.Since))
}

// Logs sends the matching history (the last req.Tail lines when Tail > 0)
// and, with Follow, every new line until ctx ends. The function must exist.
func (m *Memory) Logs(ctx context.Context, req api.LogRequest) (<-chan api.LogMessage, error) {
	history, f, err := m.startLogs(req)
	if err != nil {
		return nil, err
	}
	out := make(chan api.LogMessage)
	go m.streamLogs(ctx, out, history, f)
	return out, nil
}

// startLogs validates req, copies the matching history and registers a
// follower when req.Follow is set, all under one lock so no line is missed.
func (m *Memory) startLogs(req api.LogRequest) ([]api.LogMessage, *follower, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.function(req.Name, req.Namespace); err != nil {
		return nil, nil, fmt.Errorf("logs: %w", err)
	}
	var history []api.LogMessage
	for _, msg := range m.logs {
		if matches(req, msg) {
			history = append(history, msg)
		}
	}
	if req.Tail > 0 && len(history) > req.Tail {
		history = history[len(history)-req.Tail:]
	}
	if !req.Follow {
		return history, nil, nil
	}
	f := &follower{req: req, wake: make(chan struct{}, 1)}
	m.followers[f] = struct{}{}
	return history, f, nil
}

// streamLogs owns out: it closes it when the history is sent (no follow) or
// when ctx ends.
func (m *Memory) streamLogs(ctx context.Context, out chan<- api.LogMessage, history []api.LogMessage, f *follower) {
	defer close(out)
	if f != nil {
		defer m.unfollow(f)
	}
	if !send(ctx, out, history) || f == nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
		}
		m.mu.Lock()
		batch := f.pending
		f.pending = nil
		m.mu.Unlock()
		if !send(ctx, out, batch) {
			return
		}
	}
}

func send(ctx context.Context, out chan<- api.LogMessage, msgs []api.LogMessage) bool {
	for _, msg := range msgs {
		select {
		case out <- msg:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

func (m *Memory) unfollow(f *follower) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.followers, f)
}

// followerCount reports how many Logs calls are following, for tests.
func (m *Memory) followerCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.followers)
}
