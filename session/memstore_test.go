package session_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/rpkit/rpkit/internal/fakeclock"
	"github.com/rpkit/rpkit/session"
	"github.com/rpkit/rpkit/session/storetest"
)

func TestMemoryStoreConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) session.Store {
		return session.NewMemoryStore(session.MemoryConfig{})
	})
}

// TestZeroMemoryStoreConformance runs the suite on the zero value, which
// makes its maps at the first write.
func TestZeroMemoryStoreConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) session.Store {
		return new(session.MemoryStore)
	})
}

func memSession(subject, sid string, expiry time.Time) *session.Session {
	return &session.Session{
		Issuer:      "https://op.example",
		Subject:     subject,
		SID:         sid,
		AccessToken: "at-" + subject,
		Expiry:      expiry,
	}
}

func mustCreate(t *testing.T, st session.Store, s *session.Session) *session.Session {
	t.Helper()
	if err := st.Create(t.Context(), s); err != nil {
		t.Fatalf("Create: %v", err)
	}
	return s
}

func TestMemoryStoreCreateValidates(t *testing.T) {
	st := session.NewMemoryStore(session.MemoryConfig{})
	exp := time.Now().Add(time.Hour)
	tests := []struct {
		name string
		s    *session.Session
	}{
		{"nil", nil},
		{"preset ID", &session.Session{ID: session.NewID(), Issuer: "i", Subject: "s", Expiry: exp}},
		{"no issuer", &session.Session{Subject: "s", Expiry: exp}},
		{"no subject", &session.Session{Issuer: "i", Expiry: exp}},
		{"no expiry", &session.Session{Issuer: "i", Subject: "s"}},
		{"claims not JSON", &session.Session{Issuer: "i", Subject: "s", Expiry: exp, Claims: json.RawMessage(`{"a":`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := st.Create(t.Context(), tt.s)
			if !errors.Is(err, session.ErrInvalidSession) {
				t.Errorf("Create = %v, want ErrInvalidSession", err)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "session: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
	if d := st.Snapshot(); len(d.Records) != 0 || len(d.SIDs) != 0 || len(d.Subjects) != 0 {
		t.Errorf("refused Creates stored something: %+v", d)
	}
}

func TestMemoryStoreUpdateValidates(t *testing.T) {
	st := session.NewMemoryStore(session.MemoryConfig{})
	if err := st.Update(t.Context(), nil); !errors.Is(err, session.ErrInvalidSession) {
		t.Errorf("Update(nil) = %v, want ErrInvalidSession", err)
	}
	s := mustCreate(t, st, memSession("alice", "X", time.Now().Add(time.Hour)))
	u := *s
	u.Expiry = time.Time{}
	if err := st.Update(t.Context(), &u); !errors.Is(err, session.ErrInvalidSession) {
		t.Errorf("Update with a zero Expiry = %v, want ErrInvalidSession", err)
	}
	u = *s
	u.Claims = json.RawMessage(`not json`)
	if err := st.Update(t.Context(), &u); !errors.Is(err, session.ErrInvalidSession) {
		t.Errorf("Update with Claims that are not JSON = %v, want ErrInvalidSession", err)
	}
	if u.Version != s.Version {
		t.Errorf("refused Update set Version %d, want %d", u.Version, s.Version)
	}
	got, err := st.Get(t.Context(), s.ID)
	if err != nil {
		t.Fatalf("Get after a refused Update: %v", err)
	}
	if got.Version != s.Version || len(got.Claims) != 0 {
		t.Errorf("refused Updates changed the store: Version %d, Claims %q", got.Version, got.Claims)
	}
}

// TestMemoryStoreKeysByHash checks that the raw session ID appears nowhere
// in the store: records are keyed by Key(id) and keep no ID.
func TestMemoryStoreKeysByHash(t *testing.T) {
	st := session.NewMemoryStore(session.MemoryConfig{})
	ids := make(map[string]bool)
	for _, sub := range []string{"alice", "bob", "carol"} {
		s := mustCreate(t, st, memSession(sub, "sid-"+sub, time.Now().Add(time.Hour)))
		ids[s.ID] = true
		u, err := st.Get(t.Context(), s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Update(t.Context(), u); err != nil {
			t.Fatal(err)
		}
	}
	d := st.Snapshot()
	if len(d.Records) != len(ids) {
		t.Fatalf("%d records, want %d", len(d.Records), len(ids))
	}
	for id := range ids {
		rec, ok := d.Records[session.Key(id)]
		if !ok {
			t.Errorf("no record under Key(id)")
		}
		if rec.ID != "" {
			t.Errorf("record keeps its ID")
		}
	}
	check := func(where, v string) {
		if ids[v] {
			t.Errorf("raw session ID in %s", where)
		}
	}
	for k, rec := range d.Records {
		check("a record key", k)
		check("a record's ID", rec.ID)
	}
	for name, index := range map[string]map[string][]string{"sid index": d.SIDs, "subject index": d.Subjects} {
		for k, keys := range index {
			check(name+" key", k)
			for _, key := range keys {
				check(name, key)
				if _, ok := d.Records[key]; !ok {
					t.Errorf("%s lists %q, which has no record", name, key)
				}
			}
		}
	}
}

// TestMemoryStoreClock checks expiry against an injected clock: Get,
// Update and the delete counts treat a session as gone at its Expiry.
func TestMemoryStoreClock(t *testing.T) {
	ctx := context.Background()
	clock := fakeclock.New(time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC))
	st := session.NewMemoryStore(session.MemoryConfig{Now: clock.Now})
	exp := clock.Now().Add(time.Minute)
	a := mustCreate(t, st, memSession("alice", "X", exp))
	b := mustCreate(t, st, memSession("alice", "X", exp.Add(time.Hour)))

	clock.Advance(time.Minute - 1)
	if _, err := st.Get(ctx, a.ID); err != nil {
		t.Fatalf("Get 1ns before Expiry: %v", err)
	}
	clock.Advance(1)
	if _, err := st.Get(ctx, a.ID); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Get at Expiry = %v, want ErrNotFound", err)
	}
	if err := st.Update(ctx, a); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Update at Expiry = %v, want ErrNotFound", err)
	}
	if n, err := st.DeleteBySID(ctx, "https://op.example", "X"); n != 1 || err != nil {
		t.Errorf("DeleteBySID = %d, %v; want 1 (the expired session is not counted), nil", n, err)
	}
	if _, err := st.Get(ctx, b.ID); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Get after DeleteBySID = %v, want ErrNotFound", err)
	}
	if d := st.Snapshot(); len(d.Records)+len(d.SIDs)+len(d.Subjects) != 0 {
		t.Errorf("store not empty after DeleteBySID: %+v", d)
	}
}

func TestMemoryStoreEmptyIndexValues(t *testing.T) {
	st := session.NewMemoryStore(session.MemoryConfig{})
	s := mustCreate(t, st, memSession("alice", "", time.Now().Add(time.Hour)))
	if n, err := st.DeleteBySID(t.Context(), s.Issuer, ""); n != 0 || err != nil {
		t.Errorf("DeleteBySID with an empty sid = %d, %v; want 0, nil", n, err)
	}
	if n, err := st.DeleteBySubject(t.Context(), s.Issuer, ""); n != 0 || err != nil {
		t.Errorf("DeleteBySubject with an empty subject = %d, %v; want 0, nil", n, err)
	}
	if d := st.Snapshot(); len(d.SIDs) != 0 {
		t.Errorf("a session without sid is in the sid index: %v", d.SIDs)
	}
}

// TestSessionRedacts: printing or logging a session shows neither its ID
// nor its tokens.
func TestSessionRedacts(t *testing.T) {
	s := session.Session{ID: "the-session-id", Issuer: "https://op.example", Subject: "alice", SID: "sid-1",
		IDToken: "the-id-token", AccessToken: "the-access-token", RefreshToken: "the-refresh-token"}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "session", s, "ptr", &s)
	fmt.Fprintf(&buf, "%v %+v %#v %s %v", s, s, s, &s, []*session.Session{&s})
	out := buf.String()
	for _, secret := range []string{"the-session-id", "the-id-token", "the-access-token", "the-refresh-token"} {
		if strings.Contains(out, secret) {
			t.Fatalf("output leaks %s: %s", secret, out)
		}
	}
	if !strings.Contains(out, "alice") {
		t.Fatalf("output = %s", out)
	}
}

// TestMemoryStoreGetAllocs: Get hashes the ID without allocating and
// copies the session with its Claims in one allocation; an Update that
// changes neither Claims nor AuthParams allocates nothing.
func TestMemoryStoreGetAllocs(t *testing.T) {
	ctx := context.Background()
	st := session.NewMemoryStore(session.MemoryConfig{})
	s := memSession("alice", "X", time.Now().Add(time.Hour))
	s.Claims = json.RawMessage(`{"sub":"alice","sid":"X","iat":1700000000,"email":"alice@example.com"}`)
	mustCreate(t, st, s)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := st.Get(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
	}); n != 1 {
		t.Errorf("Get: %v allocations, want 1", n)
	}
	unknown := session.NewID()
	if n := testing.AllocsPerRun(100, func() { st.Get(ctx, unknown) }); n != 0 {
		t.Errorf("Get of an unknown ID: %v allocations, want 0", n)
	}
	u, err := st.Get(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		u.LastSeen = u.LastSeen.Add(time.Second)
		if err := st.Update(ctx, u); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Update of LastSeen: %v allocations, want 0", n)
	}
}

