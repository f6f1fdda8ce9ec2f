// Package storetest is the conformance suite for implementations of
// [session.Store]: run [Run] from a test of any store to check the whole
// contract — round trips, copies, expiry, the logout indexes and their
// counts, no resurrection by Update, Update's version check and the order
// of its refusals, and concurrent use.
//
// It imports testing, so only tests should import it.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpkit/rpkit/session"
)

// Run checks that the stores newStore returns follow the [session.Store]
// contract, Logout's tombstones and the kept authorization-response
// parameters (AuthParams) included. Each subtest calls newStore for a fresh, empty store. The
// stores must use the real clock: one subtest waits about a second for a
// session to expire. Run the suite with -race to check concurrent use.
//
// The suite takes about two seconds on an in-memory store, most of it
// the expiry wait.
func Run(t *testing.T, newStore func(t *testing.T) session.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, st session.Store)
	}{
		{"CreateSetsID", testCreateSetsID},
		{"CreateRefusesPresetID", testCreateRefusesPresetID},
		{"CreateRefusesInvalid", testCreateRefusesInvalid},
		{"GetRoundTrip", testGetRoundTrip},
		{"GetRoundTripMinimal", testGetRoundTripMinimal},
		{"GetReturnsCopy", testGetReturnsCopy},
		{"CreateCopies", testCreateCopies},
		{"UpdateCopies", testUpdateCopies},
		{"GetUnknown", testGetUnknown},
		{"Update", testUpdate},
		{"UpdateImmutable", testUpdateImmutable},
		{"UpdateConflict", testUpdateConflict},
		{"UpdateRefusalOrder", testUpdateRefusalOrder},
		{"UpdateAfterDelete", testUpdateAfterDelete},
		{"UpdateAfterDeleteBySID", testUpdateAfterDeleteBySID},
		{"UpdateAfterDeleteBySubject", testUpdateAfterDeleteBySubject},
		{"UpdateUnknown", testUpdateUnknown},
		{"DeleteAbsent", testDeleteAbsent},
		{"DeleteBySID", testDeleteBySID},
		{"DeleteBySubject", testDeleteBySubject},
		{"DeleteUnknownIndex", testDeleteUnknownIndex},
		{"IndexesAfterUpdate", testIndexesAfterUpdate},
		{"Expiry", testExpiry},
		{"ConcurrentUpdateAndLogout", testConcurrentUpdateAndLogout},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"ParallelCreate", testParallelCreate},
		{"LogoutBySID", testLogoutBySID},
		{"LogoutBySubject", testLogoutBySubject},
		{"LogoutBySubjectAndSID", testLogoutBySubjectAndSID},
		{"LogoutLapses", testLogoutLapses},
		{"LogoutInvalid", testLogoutInvalid},
		{"LogoutRacesCreate", testLogoutRacesCreate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newStore(t)
			if st == nil {
				t.Fatal("newStore returned nil")
			}
			tt.fn(t, st)
		})
	}
}

const (
	issuerA = "https://a.example"
	issuerB = "https://b.example"
)

// newSession returns a session with every field set, expiring in an hour.
// Times carry nanoseconds so that a store that truncates them fails.
func newSession(issuer, subject, sid string) *session.Session {
	now := time.Now()
	return &session.Session{
		Issuer:            issuer,
		Subject:           subject,
		SID:               sid,
		IDToken:           "eyJhbGciOiJSUzI1NiJ9.e30.c2ln-" + subject,
		Claims:            json.RawMessage(`{"sub":"` + subject + `","email":"a<b>@example.com","n":[1,2.5,true,null]}`),
		AuthParams:        map[string]string{"session_id": "op-session-" + sid, "session_state": "a<b>&c"},
		AccessToken:       "at-" + subject + "-" + sid,
		RefreshToken:      "rt-" + subject + "-" + sid,
		AccessTokenExpiry: now.Add(5*time.Minute + 123456789*time.Nanosecond),
		AccessTokenIssued: now.Add(-time.Second - 987654321*time.Nanosecond),
		Created:           now.Add(-time.Second - 987654321*time.Nanosecond),
		LastSeen:          now.Add(-1),
		Expiry:            now.Add(time.Hour + 7),
	}
}

// create stores s and fails the test on error.
func create(t *testing.T, st session.Store, s *session.Session) *session.Session {
	t.Helper()
	if err := st.Create(t.Context(), s); err != nil {
		t.Fatalf("Create(%v): %v", s, err)
	}
	return s
}

// get returns the stored session and fails the test on error.
func get(t *testing.T, st session.Store, id string) *session.Session {
	t.Helper()
	s, err := st.Get(t.Context(), id)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if s == nil {
		t.Fatal("Get returned a nil session and no error")
	}
	return s
}

// wantGone checks that Get reports ErrNotFound for id.
func wantGone(t *testing.T, st session.Store, id, after string) {
	t.Helper()
	s, err := st.Get(t.Context(), id)
	if !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Get after %s = %v, %v; want ErrNotFound", after, s, err)
	}
}

// wantPresent checks that Get finds id.
func wantPresent(t *testing.T, st session.Store, id, after string) {
	t.Helper()
	if _, err := st.Get(t.Context(), id); err != nil {
		t.Errorf("Get after %s: %v; want the session", after, err)
	}
}

