package session

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"math"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

const (
	// expireBatch and expireBudget bound one housekeeping step, one hold
	// of the lock: it removes at most expireBatch expired sessions and
	// lapsed tombstones together, and stops early once it has taken
	// expireBudget. At 10⁶ sessions, where each removal is a few cache
	// misses, a full batch takes about 0.1–0.5 ms on a small cloud VM (see
	// BenchmarkMemoryStoreExpiryStep); the lock is released between steps.
	expireBatch  = 128
	expireBudget = 250 * time.Microsecond
	// expirePause is the least pause between two steps, which pause at
	// least as long as the step took: housekeeping holds the lock half of
	// the time at most.
	expirePause = 20 * time.Microsecond
	// expireCoalesce is how long after an expiry housekeeping may wait,
	// so that what lapses within one such span is removed in one go.
	expireCoalesce = time.Second
	// sweepInterval bounds the wait of the idle timer: a store that
	// receives no calls still removes what has lapsed at most this long
	// (plus expireCoalesce) after it lapsed.
	sweepInterval = time.Minute
	// maxIssuers bounds the interned issuer strings.
	maxIssuers = 64
)

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
// It keys records by the SHA-256 of the session ID, never by the ID itself
// (a dump of its memory holds no usable ID): a map on its first 8 bytes,
// the record holding all 32, which a lookup compares. It keeps the
// (issuer, sid) and (issuer, subject) indexes under the same mutex as the
// records, so every method is atomic. The indexes are lists threaded
// through the records, under a seeded 64-bit hash of their key, so a
// logout neither scans nor allocates, and each costs one small map entry
// per sid or subject.
//
// # Expiry
//
// Get reports an expired session as [ErrNotFound] at once, and the delete
// counts leave it out. What it held, and the tombstones of
// [MemoryStore.Logout] once they lapse, are removed by housekeeping,
// incrementally, so that no call ever waits for more than one bounded
// step: the store keeps its sessions and tombstones in queues ordered by
// when they lapse, and housekeeping holds the lock for one batch of the
// earliest ones at a time (at most 128, and at most about a quarter of a
// millisecond), releasing it between batches for at least as long.
//
// Housekeeping runs in a goroutine of its own, which exits once nothing
// lapsed is left. Any call — reads included, so a store that only serves
// Gets is cleaned too — starts it when it finds that something lapsed over
// a second ago, and a timer does when no calls come, so that memory is
// reclaimed within about a minute of expiry whatever the load. Neither the
// calls alone nor a permanent goroutine would do: a call cannot clear a
// large backlog without making its caller wait, so slow traffic would
// leave memory behind, and a permanent goroutine would need a Close. The
// timer is armed only while the store holds something that will lapse, so
// a MemoryStore needs no Close; one that is dropped while it holds
// sessions is collected after they lapse, when its timer stops. (With a
// [MemoryConfig.Now] that jumps ahead, the first call after the jump
// starts housekeeping; the timer waits real time, at most a minute.)
//
// Expiry is judged on the wall clock: the store keeps a session's Expiry
// without its monotonic clock reading. The methods ignore their ctx,
// since they never wait on I/O.
//
// # Copies
//
// The store keeps its own copy of what Create and Update are given, and
// Get returns a fresh deep copy: the caller may change the Session, its
// Claims bytes and its AuthParams map without affecting the store or
// other callers. Get makes that copy in one allocation (two with
// AuthParams): the Claims bytes, up to a few KiB, sit in the allocation of
// the Session, with no spare capacity (an append copies them), so a caller
// that keeps the Claims keeps that allocation alive.
//
// A MemoryStore is safe for concurrent use. The zero value is an empty store
// that uses time.Now; [NewMemoryStore] is the usual way to make one. A
// MemoryStore must not be copied after first use.
type MemoryStore struct {
	now func() time.Time // nil: time.Now

	mu       sync.RWMutex
	recs     map[uint64]*record      // the first 8 bytes of the SHA-256 of the ID → session
	seed     maphash.Seed            // of indexHash
	sids     map[uint64]*record      // indexHash(issuer, sid) → first of its sessions
	subjects map[uint64]*record      // indexHash(issuer, subject) → first of its sessions
	sidGone  map[indexKey]*tombstone // logged-out (issuer, sid)
	subGone  map[indexKey]*tombstone // (issuer, subject) of subject-wide logouts
	expiries expiryHeap[*record]     // every session, by Expiry
	lapses   expiryHeap[*tombstone]  // every tombstone, by until
	issuers  map[string]string       // interned Issuer strings
	armed    bool                    // the idle timer is pending

	// due is when housekeeping should next run, in Unix nanoseconds: the
	// earliest lapse plus expireCoalesce, or earlier (never later); 0
	// when nothing will lapse. Written under mu, read without it.
	due atomic.Int64
	// sweeping is set while a housekeeping goroutine runs.
	sweeping atomic.Bool

	// narrowShort and narrowIndex clear bits of the records' short keys
	// and of indexHash, for the tests that force their collisions; zero
	// otherwise.
	narrowShort, narrowIndex uint64

	// LEGACY: read only by Dump in export_test.go, which predates this
	// layout; always nil. Remove them with that Dump.
	records          map[string]*Session
	bySID, bySubject map[indexKey]map[string]struct{}
}

