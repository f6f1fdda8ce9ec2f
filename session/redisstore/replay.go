package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// Seen reports whether key was recorded by [Store.Done] and its until has
// not passed: the back-channel logout replay cache, keyed by issuer and
// jti, shared by every instance. It only reads (one EXISTS), so a client
// retry of it — or a Redis that fails between Seen and Done — can never
// make a genuine logout look like a replay: nothing is recorded before the
// sessions have ended. A Redis error is returned as an error, never as
// "not seen", so that the caller answers 503 and the provider retries.
//
// Seen and Done match the replay-cache interface of the back-channel
// handler, which the Store satisfies without either package importing the
// other. Keys are stored as their SHA-256, under Prefix + "claim:".
func (s *Store) Seen(ctx context.Context, key string) (bool, error) {
	n, err := s.c.Exists(ctx, s.claimKey(key)).Result()
	if err != nil {
		return false, fmt.Errorf("redisstore: replay cache: %w", err)
	}
	return n > 0, nil
}

// Done records key until the time until (the logout token's AcceptUntil):
// a later [Store.Seen] of it reports true. It is one SET PXAT, idempotent,
// so a client retry of it is harmless. An until already in the past
// records nothing lasting.
func (s *Store) Done(ctx context.Context, key string, until time.Time) error {
	if err := s.c.Do(ctx, "SET", s.claimKey(key), "1", "PXAT", expiryMS(until)).Err(); err != nil {
		return fmt.Errorf("redisstore: replay cache: %w", err)
	}
	return nil
}

func (s *Store) claimKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return s.prefix + "claim:" + hex.EncodeToString(sum[:])
}
