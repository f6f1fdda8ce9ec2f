package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"
)

// sweepInterval is the least time between two sweeps of expired sessions.
const sweepInterval = time.Minute

// MemoryConfig configures a [MemoryStore]. The zero value is ready to use.
type MemoryConfig struct {
	// Now returns the current time, against which session expiry is
	// checked. Nil means time.Now.
	Now func() time.Time
}

// MemoryStore is a [Store] that keeps sessions in the memory of one process:
// the embedded default for a single instance. Use a shared store (Redis)
// when several instances serve the same users, or logouts received by one
// instance will not end sessions held by another.
//
// It keys records by [Key] of the session ID, never by the ID itself, and
// keeps the (issuer, sid) and (issuer, subject) indexes under the same
// mutex as the records, so every method is atomic.
//
// It starts no goroutine. Get reports an expired session as [ErrNotFound]
// at once; the memory it holds is reclaimed by a sweep that the writing
// methods run under their lock, at most once a minute. A sweep visits every
// record: once a minute, that is cheap for the sessions one process holds.
// The methods ignore their ctx, since they never wait on I/O.
//
// A MemoryStore is safe for concurrent use. The zero value is an empty store
// that uses time.Now; [NewMemoryStore] is the usual way to make one. A
// MemoryStore must not be copied after first use.
type MemoryStore struct {
	now func() time.Time // nil: time.Now

	mu        sync.RWMutex
	records   map[string]*Session              // Key(id) → session, its ID field empty
	bySID     map[indexKey]map[string]struct{} // (issuer, sid) → record keys
	bySubject map[indexKey]map[string]struct{} // (issuer, subject) → record keys
	sidGone   map[indexKey]time.Time           // logged-out (issuer, sid) → until
	subGone   map[indexKey]*subjectTombstone   // (issuer, subject) of subject-wide logouts
	nextSweep time.Time
}

// subjectTombstone records the subject-wide logouts of one subject: the
// latest instant of each kind, and when the record lapses.
type subjectTombstone struct {
	all, noSID time.Time // logouts of every session / of the sid-less ones
	until      time.Time
}

// indexKey is the key of a logout index: an issuer and a sid or subject.
type indexKey struct{ issuer, value string }

// NewMemoryStore returns an empty in-memory store configured by cfg.
func NewMemoryStore(cfg MemoryConfig) *MemoryStore {
	return &MemoryStore{
		now:       cfg.Now,
		records:   make(map[string]*Session),
		bySID:     make(map[indexKey]map[string]struct{}),
		bySubject: make(map[indexKey]map[string]struct{}),
		sidGone:   make(map[indexKey]time.Time),
		subGone:   make(map[indexKey]*subjectTombstone),
	}
}

var _ Store = (*MemoryStore)(nil)

// Get returns a copy of the session with that ID, or [ErrNotFound] when
// there is none or it has expired. Changing the copy does not change the
// store.
func (m *MemoryStore) Get(ctx context.Context, id string) (*Session, error) {
	now := m.clock()
	m.mu.RLock()
	defer m.mu.RUnlock()
	rec, ok := m.records[Key(id)]
	if !ok || expired(rec, now) {
		return nil, ErrNotFound
	}
	s := clone(rec)
	s.ID = id
	return s, nil
}

// Create stores a copy of s with its index entries and sets s.ID to a
// fresh ID from [NewID]. s.ID must be empty, s.Issuer and s.Subject
// non-empty, s.Expiry non-zero and s.Claims empty or valid JSON, or Create
// stores nothing and returns an error wrapping [ErrInvalidSession]. An
// empty s.SID is allowed: such a session is found by
// [MemoryStore.DeleteBySubject] only.
func (m *MemoryStore) Create(ctx context.Context, s *Session) error {
	if err := validate(s); err != nil {
		return err
	}
	if s.ID != "" {
		return fmt.Errorf("%w: Create needs an empty ID, it sets a fresh one", ErrInvalidSession)
	}
	id := NewID()
	key := Key(id)
	rec := clone(s)
	rec.ID = ""

	now := m.clock()
	iat := rec.IssuedAt()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked(now)
	if err := m.loggedOutLocked(rec, iat, now); err != nil {
		return err
	}
	if _, taken := m.records[key]; taken { // 256 random bits: never happens
		return errors.New("session: create: session ID collision")
	}
	m.records[key] = rec
	if rec.SID != "" {
		addIndex(m.bySID, indexKey{rec.Issuer, rec.SID}, key)
	}
	addIndex(m.bySubject, indexKey{rec.Issuer, rec.Subject}, key)
	s.ID = id
	return nil
}

