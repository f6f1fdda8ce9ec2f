// Package flight runs at most one call per key at a time and shares its
// result with every caller that asks meanwhile (a context-aware
// singleflight). Each waiter keeps its own context: a waiter that gives up
// does not cancel the call for the others.
package flight

import (
	"context"
	"sync"
)

// Group runs calls by key. The zero value is ready to use.
type Group[T any] struct {
	mu    sync.Mutex
	calls map[string]*call[T]
}

type call[T any] struct {
	done chan struct{}
	val  T
	err  error
}

// Do runs fn for key unless a call for key is already running, in which
// case it waits for that call's result. fn runs in its own goroutine and is
// not cancelled when ctx is: give it a context of its own. Do returns
// ctx.Err() if ctx ends first. shared reports whether the result came from
// another caller's call.
func (g *Group[T]) Do(ctx context.Context, key string, fn func() (T, error)) (v T, shared bool, err error) {
	g.mu.Lock()
	c, ok := g.calls[key]
	if !ok {
		if g.calls == nil {
			g.calls = make(map[string]*call[T])
		}
		c = &call[T]{done: make(chan struct{})}
		g.calls[key] = c
		go func() {
			defer close(c.done)
			c.val, c.err = fn()
			g.mu.Lock()
			delete(g.calls, key)
			g.mu.Unlock()
		}()
	}
	g.mu.Unlock()
	select {
	case <-ctx.Done():
		var zero T
		return zero, ok, ctx.Err()
	case <-c.done:
		return c.val, ok, c.err
	}
}
