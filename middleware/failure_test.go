package middleware_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpkit/rpkit/middleware"
	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/session"
)

// flakyStore is a memory store that can be switched off, as a Redis server
// that went away.
type flakyStore struct {
	session.Store
	down       atomic.Bool
	updateDown atomic.Bool // only Update fails
}

func (f *flakyStore) Update(ctx context.Context, s *session.Session) error {
	if f.down.Load() || f.updateDown.Load() {
		return errDown
	}
	return f.Store.Update(ctx, s)
}

var errDown = errors.New("store: connection refused")

func (f *flakyStore) Get(ctx context.Context, id string) (*session.Session, error) {
	if f.down.Load() {
		return nil, errDown
	}
	return f.Store.Get(ctx, id)
}

func (f *flakyStore) Create(ctx context.Context, s *session.Session) error {
	if f.down.Load() {
		return errDown
	}
	return f.Store.Create(ctx, s)
}

func (f *flakyStore) Delete(ctx context.Context, id string) (bool, error) {
	if f.down.Load() {
		return false, errDown
	}
	return f.Store.Delete(ctx, id)
}

func TestStoreDown(t *testing.T) {
	store := &flakyStore{Store: session.NewMemoryStore(session.MemoryConfig{})}
	a := newApp(t, options{store: store})
	b := newBrowser(t)
	a.login(t, b, "")

	store.down.Store(true)
	if status, _ := a.me(t, b); status != http.StatusServiceUnavailable {
		t.Fatalf("/me with the store down: %d, want 503", status)
	}
	if r := do(t, b.single, "POST", a.srv.URL+"/logout", nil); r.status != http.StatusServiceUnavailable {
		t.Fatalf("logout with the store down: %d, want 503", r.status)
	}
	// A login cannot complete: 503, and no session cookie.
	nb := newBrowser(t)
	r := a.login(t, nb, "")
	if r.status != http.StatusServiceUnavailable || a.cookie(nb, "rpkit") != nil {
		t.Fatalf("login with the store down: %d", r.status)
	}
	if strings.Contains(r.body, errDown.Error()) {
		t.Fatalf("error text reached the browser: %q", r.body)
	}

	// Nothing was lost: the session works again once the store is back.
	store.down.Store(false)
	if status, _ := a.me(t, b); status != 200 {
		t.Fatalf("/me after the store is back: %d", status)
	}
}

func TestCallbackFailures(t *testing.T) {
	foreign, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		breaks     func(a *app)
		want       int
		retryAfter string
	}{
		{"provider refuses (access_denied)", nil, http.StatusBadRequest, ""},
		{"token endpoint down", func(a *app) {
			a.p.SetResponseHook("token", func(r *oidctest.Response) { r.Status, r.Raw = 503, []byte("down") })
		}, http.StatusBadGateway, ""},
		{"bad ID token", func(a *app) {
			a.p.SetTokenHook(oidctest.IDToken, func(m *oidctest.Mint) { m.Claims["aud"] = "someone-else" })
		}, http.StatusBadRequest, ""},
		// Signed by another key under the provider's kid: invalid, not
		// "try later".
		{"forged ID token signature", func(a *app) {
			a.p.SetTokenHook(oidctest.IDToken, func(m *oidctest.Mint) { m.Key = foreign })
		}, http.StatusBadRequest, ""},
		// The keys cannot be fetched: unavailable, with the key set's
		// back-off as Retry-After.
		{"JWKS down", func(a *app) {
			a.p.SetResponseHook("jwks", func(r *oidctest.Response) { r.Status = http.StatusInternalServerError })
		}, http.StatusServiceUnavailable, "1"},
		{"OnLogin refuses", nil, http.StatusForbidden, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := options{}
			if tc.want == http.StatusForbidden {
				o.mw = func(c *middleware.Config) {
					c.OnLogin = func(context.Context, *session.Session) error { return errors.New("not in the allow-list") }
				}
			}
			a := newApp(t, o)
			if tc.breaks != nil {
				tc.breaks(a)
			}
			b := newBrowser(t)
			r := do(t, b.single, "GET", a.srv.URL+"/login", nil)
			params, err := a.p.Authorize(t.Context(), r.location())
			if err != nil {
				t.Fatal(err)
			}
			if tc.name == "provider refuses (access_denied)" {
				params.Del("code")
				params.Set("error", "access_denied")
			}
			r = do(t, b.single, "GET", a.srv.URL+"/callback?"+params.Encode(), nil)
			if r.status != tc.want || r.header.Get("Retry-After") != tc.retryAfter {
				t.Fatalf("callback: %d, Retry-After %q, want %d, %q (%q)", r.status, r.header.Get("Retry-After"), tc.want, tc.retryAfter, r.body)
			}
			if a.cookie(b, "rpkit") != nil {
				t.Fatal("a failed callback set a session cookie")
			}
			if status, _ := a.me(t, b); status != http.StatusUnauthorized {
				t.Fatal("a failed callback made a session")
			}
			if strings.Contains(r.body, "rp:") || strings.Contains(r.body, "middleware:") {
				t.Fatalf("error text reached the browser: %q", r.body)
			}
		})
	}
}

