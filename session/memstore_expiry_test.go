package session_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rpkit/rpkit/internal/fakeclock"
	"github.com/rpkit/rpkit/session"
)

// TestMemoryStoreExpiryByCalls checks, on synctest's fake clock, that an
// expired session leaves the maps soon after its Expiry once any call —
// a Get here — comes, without waiting for the idle timer, and that Get
// hides it at once.
func TestMemoryStoreExpiryByCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		st := session.NewMemoryStore(session.MemoryConfig{})
		keep := mustCreate(t, st, memSession("bob", "Y", time.Now().Add(time.Hour))) // arms the idle timer for a minute
		old := mustCreate(t, st, memSession("alice", "X", time.Now().Add(10*time.Second)))

		time.Sleep(10 * time.Second)
		if _, err := st.Get(ctx, old.ID); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("Get of an expired session = %v, want ErrNotFound", err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if d := st.Snapshot(); len(d.Records) != 2 {
			t.Fatalf("%d records before any call, want 2 (the idle timer is a minute away)", len(d.Records))
		}
		if _, err := st.Get(ctx, keep.ID); err != nil { // any call
			t.Fatal(err)
		}
		synctest.Wait() // for the housekeeping goroutine
		d := st.Snapshot()
		if _, ok := d.Records[session.Key(old.ID)]; ok || len(d.Records) != 1 {
			t.Errorf("after the call: %d records, expired one present %v; want 1, false", len(d.Records), ok)
		}
		if _, ok := d.Records[session.Key(keep.ID)]; !ok {
			t.Error("housekeeping removed an unexpired session")
		}
		for name, index := range map[string]map[string][]string{"sid": d.SIDs, "subject": d.Subjects} {
			if len(index) != 1 {
				t.Errorf("%s index has %d entries after housekeeping, want 1: %v", name, len(index), index)
			}
		}
		if d.Expiries != 1 {
			t.Errorf("%d expiry entries, want 1", d.Expiries)
		}
		if err := st.CheckInvariants(); err != nil {
			t.Error(err)
		}
	})
}

// TestMemoryStoreExpiryIdle checks that a store that receives no call at
// all still removes expired sessions and lapsed tombstones, within a
// minute.
func TestMemoryStoreExpiryIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		st := new(session.MemoryStore) // the zero value too
		for i := range 10 {
			mustCreate(t, st, memSession(fmt.Sprint("user", i), fmt.Sprint("sid", i), time.Now().Add(time.Duration(i+1)*time.Minute)))
		}
		if _, err := st.Logout(ctx, session.Logout{Issuer: "https://op.example", SID: "other", Until: time.Now().Add(30 * time.Second)}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Logout(ctx, session.Logout{Issuer: "https://op.example", Subject: "someone", Until: time.Now().Add(90 * time.Second)}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		time.Sleep(10*time.Minute + session.SweepInterval + 2*time.Second)
		synctest.Wait()
		if d := st.Snapshot(); !d.Empty() {
			t.Fatalf("store not empty %v after the last expiry, with no calls: %+v", time.Since(start)-10*time.Minute, d)
		}
	})
}

