package bench

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"sync"
	"testing"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	"github.com/rpkit/rpkit/middleware"
	"github.com/rpkit/rpkit/session"
)

// Row 2: an authenticated request through middleware.RequireAuth with the
// memory store and a fresh access token (no refresh), served in-process
// through httptest.NewRecorder, against the same request
//
//   - impl=bare: the application's handler alone;
//   - impl=gorilla-sessions: gorilla/sessions' CookieStore (the session's
//     values in the cookie, securecookie's defaults);
//   - impl=securecookie-floor: a securecookie decode of the session ID
//     (AES-CTR + HMAC-SHA256 and JSON, as rpkit's CookieCodec configures
//     it) and a map lookup under a sync.RWMutex;
//   - impl=opaque-id: the cookie is the random ID itself, looked up in a
//     map under a sync.RWMutex.
//
// Every variant puts what it found in the request's context and calls the
// same handler. scs is not compared: see docs/BENCHMARKS.md.
func BenchmarkRequireAuth(b *testing.B) {
	op := newProvider(b, providerConfig())
	c := newClient(b, op, nil)
	m := newMiddleware(b, c, session.NewMemoryStore(session.MemoryConfig{}), nil, middleware.Config{})
	cookie := login(b, m, op)
	s := sessionOf(b, m, cookie)

	variants := []struct {
		name string
		h    http.Handler
		req  *http.Request
	}{
		{"bare", ok, request("/", nil)},
		{"rpkit", m.RequireAuth(ok), request("/", cookie)},
	}
	gorilla, gcookie := gorillaSessions(b, s)
	variants = append(variants, struct {
		name string
		h    http.Handler
		req  *http.Request
	}{"gorilla-sessions", gorilla, request("/", gcookie)})
	floor, fcookie := securecookieFloor(b, s)
	variants = append(variants, struct {
		name string
		h    http.Handler
		req  *http.Request
	}{"securecookie-floor", floor, request("/", fcookie)})
	opaque, ocookie := opaqueID(s)
	variants = append(variants, struct {
		name string
		h    http.Handler
		req  *http.Request
	}{"opaque-id", opaque, request("/", ocookie)})

	for _, v := range variants {
		b.Run("impl="+v.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				serve(b, v.h, v.req)
			}
		})
	}
}

// sessionOf returns the stored session the cookie names.
func sessionOf(b *testing.B, m *middleware.Middleware, cookie *http.Cookie) *session.Session {
	b.Helper()
	var got *session.Session
	h := m.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = middleware.SessionFromContext(r.Context())
	}))
	serve(b, h, request("/", cookie))
	if got == nil {
		b.Fatal("no session in the context")
	}
	return got
}

type ctxKey struct{}

// gorillaSessions is a gorilla/sessions CookieStore holding the user's
// issuer, subject and sid in the cookie, and a cookie of that session.
func gorillaSessions(b *testing.B, s *session.Session) (http.Handler, *http.Cookie) {
	b.Helper()
	store := sessions.NewCookieStore(securecookie.GenerateRandomKey(64), securecookie.GenerateRandomKey(32))
	const name = "gsession"
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gs, err := store.Get(r, name)
		if err != nil || gs.IsNew {
			http.Error(w, "unauthenticated", http.StatusUnauthorized)
			return
		}
		sub, _ := gs.Values["sub"].(string)
		ok.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, sub)))
	})
	r := request("/", nil)
	gs, err := store.New(r, name)
	if err != nil {
		b.Fatal(err)
	}
	gs.Values["iss"], gs.Values["sub"], gs.Values["sid"] = s.Issuer, s.Subject, s.SID
	rec := newRecorder()
	if err := gs.Save(r, rec); err != nil {
		b.Fatal(err)
	}
	return h, rec.Result().Cookies()[0]
}

// lockedMap is a session table under a sync.RWMutex.
type lockedMap struct {
	mu sync.RWMutex
	m  map[string]*session.Session
}

func (l *lockedMap) get(id string) (*session.Session, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	s, ok := l.m[id]
	return s, ok
}

// securecookieFloor decodes the session ID from a securecookie cookie
// configured as rpkit's CookieCodec configures it (64-byte HMAC key,
// AES-256, JSON, no timestamp check), looks it up in a map and calls the
// handler with the session in the context.
func securecookieFloor(b *testing.B, s *session.Session) (http.Handler, *http.Cookie) {
	b.Helper()
	sc := securecookie.New(securecookie.GenerateRandomKey(64), securecookie.GenerateRandomKey(32)).
		SetSerializer(securecookie.JSONEncoder{}).MaxAge(0)
	const name = "floor"
	id := session.NewID()
	table := &lockedMap{m: map[string]*session.Session{id: s}}
	value, err := sc.Encode(name, id)
	if err != nil {
		b.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(name)
		var got string
		if err == nil {
			err = sc.Decode(name, c.Value, &got)
		}
		s, found := table.get(got)
		if err != nil || !found {
			http.Error(w, "unauthenticated", http.StatusUnauthorized)
			return
		}
		ok.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, s)))
	})
	return h, &http.Cookie{Name: name, Value: value}
}

// opaqueID is a random 256-bit ID in the cookie, looked up as it is.
func opaqueID(s *session.Session) (http.Handler, *http.Cookie) {
	const name = "opaque"
	buf := make([]byte, 32)
	rand.Read(buf)
	id := base64.RawURLEncoding.EncodeToString(buf)
	table := &lockedMap{m: map[string]*session.Session{id: s}}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(name)
		if err != nil {
			http.Error(w, "unauthenticated", http.StatusUnauthorized)
			return
		}
		s, found := table.get(c.Value)
		if !found {
			http.Error(w, "unauthenticated", http.StatusUnauthorized)
			return
		}
		ok.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, s)))
	})
	return h, &http.Cookie{Name: name, Value: id}
}
