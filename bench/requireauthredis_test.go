package bench

import (
	"context"
	"crypto/rand"
	"testing"

	"github.com/rpkit/rpkit/middleware"
	"github.com/rpkit/rpkit/session"
	"github.com/rpkit/rpkit/session/redisstore"
)

// Row 3: row 2's request with the Redis store (a real redis-server on a
// loopback port, one go-redis client), against
//
//   - impl=go-redis-get: one go-redis GET of a value of the session
//     record's size (session.Marshal of the same session), the network
//     floor of any Redis-backed session;
//   - impl=rpkit-store-get: redisstore's Store.Get alone (one HMGET and
//     session.Unmarshal), to split the request's cost;
//   - impl=bare: the application's handler alone.
func BenchmarkRequireAuthRedis(b *testing.B) {
	ctx := context.Background()
	rc := redisClient(b)
	store, err := redisstore.New(ctx, rc, redisstore.Config{Logger: discard})
	if err != nil {
		b.Fatal(err)
	}
	op := newProvider(b, providerConfig())
	c := newClient(b, op, nil)
	m := newMiddleware(b, c, store, nil, middleware.Config{})
	cookie := login(b, m, op)
	s := sessionOf(b, m, cookie)
	record, err := session.Marshal(s)
	if err != nil {
		b.Fatal(err)
	}
	value := make([]byte, len(record))
	rand.Read(value)
	if err := rc.Set(ctx, "bench:value", value, 0).Err(); err != nil {
		b.Fatal(err)
	}
	b.Logf("session record: %d bytes", len(record))

	b.Run("impl=bare", func(b *testing.B) {
		req := request("/", nil)
		b.ReportAllocs()
		for b.Loop() {
			serve(b, ok, req)
		}
	})
	b.Run("impl=rpkit", func(b *testing.B) {
		h, req := m.RequireAuth(ok), request("/", cookie)
		b.ReportAllocs()
		for b.Loop() {
			serve(b, h, req)
		}
	})
	b.Run("impl=rpkit-store-get", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := store.Get(ctx, s.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=go-redis-get", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, err := rc.Get(ctx, "bench:value").Bytes()
			if err != nil || len(v) != len(record) {
				b.Fatal(len(v), err)
			}
		}
	})
}
