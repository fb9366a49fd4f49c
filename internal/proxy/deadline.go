package proxy

import (
	"context"
	"sync"
	"time"
)

// deadlineContext is the context of one invocation: the request's context
// bounded by the invocation's deadline, as context.WithDeadline would
// make it, but with the timer made only when something uses the context
// (Done, Err or Value). Most resolvers answer without looking at their
// context, and the fast path bounds its upstream exchange with a
// connection deadline, so most invocations never pay for the timer and
// the registration with the parent context.
type deadlineContext struct {
	parent   context.Context
	deadline time.Time

	mu       sync.Mutex
	ctx      context.Context // made on first use
	cancel   context.CancelFunc
	released bool
}

var _ context.Context = (*deadlineContext)(nil)

func newDeadlineContext(parent context.Context, deadline time.Time) *deadlineContext {
	return &deadlineContext{parent: parent, deadline: deadline}
}

// bounded returns the context.WithDeadline this context stands for, making
// it on first use (canceled already once released).
func (c *deadlineContext) bounded() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil {
		c.ctx, c.cancel = context.WithDeadline(c.parent, c.deadline)
		if c.released {
			c.cancel()
		}
	}
	return c.ctx
}

// release cancels the context, as the CancelFunc of context.WithDeadline
// does; call it when the invocation is over.
func (c *deadlineContext) release() {
	c.mu.Lock()
	c.released = true
	cancel := c.cancel
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// Deadline is the earlier of the invocation's deadline and the parent's.
func (c *deadlineContext) Deadline() (time.Time, bool) {
	if d, ok := c.parent.Deadline(); ok && d.Before(c.deadline) {
		return d, true
	}
	return c.deadline, true
}

func (c *deadlineContext) Done() <-chan struct{} { return c.bounded().Done() }

func (c *deadlineContext) Err() error { return c.bounded().Err() }

// Value goes through the bounded context too: the context package finds
// the nearest cancelable ancestor by a Value lookup.
func (c *deadlineContext) Value(key any) any { return c.bounded().Value(key) }