// Update replaces the stored session s.ID with a copy of s if the stored
// version is still s.Version, and increments the version: the stored one
// and s.Version both become s.Version + 1. It checks, in this order, and
// on the first failure writes nothing and leaves s.Version as it was:
//
//   - the session is absent or expired — a logout deleted it while the
//     caller held it: [ErrNotFound], so Update never brings a deleted
//     session back;
//   - Issuer, Subject or SID changed: [ErrImmutable];
//   - the stored version is not s.Version — another Update came first:
//     [ErrConflict];
//   - s cannot be stored (a zero Expiry, Claims that are not JSON): an
//     error wrapping [ErrInvalidSession].
func (m *MemoryStore) Update(ctx context.Context, s *Session) error {
	if s == nil {
		return fmt.Errorf("%w: nil session", ErrInvalidSession)
	}
	key := Key(s.ID)
	now := m.clock()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked(now)
	old, ok := m.records[key]
	if !ok || expired(old, now) {
		return ErrNotFound
	}
	if s.Issuer != old.Issuer || s.Subject != old.Subject || s.SID != old.SID {
		return ErrImmutable
	}
	if s.Version != old.Version {
		return ErrConflict
	}
	if err := validate(s); err != nil {
		return err
	}
	rec := clone(s)
	rec.ID = ""
	rec.Version = s.Version + 1
	m.records[key] = rec
	s.Version = rec.Version
	return nil
}

// Delete removes the session with that ID and its index entries, and
// reports whether it removed a live session.
func (m *MemoryStore) Delete(ctx context.Context, id string) (bool, error) {
	key := Key(id)
	now := m.clock()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked(now)
	rec, ok := m.records[key]
	if ok {
		m.removeLocked(key, rec)
	}
	return ok && !expired(rec, now), nil
}

// DeleteBySID removes every session of the provider session (issuer, sid)
// with its index entries, and reports how many unexpired sessions it
// removed. An empty sid matches nothing.
func (m *MemoryStore) DeleteBySID(ctx context.Context, issuer, sid string) (int, error) {
	if sid == "" {
		return 0, nil
	}
	return m.deleteByIndex(true, indexKey{issuer, sid}), nil
}

// DeleteBySubject removes every session of the user (issuer, subject) with
// its index entries, and reports how many unexpired sessions it removed.
// An empty subject matches nothing.
func (m *MemoryStore) DeleteBySubject(ctx context.Context, issuer, subject string) (int, error) {
	if subject == "" {
		return 0, nil
	}
	return m.deleteByIndex(false, indexKey{issuer, subject}), nil
}

// Logout ends the sessions l names and keeps its tombstone until l.Until
// (see [Logout]), under the store's lock: Create, which checks the
// tombstones under the same lock, can never add a session it covers.
func (m *MemoryStore) Logout(ctx context.Context, l Logout) (int, error) {
	if !l.Valid() {
		return 0, nil
	}
	now := m.clock()
	issuedAt, until := l.Hold(now)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked(now)
	n := 0
	if l.SID != "" {
		k := indexKey{l.Issuer, l.SID}
		if m.sidGone[k].Before(until) {
			m.sidGone[k] = until
		}
		n += m.deleteIndexLocked(m.bySID[k], now, nil)
	}
	if l.Subject == "" {
		return n, nil
	}
	k := indexKey{l.Issuer, l.Subject}
	tomb := m.subGone[k]
	if tomb == nil {
		tomb = &subjectTombstone{}
		m.subGone[k] = tomb
	}
	if tomb.until.Before(until) {
		tomb.until = until
	}
	if l.SID != "" {
		// The subject's sessions without a sid may belong to the logged
		// out provider session too: the provider named no sid in its ID
		// tokens.
		if tomb.noSID.Before(issuedAt) {
			tomb.noSID = issuedAt
		}
		n += m.deleteIndexLocked(m.bySubject[k], now, func(rec *Session) bool { return rec.SID == "" })
		return n, nil
	}
	if tomb.all.Before(issuedAt) {
		tomb.all = issuedAt
	}
	n += m.deleteIndexLocked(m.bySubject[k], now, nil)
	return n, nil
}

// loggedOutLocked returns ErrLoggedOut when a tombstone covers rec, whose
// ID token was issued at iat. m.mu must be held.
func (m *MemoryStore) loggedOutLocked(rec *Session, iat, now time.Time) error {
	if rec.SID != "" {
		if until, ok := m.sidGone[indexKey{rec.Issuer, rec.SID}]; ok && now.Before(until) {
			return fmt.Errorf("%w: sid %q", ErrLoggedOut, rec.SID)
		}
	}
	tomb := m.subGone[indexKey{rec.Issuer, rec.Subject}]
	if tomb == nil || !now.Before(tomb.until) {
		return nil
	}
	if Covered(tomb.all, iat) || (rec.SID == "" && Covered(tomb.noSID, iat)) {
		return fmt.Errorf("%w: subject logged out after this session's ID token was issued", ErrLoggedOut)
	}
	return nil
}

