package proxy

import (
	"context"
	"errors"
	"testing"
	"time"
)

type ctxKey struct{}

func TestDeadlineContext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      time.Duration // deadline from now
		cancel  bool          // cancel the parent
		release bool          // release before use
		wantErr error
	}{
		{"deadline passes", 20 * time.Millisecond, false, false, context.DeadlineExceeded},
		{"parent canceled", time.Hour, true, false, context.Canceled},
		{"released", time.Hour, false, true, context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			parent, cancel := context.WithCancel(context.WithValue(t.Context(), ctxKey{}, "v"))
			defer cancel()
			dc := newDeadlineContext(parent, time.Now().Add(tc.in))
			defer dc.release()
			if tc.cancel {
				cancel()
			}
			if tc.release {
				dc.release()
			}
			select {
			case <-dc.Done():
			case <-time.After(10 * time.Second):
				t.Fatal("Done not closed")
			}
			if err := dc.Err(); !errors.Is(err, tc.wantErr) {
				t.Errorf("Err = %v, want %v", err, tc.wantErr)
			}
			if v := dc.Value(ctxKey{}); v != "v" {
				t.Errorf("Value = %v, want the parent's", v)
			}
		})
	}
}

func TestDeadlineContextLazy(t *testing.T) {
	t.Parallel()
	want := time.Now().Add(time.Hour)
	dc := newDeadlineContext(t.Context(), want)
	if d, ok := dc.Deadline(); !ok || !d.Equal(want) {
		t.Errorf("Deadline = %v %v, want %v", d, ok, want)
	}
	dc.release()
	if dc.ctx != nil {
		t.Error("the timer context was made though nothing waited on the context")
	}
	// A parent with an earlier deadline wins, as with context.WithDeadline.
	early, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	pd, _ := early.Deadline()
	if d, _ := newDeadlineContext(early, want).Deadline(); !d.Equal(pd) {
		t.Errorf("Deadline = %v, want the parent's %v", d, pd)
	}
	// Contexts derived from it are canceled with it, without a goroutine
	// of the context package watching (the derived context finds the
	// timer context through Value).
	dc = newDeadlineContext(t.Context(), want)
	child, cancelChild := context.WithCancel(dc)
	defer cancelChild()
	dc.release()
	select {
	case <-child.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("child not canceled with its parent")
	}
}
