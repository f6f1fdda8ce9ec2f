// Package flight runs at most one call per key at a time and shares its
// result with every caller that asks meanwhile (a context-aware
// singleflight). Each waiter keeps its own context: a waiter that gives up
// does not cancel the call for the others.
package flight

import (
	"context"
	"fmt"
	"runtime/debug"
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
// ctx.Err() if ctx ends first. A panic in fn is returned, to every waiter,
// as a [*PanicError] (fn runs on a goroutine of its own, where the panic
// would crash the program). The key appears in no error: callers may key
// calls by a credential, though a hash of it is better.
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
					c.err = &PanicError{Value: r, Stack: debug.Stack()}
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

// PanicError is the error of a call whose fn panicked: the panic's value
// and the panicking goroutine's stack. Its text holds both, for a log; it
// is not for the client of a server.
type PanicError struct {
	// Value is what fn passed to panic.
	Value any
	// Stack is the stack trace of the goroutine that panicked
	// (runtime/debug.Stack).
	Stack []byte
}

// Error reports the panic's value and its stack.
func (e *PanicError) Error() string {
	return fmt.Sprintf("flight: call panicked: %v\n%s", e.Value, e.Stack)
}
