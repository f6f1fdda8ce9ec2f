package redisstore

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
