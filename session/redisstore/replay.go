package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Claim records key until the time until and reports whether this call was
// the first to claim it (fresh): it is the back-channel logout replay cache,
// keyed by issuer and jti and held until the logout token's exp, shared by
// every instance. It is one SET NX PXAT, so of two concurrent claims of the
// same key exactly one is fresh. A Redis error returns fresh false with the
// error, so that a caller refuses rather than accepts a possible replay.
//
// An until already in the past holds nothing: such a claim is fresh unless
// the key is still held by an earlier claim, and the next claim of the key
// is fresh again. A caller that accepts tokens some clock skew past their
// exp should pass exp plus that skew.
//
// Claim's signature matches the replay-cache interface of the back-channel
// handler, which the Store satisfies without either package importing the
// other. Keys are stored as their SHA-256, under Prefix + "claim:".
func (s *Store) Claim(ctx context.Context, key string, until time.Time) (fresh bool, err error) {
	err = s.c.Do(ctx, "SET", s.claimKey(key), "1", "NX", "PXAT", expiryMS(until)).Err()
	switch {
	case errors.Is(err, redis.Nil):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("redisstore: claim: %w", err)
	}
	return true, nil
}

// Release forgets a claimed key, so that the next Claim of it is fresh: the
// back-channel handler releases a logout token's jti when the sessions it
// names could not be ended, so that the provider's retry is accepted.
func (s *Store) Release(ctx context.Context, key string) error {
	if err := s.c.Del(ctx, s.claimKey(key)).Err(); err != nil {
		return fmt.Errorf("redisstore: release: %w", err)
	}
	return nil
}

func (s *Store) claimKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return s.prefix + "claim:" + hex.EncodeToString(sum[:])
}
