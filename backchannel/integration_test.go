package backchannel_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rpkit/rpkit/backchannel"
	"github.com/rpkit/rpkit/internal/fakeclock"
	"github.com/rpkit/rpkit/internal/redistest"
	"github.com/rpkit/rpkit/middleware"
	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
	"github.com/rpkit/rpkit/session"
	"github.com/rpkit/rpkit/session/redisstore"
)

// instance is one application instance: the middleware with /me and the
// back-channel receiver, on its own loopback server.
type instance struct {
	srv *httptest.Server
	bc  string // back-channel logout URI
}

type stackConfig struct {
	p       *oidctest.Provider
	clk     *fakeclock.Clock
	store   session.Store
	replay  backchannel.ReplayCache
	cookies *session.CookieCodec
}

func newInstance(t *testing.T, sc stackConfig) *instance {
	t.Helper()
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	client, err := rp.New(t.Context(), rp.Config{Issuer: sc.p.Issuer(), ClientID: oidctest.DefaultClientID,
		ClientSecret: oidctest.DefaultClientSecret, RedirectURL: srv.URL + "/callback", PostLogoutRedirectURL: srv.URL + "/",
		Scopes: []string{"offline_access"}, HTTPClient: sc.p.Client(), Now: sc.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	m, err := middleware.New(middleware.Config{Client: client, Store: sc.store, Cookies: sc.cookies, Now: sc.clk.Now, DefaultReturnTo: "/me"})
	if err != nil {
		t.Fatal(err)
	}
	bc, err := backchannel.New(backchannel.Config{Verifier: client, Sessions: sc.store, Replay: sc.replay})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/login", m.Routes())
	mux.Handle("/callback", m.Routes())
	mux.Handle("/backchannel-logout", bc) // method-less: the handler answers 405 itself
	mux.Handle("GET /me", m.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := middleware.SessionFromContext(r.Context())
		w.Write([]byte(s.Subject))
	})))
	h = mux
	return &instance{srv: srv, bc: srv.URL + "/backchannel-logout"}
}

func browserClient(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > 10 {
				return http.ErrUseLastResponse
			}
			return nil
		}}
}

func status(t *testing.T, c *http.Client, u string) int {
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Error(err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func login(t *testing.T, c *http.Client, in *instance) {
	t.Helper()
	resp, err := c.Get(in.srv.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/me" {
		t.Fatalf("login ended at %s with %d", resp.Request.URL, resp.StatusCode)
	}
}

// TestLogoutRacingRequests: requests of one session keep coming while the
// provider's back-channel logout arrives; once the logout has returned, no
// request is served as that session.
func TestLogoutRacingRequests(t *testing.T) {
	clk := fakeclock.New(time.Now())
	p := oidctest.Start(t, oidctest.Config{Now: clk.Now})
	store := session.NewMemoryStore(session.MemoryConfig{Now: clk.Now})
	in := newInstance(t, stackConfig{p: p, clk: clk, store: store})
	p.AddClient(oidctest.Client{ID: oidctest.DefaultClientID, Secret: oidctest.DefaultClientSecret, BackchannelLogoutURI: in.bc})
	c := browserClient(t)
	login(t, c, in)
	sid := p.Sessions()[0].SID
	// Replay the session cookie by hand: a jar would drop it at the first
	// 401 and make the check trivial.
	u, _ := url.Parse(in.srv.URL)
	cookies := c.Jar.Cookies(u)
	raw := &http.Client{Timeout: 10 * time.Second}
	me := func() int {
		req, _ := http.NewRequest("GET", in.srv.URL+"/me", nil)
		req.Header.Set("Accept", "application/json")
		for _, ck := range cookies {
			req.AddCookie(ck)
		}
		resp, err := raw.Do(req)
		if err != nil {
			t.Error(err)
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	// Eight clients send /me in a loop. The logout waits until some
	// requests were served as the session; afterwards the test waits until
	// enough requests that started after the logout returned have
	// completed, and none of them may have been served.
	const servedBefore, checkedAfter = 16, 64
	var loggedOut atomic.Bool // set once the logout has returned
	var served, after, violations atomic.Int32
	stop := make(chan struct{})
	var wg sync.WaitGroup
	halt := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer halt()
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				startedAfter := loggedOut.Load()
				code := me()
				if code == 200 {
					served.Add(1)
				}
				if startedAfter {
					if code == 200 {
						violations.Add(1)
					}
					after.Add(1)
				}
			}
		})
	}
	waitFor := func(what string, n int32, counter *atomic.Int32) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); counter.Load() < n; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				halt()
				t.Fatalf("only %d %s within 10s, want %d", counter.Load(), what, n)
			}
		}
	}
	waitFor("requests served before the logout", servedBefore, &served)
	res, err := p.BackchannelLogout(t.Context(), sid)
	if err != nil || len(res) != 1 || res[0].Status != 200 {
		halt()
		t.Fatalf("back-channel logout: %+v, %v", res, err)
	}
	loggedOut.Store(true)
	waitFor("requests started after the logout completed", checkedAfter, &after)
	halt()
	if n := violations.Load(); n != 0 {
		t.Fatalf("%d of %d requests started after the logout were served as the session", n, after.Load())
	}
}

