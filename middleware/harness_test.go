package middleware_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/rpkit/rpkit/internal/fakeclock"
	"github.com/rpkit/rpkit/middleware"
	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
	"github.com/rpkit/rpkit/session"
)

// app is a small application behind the middleware, its provider and its
// store, all on loopback.
type app struct {
	p     *oidctest.Provider
	m     *middleware.Middleware
	store session.Store
	srv   *httptest.Server
	clk   *fakeclock.Clock
}

type options struct {
	op    func(*oidctest.Config)
	rp    func(*rp.Config)
	mw    func(*middleware.Config)
	store session.Store
	// provider and clock, when set, are shared with another app (two
	// instances of one application).
	provider *oidctest.Provider
	clock    *fakeclock.Clock
}

func newApp(t testing.TB, o options) *app {
	t.Helper()
	clk, p := o.clock, o.provider
	if clk == nil {
		clk = fakeclock.New(time.Now().Truncate(time.Second))
	}
	if p == nil {
		pcfg := oidctest.Config{Now: clk.Now, AccessTokenTTL: 5 * time.Minute}
		if o.op != nil {
			o.op(&pcfg)
		}
		p = oidctest.Start(t, pcfg)
	}

	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)

	rcfg := rp.Config{
		Issuer:                p.Issuer(),
		ClientID:              oidctest.DefaultClientID,
		ClientSecret:          oidctest.DefaultClientSecret,
		RedirectURL:           srv.URL + "/callback",
		PostLogoutRedirectURL: srv.URL + "/",
		Scopes:                []string{"profile", "email", "offline_access"},
		HTTPClient:            p.Client(),
		Now:                   clk.Now,
	}
	if o.rp != nil {
		o.rp(&rcfg)
	}
	client, err := rp.New(t.Context(), rcfg)
	if err != nil {
		t.Fatal(err)
	}
	store := o.store
	if store == nil {
		store = session.NewMemoryStore(session.MemoryConfig{Now: clk.Now})
	}
	mcfg := middleware.Config{Client: client, Store: store, Now: clk.Now, DefaultReturnTo: "/me"}
	if o.mw != nil {
		o.mw(&mcfg)
	}
	m, err := middleware.New(mcfg)
	if err != nil {
		t.Fatal(err)
	}

	mux := http.NewServeMux()
	if err := m.Mount(mux, middleware.Receivers{}); err != nil {
		t.Fatal(err)
	}
	mux.Handle("GET /me", m.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := middleware.SessionFromContext(r.Context())
		var claims map[string]any
		middleware.ClaimsFromContext(r.Context(), &claims)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"sub": s.Subject, "sid": s.SID, "claims": claims, "at": s.AccessToken})
	})))
	mux.Handle("GET /{$}", m.PostLogoutLanding(m.OptionalAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := middleware.SessionFromContext(r.Context())
		switch {
		case middleware.LoggedOut(r.Context()):
			fmt.Fprint(w, "logged out")
		case ok:
			fmt.Fprint(w, "hello "+s.Subject)
		default:
			fmt.Fprint(w, "home")
		}
	}))))
	h = mux
	return &app{p: p, m: m, store: store, srv: srv, clk: clk}
}

// browser is a cookie jar and two clients over it: one follows redirects,
// one does not.
type browser struct {
	jar    http.CookieJar
	follow *http.Client
	single *http.Client
}

func newBrowser(t testing.TB) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{
		jar:    jar,
		follow: &http.Client{Jar: jar, Timeout: 10 * time.Second},
		single: &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
	}
}

// result is a read response.
type result struct {
	status int
	header http.Header
	body   string
	url    *url.URL // final URL after redirects
}

func (r result) location() string { return r.header.Get("Location") }

func do(t testing.TB, c *http.Client, method, u string, header http.Header) result {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{resp.StatusCode, resp.Header, string(b), resp.Request.URL}
}

var jsonAccept = http.Header{"Accept": {"application/json"}}

// login runs the whole flow from /login and returns the final response.
func (a *app) login(t testing.TB, b *browser, returnTo string) result {
	t.Helper()
	u := a.srv.URL + "/login"
	if returnTo != "" {
		u += "?return_to=" + url.QueryEscape(returnTo)
	}
	return do(t, b.follow, "GET", u, nil)
}

// me fetches /me as JSON and returns the status and the decoded body.
func (a *app) me(t *testing.T, b *browser) (int, map[string]any) {
	t.Helper()
	r := do(t, b.single, "GET", a.srv.URL+"/me", jsonAccept)
	var body map[string]any
	json.Unmarshal([]byte(r.body), &body)
	return r.status, body
}

// cookies returns the browser's cookies for the app.
func (a *app) cookies(b *browser) []*http.Cookie {
	u, _ := url.Parse(a.srv.URL)
	return b.jar.Cookies(u)
}

// cookie returns the browser's cookie of that name for the app.
func (a *app) cookie(b *browser, name string) *http.Cookie {
	for _, c := range a.cookies(b) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (a *app) setCookie(b *browser, c *http.Cookie) {
	u, _ := url.Parse(a.srv.URL)
	b.jar.SetCookies(u, []*http.Cookie{c})
}

func refreshCount(p *oidctest.Provider) int {
	n := 0
	for _, r := range p.TokenRequests() {
		if r.GrantType == "refresh_token" {
			n++
		}
	}
	return n
}
