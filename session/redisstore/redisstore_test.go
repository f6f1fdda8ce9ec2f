package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rpkit/rpkit/internal/redistest"
	"github.com/rpkit/rpkit/session"
	"github.com/rpkit/rpkit/session/redisstore"
	"github.com/rpkit/rpkit/session/storetest"
)

// prefixes makes a key prefix per store, so that the stores of one server
// never see each other's keys: each is a fresh, empty store.
var prefixes atomic.Int64

func newPrefix() string { return fmt.Sprintf("t%d:", prefixes.Add(1)) }

// TestSingleServer runs the whole suite against one redis-server.
func TestSingleServer(t *testing.T) {
	addr := redistest.Start(t)
	suite(t, func(t *testing.T) redis.UniversalClient {
		c := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { c.Close() })
		return c
	})
}

// TestCluster runs the whole suite against a three-master Redis Cluster:
// a script whose keys spanned two slots would fail with CROSSSLOT, and the
// sessions of the suite spread over all three nodes.
func TestCluster(t *testing.T) {
	addrs := redistest.StartCluster(t)
	suite(t, func(t *testing.T) redis.UniversalClient {
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
		t.Cleanup(func() { c.Close() })
		return c
	})
}

// suite runs every test that needs a server, each with clients from
// newClient.
func suite(t *testing.T, newClient func(t *testing.T) redis.UniversalClient) {
	t.Run("Conformance", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) session.Store {
			return mustNew(t, newClient(t), redisstore.Config{Prefix: newPrefix()})
		})
	})
	t.Run("NoIDInRedis", func(t *testing.T) { testNoIDInRedis(t, newClient(t)) })
	t.Run("EveryKeyExpires", func(t *testing.T) { testEveryKeyExpires(t, newClient(t)) })
	t.Run("TwoInstances", func(t *testing.T) { testTwoInstances(t, newClient(t), newClient(t)) })
	t.Run("UpdateExtendsIndexes", func(t *testing.T) { testUpdateExtendsIndexes(t, newClient(t)) })
	t.Run("IndexOutlivesShorterMember", func(t *testing.T) { testIndexOutlivesShorterMember(t, newClient(t)) })
	t.Run("CreatePrunesIndexes", func(t *testing.T) { testCreatePrunesIndexes(t, newClient(t)) })
	t.Run("LargeVersion", func(t *testing.T) { testLargeVersion(t, newClient(t)) })
	t.Run("ConflictAcrossInstances", func(t *testing.T) { testConflictAcrossInstances(t, newClient(t), newClient(t)) })
	t.Run("MalformedIDs", func(t *testing.T) { testMalformedIDs(t, newClient(t)) })
	t.Run("DefaultPrefix", func(t *testing.T) { testDefaultPrefix(t, newClient(t)) })
	t.Run("Replay", func(t *testing.T) { testReplay(t, newClient(t)) })
}

func newSession(subject, sid string) *session.Session {
	now := time.Now()
	return &session.Session{
		Issuer:       "https://op.example",
		Subject:      subject,
		SID:          sid,
		IDToken:      "header.payload.sig",
		AccessToken:  "at-" + subject,
		RefreshToken: "rt-" + subject,
		Created:      now,
		LastSeen:     now,
		Expiry:       now.Add(time.Hour),
	}
}

func mustCreate(t *testing.T, st *redisstore.Store, s *session.Session) *session.Session {
	t.Helper()
	if err := st.Create(t.Context(), s); err != nil {
		t.Fatalf("Create: %v", err)
	}
	return s
}

