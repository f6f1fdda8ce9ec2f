// Package flight runs at most one call per key at a time and shares its
// result with every caller that asks meanwhile (a context-aware
// singleflight). Each waiter keeps its own context: a waiter that gives up
// does not cancel the call for the others.
package flight

import (
	"context"
	"fmt"
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
// ctx.Err() if ctx ends first. A panic in fn is returned as an error (it
// runs on a goroutine of its own, where it would crash the program).
func (g *Group[T]) Do(ctx context.Context, key string, fn func() (T, error)) (T, error) {
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
			defer func() {
				if r := recover(); r != nil {
					c.err = fmt.Errorf("flight: %s panicked: %v", key, r)
				}
				g.mu.Lock()
				delete(g.calls, key)
				g.mu.Unlock()
			}()
			c.val, c.err = fn()
		}()
	}
	g.mu.Unlock()
	select {
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	case <-c.done:
		return c.val, c.err
	}
}