// TestMemoryStoreExpiryBounded is the regression test of incremental
// expiry: 100 000 sessions and 20 000 tombstones that lapse at the same
// instant are removed in steps of at most ExpireBatch, earliest first,
// and then nothing of them is left; the sessions that have not expired
// stay.
func TestMemoryStoreExpiryBounded(t *testing.T) {
	ctx := context.Background()
	clock := fakeclock.New(time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC))
	st := session.NewMemoryStore(session.MemoryConfig{Now: clock.Now})
	expiry := clock.Now().Add(time.Hour)
	const n, tombs = 100_000, 20_000
	for i := range n {
		s := memSession(fmt.Sprint("user", i/3), fmt.Sprint("sid", i), expiry)
		if i%7 == 0 {
			s.SID = ""
		}
		mustCreate(t, st, s)
	}
	for i := range tombs {
		l := session.Logout{Issuer: "https://op.example", SID: fmt.Sprint("gone", i), Until: expiry}
		if i%2 == 1 {
			l = session.Logout{Issuer: "https://op.example", Subject: fmt.Sprint("gone", i), Until: expiry}
		}
		if _, err := st.Logout(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	live := mustCreate(t, st, memSession("survivor", "S", expiry.Add(time.Second)))
	if err := st.CheckInvariants(); err != nil {
		t.Fatal(err)
	}

	clock.Advance(time.Hour) // everything but live is due
	steps, removed := 0, 0
	for {
		got := st.ExpireStep()
		if got > session.ExpireBatch {
			t.Fatalf("step %d removed %d, more than ExpireBatch (%d)", steps, got, session.ExpireBatch)
		}
		if got == 0 {
			break
		}
		steps++
		removed += got
		if steps%100 == 0 {
			if err := st.CheckInvariants(); err != nil {
				t.Fatalf("after step %d: %v", steps, err)
			}
		}
	}
	// The idle timer is a real minute away, so every step was ours.
	if removed != n+tombs {
		t.Errorf("removed %d in %d steps, want %d", removed, steps, n+tombs)
	}
	if min := (n + tombs) / session.ExpireBatch; steps < min {
		t.Errorf("%d steps, want at least %d", steps, min)
	}
	d := st.Snapshot()
	if len(d.Records) != 1 || len(d.SIDs) != 1 || len(d.Subjects) != 1 || d.Expiries != 1 ||
		d.SIDTombstones+d.SubjectTombstones+d.Lapses != 0 {
		t.Errorf("after housekeeping: %d records, %d sids, %d subjects, %d expiry entries, %d+%d tombstones, %d lapse entries; want 1, 1, 1, 1, 0, 0",
			len(d.Records), len(d.SIDs), len(d.Subjects), d.Expiries, d.SIDTombstones, d.SubjectTombstones, d.Lapses)
	}
	if _, err := st.Get(ctx, live.ID); err != nil {
		t.Errorf("Get of the unexpired session: %v", err)
	}
	if err := st.CheckInvariants(); err != nil {
		t.Error(err)
	}
}

// TestMemoryStoreLapsedTombstoneStartsAfresh: a subject tombstone that has
// lapsed refuses nothing, whether or not housekeeping has removed it yet,
// even when a later logout of the same subject renews it.
func TestMemoryStoreLapsedTombstoneStartsAfresh(t *testing.T) {
	ctx := context.Background()
	clock := fakeclock.New(time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC))
	st := session.NewMemoryStore(session.MemoryConfig{Now: clock.Now})
	t0 := clock.Now()
	if _, err := st.Logout(ctx, session.Logout{Issuer: "https://op.example", Subject: "alice", Until: t0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Minute) // lapsed; no housekeeping ran (the real timer is a minute away)
	// A logout of one provider session of alice: it tombstones her
	// sid-less sessions, not those with another sid.
	if _, err := st.Logout(ctx, session.Logout{Issuer: "https://op.example", Subject: "alice", SID: "A"}); err != nil {
		t.Fatal(err)
	}
	s := memSession("alice", "B", clock.Now().Add(time.Hour))
	s.Claims = json.RawMessage(fmt.Sprintf(`{"iat":%d}`, t0.Add(-time.Minute).Unix())) // before the lapsed logout
	if err := st.Create(ctx, s); err != nil {
		t.Errorf("Create under a lapsed subject-wide tombstone = %v, want nil", err)
	}
	sidless := memSession("alice", "", clock.Now().Add(time.Hour))
	sidless.Created = clock.Now().Add(-time.Second)
	if err := st.Create(ctx, sidless); !errors.Is(err, session.ErrLoggedOut) {
		t.Errorf("Create of a sid-less session under the renewed tombstone = %v, want ErrLoggedOut", err)
	}
}

// TestMemoryStoreRandomOps runs random operations, with expiries and a
// clock that moves, and checks after each that the maps, the index lists
// and the expiry queues agree, and that Get agrees with a model of the
// live sessions; then again with hashes narrowed so that records' short
// keys and the index hashes collide all the time.
func TestMemoryStoreRandomOps(t *testing.T) {
	t.Run("hashes", func(t *testing.T) { randomOps(t, func(*session.MemoryStore) {}) })
	t.Run("collisions", func(t *testing.T) {
		randomOps(t, func(st *session.MemoryStore) { st.NarrowHashes(12, 2) })
	})
}

func randomOps(t *testing.T, setup func(*session.MemoryStore)) {
	ctx := context.Background()
	clock := fakeclock.New(time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC))
	st := session.NewMemoryStore(session.MemoryConfig{Now: clock.Now})
	setup(st)
	rng := rand.New(rand.NewPCG(5, 6))
	type held struct {
		s    *session.Session
		gone bool // deleted, so Get must not find it whatever the clock says
	}
	var all []*held
	sub := func() string { return fmt.Sprint("user", rng.IntN(20)) }
	sid := func() string {
		if rng.IntN(4) == 0 {
			return ""
		}
		return fmt.Sprint("sid", rng.IntN(30))
	}
	for op := range 20_000 {
		switch k := rng.IntN(100); {
		case k < 35:
			s := memSession(sub(), sid(), clock.Now().Add(time.Duration(rng.IntN(600))*time.Second))
			if err := st.Create(ctx, s); err == nil {
				all = append(all, &held{s: s})
			} else if !errors.Is(err, session.ErrLoggedOut) {
				t.Fatal(err)
			}
		case k < 50 && len(all) > 0:
			h := all[rng.IntN(len(all))]
			u, err := st.Get(ctx, h.s.ID)
			if err != nil {
				continue
			}
			u.Expiry = clock.Now().Add(time.Duration(rng.IntN(600)) * time.Second)
			if rng.IntN(2) == 0 {
				u.Claims = json.RawMessage(fmt.Sprintf(`{"n":%d}`, op))
			}
			if err := st.Update(ctx, u); err != nil {
				t.Fatalf("Update: %v", err)
			}
			h.s = u
		case k < 60 && len(all) > 0:
			h := all[rng.IntN(len(all))]
			if _, err := st.Delete(ctx, h.s.ID); err != nil {
				t.Fatal(err)
			}
			h.gone = true
		case k < 65:
			iss, v := "https://op.example", sid()
			if _, err := st.DeleteBySID(ctx, iss, v); err != nil {
				t.Fatal(err)
			}
			for _, h := range all {
				if v != "" && h.s.SID == v {
					h.gone = true
				}
			}
		case k < 70:
			v := sub()
			if _, err := st.DeleteBySubject(ctx, "https://op.example", v); err != nil {
				t.Fatal(err)
			}
			for _, h := range all {
				if h.s.Subject == v {
					h.gone = true
				}
			}
		case k < 73:
			l := session.Logout{Issuer: "https://op.example", Subject: sub(), SID: sid(), Until: clock.Now().Add(time.Duration(rng.IntN(300)) * time.Second)}
			if rng.IntN(2) == 0 {
				l.Subject = ""
			}
			if _, err := st.Logout(ctx, l); err != nil {
				t.Fatal(err)
			}
			for _, h := range all {
				if (l.SID != "" && h.s.SID == l.SID) || (l.Subject == h.s.Subject && (l.SID == "" || h.s.SID == "")) && l.Valid() {
					h.gone = true
				}
			}
		case k < 85:
			clock.Advance(time.Duration(rng.IntN(20)) * time.Second)
		default:
			st.ExpireStep()
		}
		if err := st.CheckInvariants(); err != nil {
			t.Fatalf("op %d: %v", op, err)
		}
		if op%50 == 0 {
			now := clock.Now()
			for _, h := range all {
				_, err := st.Get(ctx, h.s.ID)
				if want := !h.gone && now.Before(h.s.Expiry); (err == nil) != want {
					t.Fatalf("op %d: Get = %v, want found %v", op, err, want)
				}
			}
		}
	}
	clock.Advance(time.Hour)
	for st.ExpireStep() > 0 {
	}
	if d := st.Snapshot(); !d.Empty() {
		t.Errorf("not empty after everything lapsed: %+v", d)
	}
}
