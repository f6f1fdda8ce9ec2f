package session

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
)

// MemorySnapshot is what a MemoryStore holds, for tests that look inside.
type MemorySnapshot struct {
	Records  map[string]Session  // Key(id) → stored session
	SIDs     map[string][]string // "issuer sid" → Key of its sessions, sorted
	Subjects map[string][]string // "issuer subject" → Key of its sessions, sorted
	// SIDTombstones and SubjectTombstones count the tombstones, lapsed or
	// not; Expiries and Lapses the entries of the two expiry queues.
	SIDTombstones, SubjectTombstones int
	Expiries, Lapses                 int
}

// Empty reports whether the store holds nothing at all.
func (s MemorySnapshot) Empty() bool {
	return len(s.Records)+len(s.SIDs)+len(s.Subjects)+s.SIDTombstones+s.SubjectTombstones+s.Expiries+s.Lapses == 0
}

// Snapshot copies what the store holds.
func (m *MemoryStore) Snapshot() MemorySnapshot {
	m.mu.RLock()
	defer m.mu.RUnlock()
	d := MemorySnapshot{
		Records:           make(map[string]Session),
		SIDs:              snapshotIndex(m.sids, bySIDList),
		Subjects:          snapshotIndex(m.subjects, bySubjectList),
		SIDTombstones:     len(m.sidGone),
		SubjectTombstones: len(m.subGone),
		Expiries:          m.expiries.len(),
		Lapses:            m.lapses.len(),
	}
	for _, rec := range m.recs {
		d.Records[keyString(rec.key)] = rec.Session
	}
	return d
}

func keyString(k recordKey) string { return base64.RawURLEncoding.EncodeToString(k[:]) }

func snapshotIndex(index map[uint64]*record, list int) map[string][]string {
	out := make(map[string][]string)
	for _, head := range index {
		for rec := head; rec != nil; rec = rec.links[list].next {
			k := rec.Issuer + " " + rec.indexValue(list)
			out[k] = append(out[k], keyString(rec.key))
		}
	}
	for _, keys := range out {
		slices.Sort(keys)
	}
	return out
}

// ExpireBatch bounds what one housekeeping step removes.
const ExpireBatch = expireBatch

// ExpireStep runs one housekeeping step, as the housekeeping goroutine
// does under one hold of the lock, and returns how many sessions and
// tombstones it removed.
func (m *MemoryStore) ExpireStep() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, _ := m.stepLocked(m.clock())
	return n
}

// ExpiryPending reports whether the store still holds a session or a
// tombstone that has lapsed.
func (m *MemoryStore) ExpiryPending() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.dueLocked(m.clock())
}

// CheckInvariants checks that the maps, the index lists and the expiry
// queues agree.
func (m *MemoryStore) CheckInvariants() error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if m.expiries.len() != len(m.recs) {
		fail("%d expiry entries for %d records", m.expiries.len(), len(m.recs))
	}
	if m.lapses.len() != len(m.sidGone)+len(m.subGone) {
		fail("%d lapse entries for %d tombstones", m.lapses.len(), len(m.sidGone)+len(m.subGone))
	}
	checkHeap(&m.expiries, fail)
	checkHeap(&m.lapses, fail)
	for i := range m.expiries.len() {
		e := m.expiries.entry(i)
		if m.recs[m.shortKey(&e.item.key)] != e.item {
			fail("expiry entry %d is not a stored record", i)
		}
		if e.at != nanos(e.item.Expiry) {
			fail("expiry entry %d at %d, record expires at %d", i, e.at, nanos(e.item.Expiry))
		}
	}
	for i := range m.lapses.len() {
		e := m.lapses.entry(i)
		gone := m.sidGone
		if e.item.subject {
			gone = m.subGone
		}
		if gone[e.item.key] != e.item {
			fail("lapse entry %d is not a stored tombstone", i)
		}
		if e.at != nanos(e.item.until) {
			fail("lapse entry %d at %d, tombstone lapses at %d", i, e.at, nanos(e.item.until))
		}
	}
	inLists := 0
	for _, c := range []struct {
		list  int
		index map[uint64]*record
	}{{bySIDList, m.sids}, {bySubjectList, m.subjects}} {
		for k, head := range c.index {
			if head.links[c.list].prev != nil {
				fail("list %d %v: its head has a predecessor", c.list, k)
			}
			var prev *record
			for rec := head; rec != nil; rec = rec.links[c.list].next {
				if rec.links[c.list].prev != prev {
					fail("list %d %v: broken back link", c.list, k)
				}
				if h := m.indexHash(rec.Issuer, rec.indexValue(c.list)); h != k {
					fail("list %d %v holds a record of %v", c.list, k, h)
				}
				if m.recs[m.shortKey(&rec.key)] != rec {
					fail("list %d %v holds a record that is not stored", c.list, k)
				}
				if c.list == bySIDList {
					inLists++
				}
				prev = rec
			}
		}
	}
	withSID := 0
	for short, rec := range m.recs {
		if short != m.shortKey(&rec.key) {
			fail("record under %x has the key %x", short, rec.key)
		}
		if rec.SID != "" {
			withSID++
		}
	}
	if inLists != withSID {
		fail("%d records in sid lists, %d records with a sid", inLists, withSID)
	}
	return errors.Join(errs...)
}

func checkHeap[T heapItem](h *expiryHeap[T], fail func(string, ...any)) {
	for i := range h.len() {
		e := h.entry(i)
		if *e.item.slot() != i {
			fail("heap entry %d: its item says %d", i, *e.item.slot())
		}
		if i > 0 && h.entry((i-1)/4).at > e.at {
			fail("heap entry %d is earlier than its parent", i)
		}
	}
}

// NarrowHashes keeps only the low shortBits of the records' short keys
// and indexBits of the index hashes, so that a test meets their
// collisions. Call it on an empty store.
func (m *MemoryStore) NarrowHashes(shortBits, indexBits int) {
	m.narrowShort = ^uint64(0) << shortBits
	m.narrowIndex = ^uint64(0) << indexBits
}
