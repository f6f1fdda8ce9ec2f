package bench

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpkit/rpkit/session"
	"github.com/rpkit/rpkit/session/redisstore"
)

// Row 7: memory per session. Sessions with the tokens of a real login
// (row 2's provider: a 3 KB record), each with its own copy of the tokens
// and its own subject and sid, are created in
//
//   - impl=memory: a MemoryStore; the Go heap in use (runtime.MemStats
//     HeapAlloc after a GC) before and after 10^5 sessions;
//   - impl=redis: redisstore on the benchmarks' redis-server; INFO memory
//     used_memory before and after 10^4 sessions.
//
// Metrics per session: B/session in all, B/session-beyond-tokens (less the
// ID, access and refresh tokens' bytes: the measure) and
// B/session-beyond-tokens+claims (less the ID token's claims too, which
// the session keeps decoded beside the token). Under -benchtime=Nx the
// counts are ten times smaller.
func BenchmarkSessionMemory(b *testing.B) {
	op := newProvider(b, providerConfig())
	c := newClient(b, op, nil)
	tok, _ := loginTokens(b, c, op)
	tpl := session.Session{
		Issuer: op.Issuer(), IDToken: string(tok.IDToken), Claims: tok.Claims.Raw(),
		AccessToken: string(tok.AccessToken), RefreshToken: string(tok.RefreshToken),
		AccessTokenExpiry: tok.Expiry,
	}
	tokenBytes := len(tpl.IDToken) + len(tpl.AccessToken) + len(tpl.RefreshToken)
	claimBytes := len(tpl.Claims)
	// newSession is session i: its own subject, sid and copies of the tokens.
	newSession := func(i int) *session.Session {
		s := tpl
		s.Subject, s.SID = storeSubject(i), storeSID(i)
		s.IDToken, s.AccessToken, s.RefreshToken = strings.Clone(s.IDToken), strings.Clone(s.AccessToken), strings.Clone(s.RefreshToken)
		s.Claims = bytes.Clone(s.Claims)
		now := time.Now()
		s.Created, s.LastSeen, s.Expiry = now, now, now.Add(12*time.Hour)
		return &s
	}
	report := func(b *testing.B, perSession float64) {
		b.ReportMetric(perSession, "B/session")
		b.ReportMetric(perSession-float64(tokenBytes), "B/session-beyond-tokens")
		b.ReportMetric(perSession-float64(tokenBytes+claimBytes), "B/session-beyond-tokens+claims")
	}
	b.Logf("tokens %d B, claims %d B per session", tokenBytes, claimBytes)

	b.Run("impl=memory", func(b *testing.B) {
		n := 100_000
		if quick() {
			n /= 10
		}
		var sum float64
		for range b.N {
			before := heapInUse()
			store := session.NewMemoryStore(session.MemoryConfig{})
			for i := range n {
				if err := store.Create(context.Background(), newSession(i)); err != nil {
					b.Fatal(err)
				}
			}
			after := heapInUse()
			if path := os.Getenv("BENCH_HEAPPROFILE"); path != "" {
				writeHeapProfile(b, path) // the store's live heap, for run.sh PROFILE=1
			}
			runtime.KeepAlive(store)
			sum += float64(after-before) / float64(n)
		}
		report(b, sum/float64(b.N))
	})
	b.Run("impl=redis", func(b *testing.B) {
		ctx := context.Background()
		rc := redisClient(b)
		n := 10_000
		if quick() {
			n /= 10
		}
		var sum float64
		for range b.N {
			if err := rc.FlushAll(ctx).Err(); err != nil {
				b.Fatal(err)
			}
			store, err := redisstore.New(ctx, rc, redisstore.Config{Logger: discard})
			if err != nil {
				b.Fatal(err)
			}
			before := usedMemory(b, rc.Info(ctx, "memory").Val())
			var wg sync.WaitGroup
			for w := range 8 {
				wg.Go(func() {
					for i := w; i < n; i += 8 {
						if err := store.Create(ctx, newSession(i)); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			after := usedMemory(b, rc.Info(ctx, "memory").Val())
			sum += float64(after-before) / float64(n)
		}
		report(b, sum/float64(b.N))
	})
}

// writeHeapProfile writes the heap profile (in-use and allocated) to path.
func writeHeapProfile(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}

// heapInUse is the Go heap's live bytes after a full GC.
func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// usedMemory reads used_memory from INFO memory.
func usedMemory(b *testing.B, info string) int64 {
	b.Helper()
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatal("INFO memory has no used_memory")
	return 0
}