// populate fills a store with sessions in every shape (with and without
// sid, updated, deleted, several per sid and per subject) and a claim, and
// returns the IDs it created.
func populate(t *testing.T, st *redisstore.Store) []string {
	t.Helper()
	ctx := t.Context()
	var ids []string
	for i, sh := range []struct{ sub, sid string }{
		{"alice", "s1"}, {"alice", "s1"}, {"alice", "s2"}, {"alice", ""},
		{"bob", "s3"}, {"carol", ""}, {"dave", "s1"},
	} {
		s := mustCreate(t, st, newSession(sh.sub, sh.sid))
		ids = append(ids, s.ID)
		if i%2 == 0 {
			s.AccessToken = "refreshed"
			s.Expiry = s.Expiry.Add(time.Minute)
			if err := st.Update(ctx, s); err != nil {
				t.Fatalf("Update: %v", err)
			}
		}
	}
	if _, err := st.Delete(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	if err := st.Done(ctx, "https://op.example|jti-1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Logouts leave tombstones of every kind: a sid, the sid-less
	// sessions of a subject, a whole subject.
	for _, l := range []session.Logout{
		{Issuer: "https://op.example", SID: "s2"},
		{Issuer: "https://op.example", SID: "s9", Subject: "alice"},
		{Issuer: "https://op.example", Subject: "carol"},
	} {
		if _, err := st.Logout(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// keysOf returns every key under prefix, on every master of a cluster,
// and checks that a cluster spreads them over several masters.
func keysOf(t *testing.T, c redis.UniversalClient, prefix string) []string {
	t.Helper()
	ctx := t.Context()
	scan := func(ctx context.Context, c redis.UniversalClient) ([]string, error) {
		var keys []string
		it := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for it.Next(ctx) {
			keys = append(keys, it.Val())
		}
		return keys, it.Err()
	}
	var keys []string
	var err error
	if cc, ok := c.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		masters := 0
		err = cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			ks, err := scan(ctx, n)
			mu.Lock()
			defer mu.Unlock()
			keys = append(keys, ks...)
			if len(ks) > 0 {
				masters++
			}
			return err
		})
		if err == nil && masters < 2 && len(keys) > 5 {
			t.Errorf("%d keys under %q all on one cluster master, want them spread", len(keys), prefix)
		}
	} else {
		keys, err = scan(ctx, c)
	}
	if err != nil {
		t.Fatalf("SCAN: %v", err)
	}
	if len(keys) == 0 {
		t.Fatalf("no keys under %q", prefix)
	}
	return keys
}

// valuesOf returns every string stored at key, whatever its type.
func valuesOf(t *testing.T, c redis.UniversalClient, key string) []string {
	t.Helper()
	ctx := t.Context()
	typ, err := c.Type(ctx, key).Result()
	if err != nil {
		t.Fatalf("TYPE %s: %v", key, err)
	}
	switch typ {
	case "string":
		v, err := c.Get(ctx, key).Result()
		if err != nil {
			t.Fatalf("GET %s: %v", key, err)
		}
		return []string{v}
	case "hash":
		m, err := c.HGetAll(ctx, key).Result()
		if err != nil {
			t.Fatalf("HGETALL %s: %v", key, err)
		}
		var vs []string
		for k, v := range m {
			vs = append(vs, k, v)
		}
		return vs
	case "set":
		vs, err := c.SMembers(ctx, key).Result()
		if err != nil {
			t.Fatalf("SMEMBERS %s: %v", key, err)
		}
		return vs
	default:
		t.Fatalf("key %s has unexpected type %s", key, typ)
		return nil
	}
}

func testNoIDInRedis(t *testing.T, c redis.UniversalClient) {
	prefix := newPrefix()
	st := mustNew(t, c, redisstore.Config{Prefix: prefix})
	ids := populate(t, st)
	var secrets []string
	for _, id := range ids {
		_, random, ok := strings.Cut(id, ".")
		if !ok || len(random) < 43 {
			t.Fatalf("ID %q is not <tag>.<random>", id)
		}
		secrets = append(secrets, id, random)
	}
	keys := keysOf(t, c, prefix)
	for _, k := range keys {
		for _, v := range append([]string{k}, valuesOf(t, c, k)...) {
			for _, sec := range secrets {
				if strings.Contains(v, sec) {
					t.Errorf("key %s holds %q, which contains a session ID or its random part", k, v)
				}
			}
		}
	}
	t.Logf("%d keys checked", len(keys))
}

func testEveryKeyExpires(t *testing.T, c redis.UniversalClient) {
	prefix := newPrefix()
	populate(t, mustNew(t, c, redisstore.Config{Prefix: prefix}))
	kinds := make(map[string]int)
	for _, k := range keysOf(t, c, prefix) {
		ttl, err := c.PTTL(t.Context(), k).Result()
		if err != nil {
			t.Fatalf("PTTL %s: %v", k, err)
		}
		if ttl <= 0 {
			t.Errorf("key %s has PTTL %v, want > 0", k, ttl)
		}
		kind := k[strings.IndexByte(k, '}')+1:]
		kind, _, _ = strings.Cut(strings.TrimPrefix(kind, ":"), ":")
		if !strings.Contains(k, "}") {
			kind = "claim"
		}
		kinds[kind]++
	}
	for _, kind := range []string{"s", "sub", "sid", "tags", "claim"} {
		if kinds[kind] == 0 {
			t.Errorf("no %q key among %v", kind, kinds)
		}
	}
}

// testTwoInstances ends a session through another client, as a logout
// received by another instance of the app would.
func testTwoInstances(t *testing.T, c1, c2 redis.UniversalClient) {
	ctx := t.Context()
	prefix := newPrefix()
	a := mustNew(t, c1, redisstore.Config{Prefix: prefix})
	b := mustNew(t, c2, redisstore.Config{Prefix: prefix})
	s1 := mustCreate(t, a, newSession("alice", "sid-1"))
	s2 := mustCreate(t, a, newSession("bob", "sid-1")) // an odd provider: one sid, two subjects
	s3 := mustCreate(t, a, newSession("alice", "sid-2"))
	if _, err := b.Get(ctx, s1.ID); err != nil {
		t.Fatalf("Get on the other instance: %v", err)
	}
	if n, err := b.DeleteBySID(ctx, "https://op.example", "sid-1"); n != 2 || err != nil {
		t.Fatalf("DeleteBySID on the other instance = %d, %v; want 2, nil", n, err)
	}
	for _, id := range []string{s1.ID, s2.ID} {
		if _, err := a.Get(ctx, id); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("Get on the first instance after DeleteBySID = %v, want ErrNotFound", err)
		}
	}
	s3.AccessToken = "refreshed"
	if err := a.Update(ctx, s3); err != nil {
		t.Errorf("Update of a session the logout did not name: %v", err)
	}
	if n, err := b.DeleteBySubject(ctx, "https://op.example", "alice"); n != 1 || err != nil {
		t.Errorf("DeleteBySubject on the other instance = %d, %v; want 1, nil", n, err)
	}
	if err := a.Update(ctx, s3); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Update after DeleteBySubject on the other instance = %v, want ErrNotFound", err)
	}
}

