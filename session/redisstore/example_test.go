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
	store := redisstore.New(rdb, redisstore.Config{Prefix: "myapp:"})

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
	s, err := store.Get(ctx, s.ID)
	switch {
	case errors.Is(err, session.ErrNotFound):
		// logged out or expired: log in again
	case err != nil:
		log.Fatal(err) // Redis unreachable: fail closed
	}

	// A back-channel logout token, received by any instance: claim its jti
	// until its exp, then end every session of its sid.
	fresh, err := store.Claim(ctx, "https://op.example.com|bWJq", time.Now().Add(2*time.Minute))
	if err != nil || !fresh {
		return // error: 5xx so that the provider retries; not fresh: a replay
	}
	n, err := store.DeleteBySID(ctx, "https://op.example.com", "08a5019c-17e1-4977-8f42-65a12843ea02")
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("%d sessions ended", n)
}
