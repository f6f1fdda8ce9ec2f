package backchannel_test

import (
	"testing"
	"time"

	"github.com/rpkit/rpkit/backchannel"
	"github.com/rpkit/rpkit/internal/fakeclock"
)

func TestMemoryReplayCache(t *testing.T) {
	clk := fakeclock.New(time.Unix(1_800_000_000, 0))
	c := backchannel.NewMemoryReplayCache(clk.Now)
	ctx := t.Context()
	seen := func(key string) bool {
		t.Helper()
		ok, err := c.Seen(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	done := func(key string, until time.Time) {
		t.Helper()
		if err := c.Done(ctx, key, until); err != nil {
			t.Fatal(err)
		}
	}
	if seen("a") || seen("a") {
		t.Fatal("Seen alone records nothing")
	}
	done("a", clk.Now().Add(time.Minute))
	if !seen("a") || seen("b") {
		t.Fatal("Done records its key, and only it")
	}
	done("a", clk.Now().Add(time.Second)) // never shortened
	clk.Advance(30 * time.Second)
	if !seen("a") {
		t.Fatal("a key is held until its time")
	}
	clk.Advance(31 * time.Second)
	if seen("a") {
		t.Fatal("a key whose time passed is no longer seen")
	}
	done("past", clk.Now().Add(-time.Second))
	if seen("past") {
		t.Fatal("a Done whose time already passed holds nothing")
	}
}