// recordKey is the key of a record: the SHA-256 of the session ID. The
// records map is keyed by its first 8 bytes only, which Create keeps
// unique among the records; a lookup checks the rest in the record.
type recordKey [sha256.Size]byte

// shortKey is the key of k in the records map.
func (m *MemoryStore) shortKey(k *recordKey) uint64 {
	return binary.LittleEndian.Uint64(k[:8]) &^ m.narrowShort
}

// errShortKeyTaken is create's answer when the short key of a fresh ID is
// another record's (one chance in 2⁶⁴ per record): Create draws another.
var errShortKeyTaken = errors.New("session: create: short key taken")

// hashID returns the recordKey of id without allocating.
func hashID(id string) recordKey {
	if len(id) <= 64 { // NewID's are 43 bytes
		var b [64]byte
		n := copy(b[:], id)
		return sha256.Sum256(b[:n])
	}
	return sha256.Sum256([]byte(id))
}

// record is a stored session: its own copy of the caller's, with an empty
// ID, Claims that nothing else references and that the store never writes
// into (Update swaps in a new slice), and its places in the indexes and
// the expiry queue. What a removal reads comes first, in the first cache
// lines.
type record struct {
	key   recordKey
	links [2]links // in the sid (bySIDList) and subject (bySubjectList) lists
	pos   int      // in MemoryStore.expiries
	Session
}

func (r *record) slot() *int { return &r.pos }

// links are a record's neighbours in one index list.
type links struct{ prev, next *record }

const (
	bySIDList = iota
	bySubjectList
)

// tombstone records a Logout until it lapses: of an (issuer, sid), or the
// subject-wide logouts of an (issuer, subject) — the latest instant of
// each kind.
type tombstone struct {
	key        indexKey
	until      time.Time
	all, noSID time.Time // subject tombstones: logouts of every session / of the sid-less ones
	subject    bool      // in subGone, not sidGone
	pos        int       // in MemoryStore.lapses
}

func (t *tombstone) slot() *int { return &t.pos }

// indexKey is the key of a logout index: an issuer and a sid or subject.
type indexKey struct{ issuer, value string }

// NewMemoryStore returns an empty in-memory store configured by cfg.
func NewMemoryStore(cfg MemoryConfig) *MemoryStore {
	m := &MemoryStore{now: cfg.Now}
	m.initLocked()
	return m
}

var _ Store = (*MemoryStore)(nil)

// Get returns a copy of the session with that ID, or [ErrNotFound] when
// there is none or it has expired. Changing the copy (its Claims and
// AuthParams included) does not change the store.
func (m *MemoryStore) Get(ctx context.Context, id string) (*Session, error) {
	key := hashID(id)
	now := m.clock()
	var s *Session
	m.mu.RLock()
	if rec := m.recs[m.shortKey(&key)]; rec != nil && rec.key == key && !expired(&rec.Session, now) {
		s = rec.copyOut()
	}
	m.mu.RUnlock()
	m.housekeepIfDue(now)
	if s == nil {
		return nil, ErrNotFound
	}
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
	rec := &record{Session: *s}
	rec.ID = ""
	rec.Expiry = rec.Expiry.Round(0) // expiry is on the wall clock, whichever method checks it
	rec.Claims = cloneClaims(s.Claims)
	rec.AuthParams = maps.Clone(s.AuthParams)

	now := m.clock()
	for {
		id := NewID()
		rec.key = hashID(id)
		err := m.create(rec, now)
		if err == errShortKeyTaken {
			continue
		}
		m.housekeepIfDue(now)
		if err != nil {
			return err
		}
		s.ID = id
		return nil
	}
}

