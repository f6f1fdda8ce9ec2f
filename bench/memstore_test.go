package bench

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rpkit/rpkit/session"
)

// storeSizes are row 5's store sizes. Under -benchtime=Nx (CI) the 10^6
// size is skipped.
var storeSizes = []struct {
	name string
	n    int
}{{"1e3", 1e3}, {"1e4", 1e4}, {"1e5", 1e5}, {"1e6", 1e6}}

const storeIssuer = "https://op.example"

// Row 5: the memory store at 10^3 … 10^6 sessions: Get, DeleteBySID and
// DeleteBySubject of one session per op (each deleted session is created
// again, timer stopped, every batch of ops, so the size holds), compared
// with itself at 10^3 (benchstat -col /n).
func BenchmarkMemoryStore(b *testing.B) {
	ctx := context.Background()
	clk := newClock()
	for _, size := range storeSizes {
		b.Run("n="+size.name, func(b *testing.B) {
			if quick() && size.n > 1e5 {
				b.Skip("10^6 sessions: skipped under -benchtime=Nx")
			}
			store := session.NewMemoryStore(session.MemoryConfig{Now: clk.Now})
			ids := populate(b, store, clk.Now(), size.n, 0, time.Hour)
			b.Run("op=Get", func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if _, err := store.Get(ctx, ids[i]); err != nil {
						b.Fatal(err)
					}
					if i++; i == len(ids) {
						i = 0
					}
				}
			})
			b.Run("op=DeleteBySID", func(b *testing.B) {
				deleteBench(b, store, ids, clk.Now(), func(i int) (int, error) {
					return store.DeleteBySID(ctx, storeIssuer, storeSID(i))
				})
			})
			b.Run("op=DeleteBySubject", func(b *testing.B) {
				deleteBench(b, store, ids, clk.Now(), func(i int) (int, error) {
					return store.DeleteBySubject(ctx, storeIssuer, storeSubject(i))
				})
			})
		})
	}
}

// deleteBench runs del on one stored session per op, in batches; after
// each batch it creates the batch's sessions again with the timer
// stopped, so the store keeps its size.
func deleteBench(b *testing.B, store *session.MemoryStore, ids []string, now time.Time, del func(i int) (int, error)) {
	n := len(ids)
	batch := min(max(n/10, 1), 1000)
	start := 0
	b.ReportAllocs()
	for i := 0; i < b.N; {
		todo := min(batch, b.N-i)
		for j := range todo {
			if got, err := del((start + j) % n); err != nil || got != 1 {
				b.Fatalf("deleted %d sessions (want 1): %v", got, err)
			}
		}
		i += todo
		b.StopTimer()
		for j := range todo {
			k := (start + j) % n
			s := storeSession(k, now.Add(time.Hour))
			if err := store.Create(context.Background(), s); err != nil {
				b.Fatal(err)
			}
			ids[k] = s.ID
		}
		start = (start + todo) % n
		b.StartTimer()
	}
}

func storeSubject(i int) string { return fmt.Sprintf("user-%07d", i) }
func storeSID(i int) string     { return fmt.Sprintf("sid-%07d", i) }

// storeTokens are the tokens every session of rows 5 shares: the store's
// costs, not the tokens', are measured.
var storeTokens = struct{ id, access, refresh, claims string }{
	id:      strings.Repeat("x", 1200),
	access:  strings.Repeat("a", 43),
	refresh: strings.Repeat("r", 43),
	claims:  `{"sub":"user","email":"user@example.com","name":"A User"}`,
}

// storeSession is session i of a store: its own subject and sid.
func storeSession(i int, expiry time.Time) *session.Session {
	return &session.Session{
		Issuer: storeIssuer, Subject: storeSubject(i), SID: storeSID(i),
		IDToken: storeTokens.id, Claims: []byte(storeTokens.claims),
		AccessToken: storeTokens.access, RefreshToken: storeTokens.refresh,
		AccessTokenExpiry: expiry, Created: expiry.Add(-time.Hour), LastSeen: expiry.Add(-time.Hour), Expiry: expiry,
	}
}

