package backchannel

import (
	"context"
	"sync"
	"time"
)

// MemoryReplayCache is a [ReplayCache] for one process. Expired keys are
// swept as new ones arrive. It is safe for concurrent use.
type MemoryReplayCache struct {
	now func() time.Time

	mu        sync.Mutex
	seen      map[string]time.Time // key → until
	lastSweep time.Time
}

// NewMemoryReplayCache returns an empty cache; now is its clock (nil:
// time.Now).
func NewMemoryReplayCache(now func() time.Time) *MemoryReplayCache {
	if now == nil {
		now = time.Now
	}
	return &MemoryReplayCache{now: now, seen: make(map[string]time.Time)}
}

// Seen reports whether Done recorded key and its until has not passed.
func (c *MemoryReplayCache) Seen(_ context.Context, key string) (bool, error) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	u, ok := c.seen[key]
	return ok && now.Before(u), nil
}

// Done records key until until (never shortening an earlier record).
func (c *MemoryReplayCache) Done(_ context.Context, key string, until time.Time) error {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Sub(c.lastSweep) > time.Minute {
		for k, u := range c.seen {
			if !now.Before(u) {
				delete(c.seen, k)
			}
		}
		c.lastSweep = now
	}
	if now.Before(until) && c.seen[key].Before(until) {
		c.seen[key] = until
	}
	return nil
}