// TestMemoryStoreGetCopiesAreIndependent: the Claims of two Gets, whatever
// their size, share nothing with each other or the store, and appending
// to them writes nowhere else.
func TestMemoryStoreGetCopiesAreIndependent(t *testing.T) {
	ctx := context.Background()
	st := session.NewMemoryStore(session.MemoryConfig{})
	for _, size := range []int{2, 200, 300, 800, 1500, 3000, 5000} {
		s := memSession(fmt.Sprint("user", size), "", time.Now().Add(time.Hour))
		claims := `{"x":"` + strings.Repeat("a", size) + `"}`
		s.Claims = json.RawMessage(claims)
		mustCreate(t, st, s)
		a, err := st.Get(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		b, err := st.Get(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if cap(a.Claims) != len(a.Claims) {
			t.Errorf("%d: Claims have room to grow in place (cap %d, len %d)", size, cap(a.Claims), len(a.Claims))
		}
		a.Claims[0] = 'X'
		grown := append(a.Claims, "tail"...)
		grown[1] = 'Y'
		if string(b.Claims) != claims {
			t.Errorf("%d: changing one Get's Claims changed another's", size)
		}
		c, err := st.Get(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if string(c.Claims) != claims {
			t.Errorf("%d: changing a Get's Claims changed the store", size)
		}
	}
}
