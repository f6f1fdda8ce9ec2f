package session_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpkit/rpkit/session"
)

// The memory store's own benchmarks, at 10³ to 10⁶ sessions. The 10⁶
// sizes are skipped with -short. Comparisons with other libraries live in
// the nested module bench/.
//
//	go test ./session -run '^$' -bench MemoryStore -count 6 | benchstat -

// benchSizes are the store sizes of the scaling benchmarks.
var benchSizes = []int{1_000, 10_000, 100_000, 1_000_000}

const benchIssuer = "https://op.example.com/realms/main"

// Tokens shared by every benchmark session: the store keeps the caller's
// strings without copying them, so sharing them leaves only what the store
// adds in the bytes-per-session count.
var (
	benchIDToken      = "eyJ" + strings.Repeat("i", 1021)
	benchAccessToken  = "eyJ" + strings.Repeat("a", 893)
	benchRefreshToken = strings.Repeat("r", 512)
)

// benchClaims returns ID token claims of a typical size (about 400
// bytes) for subject and sid.
func benchClaims(subject, sid string, iat int64) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"iss":%q,"sub":%q,"aud":"rpkit-webapp","exp":%d,"iat":%d,"auth_time":%d,`+
		`"nonce":"n-0S6_WzA2Mj","sid":%q,"acr":"urn:mace:incommon:iap:silver","amr":["pwd","mfa"],`+
		`"email":"jane.doe@example.com","email_verified":true,"name":"Jane Doe","given_name":"Jane",`+
		`"family_name":"Doe","preferred_username":"jdoe","locale":"en-GB","at_hash":"77QmUPtjPfzWtF2AnpK9RQ"}`,
		benchIssuer, subject, iat+3600, iat, iat, sid))
}

// benchSession returns session i, which expires at expiry. Its issuer,
// subject and sid are strings of their own, as a login decodes them from
// its ID token; sessions 2k and 2k+1 share a subject.
func benchSession(i int, now, expiry time.Time) *session.Session {
	sub, sid := benchSubject(i), benchSID(i)
	return &session.Session{
		Issuer:            strings.Clone(benchIssuer),
		Subject:           sub,
		SID:               sid,
		IDToken:           benchIDToken,
		Claims:            benchClaims(sub, sid, now.Unix()),
		AccessToken:       benchAccessToken,
		RefreshToken:      benchRefreshToken,
		AccessTokenExpiry: now.Add(5 * time.Minute),
		Created:           now,
		LastSeen:          now,
		Expiry:            expiry,
	}
}

// offsetClock is the real clock plus an offset that a benchmark moves.
type offsetClock struct{ offset atomic.Int64 }

func (c *offsetClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *offsetClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// benchStore is a store filled with n sessions that expire in an hour.
type benchStore struct {
	st    *session.MemoryStore
	clock *offsetClock
	ids   []string // session i's ID, or "" once deleted
	next  int      // the next session number
}

func newBenchStore(b *testing.B, n int) *benchStore {
	b.Helper()
	if n >= 1e6 && testing.Short() {
		b.Skip("10⁶ sessions: skipped with -short")
	}
	f := &benchStore{clock: new(offsetClock), ids: make([]string, n)}
	f.st = session.NewMemoryStore(session.MemoryConfig{Now: f.clock.Now})
	for i := range n {
		f.ids[i] = f.create(b)
	}
	runtime.GC()
	return f
}

// create adds the next session and returns its ID.
func (f *benchStore) create(b *testing.B) string {
	now := f.clock.Now()
	s := benchSession(f.next, now, now.Add(time.Hour))
	f.next++
	if err := f.st.Create(context.Background(), s); err != nil {
		b.Fatal(err)
	}
	return s.ID
}

// clockCost is what timing one call with time.Now and time.Since adds.
func clockCost() time.Duration {
	const n = 10000
	var total time.Duration
	for range n {
		t := time.Now()
		total += time.Since(t)
	}
	return total / n
}

func sizeName(n int) string { return fmt.Sprintf("n=%.0e", float64(n)) }

// BenchmarkMemoryStoreGet reads random sessions of a store of n.
func BenchmarkMemoryStoreGet(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			f := newBenchStore(b, n)
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(1, 2))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.st.Get(ctx, f.ids[rng.IntN(n)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMemoryStoreCreate creates sessions in a store of n. Each op is
// a Create and a Delete of a random session, so that the store stays at
// n; ns/Create is the Create alone, timed call by call.
func BenchmarkMemoryStoreCreate(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			f := newBenchStore(b, n)
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(1, 2))
			overhead := clockCost()
			var timed time.Duration
			ops := 0
			b.ReportAllocs()
			for b.Loop() {
				now := f.clock.Now()
				s := benchSession(f.next, now, now.Add(time.Hour))
				f.next++
				t := time.Now()
				err := f.st.Create(ctx, s)
				timed += time.Since(t)
				if err != nil {
					b.Fatal(err)
				}
				i := rng.IntN(n)
				if ok, err := f.st.Delete(ctx, f.ids[i]); !ok || err != nil {
					b.Fatal(ok, err)
				}
				f.ids[i] = s.ID
				ops++
			}
			b.ReportMetric(float64(timed-time.Duration(ops)*overhead)/float64(ops), "ns/Create")
		})
	}
}

// benchDeleteBy deletes random sessions of a store of n with del, which
// ends the sessions under the index key of session i (the sid of i, or
// the subject of i and its sibling), and creates their replacements so
// that the store stays at n; ns/<name> is del alone, timed call by call.
func benchDeleteBy(b *testing.B, name string, perOp int, key func(i int) string, del func(st *session.MemoryStore, key string) (int, error)) {
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			f := newBenchStore(b, n)
			rng := rand.New(rand.NewPCG(1, 2))
			ctx := context.Background()
			overhead := clockCost()
			var timed time.Duration
			ops := 0
			b.ReportAllocs()
			for b.Loop() {
				i := rng.IntN(n) &^ (perOp - 1)
				k := key(i)
				t := time.Now()
				got, err := del(f.st, k)
				timed += time.Since(t)
				if got != perOp || err != nil {
					b.Fatalf("%s removed %d, %v; want %d", name, got, err, perOp)
				}
				for j := i; j < i+perOp; j++ { // the replacements keep the numbers
					now := f.clock.Now()
					s := benchSession(j, now, now.Add(time.Hour))
					if err := f.st.Create(ctx, s); err != nil {
						b.Fatal(err)
					}
					f.ids[j] = s.ID
				}
				ops++
			}
			b.ReportMetric(float64(timed-time.Duration(ops)*overhead)/float64(ops), "ns/"+name)
		})
	}
}

func benchSID(i int) string     { return fmt.Sprintf("%08x-51b0-4c8e-a7d4-%012x", i, i) }
func benchSubject(i int) string { return fmt.Sprintf("%08x-7c1e-4d2b-9f3a-%012x", i/2, i/2) }

// BenchmarkMemoryStoreDeleteBySID ends the one session of a random sid.
func BenchmarkMemoryStoreDeleteBySID(b *testing.B) {
	benchDeleteBy(b, "DeleteBySID", 1, benchSID, func(st *session.MemoryStore, sid string) (int, error) {
		return st.DeleteBySID(context.Background(), benchIssuer, sid)
	})
}

// BenchmarkMemoryStoreDeleteBySubject ends the two sessions of a random
// subject.
func BenchmarkMemoryStoreDeleteBySubject(b *testing.B) {
	benchDeleteBy(b, "DeleteBySubject", 2, benchSubject, func(st *session.MemoryStore, sub string) (int, error) {
		return st.DeleteBySubject(context.Background(), benchIssuer, sub)
	})
}

// pendingExpiry is the test hook of a store that can report how much
// expired data it still holds (memstore_export_test.go).
type pendingExpiry interface{ ExpiryPending() bool }

// BenchmarkMemoryStoreExpiryWait measures how long calls wait while
// housekeeping removes n sessions that expired at the same instant, each
// with a sid tombstone. A reader runs Gets back to back and a writer a
// Delete every millisecond, first for a two-second control phase with
// nothing to expire, then from the instant until the store has reclaimed
// everything (or, on a store that cannot tell, for a while). max-wait-µs
// is the longest call of the second phase and control-max-µs that of the
// first; >1ms/s and control->1ms/s are the calls over a millisecond per
// second of each phase. On a busy host, and with the reader spinning on
// one of two cores, the control phase has its slow calls too: what
// housekeeping costs is the excess over it. reclaimed-s is how long the
// store took to remove everything, when it can tell. One op is one round:
// run it with -benchtime=1x or a few x.
func BenchmarkMemoryStoreExpiryWait(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			if n >= 1e6 && testing.Short() {
				b.Skip("10⁶ sessions: skipped with -short")
			}
			var worst, control, reclaimed time.Duration
			var slow, controlSlow float64
			for range b.N {
				r := expiryRound(b, n)
				worst = max(worst, r.drain.max)
				control = max(control, r.control.max)
				reclaimed = max(reclaimed, r.reclaimed)
				slow += r.drain.slowRate()
				controlSlow += r.control.slowRate()
			}
			b.ReportMetric(float64(worst)/float64(time.Microsecond), "max-wait-µs")
			b.ReportMetric(float64(control)/float64(time.Microsecond), "control-max-µs")
			b.ReportMetric(slow/float64(b.N), ">1ms/s")
			b.ReportMetric(controlSlow/float64(b.N), "control->1ms/s")
			if reclaimed > 0 {
				b.ReportMetric(reclaimed.Seconds(), "reclaimed-s")
			}
		})
	}
}

// waits is the longest call of a phase, how many took over 1ms, and
// how long the phase lasted.
type waits struct {
	mu   sync.Mutex
	max  time.Duration
	slow int
	took time.Duration
}

// slowRate is the number of calls over 1ms per second of the phase.
func (w *waits) slowRate() float64 { return float64(w.slow) / w.took.Seconds() }

func (w *waits) record(d time.Duration) {
	w.mu.Lock()
	w.max = max(w.max, d)
	if d > time.Millisecond {
		w.slow++
	}
	w.mu.Unlock()
}

// expiryRound runs one round of BenchmarkMemoryStoreExpiryWait.
func expiryRound(b *testing.B, n int) (r struct {
	control, drain *waits
	reclaimed      time.Duration // until nothing lapsed was left, if the store can tell
}) {
	b.StopTimer()
	ctx := context.Background()
	clock := new(offsetClock)
	st := session.NewMemoryStore(session.MemoryConfig{Now: clock.Now})
	expiry := clock.Now().Add(time.Hour)
	ids := make([]string, n)
	for i := range n {
		now := clock.Now()
		s := benchSession(i, now, expiry)
		if err := st.Create(ctx, s); err != nil {
			b.Fatal(err)
		}
		ids[i] = s.ID
		if _, err := st.Logout(ctx, session.Logout{Issuer: benchIssuer, SID: "gone-" + s.SID, Until: expiry}); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	b.StartTimer()

	var phase atomic.Pointer[waits]
	r.control, r.drain = new(waits), new(waits)
	phase.Store(r.control)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the reader
		defer wg.Done()
		rng := rand.New(rand.NewPCG(3, 4))
		for {
			select {
			case <-stop:
				return
			default:
			}
			w := phase.Load()
			t := time.Now()
			st.Get(ctx, ids[rng.IntN(n)])
			w.record(time.Since(t))
		}
	}()
	write := func(w *waits) {
		t := time.Now()
		st.Delete(ctx, "unknown")
		w.record(time.Since(t))
		time.Sleep(time.Millisecond)
	}
	control := time.Now()
	for end := control.Add(2 * time.Second); time.Now().Before(end); {
		write(r.control)
	}
	r.control.took = time.Since(control)

	phase.Store(r.drain)
	clock.Advance(time.Hour) // every session and tombstone is now due
	hook, canTell := any(st).(pendingExpiry)
	start := time.Now()
	for end := start.Add(2*time.Second + time.Duration(n)*30*time.Microsecond); time.Now().Before(end); {
		write(r.drain)
		if canTell && !hook.ExpiryPending() {
			r.reclaimed = time.Since(start)
			break
		}
	}
	r.drain.took = time.Since(start)
	close(stop)
	wg.Wait()
	if canTell {
		if hook.ExpiryPending() {
			b.Fatal("expired records left after the round")
		}
	}
	runtime.KeepAlive(st)
	return r
}

// BenchmarkMemoryStoreBytesPerSession fills a store with 10⁵ sessions and
// reports the heap they hold beyond the bytes of their tokens and claims
// (B/session). The tokens are shared by every session, so only the claims,
// which the store copies, are subtracted; the issuer, subject and sid are
// strings of each session's own and count. One op is one fill.
func BenchmarkMemoryStoreBytesPerSession(b *testing.B) {
	const n = 100_000
	var perSession float64
	for range b.N {
		b.StopTimer()
		clock := new(offsetClock)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		st := session.NewMemoryStore(session.MemoryConfig{Now: clock.Now})
		claims := 0
		for i := range n {
			now := clock.Now()
			s := benchSession(i, now, now.Add(time.Hour))
			claims += len(s.Claims)
			if err := st.Create(context.Background(), s); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&after)
		perSession += (float64(after.HeapAlloc) - float64(before.HeapAlloc) - float64(claims)) / n
		runtime.KeepAlive(st)
		b.StartTimer()
	}
	b.ReportMetric(perSession/float64(b.N), "B/session")
}

// BenchmarkMemoryStoreExpiryStep times the steps of housekeeping one by
// one, on the store's own test hook: n sessions, each with a sid
// tombstone, lapse at the same instant, and steps run until nothing is
// left. max-step-µs is the longest step on the wall clock, that is the
// longest that housekeeping held the lock at a time; on a busy host it
// includes the time the thread was descheduled, which max-step-cpu-µs,
// the longest step in CPU time of the thread (on Linux), leaves out.
// ns/removed is the mean cost of one removal. One op is one round: run it
// with -benchtime=1x or a few x.
func BenchmarkMemoryStoreExpiryStep(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			if n >= 1e6 && testing.Short() {
				b.Skip("10⁶ sessions: skipped with -short")
			}
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var worst, worstCPU, total time.Duration
			removed := 0
			for range b.N {
				b.StopTimer()
				ctx := context.Background()
				clock := new(offsetClock)
				st := session.NewMemoryStore(session.MemoryConfig{Now: clock.Now})
				expiry := clock.Now().Add(time.Hour)
				for i := range n {
					s := benchSession(i, clock.Now(), expiry)
					if err := st.Create(ctx, s); err != nil {
						b.Fatal(err)
					}
					if _, err := st.Logout(ctx, session.Logout{Issuer: benchIssuer, SID: "gone-" + s.SID, Until: expiry}); err != nil {
						b.Fatal(err)
					}
				}
				runtime.GC()
				clock.Advance(time.Hour)
				b.StartTimer()
				for {
					c0, _ := threadCPU()
					t := time.Now()
					got := st.ExpireStep()
					d := time.Since(t)
					c1, _ := threadCPU()
					if got == 0 {
						break
					}
					worst, worstCPU = max(worst, d), max(worstCPU, c1-c0)
					total += d
					removed += got
				}
			}
			b.ReportMetric(float64(worst)/float64(time.Microsecond), "max-step-µs")
			if _, ok := threadCPU(); ok {
				b.ReportMetric(float64(worstCPU)/float64(time.Microsecond), "max-step-cpu-µs")
			}
			b.ReportMetric(float64(total)/float64(removed), "ns/removed")
		})
	}
}