// diff describes how got differs from want, field by field ("" when
// equal). Times are compared with Equal, Claims byte for byte.
func diff(got, want *session.Session) string {
	var d []string
	str := func(name, g, w string) {
		if g != w {
			d = append(d, fmt.Sprintf("%s = %q, want %q", name, g, w))
		}
	}
	tm := func(name string, g, w time.Time) {
		if !g.Equal(w) {
			d = append(d, fmt.Sprintf("%s = %s, want %s", name, g.Format(time.RFC3339Nano), w.Format(time.RFC3339Nano)))
		}
	}
	str("ID", got.ID, want.ID)
	str("Issuer", got.Issuer, want.Issuer)
	str("Subject", got.Subject, want.Subject)
	str("SID", got.SID, want.SID)
	str("IDToken", got.IDToken, want.IDToken)
	if !bytes.Equal(got.Claims, want.Claims) {
		d = append(d, fmt.Sprintf("Claims = %s, want %s", got.Claims, want.Claims))
	}
	str("AccessToken", got.AccessToken, want.AccessToken)
	str("RefreshToken", got.RefreshToken, want.RefreshToken)
	tm("AccessTokenExpiry", got.AccessTokenExpiry, want.AccessTokenExpiry)
	tm("AccessTokenIssued", got.AccessTokenIssued, want.AccessTokenIssued)
	tm("Created", got.Created, want.Created)
	tm("LastSeen", got.LastSeen, want.LastSeen)
	tm("Expiry", got.Expiry, want.Expiry)
	if got.Version != want.Version {
		d = append(d, fmt.Sprintf("Version = %d, want %d", got.Version, want.Version))
	}
	if !maps.Equal(got.AuthParams, want.AuthParams) { // nil and empty are alike
		d = append(d, fmt.Sprintf("AuthParams = %v, want %v", got.AuthParams, want.AuthParams))
	}
	return strings.Join(d, "; ")
}

func testCreateSetsID(t *testing.T, st session.Store) {
	seen := make(map[string]bool)
	for i := range 20 {
		s := create(t, st, newSession(issuerA, fmt.Sprint("user", i), "sid"))
		if len(s.ID) < 43 {
			t.Errorf("Create set ID %q: %d chars, want at least 43 (256 bits)", s.ID, len(s.ID))
		}
		if seen[s.ID] {
			t.Fatalf("Create set ID %q twice", s.ID)
		}
		seen[s.ID] = true
	}
}

func testCreateRefusesPresetID(t *testing.T, st session.Store) {
	s := newSession(issuerA, "alice", "sid1")
	preset := session.NewID()
	s.ID = preset
	if err := st.Create(t.Context(), s); err == nil {
		t.Fatal("Create with a preset ID succeeded; want an error (no session fixation)")
	}
	wantGone(t, st, preset, "Create refused it")
	if n, err := st.DeleteBySID(t.Context(), issuerA, "sid1"); n != 0 || err != nil {
		t.Errorf("DeleteBySID after a refused Create = %d, %v; want 0, nil", n, err)
	}
}

func testCreateRefusesInvalid(t *testing.T, st session.Store) {
	for _, c := range []struct {
		name string
		set  func(*session.Session)
	}{
		{"no Issuer", func(s *session.Session) { s.Issuer = "" }},
		{"no Subject", func(s *session.Session) { s.Subject = "" }},
		{"zero Expiry", func(s *session.Session) { s.Expiry = time.Time{} }},
		{"Claims not JSON", func(s *session.Session) { s.Claims = json.RawMessage(`{"sub":`) }},
	} {
		s := newSession(issuerA, "alice", "sid1")
		c.set(s)
		if err := st.Create(t.Context(), s); !errors.Is(err, session.ErrInvalidSession) {
			t.Errorf("Create with %s = %v, want ErrInvalidSession", c.name, err)
		}
		if s.ID != "" {
			t.Errorf("refused Create with %s set an ID", c.name)
		}
	}
	if err := st.Create(t.Context(), nil); !errors.Is(err, session.ErrInvalidSession) {
		t.Errorf("Create(nil) = %v, want ErrInvalidSession", err)
	}
	if n, err := st.DeleteBySID(t.Context(), issuerA, "sid1"); n != 0 || err != nil {
		t.Errorf("DeleteBySID after refused Creates = %d, %v; want 0, nil", n, err)
	}
	if n, err := st.DeleteBySubject(t.Context(), issuerA, "alice"); n != 0 || err != nil {
		t.Errorf("DeleteBySubject after refused Creates = %d, %v; want 0, nil", n, err)
	}
}

func testGetRoundTrip(t *testing.T, st session.Store) {
	want := newSession(issuerA, "alice", "sid1")
	create(t, st, want)
	wantCopy := *want
	got := get(t, st, want.ID)
	if got == want {
		t.Fatal("Get returned the pointer given to Create")
	}
	if d := diff(got, &wantCopy); d != "" {
		t.Errorf("Get after Create: %s", d)
	}
}

func testGetRoundTripMinimal(t *testing.T, st session.Store) {
	// No sid, no refresh token, no access token expiry, no claims.
	want := &session.Session{
		Issuer:      issuerA,
		Subject:     "bob",
		AccessToken: "at",
		Created:     time.Now(),
		LastSeen:    time.Now(),
		Expiry:      time.Now().Add(time.Hour),
	}
	create(t, st, want)
	got := get(t, st, want.ID)
	if len(got.Claims) != 0 {
		t.Errorf("Claims = %s, want none", got.Claims)
	}
	got.Claims = nil
	if d := diff(got, want); d != "" {
		t.Errorf("Get after Create: %s", d)
	}
	if !got.AccessTokenExpiry.IsZero() {
		t.Errorf("AccessTokenExpiry = %v, want zero", got.AccessTokenExpiry)
	}
	if n, err := st.DeleteBySubject(t.Context(), issuerA, "bob"); n != 1 || err != nil {
		t.Errorf("DeleteBySubject of a session without sid = %d, %v; want 1, nil", n, err)
	}
}

func testGetReturnsCopy(t *testing.T, st session.Store) {
	s := create(t, st, newSession(issuerA, "alice", "sid1"))
	want := *s
	want.Claims = bytes.Clone(s.Claims)

	want.AuthParams = maps.Clone(s.AuthParams)

	got := get(t, st, s.ID)
	got.AccessToken = "changed"
	got.Expiry = got.Expiry.Add(time.Hour)
	got.Claims[2] = 'X'
	got.AuthParams["session_id"] = "changed"
	got.Version = 99

	if d := diff(get(t, st, s.ID), &want); d != "" {
		t.Errorf("changing Get's result changed the store: %s", d)
	}
}