// testUpdateExtendsIndexes lengthens a session past the TTL its index
// entries got at Create: DeleteBySID and DeleteBySubject must still find it.
func testUpdateExtendsIndexes(t *testing.T, c redis.UniversalClient) {
	ctx := t.Context()
	st := mustNew(t, c, redisstore.Config{Prefix: newPrefix()})
	var ss []*session.Session
	for _, sub := range []string{"alice", "bob"} {
		s := newSession(sub, "sid-"+sub)
		s.Expiry = time.Now().Add(500 * time.Millisecond)
		mustCreate(t, st, s)
		s.Expiry = time.Now().Add(time.Hour)
		if err := st.Update(ctx, s); err != nil {
			t.Fatal(err)
		}
		ss = append(ss, s)
	}
	time.Sleep(700 * time.Millisecond)
	for _, s := range ss {
		if _, err := st.Get(ctx, s.ID); err != nil {
			t.Fatalf("Get after the first Expiry passed: %v", err)
		}
	}
	if n, err := st.DeleteBySID(ctx, "https://op.example", "sid-alice"); n != 1 || err != nil {
		t.Errorf("DeleteBySID = %d, %v; want 1, nil", n, err)
	}
	if n, err := st.DeleteBySubject(ctx, "https://op.example", "bob"); n != 1 || err != nil {
		t.Errorf("DeleteBySubject = %d, %v; want 1, nil", n, err)
	}
}

