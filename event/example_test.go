package event_test

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/rpkit/rpkit/event"
)

// Count the sessions that ended, by reason, for a dashboard.
func ExampleFunc() {
	var backChannel, other atomic.Int64
	obs := event.Func(func(_ context.Context, e event.Event) {
		if e.Kind != event.SessionEnded {
			return
		}
		if e.Reason == event.ReasonBackChannel {
			backChannel.Add(int64(e.Count))
		} else {
			other.Add(int64(e.Count))
		}
	})
	// Set obs as rp.Config.Observer (every component then reports to it),
	// or as the Observer of one component's Config. Here, by hand:
	ctx := context.Background()
	event.Emit(ctx, obs, event.Event{Kind: event.SessionEnded, Reason: event.ReasonBackChannel, Count: 2})
	event.Emit(ctx, obs, event.Event{Kind: event.SessionEnded, Reason: event.ReasonRPLogout, Count: 1})
	fmt.Println(backChannel.Load(), other.Load())
	// Output: 2 1
}
