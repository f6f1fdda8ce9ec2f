package redisstore_test

import (
	"context"
	"errors"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rpkit/rpkit/session"
	"github.com/rpkit/rpkit/session/redisstore"
)

// This example needs a Redis server on localhost:6379, so it is compiled
// but not run by go test. For a cluster, list its nodes in Addrs (or build
// a redis.NewClusterClient); for Sentinel, set MasterName.
func ExampleNew() {
	ctx := context.Background()
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{"localhost:6379"}})
	defer rdb.Close()
	// New refuses a Redis whose maxmemory-policy could evict logout
	// indexes: set it to noeviction.
	store, err := redisstore.New(ctx, rdb, redisstore.Config{Prefix: "myapp:"})
	if err != nil {
		log.Fatal(err)
	}

	// At the callback: a new session, whose ID goes into the session cookie.
	s := &session.Session{
		Issuer:  "https://op.example.com",
		Subject: "248289761001",
		SID:     "08a5019c-17e1-4977-8f42-65a12843ea02",
		Expiry:  time.Now().Add(12 * time.Hour),
	}
	if err := store.Create(ctx, s); err != nil {
		log.Fatal(err) // Redis unreachable: answer 5xx
	}

	// On each request: the session by its ID, one round trip.
	s, err = store.Get(ctx, s.ID)
	switch {
	case errors.Is(err, session.ErrNotFound):
		// logged out or expired: log in again
	case err != nil:
		log.Fatal(err) // Redis unreachable: fail closed
	}

	// A back-channel logout token, received by any instance (package
	// backchannel does all this): refuse a replay of its jti, end every
	// session of its sid — and refuse new ones —, then record the jti
	// until the token's exp.
	const jti = "https://op.example.com|bWJq"
	if seen, err := store.Seen(ctx, jti); err != nil || seen {
		return // error: 5xx so that the provider retries; seen: a replay
	}
	n, err := store.Logout(ctx, session.Logout{Issuer: "https://op.example.com", SID: "08a5019c-17e1-4977-8f42-65a12843ea02"})
	if err != nil {
		log.Fatal(err) // 5xx: the provider retries, and Logout runs again
	}
	if err := store.Done(ctx, jti, time.Now().Add(2*time.Minute)); err != nil {
		log.Print(err) // the sessions have ended: a replay would only end them again
	}
	log.Printf("%d sessions ended", n)
}
