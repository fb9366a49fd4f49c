package rest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gofaas/gofaas/internal/provider"
	"github.com/gofaas/gofaas/pkg/api"
)

const (
	// DefaultStatusTTL is how long Resolve trusts a replica count read
	// from the remote when ClientConfig.StatusTTL is 0.
	DefaultStatusTTL = time.Second
	// maxNoReplicaTTL bounds how long a count with no available replica is
	// trusted, so a replica that becomes ready is used soon.
	maxNoReplicaTTL = 100 * time.Millisecond
	// pruneAbove is the cache size past which expired entries are dropped.
	pruneAbove = 1024
)

// fnKey names a function in the cache without building a string per call.
type fnKey struct{ name, namespace string }

// replicaCount is what Resolve needs of a function's status.
type replicaCount struct{ desired, available uint64 }

func countOf(st api.FunctionStatus) replicaCount {
	return replicaCount{desired: st.Replicas, available: st.AvailableReplicas}
}

// replicaCache remembers, for a short while, each function's replica count
// as the remote last reported it. Resolve reads it so that a function with
// no available replica gives provider.ErrNoReplicas (which the gateway's
// scale from zero acts on) without a round trip per invocation. Every
// status the client reads refreshes it; every change it makes (deploy,
// update, remove, scale) drops the function's entry.
type replicaCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[fnKey]*cacheEntry
}

// cacheEntry is one function's count; guarded by replicaCache.mu.
type cacheEntry struct {
	count replicaCount
	at    time.Time  // when count was read; zero before the first read ends
	read  *cacheRead // the read under way, if any
}

// cacheRead is one GET of a function's status that other callers may wait
// on; count and err are set before done is closed.
type cacheRead struct {
	done  chan struct{}
	count replicaCount
	err   error
}

func newReplicaCache(ttl time.Duration) *replicaCache {
	if ttl <= 0 {
		ttl = DefaultStatusTTL
	}
	return &replicaCache{ttl: ttl, m: map[fnKey]*cacheEntry{}}
}

// fresh reports whether e's count may be used at now without a read.
func (c *replicaCache) fresh(e *cacheEntry, now time.Time) bool {
	if e.at.IsZero() {
		return false
	}
	ttl := c.ttl
	if e.count.available == 0 {
		ttl = min(ttl, maxNoReplicaTTL)
	}
	return now.Sub(e.at) < ttl
}

// get returns k's replica count: the cached one while it is fresh (or
// while another caller refreshes a count that had replicas available),
// else the answer of read, shared with concurrent callers.
func (c *replicaCache) get(ctx context.Context, k fnKey, read func(context.Context) (replicaCount, error)) (replicaCount, error) {
	for {
		c.mu.Lock()
		e := c.m[k]
		switch {
		case e != nil && c.fresh(e, time.Now()):
			n := e.count
			c.mu.Unlock()
			return n, nil
		case e != nil && e.read != nil && e.count.available > 0:
			n := e.count // stale, but it served a moment ago
			c.mu.Unlock()
			return n, nil
		case e != nil && e.read != nil:
			r := e.read
			c.mu.Unlock()
			n, err, retry := c.await(ctx, r)
			if !retry {
				return n, err
			}
			continue
		}
		if e == nil {
			e = &cacheEntry{}
			c.m[k] = e
		}
		r := &cacheRead{done: make(chan struct{})}
		e.read = r
		c.mu.Unlock()
		return c.finish(ctx, k, e, r, read)
	}
}

// await waits for another caller's read. retry is true when that read
// ended with its own caller's context while ctx still runs.
func (c *replicaCache) await(ctx context.Context, r *cacheRead) (n replicaCount, err error, retry bool) {
	select {
	case <-r.done:
	case <-ctx.Done():
		return replicaCount{}, ctx.Err(), false
	}
	abandoned := errors.Is(r.err, context.Canceled) || errors.Is(r.err, context.DeadlineExceeded)
	return r.count, r.err, abandoned && ctx.Err() == nil
}

// finish runs read for e and publishes its answer. A function the remote
// does not know is dropped rather than remembered; an entry dropped while
// the read ran (by a scale, say) is not brought back.
func (c *replicaCache) finish(ctx context.Context, k fnKey, e *cacheEntry, r *cacheRead, read func(context.Context) (replicaCount, error)) (replicaCount, error) {
	r.count, r.err = read(ctx)
	c.mu.Lock()
	e.read = nil
	switch {
	case c.m[k] != e:
	case r.err == nil:
		e.count, e.at = r.count, time.Now()
	case e.at.IsZero():
		delete(c.m, k)
	}
	c.mu.Unlock()
	close(r.done)
	return r.count, r.err
}

// put records a count read elsewhere (Function, Functions).
func (c *replicaCache) put(k fnKey, n replicaCount) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[k]
	if e == nil {
		c.pruneLocked(now)
		e = &cacheEntry{}
		c.m[k] = e
	}
	e.count, e.at = n, now
}

// drop forgets k, after a change that makes its count out of date.
func (c *replicaCache) drop(k fnKey) {
	c.mu.Lock()
	delete(c.m, k)
	c.mu.Unlock()
}

// pruneLocked drops expired entries once the cache is large, so functions
// removed behind the client's back are not kept for ever.
func (c *replicaCache) pruneLocked(now time.Time) {
	if len(c.m) < pruneAbove {
		return
	}
	for k, e := range c.m {
		if e.read == nil && !c.fresh(e, now) {
			delete(c.m, k)
		}
	}
}

// replicas returns a function's replica count through the cache.
func (c *Client) replicas(ctx context.Context, name, namespace string) (replicaCount, error) {
	return c.cache.get(ctx, fnKey{name, namespace}, func(ctx context.Context) (replicaCount, error) {
		st, err := c.status(ctx, name, namespace, false)
		if err != nil {
			return replicaCount{}, fmt.Errorf("reading function %s: %w", api.JoinName(name, namespace), err)
		}
		return countOf(st), nil
	})
}

// noReplicas is Resolve's answer for a function with none available.
func noReplicas(name, namespace string, n replicaCount) error {
	return fmt.Errorf("%w: function %s has %d desired and no available replica",
		provider.ErrNoReplicas, api.JoinName(name, namespace), n.desired)
}
