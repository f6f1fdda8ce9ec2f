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

// Claim reports whether key is new (or its previous claim has lapsed), and
// holds it until then.
func (c *MemoryReplayCache) Claim(_ context.Context, key string, until time.Time) (bool, error) {
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
	if u, ok := c.seen[key]; ok && now.Before(u) {
		return false, nil
	}
	if now.Before(until) {
		c.seen[key] = until
	}
	return true, nil
}

// Release forgets key.
func (c *MemoryReplayCache) Release(_ context.Context, key string) error {
	c.mu.Lock()
	delete(c.seen, key)
	c.mu.Unlock()
	return nil
}
