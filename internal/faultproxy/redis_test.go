package faultproxy

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rpkit/rpkit/internal/redistest"
)

// TestLateRedisReplyRetriedSETNX demonstrates the fault the product must
// survive: with go-redis's default options (ReadTimeout 5 s in v9.22, 3 s
// in earlier releases; MaxRetries 3), a reply to SET NX that comes back late makes the client time out and
// retry the command, which already executed: the retry finds the key set
// and the caller sees redis.Nil ("not set") for a write that succeeded.
func TestLateRedisReplyRetriedSETNX(t *testing.T) {
	addr := redistest.Start(t)
	p := Start(t, addr)
	rdb := redis.NewClient(&redis.Options{Addr: p.Addr()}) // default options
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()

	// Connect first, so that the handshake's replies are not the ones held.
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	const delay = 5500 * time.Millisecond
	readTimeout := rdb.Options().ReadTimeout
	if readTimeout <= 0 || readTimeout >= delay {
		t.Fatalf("go-redis's default ReadTimeout is %s: the %s delay no longer outlasts it", readTimeout, delay)
	}
	p.DelayNextReply(delay)
	start := time.Now()
	err := rdb.SetArgs(ctx, "k", "v", redis.SetArgs{Mode: "NX"}).Err()
	elapsed := time.Since(start)
	if !errors.Is(err, redis.Nil) {
		t.Fatalf("SET k v NX through a late reply = %v, want redis.Nil (the retry found the first attempt's key)", err)
	}
	t.Logf("SET NX answered after %s: %v", elapsed, err)
	if elapsed < readTimeout {
		t.Errorf("SET returned after %s, before the client's %s read timeout", elapsed, readTimeout)
	}
	if s := p.Stats(); s.Delayed != 1 {
		t.Errorf("Stats = %+v, want one reply delayed", s)
	}

	// The first attempt executed: the key is set, and SET ran twice.
	if got, err := rdb.Get(ctx, "k").Result(); got != "v" || err != nil {
		t.Errorf("GET k = %q, %v; want \"v\"", got, err)
	}
	stats, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stats, "cmdstat_set:calls=2,") {
		t.Errorf("INFO commandstats: want SET called twice:\n%s", stats)
	}
}

// TestDroppedRedisReply shows DropNextReply against Redis: the command
// executes, the client's connection is cut before the reply, and go-redis
// retries on a new connection.
func TestDroppedRedisReply(t *testing.T) {
	addr := redistest.Start(t)
	p := Start(t, addr)
	rdb := redis.NewClient(&redis.Options{Addr: p.Addr()})
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	p.DropNextReply()
	n, err := rdb.Incr(ctx, "n").Result()
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("INCR n through a dropped reply = %d, want 2 (executed, dropped, retried)", n)
	}
	if s := p.Stats(); s.Dropped != 1 || s.Connections < 2 {
		t.Errorf("Stats = %+v, want one drop and a second connection", s)
	}

	// Refuse: Redis is down to the client, and back when refusal ends.
	p.Refuse(true)
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := rdb.Ping(short).Err(); err == nil {
		t.Error("PING succeeded while the proxy refuses connections")
	}
	p.Refuse(false)
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Errorf("PING after Refuse(false): %v", err)
	}
}
