package middleware_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpkit/rpkit/internal/fakeclock"
	"github.com/rpkit/rpkit/middleware"
	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
	"github.com/rpkit/rpkit/session"
)

// TestRefreshAcrossInstances: two instances over one store, a provider that
// rotates refresh tokens, concurrent requests through both after the access
// token expired. The instance whose refresh is refused (the other rotated
// the token) must not end the session.
func TestRefreshAcrossInstances(t *testing.T) {
	clk := fakeclock.New(time.Now().Truncate(time.Second))
	p := oidctest.Start(t, oidctest.Config{Now: clk.Now, AccessTokenTTL: 5 * time.Minute, RotateRefreshTokens: true})
	store := session.NewMemoryStore(session.MemoryConfig{Now: clk.Now})
	cookies, err := session.NewCookieCodec([]byte(strings.Repeat("s", 32)))
	if err != nil {
		t.Fatal(err)
	}
	o := options{provider: p, clock: clk, store: store, mw: func(c *middleware.Config) { c.Cookies = cookies }}
	a1, a2 := newApp(t, o), newApp(t, o)
	b := newBrowser(t)
	a1.login(t, b, "")
	for round := range 5 {
		clk.Advance(6 * time.Minute)
		var wg sync.WaitGroup
		statuses := make(chan int, 4)
		for _, a := range []*app{a1, a2, a1, a2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := do(t, b.single, "GET", a.srv.URL+"/me", jsonAccept)
				statuses <- r.status
			}()
		}
		wg.Wait()
		close(statuses)
		for s := range statuses {
			if s != http.StatusOK {
				t.Fatalf("round %d: a request got %d: a sibling's refresh ended the session", round, s)
			}
		}
	}
}

// TestRefreshStoreDown: the store fails while a refresh writes: 503, and
// the session is there once the store is back.
func TestRefreshStoreDown(t *testing.T) {
	store := &flakyStore{Store: session.NewMemoryStore(session.MemoryConfig{})}
	a := newApp(t, options{store: store})
	b := newBrowser(t)
	a.login(t, b, "")
	a.clk.Advance(6 * time.Minute)
	store.updateDown.Store(true)
	if status, _ := a.me(t, b); status != http.StatusServiceUnavailable {
		t.Fatalf("/me with the store failing the refresh's write: %d", status)
	}
	store.updateDown.Store(false)
	if status, _ := a.me(t, b); status != 200 {
		t.Fatalf("/me once the store is back: %d", status)
	}
}

// TestLogoutDuringRefreshRevokesNewToken: when a logout wins over a refresh
// in flight, the refresh token that refresh obtained is revoked too.
func TestLogoutDuringRefreshRevokesNewToken(t *testing.T) {
	a := newApp(t, options{op: func(c *oidctest.Config) { c.RotateRefreshTokens = true }})
	b := newBrowser(t)
	a.login(t, b, "")
	a.clk.Advance(6 * time.Minute)
	var newRT string
	a.p.SetResponseHook("token", func(r *oidctest.Response) {
		newRT, _ = r.Body["refresh_token"].(string)
		a.store.DeleteBySubject(context.Background(), a.p.Issuer(), oidctest.DefaultSubject)
	})
	if status, _ := a.me(t, b); status != http.StatusUnauthorized {
		t.Fatalf("/me: %d", status)
	}
	revoked := false
	for _, r := range a.p.Revocations() {
		revoked = revoked || (r.Token == newRT && newRT != "")
	}
	if !revoked {
		t.Fatalf("the orphaned refresh token was not revoked: %+v", a.p.Revocations())
	}
}

func TestConflictingPaths(t *testing.T) {
	p := oidctest.Start(t, oidctest.Config{})
	client, err := rp.New(t.Context(), rp.Config{Issuer: p.Issuer(), ClientID: oidctest.DefaultClientID,
		ClientSecret: oidctest.DefaultClientSecret, RedirectURL: "http://127.0.0.1:1/callback", HTTPClient: p.Client()})
	if err != nil {
		t.Fatal(err)
	}
	for _, paths := range []middleware.Paths{{Login: "/callback"}, {Logout: "/login"}, {Login: "/a/{x"}} {
		if _, err := middleware.New(middleware.Config{Client: client, Paths: paths}); err == nil {
			t.Errorf("paths %+v accepted", paths)
		}
	}
}

// TestShortTokensRefreshedOncePerLifetime: access tokens that live 3
// seconds, shorter than the default 30-second leeway, are refreshed once
// each (at three quarters of their life), not on every request.
func TestShortTokensRefreshedOncePerLifetime(t *testing.T) {
	a := newApp(t, options{op: func(c *oidctest.Config) { c.AccessTokenTTL = 3 * time.Second }})
	b := newBrowser(t)
	a.login(t, b, "")
	const requests, every = 300, 200 * time.Millisecond // a minute
	for range requests {
		a.clk.Advance(every)
		if status, _ := a.me(t, b); status != 200 {
			t.Fatalf("/me: %d", status)
		}
	}
	// One refresh per 2.25 s (2.4 s in 200 ms steps) of the 60 s: 25;
	// never one per request.
	if n := refreshCount(a.p); n < 24 || n > 27 {
		t.Fatalf("%d refreshes over %d requests in %s with 3-second tokens, want about 25", n, requests, requests*every)
	}
}