// TestCallbackJSONError: API clients get JSON errors.
func TestCallbackJSONError(t *testing.T) {
	a := newApp(t, options{})
	r := do(t, newBrowser(t).single, "GET", a.srv.URL+"/callback?state=0123456789abcdefXYZ&code=x", jsonAccept)
	if r.status != http.StatusBadRequest || r.header.Get("Content-Type") != "application/json" || !strings.Contains(r.body, `"error":"invalid_request"`) {
		t.Fatalf("%d %s %s", r.status, r.header.Get("Content-Type"), r.body)
	}
}

// TestLogoutBeatsRefresh: a logout that lands while a refresh is in flight
// wins; the refresh does not write the session back.
func TestLogoutBeatsRefresh(t *testing.T) {
	a := newApp(t, options{})
	b := newBrowser(t)
	a.login(t, b, "")
	a.clk.Advance(6 * time.Minute)
	var ended atomic.Int32
	a.p.SetResponseHook("token", func(r *oidctest.Response) {
		// The refresh response is on its way: a back-channel logout ends
		// every session of the user meanwhile.
		n, err := a.store.DeleteBySubject(context.Background(), a.p.Issuer(), oidctest.DefaultSubject)
		if err != nil {
			t.Error(err)
		}
		ended.Add(int32(n))
	})
	if status, _ := a.me(t, b); status != http.StatusUnauthorized {
		t.Fatalf("/me racing a logout: %d, want 401", status)
	}
	if ended.Load() != 1 {
		t.Fatalf("logout ended %d sessions", ended.Load())
	}
	if n, _ := a.store.DeleteBySubject(t.Context(), a.p.Issuer(), oidctest.DefaultSubject); n != 0 {
		t.Fatal("the refresh brought the logged-out session back")
	}
}

func TestSessionLifetimes(t *testing.T) {
	// Access tokens outlive the test, so only the idle-time touches keep
	// LastSeen fresh (a refresh would too).
	a := newApp(t, options{op: func(c *oidctest.Config) { c.AccessTokenTTL = 3 * time.Hour },
		mw: func(c *middleware.Config) { c.Lifetime = time.Hour; c.IdleTimeout = 20 * time.Minute }})
	b := newBrowser(t)
	a.login(t, b, "")
	for range 3 { // active every 15 minutes: the idle timeout never fires
		a.clk.Advance(15 * time.Minute)
		if status, _ := a.me(t, b); status != 200 {
			t.Fatalf("/me: %d", status)
		}
	}
	// 65 minutes in: past the absolute lifetime.
	a.clk.Advance(20 * time.Minute)
	if status, _ := a.me(t, b); status != http.StatusUnauthorized {
		t.Fatalf("/me past the lifetime: %d", status)
	}

	b = newBrowser(t)
	a.login(t, b, "")
	a.clk.Advance(21 * time.Minute)
	if status, _ := a.me(t, b); status != http.StatusUnauthorized {
		t.Fatalf("/me past the idle timeout: %d", status)
	}
}

// TestLoginCookiesBounded: abandoned login attempts do not pile up cookies,
// and the newest attempt still completes.
func TestLoginCookiesBounded(t *testing.T) {
	a := newApp(t, options{})
	b := newBrowser(t)
	var last result
	for range 10 {
		last = do(t, b.single, "GET", a.srv.URL+"/login", nil)
		a.clk.Advance(time.Second)
	}
	n := 0
	for _, c := range a.cookies(b) {
		if strings.HasPrefix(c.Name, "rpkit-login-") {
			n++
		}
	}
	if n > 3 {
		t.Fatalf("%d login-state cookies after 10 attempts", n)
	}
	params, err := a.p.Authorize(t.Context(), last.location())
	if err != nil {
		t.Fatal(err)
	}
	if r := do(t, b.single, "GET", a.srv.URL+"/callback?"+params.Encode(), nil); r.status != http.StatusFound {
		t.Fatalf("newest attempt: %d", r.status)
	}
}

// TestLogoutRevocationFailure: a failed revocation is logged, not shown;
// the user is logged out all the same.
func TestLogoutRevocationFailure(t *testing.T) {
	var logs strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), nil))
	a := newApp(t, options{mw: func(c *middleware.Config) { c.Logger = logger }})
	b := newBrowser(t)
	a.login(t, b, "")
	a.p.SetResponseHook("revocation", func(r *oidctest.Response) { r.Status, r.Raw = 503, []byte("down") })
	r := do(t, b.single, "POST", a.srv.URL+"/logout", nil)
	if r.status != http.StatusFound || !strings.Contains(r.location(), "/end_session?") {
		t.Fatalf("logout with revocation down: %d %s", r.status, r.location())
	}
	if status, _ := a.me(t, b); status != http.StatusUnauthorized {
		t.Fatalf("/me after logout: %d", status)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "revoking the refresh token after logout") {
		t.Fatalf("revocation failure not logged: %s", logs.String())
	}
	revs := a.p.Revocations()
	if len(revs) != 1 || revs[0].Token == "" {
		t.Fatalf("revocations seen by the provider: %+v", revs)
	}
	if strings.Contains(logs.String(), revs[0].Token) {
		t.Fatal("the log holds the refresh token")
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