// deleteIndexLocked removes the sessions whose keys are in set and that
// match (nil: all), and counts the unexpired ones. m.mu must be held for
// writing.
func (m *MemoryStore) deleteIndexLocked(set map[string]struct{}, now time.Time, match func(*Session) bool) int {
	n := 0
	for key := range set { // removeLocked edits set; ranging over a map being edited is safe
		rec, ok := m.records[key]
		if !ok || (match != nil && !match(rec)) {
			continue
		}
		if !expired(rec, now) {
			n++
		}
		m.removeLocked(key, rec)
	}
	return n
}

// deleteByIndex removes the sessions listed under k in the sid index (bySID
// true) or the subject index, and counts the unexpired ones.
func (m *MemoryStore) deleteByIndex(bySID bool, k indexKey) int {
	now := m.clock()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked(now)
	index := m.bySubject
	if bySID {
		index = m.bySID
	}
	return m.deleteIndexLocked(index[k], now, nil)
}

// clock returns the current time from the configured clock.
func (m *MemoryStore) clock() time.Time {
	if m.now != nil {
		return m.now()
	}
	return time.Now()
}

// sweepLocked makes the maps of a zero MemoryStore and, at most once per
// sweepInterval, removes every expired session. m.mu must be held for
// writing.
func (m *MemoryStore) sweepLocked(now time.Time) {
	if m.records == nil {
		m.records = make(map[string]*Session)
		m.bySID = make(map[indexKey]map[string]struct{})
		m.bySubject = make(map[indexKey]map[string]struct{})
	}
	if m.sidGone == nil {
		m.sidGone = make(map[indexKey]time.Time)
		m.subGone = make(map[indexKey]*subjectTombstone)
	}
	if now.Before(m.nextSweep) {
		return
	}
	m.nextSweep = now.Add(sweepInterval)
	for key, rec := range m.records {
		if expired(rec, now) {
			m.removeLocked(key, rec)
		}
	}
	for k, until := range m.sidGone {
		if !now.Before(until) {
			delete(m.sidGone, k)
		}
	}
	for k, tomb := range m.subGone {
		if !now.Before(tomb.until) {
			delete(m.subGone, k)
		}
	}
}

// removeLocked deletes the record under key and its index entries. m.mu
// must be held for writing.
func (m *MemoryStore) removeLocked(key string, rec *Session) {
	delete(m.records, key)
	if rec.SID != "" {
		removeIndex(m.bySID, indexKey{rec.Issuer, rec.SID}, key)
	}
	removeIndex(m.bySubject, indexKey{rec.Issuer, rec.Subject}, key)
}

// addIndex adds key to the set under k.
func addIndex(index map[indexKey]map[string]struct{}, k indexKey, key string) {
	set := index[k]
	if set == nil {
		set = make(map[string]struct{})
		index[k] = set
	}
	set[key] = struct{}{}
}

// removeIndex removes key from the set under k, and the set once empty.
func removeIndex(index map[indexKey]map[string]struct{}, k indexKey, key string) {
	set := index[k]
	delete(set, key)
	if len(set) == 0 {
		delete(index, k)
	}
}

// expired reports whether the session has reached its Expiry at now.
func expired(s *Session, now time.Time) bool {
	return !now.Before(s.Expiry)
}

// validate checks what Create, Update and Marshal need besides an empty
// ID: an Issuer, a Subject, an Expiry, and Claims that are empty or valid
// JSON.
func validate(s *Session) error {
	switch {
	case s == nil:
		return fmt.Errorf("%w: nil session", ErrInvalidSession)
	case s.Issuer == "":
		return fmt.Errorf("%w: empty Issuer", ErrInvalidSession)
	case s.Subject == "":
		return fmt.Errorf("%w: empty Subject", ErrInvalidSession)
	case s.Expiry.IsZero():
		return fmt.Errorf("%w: zero Expiry", ErrInvalidSession)
	case len(s.Claims) > 0 && !json.Valid(s.Claims):
		return fmt.Errorf("%w: Claims are not valid JSON", ErrInvalidSession)
	}
	return nil
}

// clone returns a deep copy of s: its own Claims bytes and AuthParams map,
// so that neither the caller nor the store can change the other's copy.
func clone(s *Session) *Session {
	c := *s
	if s.Claims != nil {
		c.Claims = append(json.RawMessage(nil), s.Claims...)
	}
	c.AuthParams = maps.Clone(s.AuthParams)
	return &c
}