func testCreateCopies(t *testing.T, st session.Store) {
	s := create(t, st, newSession(issuerA, "alice", "sid1"))
	want := *s
	want.Claims = bytes.Clone(s.Claims)
	want.AuthParams = maps.Clone(s.AuthParams)

	s.AccessToken = "changed"
	s.Claims[2] = 'X'
	s.AuthParams["session_id"] = "changed"
	s.Version = 99

	if d := diff(get(t, st, want.ID), &want); d != "" {
		t.Errorf("changing the session after Create changed the store: %s", d)
	}
}

func testUpdateCopies(t *testing.T, st session.Store) {
	s := create(t, st, newSession(issuerA, "alice", "sid1"))
	u := get(t, st, s.ID)
	u.AccessToken = "refreshed"
	if err := st.Update(t.Context(), u); err != nil {
		t.Fatalf("Update: %v", err)
	}
	want := *u
	want.Claims = bytes.Clone(u.Claims)
	want.AuthParams = maps.Clone(u.AuthParams)

	u.AccessToken = "changed"
	u.Claims[2] = 'X'
	u.AuthParams["session_id"] = "changed"
	u.Version = 99

	if d := diff(get(t, st, s.ID), &want); d != "" {
		t.Errorf("changing the session after Update changed the store: %s", d)
	}
}

func testGetUnknown(t *testing.T, st session.Store) {
	for _, id := range []string{session.NewID(), "", "not-an-id", session.Key(session.NewID())} {
		s, err := st.Get(t.Context(), id)
		if !errors.Is(err, session.ErrNotFound) {
			t.Errorf("Get(%q) = %v, %v; want ErrNotFound", id, s, err)
		}
	}
	// The storage key of a stored session is not its ID.
	s := create(t, st, newSession(issuerA, "alice", "sid1"))
	if got, err := st.Get(t.Context(), session.Key(s.ID)); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Get(Key(id)) = %v, %v; want ErrNotFound", got, err)
	}
}

func testUpdate(t *testing.T, st session.Store) {
	s := create(t, st, newSession(issuerA, "alice", "sid1"))
	v0 := s.Version
	for i := range 3 {
		u := get(t, st, s.ID)
		u.AccessToken = fmt.Sprint("at-", i)
		u.RefreshToken = fmt.Sprint("rt-", i)
		u.IDToken = fmt.Sprint("idt-", i)
		u.Claims = json.RawMessage(fmt.Sprintf(`{"sub":"alice","i":%d}`, i))
		u.AccessTokenExpiry = time.Now().Add(time.Duration(i+1)*time.Minute + 1)
		u.LastSeen = time.Now()
		u.Expiry = u.Expiry.Add(time.Second + 3)
		if err := st.Update(t.Context(), u); err != nil {
			t.Fatalf("Update %d: %v", i, err)
		}
		if want := v0 + uint64(i) + 1; u.Version != want {
			t.Errorf("Update %d set Version %d, want %d", i, u.Version, want)
		}
		if d := diff(get(t, st, s.ID), u); d != "" {
			t.Errorf("Get after Update %d: %s", i, d)
		}
	}
}

func testUpdateImmutable(t *testing.T, st session.Store) {
	s := create(t, st, newSession(issuerA, "alice", "sid1"))
	want := get(t, st, s.ID)
	for _, change := range []struct {
		field string
		set   func(*session.Session)
	}{
		{"Issuer", func(s *session.Session) { s.Issuer = issuerB }},
		{"Subject", func(s *session.Session) { s.Subject = "mallory" }},
		{"SID", func(s *session.Session) { s.SID = "sid2" }},
		{"SID to empty", func(s *session.Session) { s.SID = "" }},
	} {
		u := get(t, st, s.ID)
		change.set(u)
		u.AccessToken = "changed"
		if err := st.Update(t.Context(), u); !errors.Is(err, session.ErrImmutable) {
			t.Errorf("Update with changed %s = %v, want ErrImmutable", change.field, err)
		}
		if u.Version != want.Version {
			t.Errorf("refused Update with changed %s set Version %d, want %d", change.field, u.Version, want.Version)
		}
		if d := diff(get(t, st, s.ID), want); d != "" {
			t.Errorf("refused Update with changed %s changed the store: %s", change.field, d)
		}
	}
	if n, err := st.DeleteBySID(t.Context(), issuerA, "sid1"); n != 1 || err != nil {
		t.Errorf("DeleteBySID after refused Updates = %d, %v; want 1, nil", n, err)
	}
}

