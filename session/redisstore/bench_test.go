package redisstore_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rpkit/rpkit/internal/redistest"
	"github.com/rpkit/rpkit/session"
	"github.com/rpkit/rpkit/session/redisstore"
)

// benchSession is a session of the size a provider gives: a 1 KB ID
// token, a 1 KB access token, a 700 B refresh token, about 200 B of
// claims, a sid and the four times — a record of about 3 KB.
func benchSession() *session.Session {
	tok := func(n int, seed byte) string {
		raw := make([]byte, n*3/4)
		for i := range raw {
			raw[i] = seed + byte(i*7)
		}
		s := base64.RawURLEncoding.EncodeToString(raw)[:n]
		return s[:n/5] + "." + s[n/5+1:n*4/5] + "." + s[n*4/5+1:]
	}
	now := time.Now().UTC()
	return &session.Session{
		Issuer:            "https://login.example.com/realms/main",
		Subject:           "248289761001",
		SID:               "08a5019c-17e1-4977-8f42-65a12843ea02",
		IDToken:           tok(1024, 1),
		Claims:            json.RawMessage(`{"iss":"https://login.example.com/realms/main","sub":"248289761001","aud":"app","exp":1741068367,"iat":1741064767,"auth_time":1741064760,"sid":"08a5019c-17e1-4977-8f42-65a12843ea02","email":"jane@example.com","name":"Jane Doe"}`),
		AccessToken:       tok(1024, 2),
		RefreshToken:      tok(700, 3),
		AccessTokenExpiry: now.Add(5*time.Minute + 987654321),
		Created:           now,
		LastSeen:          now.Add(1234),
		Expiry:            now.Add(12 * time.Hour),
	}
}

// BenchmarkGet compares Store.Get of a 3 KB session with what it cannot do
// without: one round trip that brings back the same bytes. impl=get is a
// plain GET of a string key holding the record's bytes, impl=hmget the
// HMGET of data and ver that Get sends, without decoding. cpu-ns/op is
// the client process's CPU time per operation (go-redis, decoding, GC),
// not the server's.
//
// -count repeats each sub-benchmark in a row; to interleave them, so that
// the host's noise hits them alike, run the test binary several times with
// -count 1 (as bench/run.sh does) and compare medians. Each run takes the
// sub-benchmarks in a random order, as the first of a process runs slower.
func BenchmarkGet(b *testing.B) {
	addr := redistest.Start(b)
	c := redis.NewClient(&redis.Options{Addr: addr})
	b.Cleanup(func() { c.Close() })
	st := mustNew(b, c, redisstore.Config{})
	ctx := context.Background()
	s := benchSession()
	if err := st.Create(ctx, s); err != nil {
		b.Fatal(err)
	}
	data, err := session.Marshal(s)
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Set(ctx, "plain", data, time.Hour).Err(); err != nil {
		b.Fatal(err)
	}
	key := st.RecordKey(s.ID)
	impls := []struct {
		name string
		op   func() error
	}{
		{"rpkit", func() error { _, err := st.Get(ctx, s.ID); return err }},
		{"get", func() error { _, err := c.Get(ctx, "plain").Bytes(); return err }},
		{"hmget", func() error { return c.HMGet(ctx, key, "data", "ver").Err() }},
	}
	// Warm up the server, the connection and the caches.
	for range 2000 {
		for _, impl := range impls {
			if err := impl.op(); err != nil {
				b.Fatal(impl.name, err)
			}
		}
	}
	rand.Shuffle(len(impls), func(i, j int) { impls[i], impls[j] = impls[j], impls[i] })
	for _, impl := range impls {
		b.Run("impl="+impl.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				if err := impl.op(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// reportCPU starts counting the process's CPU time; the function it
// returns reports it per operation as cpu-ns/op — the client's work,
// which on a loaded host wall time blurs with waiting for a core. (Where
// processCPU cannot measure, it reports nothing.)
func reportCPU(b *testing.B) func() {
	start := processCPU()
	return func() {
		if used := processCPU() - start; used > 0 && b.N > 0 {
			b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	}
}

// BenchmarkUpdate is Store.Update of a 3 KB session: Marshal, the sid's
// tag entry and the update script.
func BenchmarkUpdate(b *testing.B) {
	addr := redistest.Start(b)
	c := redis.NewClient(&redis.Options{Addr: addr})
	b.Cleanup(func() { c.Close() })
	st := mustNew(b, c, redisstore.Config{})
	ctx := context.Background()
	s := benchSession()
	if err := st.Create(ctx, s); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := st.Update(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
}