// populate creates sessions first … first+n-1 expiring ttl after now and
// returns their IDs.
func populate(b *testing.B, store *session.MemoryStore, now time.Time, n, first int, ttl time.Duration) []string {
	b.Helper()
	ids := make([]string, n)
	for i := range n {
		s := storeSession(first+i, now.Add(ttl))
		if err := store.Create(context.Background(), s); err != nil {
			b.Fatal(err)
		}
		ids[i] = s.ID
	}
	return ids
}

// Row 5, housekeeping: the worst wait of a request for the store's
// periodic expiry sweep. A store of n sessions, half of them expired, is
// served by two goroutines (both cores) alternating Get of a live session
// and, one op in four, Create of a new one, while the fake clock moves 5 ms
// per op of the first over 75 simulated seconds (so a sweep is due at
// once, and every later slice of one, however the store spreads it, falls
// in the window). The garbage collector is off during the window so that
// its pauses are not counted. Metrics:
//
//   - max-wait-ns: the longest single Get or Create, wall clock. On a
//     loaded 2-core host it includes the OS's preemptions (a few ms): read
//     it against n=1e3, where the sweep is negligible;
//   - max-op-cpu-ns: the most CPU time a single Get or Create used (the
//     thread's CPU clock, the goroutine locked to its thread), which the
//     OS's preemptions do not inflate: the housekeeping one request does,
//     and so, since the store has one lock, about the longest any other
//     request waits for it.
//
// ns/op is the window's wall time.
func BenchmarkMemoryStoreSweep(b *testing.B) {
	const opsPerWorker = 15000
	for _, size := range storeSizes {
		b.Run("n="+size.name, func(b *testing.B) {
			if quick() && size.n > 1e5 {
				b.Skip("10^6 sessions: skipped under -benchtime=Nx")
			}
			var worstWall, worstCPU time.Duration
			for range b.N {
				b.StopTimer()
				clk := newClock()
				store := session.NewMemoryStore(session.MemoryConfig{Now: clk.Now})
				populate(b, store, clk.Now(), size.n/2, 0, 5*time.Minute)
				live := populate(b, store, clk.Now(), size.n-size.n/2, size.n/2, 12*time.Hour)
				clk.Advance(6 * time.Minute) // half the sessions have expired, a sweep is due
				runtime.GC()
				gc := debug.SetGCPercent(-1)
				b.StartTimer()

				var wg sync.WaitGroup
				wall, cpu := make([]time.Duration, 2), make([]time.Duration, 2)
				for w := range 2 {
					wg.Go(func() {
						runtime.LockOSThread()
						defer runtime.UnlockOSThread()
						ctx := context.Background()
						for i := range opsPerWorker {
							start, startCPU := time.Now(), threadCPU()
							var err error
							if i%4 == 3 {
								err = store.Create(ctx, storeSession(size.n+w*opsPerWorker+i, clk.Now().Add(12*time.Hour)))
							} else {
								_, err = store.Get(ctx, live[(i*7919+w)%len(live)])
							}
							wall[w] = max(wall[w], time.Since(start))
							cpu[w] = max(cpu[w], threadCPU()-startCPU)
							if err != nil {
								b.Error(err)
								return
							}
							if w == 0 {
								clk.Advance(5 * time.Millisecond)
							}
						}
					})
				}
				wg.Wait()

				b.StopTimer()
				debug.SetGCPercent(gc)
				worstWall = max(worstWall, wall[0], wall[1])
				worstCPU = max(worstCPU, cpu[0], cpu[1])
				runtime.KeepAlive(store)
				b.StartTimer()
			}
			b.ReportMetric(float64(worstWall.Nanoseconds()), "max-wait-ns")
			b.ReportMetric(float64(worstCPU.Nanoseconds()), "max-op-cpu-ns")
		})
	}
}

// threadCPU is the CPU time of the calling thread.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