func (m *MemoryStore) create(rec *record, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.initLocked()
	if err := m.loggedOutLocked(&rec.Session, now); err != nil {
		return err
	}
	if m.recs[m.shortKey(&rec.key)] != nil {
		return errShortKeyTaken
	}
	rec.Issuer = m.internLocked(rec.Issuer, true)
	if rec.SID != "" {
		rec.Subject, rec.SID = pack(rec.Subject, rec.SID)
	}
	m.recs[m.shortKey(&rec.key)] = rec
	if rec.SID != "" {
		linkIn(m.sids, m.indexHash(rec.Issuer, rec.SID), rec, bySIDList)
	}
	linkIn(m.subjects, m.indexHash(rec.Issuer, rec.Subject), rec, bySubjectList)
	at := nanos(rec.Expiry)
	m.expiries.push(at, rec)
	m.lapsesAtLocked(at, now)
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
	key := hashID(s.ID)
	now := m.clock()
	err := m.update(key, s, now)
	m.housekeepIfDue(now)
	return err
}

func (m *MemoryStore) update(key recordKey, s *Session, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec := m.lookupLocked(key)
	if rec == nil || expired(&rec.Session, now) {
		return ErrNotFound
	}
	if s.Issuer != rec.Issuer || s.Subject != rec.Subject || s.SID != rec.SID {
		return ErrImmutable
	}
	if s.Version != rec.Version {
		return ErrConflict
	}
	// Claims and AuthParams usually come back unchanged (a LastSeen
	// touch): keep the stored copies, which nothing outside references,
	// and spare the JSON check of bytes already checked.
	claims, sameClaims := rec.Claims, bytes.Equal(rec.Claims, s.Claims)
	if err := validateExceptClaims(s); err != nil {
		return err
	}
	if !sameClaims {
		if len(s.Claims) > 0 && !json.Valid(s.Claims) {
			return fmt.Errorf("%w: Claims are not valid JSON", ErrInvalidSession)
		}
		claims = cloneClaims(s.Claims)
	}
	params := rec.AuthParams
	if !maps.Equal(params, s.AuthParams) {
		params = maps.Clone(s.AuthParams)
	}
	issuer, subject, sid := rec.Issuer, rec.Subject, rec.SID // the indexes' strings
	oldExpiry := rec.Expiry
	rec.Session = *s
	rec.ID = ""
	rec.Issuer, rec.Subject, rec.SID = issuer, subject, sid
	rec.Claims, rec.AuthParams = claims, params
	rec.Expiry = rec.Expiry.Round(0)
	rec.Version = s.Version + 1
	if !rec.Expiry.Equal(oldExpiry) {
		at := nanos(rec.Expiry)
		m.expiries.move(rec, at)
		m.lapsesAtLocked(at, now)
	}
	s.Version = rec.Version
	return nil
}

// Delete removes the session with that ID and its index entries, and
// reports whether it removed a live session.
func (m *MemoryStore) Delete(ctx context.Context, id string) (bool, error) {
	key := hashID(id)
	now := m.clock()
	m.mu.Lock()
	rec := m.lookupLocked(key)
	live := rec != nil && m.liveLocked(rec, nanos(now))
	if rec != nil {
		m.removeLocked(rec)
	}
	m.mu.Unlock()
	m.housekeepIfDue(now)
	return live, nil
}

// DeleteBySID removes every session of the provider session (issuer, sid)
// with its index entries, and reports how many unexpired sessions it
// removed. An empty sid matches nothing.
func (m *MemoryStore) DeleteBySID(ctx context.Context, issuer, sid string) (int, error) {
	if sid == "" {
		return 0, nil
	}
	return m.deleteByIndex(bySIDList, issuer, sid), nil
}

// DeleteBySubject removes every session of the user (issuer, subject) with
// its index entries, and reports how many unexpired sessions it removed.
// An empty subject matches nothing.
func (m *MemoryStore) DeleteBySubject(ctx context.Context, issuer, subject string) (int, error) {
	if subject == "" {
		return 0, nil
	}
	return m.deleteByIndex(bySubjectList, issuer, subject), nil
}