// testUpdateConflict updates one session through two copies read at the
// same version: the second Update is refused and the first one's data
// stays; after a re-read, Updates work again.
func testUpdateConflict(t *testing.T, st session.Store) {
	ctx := t.Context()
	s := create(t, st, newSession(issuerA, "alice", "sid1"))
	first := get(t, st, s.ID)
	second := get(t, st, s.ID)

	first.AccessToken = "at-first"
	first.RefreshToken = "rt-first"
	first.Claims = json.RawMessage(`{"sub":"alice","by":"first"}`)
	first.Expiry = first.Expiry.Add(time.Minute)
	if err := st.Update(ctx, first); err != nil {
		t.Fatalf("Update through the first copy: %v", err)
	}
	want := *first
	want.Claims = bytes.Clone(first.Claims)

	stale := second.Version
	second.AccessToken = "at-second"
	second.RefreshToken = "rt-second"
	second.Claims = json.RawMessage(`{"sub":"alice","by":"second"}`)
	second.Expiry = second.Expiry.Add(2 * time.Minute)
	for i := range 2 {
		if err := st.Update(ctx, second); !errors.Is(err, session.ErrConflict) {
			t.Fatalf("Update #%d through the stale copy = %v, want ErrConflict", i+1, err)
		}
		if second.Version != stale {
			t.Errorf("refused Update set Version %d, want %d (unchanged)", second.Version, stale)
		}
		if d := diff(get(t, st, s.ID), &want); d != "" {
			t.Errorf("refused Update #%d changed the store: %s", i+1, d)
		}
	}

	// A version ahead of the stored one is no better than one behind.
	ahead := get(t, st, s.ID)
	ahead.Version++
	ahead.AccessToken = "at-ahead"
	if err := st.Update(ctx, ahead); !errors.Is(err, session.ErrConflict) {
		t.Errorf("Update with a version ahead of the store = %v, want ErrConflict", err)
	}
	if d := diff(get(t, st, s.ID), &want); d != "" {
		t.Errorf("refused Update with a version ahead changed the store: %s", d)
	}

	// Re-read, decide again, update: that works.
	again := get(t, st, s.ID)
	if d := diff(again, &want); d != "" {
		t.Errorf("re-read after the conflict: %s", d)
	}
	again.AccessToken = "at-again"
	if err := st.Update(ctx, again); err != nil {
		t.Fatalf("Update after a re-read: %v", err)
	}
	if again.Version != want.Version+1 {
		t.Errorf("Update after a re-read set Version %d, want %d", again.Version, want.Version+1)
	}
	// Update wrote the new version back: the same copy updates again.
	again.AccessToken = "at-again-2"
	if err := st.Update(ctx, again); err != nil {
		t.Fatalf("second Update through the same copy: %v", err)
	}
	if again.Version != want.Version+2 {
		t.Errorf("second Update through the same copy set Version %d, want %d", again.Version, want.Version+2)
	}
	if d := diff(get(t, st, s.ID), again); d != "" {
		t.Errorf("Get after the Updates: %s", d)
	}
	// The first copy is stale now.
	if err := st.Update(ctx, first); !errors.Is(err, session.ErrConflict) {
		t.Errorf("Update through the first copy after others = %v, want ErrConflict", err)
	}
	if n, err := st.DeleteBySID(ctx, issuerA, "sid1"); n != 1 || err != nil {
		t.Errorf("DeleteBySID after conflicts = %d, %v; want 1, nil", n, err)
	}
}

// testUpdateRefusalOrder gives Update sessions with several faults at once:
// absence comes first, then a changed Issuer, Subject or SID, then a
// changed version, then a session that cannot be stored.
func testUpdateRefusalOrder(t *testing.T, st session.Store) {
	ctx := t.Context()
	s := create(t, st, newSession(issuerA, "alice", "sid1"))
	stale := get(t, st, s.ID)
	current := get(t, st, s.ID)
	current.AccessToken = "at-current"
	if err := st.Update(ctx, current); err != nil {
		t.Fatalf("Update: %v", err)
	}
	want := get(t, st, s.ID)

	invalid := func(u *session.Session) { u.Expiry = time.Time{} }
	badClaims := func(u *session.Session) { u.Claims = json.RawMessage(`{"sub":`) }
	for _, c := range []struct {
		name string
		from *session.Session
		set  func(*session.Session)
		want error
	}{
		{"changed SID, stale version, zero Expiry", stale, func(u *session.Session) { u.SID = "sid2"; invalid(u) }, session.ErrImmutable},
		{"changed Subject, stale version", stale, func(u *session.Session) { u.Subject = "mallory" }, session.ErrImmutable},
		{"changed Issuer, current version, zero Expiry", current, func(u *session.Session) { u.Issuer = issuerB; invalid(u) }, session.ErrImmutable},
		{"stale version, zero Expiry", stale, invalid, session.ErrConflict},
		{"stale version, Claims not JSON", stale, badClaims, session.ErrConflict},
		{"current version, zero Expiry", current, invalid, session.ErrInvalidSession},
		{"current version, Claims not JSON", current, badClaims, session.ErrInvalidSession},
	} {
		u := *c.from
		c.set(&u)
		u.AccessToken = "changed"
		if err := st.Update(ctx, &u); !errors.Is(err, c.want) {
			t.Errorf("Update with %s = %v, want %v", c.name, err, c.want)
		}
		if u.Version != c.from.Version {
			t.Errorf("refused Update with %s set Version %d, want %d", c.name, u.Version, c.from.Version)
		}
		if d := diff(get(t, st, s.ID), want); d != "" {
			t.Errorf("refused Update with %s changed the store: %s", c.name, d)
		}
	}

	if _, err := st.Delete(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	u := *stale
	u.SID = "sid2"
	u.Expiry = time.Time{}
	if err := st.Update(ctx, &u); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Update of a deleted session with a changed SID, a stale version and a zero Expiry = %v, want ErrNotFound", err)
	}
	wantGone(t, st, s.ID, "refused Updates of a deleted session")
	if n, err := st.DeleteBySubject(ctx, issuerA, "alice"); n != 0 || err != nil {
		t.Errorf("DeleteBySubject after refused Updates of a deleted session = %d, %v; want 0, nil", n, err)
	}
}

// testNoResurrection deletes a session that the caller still holds, then
// checks that Update does not bring it back.
func testNoResurrection(t *testing.T, st session.Store, del func(ctx context.Context, s *session.Session) error) {
	s := create(t, st, newSession(issuerA, "alice", "sid1"))
	held := get(t, st, s.ID)
	if err := del(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	wantGone(t, st, s.ID, "the delete")
	held.AccessToken = "refreshed"
	held.LastSeen = time.Now()
	if err := st.Update(t.Context(), held); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Update after the delete = %v, want ErrNotFound", err)
	}
	wantGone(t, st, s.ID, "Update of a deleted session")
	if n, err := st.DeleteBySID(t.Context(), issuerA, "sid1"); n != 0 || err != nil {
		t.Errorf("DeleteBySID after Update of a deleted session = %d, %v; want 0, nil", n, err)
	}
	if n, err := st.DeleteBySubject(t.Context(), issuerA, "alice"); n != 0 || err != nil {
		t.Errorf("DeleteBySubject after Update of a deleted session = %d, %v; want 0, nil", n, err)
	}
}

