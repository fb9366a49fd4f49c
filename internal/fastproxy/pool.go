package fastproxy

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"sync"
	"time"
)

// DialFunc opens a new connection to the upstream.
type DialFunc func(ctx context.Context) (net.Conn, error)

// Config tunes a Pool. The zero value uses the defaults.
type Config struct {
	// MaxIdle caps the idle connections kept (default DefaultMaxIdle).
	MaxIdle int
	// IdleTimeout drops connections idle for longer (default
	// DefaultIdleTimeout); keep it below the upstream's keep-alive timeout.
	IdleTimeout time.Duration
	// Buffers lends copy buffers; nil means a pool of the Pool's own.
	Buffers *BufferPool
}

// Pool holds keep-alive connections to one upstream. It is safe for
// concurrent use.
type Pool struct {
	dial    DialFunc
	maxIdle int
	idleFor time.Duration
	buffers *BufferPool

	mu     sync.Mutex
	idle   []*conn
	active int // connections handed out and not yet returned or closed
}

// conn is one keep-alive connection to the upstream.
type conn struct {
	c        net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	reused   bool
	lastUsed time.Time

	// The deadlines set on c (zero: none), so an exchange only changes
	// what differs from its own (see setDeadlines and Write).
	readDeadline, writeDeadline time.Time
	deadline                    time.Time // of the exchange under way
	sent                        int       // bytes written in the exchange

	head []byte // a relayed response's head, reused
}

// NewPool returns a pool whose connections come from dial.
func NewPool(dial DialFunc, cfg Config) *Pool {
	p := &Pool{dial: dial, maxIdle: cfg.MaxIdle, idleFor: cfg.IdleTimeout, buffers: cfg.Buffers}
	if p.maxIdle <= 0 {
		p.maxIdle = DefaultMaxIdle
	}
	if p.idleFor <= 0 {
		p.idleFor = DefaultIdleTimeout
	}
	if p.buffers == nil {
		p.buffers = NewBufferPool()
	}
	return p
}

// get returns an idle connection, or dials one bounded by ctx and, if not
// zero, deadline.
func (p *Pool) get(ctx context.Context, deadline time.Time) (*conn, error) {
	now := time.Now()
	p.mu.Lock()
	for len(p.idle) > 0 {
		uc := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if now.Sub(uc.lastUsed) < p.idleFor {
			p.active++
			p.mu.Unlock()
			uc.reused = true
			return uc, nil
		}
		_ = uc.c.Close()
	}
	p.active++
	p.mu.Unlock()
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	c, err := p.dial(ctx)
	if err != nil {
		p.release()
		return nil, fmt.Errorf("dialing upstream: %w", err)
	}
	uc := &conn{c: c, br: bufio.NewReaderSize(c, 16<<10)}
	uc.bw = bufio.NewWriterSize(uc, 16<<10)
	return uc, nil
}

// put returns a healthy connection to the idle list.
func (p *Pool) put(uc *conn) {
	uc.lastUsed = time.Now()
	p.mu.Lock()
	p.active--
	if len(p.idle) < p.maxIdle {
		p.idle = append(p.idle, uc)
		uc = nil
	}
	p.mu.Unlock()
	if uc != nil {
		_ = uc.c.Close()
	}
}

// discard closes a connection that is not coming back.
func (p *Pool) discard(uc *conn) {
	_ = uc.c.Close()
	p.release()
}

func (p *Pool) release() {
	p.mu.Lock()
	p.active--
	p.mu.Unlock()
}

// CloseIdle closes the idle connections.
func (p *Pool) CloseIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, uc := range idle {
		_ = uc.c.Close()
	}
}

// Prune closes the connections idle for longer than the idle timeout and
// reports whether the pool is now unused: no idle connection and none in
// use.
func (p *Pool) Prune(now time.Time) bool {
	p.mu.Lock()
	var stale []*conn
	keep := p.idle[:0]
	for _, uc := range p.idle {
		if now.Sub(uc.lastUsed) < p.idleFor {
			keep = append(keep, uc)
		} else {
			stale = append(stale, uc)
		}
	}
	clear(p.idle[len(keep):])
	p.idle = keep
	unused := len(keep) == 0 && p.active == 0
	p.mu.Unlock()
	for _, uc := range stale {
		_ = uc.c.Close()
	}
	return unused
}

// Idle reports how many idle connections the pool holds.
func (p *Pool) Idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}