// deleteByIndex removes the sessions listed under k in the sid or subject
// index, and counts the unexpired ones.
func (m *MemoryStore) deleteByIndex(list int, issuer, value string) int {
	now := m.clock()
	m.mu.Lock()
	m.initLocked()
	n := m.deleteListLocked(list, issuer, value, now, false)
	m.mu.Unlock()
	m.housekeepIfDue(now)
	return n
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
	n := m.logoutLocked(l, issuedAt, until, now)
	m.mu.Unlock()
	m.housekeepIfDue(now)
	return n, nil
}

func (m *MemoryStore) logoutLocked(l Logout, issuedAt, until, now time.Time) int {
	m.initLocked()
	l.Issuer = m.internLocked(l.Issuer, false)
	n := 0
	if l.SID != "" {
		m.tombstoneLocked(false, indexKey{l.Issuer, l.SID}, until, now)
		n += m.deleteListLocked(bySIDList, l.Issuer, l.SID, now, false)
	}
	if l.Subject == "" {
		return n
	}
	tomb := m.tombstoneLocked(true, indexKey{l.Issuer, l.Subject}, until, now)
	if l.SID != "" {
		// The subject's sessions without a sid may belong to the logged
		// out provider session too: the provider named no sid in its ID
		// tokens.
		if tomb.noSID.Before(issuedAt) {
			tomb.noSID = issuedAt
		}
		return n + m.deleteListLocked(bySubjectList, l.Issuer, l.Subject, now, true)
	}
	if tomb.all.Before(issuedAt) {
		tomb.all = issuedAt
	}
	return n + m.deleteListLocked(bySubjectList, l.Issuer, l.Subject, now, false)
}

// tombstoneLocked returns the tombstone under k in sidGone (or subGone,
// for a subject), made or extended to last until until. A tombstone that
// has lapsed but is not yet removed starts afresh, as if housekeeping had
// already removed it. m.mu must be held for writing.
func (m *MemoryStore) tombstoneLocked(subject bool, k indexKey, until, now time.Time) *tombstone {
	gone := m.sidGone
	if subject {
		gone = m.subGone
	}
	t := gone[k]
	if t == nil {
		t = &tombstone{key: k, until: until, subject: subject}
		gone[k] = t
		at := nanos(until)
		m.lapses.push(at, t)
		m.lapsesAtLocked(at, now)
		return t
	}
	if !now.Before(t.until) {
		t.until, t.all, t.noSID = time.Time{}, time.Time{}, time.Time{}
	}
	if t.until.Before(until) {
		t.until = until
		at := nanos(until)
		m.lapses.move(t, at)
		m.lapsesAtLocked(at, now)
	}
	return t
}

// loggedOutLocked returns ErrLoggedOut when a tombstone covers s. m.mu
// must be held.
func (m *MemoryStore) loggedOutLocked(s *Session, now time.Time) error {
	if s.SID != "" {
		if t := m.sidGone[indexKey{s.Issuer, s.SID}]; t != nil && now.Before(t.until) {
			return fmt.Errorf("%w: sid %q", ErrLoggedOut, s.SID)
		}
	}
	tomb := m.subGone[indexKey{s.Issuer, s.Subject}]
	if tomb == nil || !now.Before(tomb.until) {
		return nil
	}
	// Only now, under a live subject tombstone: IssuedAt decodes Claims.
	iat := s.IssuedAt()
	if Covered(tomb.all, iat) || (s.SID == "" && Covered(tomb.noSID, iat)) {
		return fmt.Errorf("%w: subject logged out after this session's ID token was issued", ErrLoggedOut)
	}
	return nil
}

// deleteListLocked removes the sessions of (issuer, value) in the sid or
// subject index (only those without a sid, when sidless), and counts the
// unexpired ones. m.mu must be held for writing.
func (m *MemoryStore) deleteListLocked(list int, issuer, value string, now time.Time, sidless bool) int {
	index := m.sids
	if list == bySubjectList {
		index = m.subjects
	}
	n, at := 0, nanos(now)
	for rec := index[m.indexHash(issuer, value)]; rec != nil; {
		next := rec.links[list].next
		if rec.indexValue(list) == value && rec.Issuer == issuer && (!sidless || rec.SID == "") {
			if m.liveLocked(rec, at) {
				n++
			}
			m.removeLocked(rec)
		}
		rec = next
	}
	return n
}