// testIndexOutlivesShorterMember creates a long session, then a short one
// of the same sid and subject: the short one must not shorten the indexes.
func testIndexOutlivesShorterMember(t *testing.T, c redis.UniversalClient) {
	ctx := t.Context()
	st := mustNew(t, c, redisstore.Config{Prefix: newPrefix()})
	long := mustCreate(t, st, newSession("alice", "sid-1"))
	short := newSession("alice", "sid-1")
	short.Expiry = time.Now().Add(200 * time.Millisecond)
	mustCreate(t, st, short)
	time.Sleep(400 * time.Millisecond)
	if _, err := st.Get(ctx, short.ID); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Get of the expired session = %v, want ErrNotFound", err)
	}
	if n, err := st.DeleteBySID(ctx, "https://op.example", "sid-1"); n != 1 || err != nil {
		t.Errorf("DeleteBySID = %d, %v; want 1 (the expired one not counted), nil", n, err)
	}
	if _, err := st.Get(ctx, long.ID); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Get of the logged-out session = %v, want ErrNotFound", err)
	}
}

// testCreatePrunesIndexes lets many short sessions of one subject and sid
// expire beside a long one, then creates one more: Create must drop the
// dead members from both index sets, which the long session keeps alive.
func testCreatePrunesIndexes(t *testing.T, c redis.UniversalClient) {
	ctx := t.Context()
	st := mustNew(t, c, redisstore.Config{Prefix: newPrefix()})
	const iss, n = "https://op.example", 20
	long := mustCreate(t, st, newSession("alice", "sid-1"))
	other := mustCreate(t, st, newSession("alice", "sid-2")) // another sid of the subject
	end := time.Now().Add(600 * time.Millisecond)            // the Expiry of the short sessions
	for range n {
		s := newSession("alice", "sid-1")
		s.Expiry = end
		mustCreate(t, st, s)
	}
	subKey, sidKey := st.SubIndexKey(iss, "alice"), st.SIDIndexKey(iss, "alice", "sid-1")
	got := c.SCard(ctx, subKey).Val()
	if time.Now().Add(50*time.Millisecond).Before(end) && got != n+2 { // else a slow machine let some expire
		t.Fatalf("SCARD subject index = %d before the expiry, want %d", got, n+2)
	}
	time.Sleep(time.Until(end) + 200*time.Millisecond)
	last := mustCreate(t, st, newSession("alice", "sid-1"))

	check := func(name, key string, live ...*session.Session) {
		t.Helper()
		members, err := c.SMembers(ctx, key).Result()
		if err != nil {
			t.Fatalf("SMEMBERS %s: %v", name, err)
		}
		want := make(map[string]bool)
		for _, s := range live {
			want[st.RecordKey(s.ID)] = true
		}
		if len(members) != len(want) {
			t.Errorf("%s has %d members, want the %d live ones", name, len(members), len(want))
		}
		for _, m := range members {
			if !want[m] {
				t.Errorf("%s keeps %q, which is not a live record", name, m)
			}
		}
	}
	check("subject index", subKey, long, other, last)
	check("sid index", sidKey, long, last)
	if n, err := st.DeleteBySubject(ctx, iss, "alice"); n != 3 || err != nil {
		t.Errorf("DeleteBySubject = %d, %v; want 3, nil", n, err)
	}
}

