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
	until := clk.Now().Add(time.Minute)
	claim := func(key string, until time.Time) bool {
		fresh, err := c.Claim(ctx, key, until)
		if err != nil {
			t.Fatal(err)
		}
		return fresh
	}
	if !claim("a", until) || claim("a", until) {
		t.Fatal("first claim must be fresh, the second not")
	}
	if !claim("b", until) {
		t.Fatal("another key is fresh")
	}
	clk.Advance(30 * time.Second)
	if claim("a", until) {
		t.Fatal("a key is held until its time")
	}
	clk.Advance(31 * time.Second)
	if !claim("a", clk.Now().Add(time.Minute)) {
		t.Fatal("a key whose time passed is fresh again")
	}
	if err := c.Release(ctx, "a"); err != nil || !claim("a", clk.Now().Add(time.Minute)) {
		t.Fatal("a released key is fresh again")
	}
	if !claim("past", clk.Now().Add(-time.Second)) || !claim("past", clk.Now().Add(-time.Second)) {
		t.Fatal("a claim whose time already passed holds nothing")
	}
}
