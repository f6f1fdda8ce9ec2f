package main

import (
	"cmp"
	"crypto/rand"
	"maps"
	"slices"
	"sync"
	"time"
)

// apiSession is one session of the service's API, tied to the provider
// session (sid) of the user (sub) it was opened for.
type apiSession struct {
	ID      string    `json:"id"`
	Issuer  string    `json:"iss"`
	Subject string    `json:"sub"`
	SID     string    `json:"sid"`
	Created time.Time `json:"created"`
}

// indexKey names the sessions of one provider session or one subject at
// one issuer.
type indexKey struct{ issuer, value string }

// table is the service's own session table: API sessions by ID, indexed by
// (issuer, sid) and (issuer, subject) so that a logout never scans. It is
// safe for concurrent use.
type table struct {
	now func() time.Time

	mu    sync.Mutex
	byID  map[string]apiSession
	bySID map[indexKey]map[string]struct{} // (iss, sid) → session IDs
	bySub map[indexKey]map[string]struct{} // (iss, sub) → session IDs
}

func newTable(now func() time.Time) *table {
	if now == nil {
		now = time.Now
	}
	return &table{
		now:   now,
		byID:  map[string]apiSession{},
		bySID: map[indexKey]map[string]struct{}{},
		bySub: map[indexKey]map[string]struct{}{},
	}
}

// create opens an API session; sid must not be empty, subject may be.
func (t *table) create(issuer, subject, sid string) apiSession {
	s := apiSession{Issuer: issuer, Subject: subject, SID: sid, Created: t.now().UTC()}
	t.mu.Lock()
	defer t.mu.Unlock()
	for {
		s.ID = rand.Text() // 128 random bits
		if _, taken := t.byID[s.ID]; !taken {
			break
		}
	}
	t.byID[s.ID] = s
	index(t.bySID, indexKey{issuer, sid}, s.ID)
	if subject != "" {
		index(t.bySub, indexKey{issuer, subject}, s.ID)
	}
	return s
}

// get returns the session with that ID.
func (t *table) get(id string) (apiSession, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.byID[id]
	return s, ok
}

// list returns every session, oldest first.
func (t *table) list() []apiSession {
	t.mu.Lock()
	all := slices.Collect(maps.Values(t.byID))
	t.mu.Unlock()
	slices.SortFunc(all, func(a, b apiSession) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
	})
	return all
}

// revoke ends the sessions a logout token names, by the rule of
// Back-Channel Logout 1.0 that package backchannel applies to a
// session.Store: those of (issuer, sid) when sid is set, else every session
// of (issuer, subject). It reports how many it ended.
func (t *table) revoke(issuer, sid, subject string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	var ids map[string]struct{}
	switch {
	case sid != "":
		ids = t.bySID[indexKey{issuer, sid}]
	case subject != "":
		ids = t.bySub[indexKey{issuer, subject}]
	}
	// remove shrinks the index being read: collect the IDs first.
	victims := slices.Collect(maps.Keys(ids))
	for _, id := range victims {
		t.removeLocked(id)
	}
	return len(victims)
}

// subjectOf returns the subject of the sessions of (issuer, sid), or ""
// when there are none, they have no subject or they disagree.
func (t *table) subjectOf(issuer, sid string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	sub := ""
	for id := range t.bySID[indexKey{issuer, sid}] {
		s := t.byID[id].Subject
		if sub != "" && s != sub {
			return ""
		}
		sub = s
	}
	return sub
}

// removeLocked deletes a session and its index entries; t.mu must be held.
func (t *table) removeLocked(id string) {
	s, ok := t.byID[id]
	if !ok {
		return
	}
	delete(t.byID, id)
	unindex(t.bySID, indexKey{s.Issuer, s.SID}, id)
	if s.Subject != "" {
		unindex(t.bySub, indexKey{s.Issuer, s.Subject}, id)
	}
}

func index(m map[indexKey]map[string]struct{}, k indexKey, id string) {
	ids := m[k]
	if ids == nil {
		ids = map[string]struct{}{}
		m[k] = ids
	}
	ids[id] = struct{}{}
}

func unindex(m map[indexKey]map[string]struct{}, k indexKey, id string) {
	delete(m[k], id)
	if len(m[k]) == 0 {
		delete(m, k) // no empty sets left behind
	}
}