// testLargeVersion updates a session whose version is beyond int64 and
// the 2^53 that Lua numbers hold exactly: versions are compared and
// counted as uint64.
func testLargeVersion(t *testing.T, c redis.UniversalClient) {
	ctx := t.Context()
	st := mustNew(t, c, redisstore.Config{Prefix: newPrefix()})
	s := newSession("alice", "sid-1")
	s.Version = 1<<63 + 5
	mustCreate(t, st, s)
	stale := *s
	stale.Version++ // differs from the stored one only beyond 2^53
	if err := st.Update(ctx, &stale); !errors.Is(err, session.ErrConflict) {
		t.Errorf("Update with the version one too high = %v, want ErrConflict", err)
	}
	if err := st.Update(ctx, s); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if s.Version != 1<<63+6 {
		t.Errorf("Version after Update = %d, want %d", s.Version, uint64(1<<63+6))
	}
	got, err := st.Get(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 1<<63+6 {
		t.Errorf("stored Version = %d, want %d", got.Version, uint64(1<<63+6))
	}
}

// testConflictAcrossInstances refreshes one session on two instances that
// read it at the same version: the second Update gets ErrConflict.
func testConflictAcrossInstances(t *testing.T, c1, c2 redis.UniversalClient) {
	ctx := t.Context()
	prefix := newPrefix()
	a := mustNew(t, c1, redisstore.Config{Prefix: prefix})
	b := mustNew(t, c2, redisstore.Config{Prefix: prefix})
	s := mustCreate(t, a, newSession("alice", "sid-1"))
	onA, err := a.Get(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	onB, err := b.Get(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	onA.RefreshToken = "rt-from-a"
	if err := a.Update(ctx, onA); err != nil {
		t.Fatalf("Update on the first instance: %v", err)
	}
	onB.RefreshToken = "rt-from-b"
	if err := b.Update(ctx, onB); !errors.Is(err, session.ErrConflict) {
		t.Fatalf("Update on the second instance = %v, want ErrConflict", err)
	}
	got, err := b.Get(ctx, s.ID)
	if err != nil {
		t.Fatalf("Get after the conflict: %v", err)
	}
	if got.RefreshToken != "rt-from-a" || got.Version != onA.Version {
		t.Errorf("after the conflict: RefreshToken %q, Version %d; want the first instance's %q, %d",
			got.RefreshToken, got.Version, "rt-from-a", onA.Version)
	}
}

func testMalformedIDs(t *testing.T, c redis.UniversalClient) {
	ctx := t.Context()
	st := mustNew(t, c, redisstore.Config{Prefix: newPrefix()})
	s := mustCreate(t, st, newSession("alice", "sid-1"))
	tag, random, _ := strings.Cut(s.ID, ".")
	for _, id := range []string{
		"", ".", tag, tag + ".", random, "." + random, tag + random,
		strings.ToUpper(tag) + "." + random, // tags are lowercase hex
		"{" + tag[1:] + "." + random,        // no hash tag injection
		tag[:15] + "}." + random,
		tag + ":" + random,
		tag + "." + random + "x",
		"0000000000000000." + random, // another tag: another record key
	} {
		if got, err := st.Get(ctx, id); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("Get(%q) = %v, %v; want ErrNotFound", id, got, err)
		}
		if _, err := st.Delete(ctx, id); err != nil {
			t.Errorf("Delete(%q) = %v, want nil", id, err)
		}
		u := *s
		u.ID = id
		if err := st.Update(ctx, &u); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("Update(%q) = %v, want ErrNotFound", id, err)
		}
	}
	if _, err := st.Get(ctx, s.ID); err != nil {
		t.Errorf("Get of the real ID: %v", err)
	}
}

func testDefaultPrefix(t *testing.T, c redis.UniversalClient) {
	st := mustNew(t, c, redisstore.Config{})
	s := mustCreate(t, st, newSession("prefix-check", ""))
	t.Cleanup(func() { st.Delete(context.Background(), s.ID) })
	for _, k := range keysOf(t, c, redisstore.DefaultPrefix) {
		if !strings.HasPrefix(k, "rpkit:{") {
			t.Errorf("key %q does not start with the default prefix", k)
		}
	}
}

func testReplay(t *testing.T, c redis.UniversalClient) {
	ctx := t.Context()
	st := mustNew(t, c, redisstore.Config{Prefix: newPrefix()})
	seen := func(key string, want bool) {
		t.Helper()
		if got, err := st.Seen(ctx, key); got != want || err != nil {
			t.Fatalf("Seen(%q) = %v, %v; want %v, nil", key, got, err, want)
		}
	}
	// Seen only reads: any number of them leaves the key unseen.
	for range 3 {
		seen("iss|jti-1", false)
	}
	until := time.Now().Add(500 * time.Millisecond)
	for range 2 { // Done is idempotent
		if err := st.Done(ctx, "iss|jti-1", until); err != nil {
			t.Fatal(err)
		}
	}
	seen("iss|jti-1", true)
	seen("iss|jti-2", false)
	// A past or zero until records nothing lasting.
	if err := st.Done(ctx, "iss|jti-past", time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	seen("iss|jti-past", false)
	if err := st.Done(ctx, "iss|jti-zero", time.Time{}); err != nil {
		t.Fatal(err)
	}
	seen("iss|jti-zero", false)
	time.Sleep(time.Until(until) + 100*time.Millisecond)
	seen("iss|jti-1", false)
}

// TestConnectionFailure points a store at a closed port: every method must
// fail with an error that is not ErrNotFound, so that callers fail closed.
func TestConnectionFailure(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	redis.SetLogger(quietDials{})

	for name, c := range map[string]redis.UniversalClient{
		"client": redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1,
			DialTimeout: time.Second}),
		"cluster": redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr}, MaxRetries: -1,
			DialerRetries: 1, DialTimeout: time.Second}),
	} {
		t.Run(name, func(t *testing.T) {
			t.Cleanup(func() { c.Close() })
			if _, err := redisstore.New(t.Context(), c, redisstore.Config{}); err == nil {
				t.Error("New of an unreachable Redis succeeded")
			}
			st := redisstore.NewUnchecked(c, redisstore.Config{})
			ctx := t.Context()
			id := "0123456789abcdef." + session.NewID() // well formed: Get must ask Redis
			s := newSession("alice", "sid-1")
			u := newSession("alice", "sid-1")
			u.ID = id
			check := func(op string, err error) {
				t.Helper()
				if err == nil || errors.Is(err, session.ErrNotFound) {
					t.Errorf("%s = %v; want an error other than ErrNotFound", op, err)
				} else if !strings.HasPrefix(err.Error(), "redisstore: ") {
					t.Errorf("%s = %q; want the redisstore: prefix", op, err)
				}
			}
			_, err := st.Get(ctx, id)
			check("Get", err)
			check("Create", st.Create(ctx, s))
			if s.ID != "" {
				t.Errorf("failed Create set ID")
			}
			noSID := newSession("alice", "")
			check("Create without sid", st.Create(ctx, noSID))
			check("Update", st.Update(ctx, u))
			u.SID = ""
			check("Update without sid", st.Update(ctx, u))
			_, err = st.Delete(ctx, id)
			check("Delete", err)
			_, err = st.DeleteBySID(ctx, "https://op.example", "sid-1")
			check("DeleteBySID", err)
			_, err = st.DeleteBySubject(ctx, "https://op.example", "alice")
			check("DeleteBySubject", err)
			_, err = st.Logout(ctx, session.Logout{Issuer: "https://op.example", SID: "sid-1", Subject: "alice"})
			check("Logout", err)
			seen, err := st.Seen(ctx, "iss|jti")
			check("Seen", err)
			if seen {
				t.Error("failed Seen reported seen")
			}
			check("Done", st.Done(ctx, "iss|jti", time.Now().Add(time.Minute)))
		})
	}
}