func testUpdateAfterDelete(t *testing.T, st session.Store) {
	testNoResurrection(t, st, func(ctx context.Context, s *session.Session) error {
		deleted, err := st.Delete(ctx, s.ID)
		if err == nil && !deleted {
			err = errors.New("Delete = false, want true")
		}
		return err
	})
}

func testUpdateAfterDeleteBySID(t *testing.T, st session.Store) {
	testNoResurrection(t, st, func(ctx context.Context, s *session.Session) error {
		n, err := st.DeleteBySID(ctx, s.Issuer, s.SID)
		if err == nil && n != 1 {
			err = fmt.Errorf("DeleteBySID = %d, want 1", n)
		}
		return err
	})
}

func testUpdateAfterDeleteBySubject(t *testing.T, st session.Store) {
	testNoResurrection(t, st, func(ctx context.Context, s *session.Session) error {
		n, err := st.DeleteBySubject(ctx, s.Issuer, s.Subject)
		if err == nil && n != 1 {
			err = fmt.Errorf("DeleteBySubject = %d, want 1", n)
		}
		return err
	})
}

func testUpdateUnknown(t *testing.T, st session.Store) {
	s := newSession(issuerA, "alice", "sid1")
	s.ID = session.NewID()
	if err := st.Update(t.Context(), s); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Update of a never-created session = %v, want ErrNotFound", err)
	}
	wantGone(t, st, s.ID, "Update of a never-created session")
	if n, err := st.DeleteBySID(t.Context(), issuerA, "sid1"); n != 0 || err != nil {
		t.Errorf("DeleteBySID after Update of a never-created session = %d, %v; want 0, nil", n, err)
	}
}

func testDeleteAbsent(t *testing.T, st session.Store) {
	if deleted, err := st.Delete(t.Context(), session.NewID()); deleted || err != nil {
		t.Errorf("Delete of an unknown ID = %v, %v; want false, nil", deleted, err)
	}
	s := create(t, st, newSession(issuerA, "alice", "sid1"))
	other := create(t, st, newSession(issuerA, "alice", "sid1"))
	for i, want := range []bool{true, false} {
		if deleted, err := st.Delete(t.Context(), s.ID); deleted != want || err != nil {
			t.Errorf("Delete #%d = %v, %v; want %v, nil", i+1, deleted, err, want)
		}
	}
	wantGone(t, st, s.ID, "Delete")
	wantPresent(t, st, other.ID, "Delete of another session")
	if n, err := st.DeleteBySID(t.Context(), issuerA, "sid1"); n != 1 || err != nil {
		t.Errorf("DeleteBySID after Delete of one of two = %d, %v; want 1, nil", n, err)
	}
}

func testDeleteBySID(t *testing.T, st session.Store) {
	ctx := t.Context()
	a1 := create(t, st, newSession(issuerA, "alice", "X"))       // ended
	a2 := create(t, st, newSession(issuerA, "alice", "X"))       // ended: a second tab or device in the same provider session
	a3 := create(t, st, newSession(issuerA, "alice", "Y"))       // another provider session of alice
	bob := create(t, st, newSession(issuerA, "bob", "Z"))        // another user
	otherIss := create(t, st, newSession(issuerB, "alice", "X")) // same sid at another issuer

	n, err := st.DeleteBySID(ctx, issuerA, "X")
	if n != 2 || err != nil {
		t.Fatalf("DeleteBySID(A, X) = %d, %v; want 2, nil", n, err)
	}
	wantGone(t, st, a1.ID, "DeleteBySID")
	wantGone(t, st, a2.ID, "DeleteBySID")
	wantPresent(t, st, a3.ID, "DeleteBySID of another sid")
	wantPresent(t, st, bob.ID, "DeleteBySID of another user's sid")
	wantPresent(t, st, otherIss.ID, "DeleteBySID at another issuer")

	if n, err := st.DeleteBySID(ctx, issuerA, "X"); n != 0 || err != nil {
		t.Errorf("second DeleteBySID(A, X) = %d, %v; want 0, nil", n, err)
	}
	// The subject index no longer lists a1 and a2.
	if n, err := st.DeleteBySubject(ctx, issuerA, "alice"); n != 1 || err != nil {
		t.Errorf("DeleteBySubject(A, alice) after DeleteBySID = %d, %v; want 1 (only the sid Y session), nil", n, err)
	}
	wantGone(t, st, a3.ID, "DeleteBySubject")
	wantPresent(t, st, bob.ID, "DeleteBySubject of another user")
	wantPresent(t, st, otherIss.ID, "DeleteBySubject at another issuer")
	if n, err := st.DeleteBySID(ctx, issuerB, "X"); n != 1 || err != nil {
		t.Errorf("DeleteBySID(B, X) = %d, %v; want 1, nil", n, err)
	}
}

func testDeleteBySubject(t *testing.T, st session.Store) {
	ctx := t.Context()
	a1 := create(t, st, newSession(issuerA, "alice", "X"))
	a2 := create(t, st, newSession(issuerA, "alice", "Y"))
	a3 := create(t, st, newSession(issuerA, "alice", "")) // provider gave no sid
	bob := create(t, st, newSession(issuerA, "bob", "Z"))
	otherIss := create(t, st, newSession(issuerB, "alice", "X"))

	n, err := st.DeleteBySubject(ctx, issuerA, "alice")
	if n != 3 || err != nil {
		t.Fatalf("DeleteBySubject(A, alice) = %d, %v; want 3, nil", n, err)
	}
	wantGone(t, st, a1.ID, "DeleteBySubject")
	wantGone(t, st, a2.ID, "DeleteBySubject")
	wantGone(t, st, a3.ID, "DeleteBySubject")
	wantPresent(t, st, bob.ID, "DeleteBySubject of another user")
	wantPresent(t, st, otherIss.ID, "DeleteBySubject at another issuer")

	if n, err := st.DeleteBySubject(ctx, issuerA, "alice"); n != 0 || err != nil {
		t.Errorf("second DeleteBySubject(A, alice) = %d, %v; want 0, nil", n, err)
	}
	// The sid index no longer lists alice's sessions.
	for _, sid := range []string{"X", "Y"} {
		if n, err := st.DeleteBySID(ctx, issuerA, sid); n != 0 || err != nil {
			t.Errorf("DeleteBySID(A, %s) after DeleteBySubject = %d, %v; want 0, nil", sid, n, err)
		}
	}
	wantPresent(t, st, otherIss.ID, "DeleteBySID at the first issuer")
	if n, err := st.DeleteBySID(ctx, issuerB, "X"); n != 1 || err != nil {
		t.Errorf("DeleteBySID(B, X) = %d, %v; want 1, nil", n, err)
	}
	if n, err := st.DeleteBySubject(ctx, issuerA, "bob"); n != 1 || err != nil {
		t.Errorf("DeleteBySubject(A, bob) = %d, %v; want 1, nil", n, err)
	}
}