// lookupLocked returns the record under key, or nil. m.mu must be held.
func (m *MemoryStore) lookupLocked(key recordKey) *record {
	if rec := m.recs[m.shortKey(&key)]; rec != nil && rec.key == key {
		return rec
	}
	return nil
}

// indexHash is the key of (issuer, value) in the sid and subject indexes:
// a 64-bit hash, under a seed of the store's own, which keeps their map
// entries small. Sessions of two pairs with the same hash share a list,
// which the walks filter (one chance in 2⁶⁴ per pair of pairs, and no way
// to aim for it without the seed).
func (m *MemoryStore) indexHash(issuer, value string) uint64 {
	return maphash.Comparable(m.seed, indexKey{issuer, value}) &^ m.narrowIndex
}

// indexValue is the sid or the subject of r, as list says.
func (r *record) indexValue(list int) string {
	if list == bySIDList {
		return r.SID
	}
	return r.Subject
}

// liveLocked reports whether rec has not expired at now (Unix
// nanoseconds), as !expired does, from its expiry queue entry: removing
// it reads that entry anyway, not the Expiry further down the record.
// m.mu must be held.
func (m *MemoryStore) liveLocked(rec *record, now int64) bool {
	return now < m.expiries.entry(rec.pos).at
}

// pack returns copies of a and b that share one allocation, next to each
// other: a record's subject and sid, which a removal reads both.
func pack(a, b string) (string, string) {
	s := a + b
	return s[:len(a)], s[len(a):]
}

// removeLocked deletes rec, its index entries and its place in the expiry
// queue. m.mu must be held for writing.
func (m *MemoryStore) removeLocked(rec *record) {
	delete(m.recs, m.shortKey(&rec.key))
	if rec.SID != "" {
		linkOut(m.sids, m.indexHash(rec.Issuer, rec.SID), rec, bySIDList)
	}
	linkOut(m.subjects, m.indexHash(rec.Issuer, rec.Subject), rec, bySubjectList)
	m.expiries.remove(rec)
}

// linkIn puts rec first in the list under k of index.
func linkIn(index map[uint64]*record, k uint64, rec *record, list int) {
	if head := index[k]; head != nil {
		head.links[list].prev = rec
		rec.links[list].next = head
	}
	index[k] = rec
}

// linkOut takes rec out of the list under k of index, and the list out of
// index once empty.
func linkOut(index map[uint64]*record, k uint64, rec *record, list int) {
	l := rec.links[list]
	switch {
	case l.prev != nil:
		l.prev.links[list].next = l.next
	case l.next != nil:
		index[k] = l.next
	default:
		delete(index, k)
	}
	if l.next != nil {
		l.next.links[list].prev = l.prev
	}
	rec.links[list] = links{}
}

// internLocked returns the store's copy of the issuer string, so that the
// sessions of one issuer (a login decodes it afresh each time) share one.
// It keeps at most maxIssuers of them, and adds one only when add is set:
// for the issuers of sessions, which come from verified logins, not for
// those of logouts. m.mu must be held for writing.
func (m *MemoryStore) internLocked(issuer string, add bool) string {
	if s, ok := m.issuers[issuer]; ok {
		return s
	}
	if add && len(m.issuers) < maxIssuers {
		m.issuers[issuer] = issuer
	}
	return issuer
}

// clock returns the current time from the configured clock.
func (m *MemoryStore) clock() time.Time {
	if m.now != nil {
		return m.now()
	}
	return time.Now()
}

// initLocked makes the maps of a zero MemoryStore. m.mu must be held for
// writing (or m not yet shared).
func (m *MemoryStore) initLocked() {
	if m.recs == nil {
		m.recs = make(map[uint64]*record)
		m.seed = maphash.MakeSeed()
		m.sids = make(map[uint64]*record)
		m.subjects = make(map[uint64]*record)
		m.sidGone = make(map[indexKey]*tombstone)
		m.subGone = make(map[indexKey]*tombstone)
		m.issuers = make(map[string]string)
	}
}

// Housekeeping.

// lapsesAtLocked notes that something lapses at at (Unix nanoseconds):
// it moves the next housekeeping earlier if need be, and makes sure the
// idle timer is armed. m.mu must be held for writing.
func (m *MemoryStore) lapsesAtLocked(at int64, now time.Time) {
	due := addNanos(at, expireCoalesce)
	if d := m.due.Load(); d == 0 || due < d {
		m.due.Store(due)
	}
	m.armLocked(now)
}