// quietDials is go-redis's logger without the "failed to dial" lines that
// TestConnectionFailure causes by design.
type quietDials struct{}

func (quietDials) Printf(ctx context.Context, format string, v ...any) {
	if strings.Contains(format, "failed to dial") {
		return
	}
	log.Printf(format, v...)
}

// countHook counts the commands a client sends: the round trips.
type countHook struct{ n atomic.Int32 }

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}
func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// TestRoundTrips pins how many commands each method sends once the scripts
// are cached: Get, Delete and DeleteBySubject one; DeleteBySID two; Create
// and Update of a session with a sid two.
func TestRoundTrips(t *testing.T) {
	addr := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	h := &countHook{}
	c.AddHook(h)
	st := mustNew(t, c, redisstore.Config{})
	ctx := t.Context()
	populate(t, st) // loads the scripts but deleteIndexScript
	if _, err := st.DeleteBySubject(ctx, "https://op.example", "nobody"); err != nil {
		t.Fatal(err)
	}

	count := func(op string, want int32, f func() error) {
		t.Helper()
		h.n.Store(0)
		if err := f(); err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		if got := h.n.Load(); got != want {
			t.Errorf("%s sent %d commands, want %d", op, got, want)
		}
	}
	withSID := newSession("erin", "sid-9")
	noSID := newSession("frank", "")
	count("Create with sid", 2, func() error { return st.Create(ctx, withSID) })
	count("Create without sid", 1, func() error { return st.Create(ctx, noSID) })
	count("Get", 1, func() error { _, err := st.Get(ctx, withSID.ID); return err })
	count("Update with sid", 2, func() error { return st.Update(ctx, withSID) })
	count("Update without sid", 1, func() error { return st.Update(ctx, noSID) })
	count("Delete", 1, func() error { _, err := st.Delete(ctx, noSID.ID); return err })
	count("DeleteBySubject", 1, func() error { _, err := st.DeleteBySubject(ctx, "https://op.example", "alice"); return err })
	count("DeleteBySID", 2, func() error { _, err := st.DeleteBySID(ctx, "https://op.example", "sid-9"); return err })
	count("Seen", 1, func() error { _, err := st.Seen(ctx, "k"); return err })
	count("Done", 1, func() error { return st.Done(ctx, "k", time.Now().Add(time.Minute)) })
}