func testDeleteUnknownIndex(t *testing.T, st session.Store) {
	ctx := t.Context()
	s := create(t, st, newSession(issuerA, "alice", "X"))
	for _, c := range []struct{ kind, iss, v string }{
		{"sid", issuerA, "nope"},
		{"sid", issuerB, "X"},
		{"sid", "", "X"},
		{"sub", issuerA, "nope"},
		{"sub", issuerB, "alice"},
		{"sub", "", "alice"},
	} {
		var n int
		var err error
		if c.kind == "sid" {
			n, err = st.DeleteBySID(ctx, c.iss, c.v)
		} else {
			n, err = st.DeleteBySubject(ctx, c.iss, c.v)
		}
		if n != 0 || err != nil {
			t.Errorf("DeleteBy%s(%q, %q) = %d, %v; want 0, nil", c.kind, c.iss, c.v, n, err)
		}
	}
	wantPresent(t, st, s.ID, "deletes of unknown sids and subjects")
}

func testIndexesAfterUpdate(t *testing.T, st session.Store) {
	ctx := t.Context()
	bySID := create(t, st, newSession(issuerA, "alice", "X"))
	bySub := create(t, st, newSession(issuerA, "bob", "Y"))
	for _, s := range []*session.Session{bySID, bySub} {
		for range 3 {
			u := get(t, st, s.ID)
			u.AccessToken += "+"
			u.Expiry = u.Expiry.Add(time.Minute)
			if err := st.Update(ctx, u); err != nil {
				t.Fatalf("Update: %v", err)
			}
		}
	}
	if n, err := st.DeleteBySID(ctx, issuerA, "X"); n != 1 || err != nil {
		t.Errorf("DeleteBySID of an updated session = %d, %v; want 1, nil", n, err)
	}
	wantGone(t, st, bySID.ID, "DeleteBySID")
	if n, err := st.DeleteBySubject(ctx, issuerA, "bob"); n != 1 || err != nil {
		t.Errorf("DeleteBySubject of an updated session = %d, %v; want 1, nil", n, err)
	}
	wantGone(t, st, bySub.ID, "DeleteBySubject")
}

func testExpiry(t *testing.T, st session.Store) {
	ctx := t.Context()
	s := newSession(issuerA, "alice", "X")
	s.Expiry = time.Now().Add(time.Second)
	create(t, st, s)
	held := get(t, st, s.ID)

	deadline := time.Now().Add(3 * time.Second)
	for {
		_, err := st.Get(ctx, s.ID)
		if errors.Is(err, session.ErrNotFound) {
			break
		}
		if err != nil {
			t.Fatalf("Get of an expiring session: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("Get still finds the session 2s after its Expiry")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Allow stores that keep expiry to the millisecond (Redis PXAT).
	if early := s.Expiry.Sub(time.Now()); early > 50*time.Millisecond {
		t.Errorf("session gone %v before its Expiry", early)
	}
	held.AccessToken = "refreshed"
	if err := st.Update(ctx, held); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Update of an expired session = %v, want ErrNotFound", err)
	}
	wantGone(t, st, s.ID, "Update of an expired session")
	// An expired session is gone: logouts do not count it.
	if n, err := st.DeleteBySID(ctx, issuerA, "X"); n != 0 || err != nil {
		t.Errorf("DeleteBySID of an expired session = %d, %v; want 0, nil", n, err)
	}
	if n, err := st.DeleteBySubject(ctx, issuerA, "alice"); n != 0 || err != nil {
		t.Errorf("DeleteBySubject of an expired session = %d, %v; want 0, nil", n, err)
	}
	if deleted, err := st.Delete(ctx, s.ID); deleted || err != nil {
		t.Errorf("Delete of an expired session = %v, %v; want false, nil", deleted, err)
	}
}

// testConcurrentUpdateAndLogout races a refresh loop (Update) against a
// logout (DeleteBySID): whatever the interleaving, the logout wins.
func testConcurrentUpdateAndLogout(t *testing.T, st session.Store) {
	ctx := t.Context()
	for round := range 50 {
		s := create(t, st, newSession(issuerA, fmt.Sprint("user", round), fmt.Sprint("sid", round)))
		held := get(t, st, s.ID)
		start := make(chan struct{})
		var wg sync.WaitGroup
		var updateErr, deleteErr error
		var deleted int
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			deadline := time.Now().Add(5 * time.Second)
			for i := 0; ; i++ {
				held.AccessToken = fmt.Sprint("at-", i)
				err := st.Update(ctx, held)
				if errors.Is(err, session.ErrNotFound) {
					return
				}
				if err != nil {
					updateErr = err
					return
				}
				if time.Now().After(deadline) {
					updateErr = errors.New("Update still succeeds 5s after DeleteBySID started")
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			<-start
			deleted, deleteErr = st.DeleteBySID(ctx, s.Issuer, s.SID)
		}()
		close(start)
		wg.Wait()
		if updateErr != nil {
			t.Fatalf("round %d: Update: %v", round, updateErr)
		}
		if deleted != 1 || deleteErr != nil {
			t.Fatalf("round %d: DeleteBySID = %d, %v; want 1, nil", round, deleted, deleteErr)
		}
		if got, err := st.Get(ctx, s.ID); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("round %d: Get after racing Update and DeleteBySID = %v, %v; want ErrNotFound (resurrected)", round, got, err)
		}
		if err := st.Update(ctx, held); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("round %d: Update after the race = %v, want ErrNotFound", round, err)
		}
	}
}

// testConcurrentUpdates runs read-modify-update loops on one session from
// several goroutines, each retrying on ErrConflict: no update is lost, and
// the version counts every one of them.
func testConcurrentUpdates(t *testing.T, st session.Store) {
	const goroutines, each = 8, 10
	ctx := t.Context()
	s := newSession(issuerA, "alice", "sid1")
	s.AccessToken = "0"
	create(t, st, s)
	v0 := s.Version
	var wg sync.WaitGroup
	errs := make([]error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			deadline := time.Now().Add(10 * time.Second)
			for done := 0; done < each; {
				if time.Now().After(deadline) {
					errs[g] = fmt.Errorf("%d of %d increments after 10s", done, each)
					return
				}
				u, err := st.Get(ctx, s.ID)
				if err != nil {
					errs[g] = err
					return
				}
				var n int
				if _, err := fmt.Sscan(u.AccessToken, &n); err != nil {
					errs[g] = fmt.Errorf("AccessToken %q: %v", u.AccessToken, err)
					return
				}
				u.AccessToken = fmt.Sprint(n + 1)
				switch err := st.Update(ctx, u); {
				case errors.Is(err, session.ErrConflict):
					// another goroutine came first: read again
				case err != nil:
					errs[g] = err
					return
				default:
					done++
				}
			}
		}()
	}
	wg.Wait()
	for g, err := range errs {
		if err != nil {
			t.Fatalf("goroutine %d: %v", g, err)
		}
	}
	got := get(t, st, s.ID)
	if want := fmt.Sprint(goroutines * each); got.AccessToken != want {
		t.Errorf("counter = %s after %d increments: updates were lost", got.AccessToken, goroutines*each)
	}
	if want := v0 + goroutines*each; got.Version != want {
		t.Errorf("Version = %d, want %d", got.Version, want)
	}
}

