// Package eventtest records lifecycle events for tests.
package eventtest

import (
	"context"
	"sync"

	"github.com/rpkit/rpkit/event"
)

// Recorder is an event.Observer that keeps every event. It is safe for
// concurrent use.
type Recorder struct {
	mu     sync.Mutex
	events []event.Event
}

// Observe records e.
func (r *Recorder) Observe(_ context.Context, e event.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// Events returns the events recorded so far, oldest first.
func (r *Recorder) Events() []event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event.Event(nil), r.events...)
}

// Of returns the recorded events of kind k.
func (r *Recorder) Of(k event.Kind) []event.Event {
	var out []event.Event
	for _, e := range r.Events() {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// Kinds returns the kinds of the recorded events, except those in skip,
// oldest first.
func (r *Recorder) Kinds(skip ...event.Kind) []event.Kind {
	var out []event.Kind
next:
	for _, e := range r.Events() {
		for _, s := range skip {
			if e.Kind == s {
				continue next
			}
		}
		out = append(out, e.Kind)
	}
	return out
}

// Reset forgets the recorded events.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.events = nil
	r.mu.Unlock()
}