// TestLogoutDuringRefresh: a refresh is in flight when the logout arrives;
// the refresh must not write the session back.
func TestLogoutDuringRefresh(t *testing.T) {
	clk := fakeclock.New(time.Now())
	p := oidctest.Start(t, oidctest.Config{Now: clk.Now, AccessTokenTTL: time.Minute})
	store := session.NewMemoryStore(session.MemoryConfig{Now: clk.Now})
	in := newInstance(t, stackConfig{p: p, clk: clk, store: store})
	p.AddClient(oidctest.Client{ID: oidctest.DefaultClientID, Secret: oidctest.DefaultClientSecret, BackchannelLogoutURI: in.bc})
	c := browserClient(t)
	login(t, c, in)
	sid := p.Sessions()[0].SID

	clk.Advance(2 * time.Minute) // the access token has expired
	refreshing, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	p.SetResponseHook("token", func(*oidctest.Response) {
		once.Do(func() { close(refreshing) })
		<-release
	})
	got := make(chan int)
	go func() { got <- status(t, c, in.srv.URL+"/me") }()
	<-refreshing
	res, err := p.BackchannelLogout(t.Context(), sid)
	if err != nil || res[0].Status != 200 {
		t.Fatalf("back-channel logout: %+v, %v", res, err)
	}
	close(release)
	if code := <-got; code != http.StatusUnauthorized {
		t.Fatalf("/me whose refresh raced the logout: %d, want 401", code)
	}
	if n, _ := store.DeleteBySubject(t.Context(), p.Issuer(), oidctest.DefaultSubject); n != 0 {
		t.Fatal("the refresh wrote the logged-out session back")
	}
	if code := status(t, c, in.srv.URL+"/me"); code != http.StatusUnauthorized {
		t.Fatalf("/me after: %d", code)
	}
}

// TestLogoutAcrossInstances: two instances over one Redis; a logout
// received by one ends the session for the other, and a replay of the same
// token to the other is refused.
func TestLogoutAcrossInstances(t *testing.T) {
	addr := redistest.Start(t)
	clk := fakeclock.New(time.Now())
	p := oidctest.Start(t, oidctest.Config{Now: clk.Now})
	cookies, err := session.NewCookieCodec([]byte("shared-secret-shared-secret-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	newStack := func() *instance {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { rdb.Close() })
		st, err := redisstore.New(t.Context(), rdb, redisstore.Config{})
		if err != nil {
			t.Fatal(err)
		}
		return newInstance(t, stackConfig{p: p, clk: clk, store: st, replay: st, cookies: cookies})
	}
	a, b := newStack(), newStack()
	c := browserClient(t)
	login(t, c, a)
	if code := status(t, c, b.srv.URL+"/me"); code != 200 {
		t.Fatalf("/me through B: %d", code)
	}
	sid := p.Sessions()[0].SID
	raw, err := p.LogoutToken(oidctest.LogoutTokenOptions{Subject: oidctest.DefaultSubject, SID: sid})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.PostLogoutToken(t.Context(), b.bc, raw)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("logout through B: %v %v", resp, err)
	}
	resp.Body.Close()
	if code := status(t, c, a.srv.URL+"/me"); code != http.StatusUnauthorized {
		t.Fatalf("/me through A after the logout reached B: %d", code)
	}
	resp, err = p.PostLogoutToken(t.Context(), a.bc, raw)
	if err != nil {
		t.Fatal(err)
	}
	if ans := read(t, resp); ans.status != 400 || ans.body["error_description"] != "logout token replayed" {
		t.Fatalf("replay to A: %d %v", ans.status, ans.body)
	}
}

// TestLogoutDuringCodeExchange: the provider's back-channel logout arrives
// while the callback is exchanging the code of a login to the same
// provider session. It finds no session yet (200); the callback that
// follows must not create one for a provider session that has ended — on
// one instance (memory store) or two (Redis; the callback on another
// instance than the logout).
func TestLogoutDuringCodeExchange(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store func(t *testing.T) (session.Store, backchannel.ReplayCache)
	}{
		{"memory", func(*testing.T) (session.Store, backchannel.ReplayCache) {
			return session.NewMemoryStore(session.MemoryConfig{}), backchannel.NewMemoryReplayCache(nil)
		}},
		{"redis", func(t *testing.T) (session.Store, backchannel.ReplayCache) {
			rdb := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
			t.Cleanup(func() { rdb.Close() })
			st, err := redisstore.New(t.Context(), rdb, redisstore.Config{})
			if err != nil {
				t.Fatal(err)
			}
			return st, st
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := fakeclock.New(time.Now())
			p := oidctest.Start(t, oidctest.Config{Now: clk.Now})
			store, replay := tc.store(t)
			web := newInstance(t, stackConfig{p: p, clk: clk, store: store, replay: replay})
			receiver := newInstance(t, stackConfig{p: p, clk: clk, store: store, replay: replay})
			p.AddClient(oidctest.Client{ID: oidctest.DefaultClientID, Secret: oidctest.DefaultClientSecret, BackchannelLogoutURI: receiver.bc})

			exchanging, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			p.SetResponseHook("token", func(*oidctest.Response) {
				once.Do(func() { close(exchanging) })
				<-release
			})
			c := browserClient(t)
			got := make(chan int)
			go func() { got <- status(t, c, web.srv.URL+"/login") }()
			<-exchanging
			sid := p.Sessions()[0].SID
			res, err := p.BackchannelLogout(t.Context(), sid)
			if err != nil || len(res) != 1 || res[0].Status != http.StatusOK {
				t.Fatalf("back-channel logout: %+v, %v", res, err)
			}
			close(release)
			if code := <-got; code == http.StatusOK || code >= 500 {
				t.Fatalf("the callback that raced the logout answered %d, want a refusal (4xx)", code)
			}
			if code := status(t, c, web.srv.URL+"/me"); code != http.StatusUnauthorized {
				t.Fatalf("/me after the raced login: %d, want 401", code)
			}
			if n, err := store.DeleteBySubject(t.Context(), p.Issuer(), oidctest.DefaultSubject); n != 0 || err != nil {
				t.Fatalf("a session of the logged-out provider session exists (%d, %v)", n, err)
			}
		})
	}
}