func testParallelCreate(t *testing.T, st session.Store) {
	const goroutines, each = 10, 10
	ctx := t.Context()
	var wg sync.WaitGroup
	ids := make([][]string, goroutines)
	errs := make([]error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				s := newSession(issuerA, fmt.Sprintf("user-%d-%d", g, i), fmt.Sprint("sid-", g))
				if err := st.Create(ctx, s); err != nil {
					errs[g] = err
					return
				}
				ids[g] = append(ids[g], s.ID)
			}
		}()
	}
	wg.Wait()
	seen := make(map[string]bool)
	for g := range goroutines {
		if errs[g] != nil {
			t.Fatalf("Create: %v", errs[g])
		}
		for i, id := range ids[g] {
			if seen[id] {
				t.Fatalf("two Creates set the ID %q", id)
			}
			seen[id] = true
			if s := get(t, st, id); s.Subject != fmt.Sprintf("user-%d-%d", g, i) {
				t.Errorf("Get(%q).Subject = %q, want user-%d-%d", id, s.Subject, g, i)
			}
		}
	}
	if len(seen) != goroutines*each {
		t.Errorf("%d sessions created, want %d", len(seen), goroutines*each)
	}
	if n, err := st.DeleteBySID(ctx, issuerA, "sid-3"); n != each || err != nil {
		t.Errorf("DeleteBySID after parallel Creates = %d, %v; want %d, nil", n, err, each)
	}
}

// withIAT returns s with an ID token issued at iat (the "iat" claim).
func withIAT(s *session.Session, iat time.Time) *session.Session {
	s.Claims = json.RawMessage(fmt.Sprintf(`{"sub":%q,"iat":%d}`, s.Subject, iat.Unix()))
	return s
}

// wantLoggedOut checks that Create refuses s with ErrLoggedOut and stores
// nothing.
func wantLoggedOut(t *testing.T, st session.Store, s *session.Session, why string) {
	t.Helper()
	if err := st.Create(t.Context(), s); !errors.Is(err, session.ErrLoggedOut) {
		t.Errorf("Create of %s = %v; want ErrLoggedOut", why, err)
	}
	if s.ID != "" {
		t.Errorf("refused Create of %s set an ID", why)
	}
}

func logout(t *testing.T, st session.Store, l session.Logout, want int) {
	t.Helper()
	if n, err := st.Logout(t.Context(), l); n != want || err != nil {
		t.Fatalf("Logout(%+v) = %d, %v; want %d, nil", l, n, err, want)
	}
}

// testLogoutBySID: a sid logout ends the sid's sessions, of any subject,
// and refuses new ones of that sid until its tombstone lapses — a login
// that raced the logout loses. Other sids, subjects and issuers are
// untouched. Calling it again is harmless.
func testLogoutBySID(t *testing.T, st session.Store) {
	a1 := create(t, st, newSession(issuerA, "alice", "X"))
	a2 := create(t, st, newSession(issuerA, "alice", "X"))
	a3 := create(t, st, newSession(issuerA, "alice", "Y"))
	noSID := create(t, st, newSession(issuerA, "alice", ""))
	other := create(t, st, newSession(issuerB, "alice", "X"))

	logout(t, st, session.Logout{Issuer: issuerA, SID: "X"}, 2)
	wantGone(t, st, a1.ID, "Logout of its sid")
	wantGone(t, st, a2.ID, "Logout of its sid")
	wantPresent(t, st, a3.ID, "Logout of another sid")
	wantPresent(t, st, noSID.ID, "a sid-only Logout")
	wantPresent(t, st, other.ID, "Logout at another issuer")

	wantLoggedOut(t, st, newSession(issuerA, "alice", "X"), "a session of a logged-out sid")
	wantLoggedOut(t, st, newSession(issuerA, "bob", "X"), "another subject's session of a logged-out sid")
	create(t, st, newSession(issuerA, "alice", "Z"))
	create(t, st, newSession(issuerB, "alice", "X"))
	logout(t, st, session.Logout{Issuer: issuerA, SID: "X"}, 0)
}