// housekeepIfDue starts housekeeping if it is due at now and not running.
// Every method calls it after releasing the lock: one atomic load, most
// of the time.
func (m *MemoryStore) housekeepIfDue(now time.Time) {
	if d := m.due.Load(); d == 0 || nanos(now) < d {
		return
	}
	if m.sweeping.CompareAndSwap(false, true) {
		go m.housekeep()
	}
}

// housekeep removes everything that has lapsed, a bounded step at a time,
// then arms the idle timer for what lapses later. It runs in a goroutine
// of its own, one at a time (m.sweeping).
func (m *MemoryStore) housekeep() {
	for {
		start := time.Now()
		m.mu.Lock()
		_, more := m.stepLocked(m.clock())
		if !more {
			m.sweeping.Store(false)
			m.armLocked(m.clock())
		}
		m.mu.Unlock()
		if !more {
			return
		}
		// Pause as long as the step took before the next: a caller woken
		// when the lock was released must get it first, and sync's
		// mutexes let a goroutine that is still running, as this one
		// would be, take it back ahead of woken waiters for up to a
		// millisecond.
		time.Sleep(max(time.Since(start), expirePause))
	}
}

// stepLocked is one step of housekeeping: it removes up to expireBatch of
// what has lapsed at now, and reports how many it removed and whether
// more has lapsed. m.mu must be held for writing.
func (m *MemoryStore) stepLocked(now time.Time) (removed int, more bool) {
	removed = m.expireLocked(now, expireBatch)
	return removed, m.dueLocked(now)
}

// expireLocked removes up to max of the sessions and tombstones that have
// lapsed at now, earliest first, for at most about expireBudget, and
// returns how many it removed. It then sets m.due from what is left. m.mu
// must be held for writing.
func (m *MemoryStore) expireLocked(now time.Time, max int) int {
	start := time.Now()
	n := 0
	overBudget := func() bool {
		return n%16 == 15 && time.Since(start) > expireBudget
	}
	for n < max {
		e, ok := m.expiries.min()
		if !ok || !expired(&e.item.Session, now) {
			break
		}
		m.removeLocked(e.item)
		if n++; overBudget() {
			max = n
		}
	}
	for n < max {
		e, ok := m.lapses.min()
		if !ok || now.Before(e.item.until) {
			break
		}
		t := e.item
		if t.subject {
			delete(m.subGone, t.key)
		} else {
			delete(m.sidGone, t.key)
		}
		m.lapses.remove(t)
		if n++; overBudget() {
			max = n
		}
	}
	next := int64(math.MaxInt64)
	if e, ok := m.expiries.min(); ok {
		next = e.at
	}
	if e, ok := m.lapses.min(); ok {
		next = min(next, e.at)
	}
	if next == math.MaxInt64 {
		m.due.Store(0)
	} else {
		m.due.Store(addNanos(next, expireCoalesce))
	}
	return n
}

// dueLocked reports whether anything has lapsed at now. m.mu must be held.
func (m *MemoryStore) dueLocked(now time.Time) bool {
	if e, ok := m.expiries.min(); ok && expired(&e.item.Session, now) {
		return true
	}
	e, ok := m.lapses.min()
	return ok && !now.Before(e.item.until)
}

// armLocked arms the idle timer, unless it is pending or nothing will
// lapse: it fires when the earliest lapse is due, but at least
// expireCoalesce and at most sweepInterval from now. m.mu must be held for
// writing.
//
// Each arming is a new timer, never a Reset one, and a timer is never
// stopped: it fires, finds nothing due perhaps, and arms the next. So the
// store holds no timer that another goroutine (or testing/synctest bubble)
// owns.
func (m *MemoryStore) armLocked(now time.Time) {
	due := m.due.Load()
	if m.armed || due == 0 {
		return
	}
	wait := time.Duration(min(max(due-nanos(now), int64(expireCoalesce)), int64(sweepInterval)))
	m.armed = true
	time.AfterFunc(wait, m.timerFired)
}

// timerFired runs housekeeping when it is due, else arms the timer again.
func (m *MemoryStore) timerFired() {
	m.mu.Lock()
	m.armed = false
	now := m.clock()
	if !m.dueLocked(now) {
		m.armLocked(now)
		m.mu.Unlock()
		return
	}
	m.mu.Unlock()
	if m.sweeping.CompareAndSwap(false, true) {
		m.housekeep()
	}
}