// mustNew is redisstore.New with the test's context, failing the test on
// an error.
func mustNew(t testing.TB, c redis.UniversalClient, cfg redisstore.Config) *redisstore.Store {
	t.Helper()
	st, err := redisstore.New(context.Background(), c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestEvictionPolicy: New refuses a Redis that may evict rpkit's keys — its
// logout indexes and tombstones would go first, all having TTLs, and a
// logout would then miss live sessions — unless AllowEviction says to go
// on with a warning. A server that refuses CONFIG GET is accepted with a
// warning; an unreachable one is an error.
func TestEvictionPolicy(t *testing.T) {
	addr := redistest.Start(t)
	admin := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { admin.Close() })
	ctx := t.Context()
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, nil))

	for _, tc := range []struct {
		policy string
		allow  bool
		want   error
		warn   string
	}{
		{"noeviction", false, nil, ""},
		{"volatile-lru", false, redisstore.ErrEvictionPolicy, ""},
		{"allkeys-lru", false, redisstore.ErrEvictionPolicy, ""},
		{"volatile-ttl", true, nil, "maxmemory-policy may evict keys"},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			logs.Reset()
			if err := admin.ConfigSet(ctx, "maxmemory-policy", tc.policy).Err(); err != nil {
				t.Fatal(err)
			}
			st, err := redisstore.New(ctx, admin, redisstore.Config{AllowEviction: tc.allow, Logger: logger})
			if !errors.Is(err, tc.want) || (err == nil) != (st != nil) {
				t.Fatalf("New = %v, %v; want %v", st, err, tc.want)
			}
			if err != nil && !strings.Contains(err.Error(), tc.policy) {
				t.Errorf("the error does not name the policy: %v", err)
			}
			if !strings.Contains(logs.String(), tc.warn) || (tc.warn == "") != (logs.Len() == 0) {
				t.Errorf("log = %q, want %q", logs.String(), tc.warn)
			}
		})
	}

	// A user without CONFIG (as on managed services that rename it).
	if err := admin.ConfigSet(ctx, "maxmemory-policy", "volatile-lru").Err(); err != nil {
		t.Fatal(err)
	}
	if err := admin.Do(ctx, "ACL", "SETUSER", "app", "on", ">app-password", "~*", "+@all", "-config").Err(); err != nil {
		t.Fatal(err)
	}
	app := redis.NewClient(&redis.Options{Addr: addr, Username: "app", Password: "app-password"})
	t.Cleanup(func() { app.Close() })
	logs.Reset()
	if _, err := redisstore.New(ctx, app, redisstore.Config{Logger: logger}); err != nil {
		t.Fatalf("New without CONFIG permission: %v", err)
	}
	if !strings.Contains(logs.String(), "cannot read maxmemory-policy") {
		t.Errorf("no warning when CONFIG GET is refused: %q", logs.String())
	}
}

// TestPrefixEmptyHashTag: a Prefix with an empty hash tag would scatter a
// session's keys over cluster slots (CROSSSLOT on every Create): refused.
func TestPrefixEmptyHashTag(t *testing.T) {
	addr := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	for _, tc := range []struct {
		prefix string
		ok     bool
	}{{"app{}:", false}, {"{}", false}, {"{app}:", true}, {"app:", true}, {"a{b:", true}} {
		_, err := redisstore.New(t.Context(), c, redisstore.Config{Prefix: tc.prefix})
		if (err == nil) != tc.ok {
			t.Errorf("New with Prefix %q = %v; want ok %v", tc.prefix, err, tc.ok)
		}
	}
}