// testLogoutBySubject: a subject-wide logout ends every session of the
// subject and refuses new ones whose ID token was issued no later than the
// logout; a login after it is accepted.
func testLogoutBySubject(t *testing.T, st session.Store) {
	at := time.Now().Add(-time.Minute).Truncate(time.Second)
	a1 := create(t, st, newSession(issuerA, "alice", "X"))
	a2 := create(t, st, newSession(issuerA, "alice", ""))
	bob := create(t, st, newSession(issuerA, "bob", "X"))

	logout(t, st, session.Logout{Issuer: issuerA, Subject: "alice", IssuedAt: at}, 2)
	wantGone(t, st, a1.ID, "Logout of its subject")
	wantGone(t, st, a2.ID, "Logout of its subject")
	wantPresent(t, st, bob.ID, "Logout of another subject")

	wantLoggedOut(t, st, withIAT(newSession(issuerA, "alice", "X"), at.Add(-time.Second)), "a session issued before the logout")
	wantLoggedOut(t, st, withIAT(newSession(issuerA, "alice", ""), at), "a session issued at the logout's instant")
	create(t, st, withIAT(newSession(issuerA, "alice", "X"), at.Add(time.Second)))
	// Without an iat, Created stands for it: a second ago, after the logout.
	create(t, st, newSession(issuerA, "alice", "W"))
	create(t, st, withIAT(newSession(issuerA, "bob", "Y"), at.Add(-time.Second)))
}

// testLogoutBySubjectAndSID: a logout naming both ends the sid's sessions
// and the subject's sessions that have no sid (their provider gave no sid
// in ID tokens), not the subject's other provider sessions.
func testLogoutBySubjectAndSID(t *testing.T, st session.Store) {
	at := time.Now().Add(-time.Minute).Truncate(time.Second)
	x := create(t, st, newSession(issuerA, "alice", "X"))
	noSID := create(t, st, newSession(issuerA, "alice", ""))
	y := create(t, st, newSession(issuerA, "alice", "Y"))
	bobNoSID := create(t, st, newSession(issuerA, "bob", ""))

	logout(t, st, session.Logout{Issuer: issuerA, Subject: "alice", SID: "X", IssuedAt: at}, 2)
	wantGone(t, st, x.ID, "Logout of its sid")
	wantGone(t, st, noSID.ID, "Logout of its subject and a sid")
	wantPresent(t, st, y.ID, "Logout of its subject and another sid")
	wantPresent(t, st, bobNoSID.ID, "Logout of another subject")

	wantLoggedOut(t, st, withIAT(newSession(issuerA, "alice", ""), at), "a sid-less session issued before the logout")
	wantLoggedOut(t, st, withIAT(newSession(issuerA, "alice", "X"), at.Add(time.Hour)), "a session of the logged-out sid")
	create(t, st, withIAT(newSession(issuerA, "alice", "Y"), at.Add(-time.Second)))
	create(t, st, withIAT(newSession(issuerA, "alice", ""), at.Add(time.Second)))
	// The subject index still finds the sessions left.
	if n, err := st.DeleteBySubject(t.Context(), issuerA, "alice"); n != 3 || err != nil {
		t.Errorf("DeleteBySubject after the Logout = %d, %v; want 3, nil", n, err)
	}
}

// testLogoutLapses: after Until, a logout's tombstones refuse nothing.
func testLogoutLapses(t *testing.T, st session.Store) {
	until := time.Now().Add(700 * time.Millisecond)
	at := time.Now().Add(-time.Minute)
	logout(t, st, session.Logout{Issuer: issuerA, SID: "X", Until: until}, 0)
	logout(t, st, session.Logout{Issuer: issuerA, Subject: "alice", IssuedAt: at, Until: until}, 0)
	wantLoggedOut(t, st, newSession(issuerA, "bob", "X"), "a session of a logged-out sid")
	wantLoggedOut(t, st, withIAT(newSession(issuerA, "alice", "Y"), at), "a session of a logged-out subject")
	time.Sleep(time.Until(until) + 100*time.Millisecond)
	create(t, st, newSession(issuerA, "bob", "X"))
	create(t, st, withIAT(newSession(issuerA, "alice", "Y"), at))
}

// testLogoutInvalid: a Logout that names nothing ends nothing.
func testLogoutInvalid(t *testing.T, st session.Store) {
	a := create(t, st, newSession(issuerA, "alice", "X"))
	for _, l := range []session.Logout{{}, {Issuer: issuerA}, {SID: "X", Subject: "alice"}} {
		logout(t, st, l, 0)
	}
	wantPresent(t, st, a.ID, "Logouts that name nothing")
	create(t, st, newSession(issuerA, "alice", "X"))
}

// testLogoutRacesCreate races logins (Create) of one provider session
// against its logout: once Logout has returned, none of them exists,
// whichever won each race.
func testLogoutRacesCreate(t *testing.T, st session.Store) {
	ctx := t.Context()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created []string
	)
	start := make(chan struct{})
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			s := newSession(issuerA, fmt.Sprintf("user-%d", i%2), "X")
			err := st.Create(ctx, s)
			switch {
			case err == nil:
				mu.Lock()
				created = append(created, s.ID)
				mu.Unlock()
			case !errors.Is(err, session.ErrLoggedOut):
				t.Errorf("Create: %v", err)
			}
		}()
	}
	close(start)
	if _, err := st.Logout(ctx, session.Logout{Issuer: issuerA, SID: "X"}); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for _, id := range created {
		wantGone(t, st, id, "a Logout that raced its Create")
	}
}
