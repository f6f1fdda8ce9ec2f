package redisstore

import "github.com/redis/go-redis/v9"

// SubIndexKey, SIDIndexKey and RecordKey are the store's key names, for
// tests that look inside Redis.
func (s *Store) SubIndexKey(issuer, subject string) string { return s.subIndexKey(issuer, subject) }

func (s *Store) SIDIndexKey(issuer, subject, sid string) string {
	return s.sidIndexKey(tagOf(issuer, subject), issuer, sid)
}

func (s *Store) RecordKey(id string) string {
	tag, _ := parseID(id)
	return s.recordKey(tag, id)
}

// NewUnchecked is New without the checks that need a server, for tests of
// a Redis that cannot be reached.
func NewUnchecked(c redis.UniversalClient, cfg Config) *Store { return newStore(c, cfg) }