// addNanos adds d to the Unix nanoseconds at, saturating; the result is
// never 0, which m.due reserves for "nothing".
func addNanos(at int64, d time.Duration) int64 {
	if at > math.MaxInt64-int64(d) {
		return math.MaxInt64
	}
	if at += int64(d); at == 0 {
		at = 1
	}
	return at
}

// Copies and checks.

// copyOut returns a deep copy of the stored session for a caller, with
// its Claims in the same allocation as the Session when they fit one of
// a few size classes. m.mu must be held.
func (r *record) copyOut() *Session {
	var s *Session
	var buf []byte
	switch n := len(r.Claims); {
	case n == 0:
		s = new(Session)
	case n <= len(sessionAnd512{}.b):
		p := new(sessionAnd512)
		s, buf = &p.Session, p.b[:]
	case n <= len(sessionAnd768{}.b):
		p := new(sessionAnd768)
		s, buf = &p.Session, p.b[:]
	case n <= len(sessionAnd1K{}.b):
		p := new(sessionAnd1K)
		s, buf = &p.Session, p.b[:]
	case n <= len(sessionAnd1536{}.b):
		p := new(sessionAnd1536)
		s, buf = &p.Session, p.b[:]
	case n <= len(sessionAnd2K{}.b):
		p := new(sessionAnd2K)
		s, buf = &p.Session, p.b[:]
	case n <= len(sessionAnd3K{}.b):
		p := new(sessionAnd3K)
		s, buf = &p.Session, p.b[:]
	case n <= len(sessionAnd4K{}.b):
		p := new(sessionAnd4K)
		s, buf = &p.Session, p.b[:]
	default:
		s, buf = new(Session), make([]byte, n)
	}
	*s = r.Session
	if buf != nil {
		n := copy(buf, r.Claims)
		s.Claims = buf[:n:n]
	}
	s.AuthParams = maps.Clone(r.AuthParams)
	return s
}

// A Session followed by room for its Claims, sized so that the whole is
// one of the allocator's size classes. Above 512 bytes the allocator puts
// an 8-byte header before an object that holds pointers (Go 1.22 and
// later), which the room leaves out.
type (
	sessionAnd512 struct {
		Session
		b [512 - sessionSize]byte
	}
	sessionAnd768 struct {
		Session
		b [768 - mallocHeader - sessionSize]byte
	}
	sessionAnd1K struct {
		Session
		b [1024 - mallocHeader - sessionSize]byte
	}
	sessionAnd1536 struct {
		Session
		b [1536 - mallocHeader - sessionSize]byte
	}
	sessionAnd2K struct {
		Session
		b [2048 - mallocHeader - sessionSize]byte
	}
	sessionAnd3K struct {
		Session
		b [3072 - mallocHeader - sessionSize]byte
	}
	sessionAnd4K struct {
		Session
		b [4096 - mallocHeader - sessionSize]byte
	}
)

const (
	sessionSize  = unsafe.Sizeof(Session{})
	mallocHeader = 8
)

// cloneClaims returns a copy of c, nil when it is empty.
func cloneClaims(c json.RawMessage) json.RawMessage {
	if len(c) == 0 {
		return nil
	}
	return append(json.RawMessage(nil), c...)
}

// expired reports whether the session has reached its Expiry at now.
func expired(s *Session, now time.Time) bool {
	return !now.Before(s.Expiry)
}

// validate checks what Create, Update and Marshal need besides an empty
// ID: an Issuer, a Subject, an Expiry, and Claims that are empty or valid
// JSON.
func validate(s *Session) error {
	if err := validateExceptClaims(s); err != nil {
		return err
	}
	if len(s.Claims) > 0 && !json.Valid(s.Claims) {
		return fmt.Errorf("%w: Claims are not valid JSON", ErrInvalidSession)
	}
	return nil
}

// validateExceptClaims is validate without the check of the Claims.
func validateExceptClaims(s *Session) error {
	switch {
	case s == nil:
		return fmt.Errorf("%w: nil session", ErrInvalidSession)
	case s.Issuer == "":
		return fmt.Errorf("%w: empty Issuer", ErrInvalidSession)
	case s.Subject == "":
		return fmt.Errorf("%w: empty Subject", ErrInvalidSession)
	case s.Expiry.IsZero():
		return fmt.Errorf("%w: zero Expiry", ErrInvalidSession)
	}
	return nil
}
