package hydra_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpkit/rpkit/backchannel"
	"github.com/rpkit/rpkit/frontchannel"
	"github.com/rpkit/rpkit/internal/hydra/hydratest"
	"github.com/rpkit/rpkit/middleware"
	"github.com/rpkit/rpkit/rp"
	"github.com/rpkit/rpkit/session"
)

// hit is one request the provider (or the browser, for front-channel
// iframes) made to an app's logout endpoint, and the app's answer.
type hit struct {
	Method string
	Query  url.Values
	Form   url.Values
	Status int
	Body   string
}

// recorder wraps an app's logout endpoint and keeps every request.
type recorder struct {
	mu   sync.Mutex
	hits []hit
}

func (rec *recorder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := hit{Method: r.Method, Query: r.URL.Query()}
		if r.Method == http.MethodPost {
			body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			h.Form, _ = url.ParseQuery(string(body))
			r.Body = io.NopCloser(strings.NewReader(string(body)))
		}
		rw := httptest.NewRecorder()
		next.ServeHTTP(rw, r)
		h.Status, h.Body = rw.Code, rw.Body.String()
		for k, vs := range rw.Header() {
			w.Header()[k] = vs
		}
		w.WriteHeader(rw.Code)
		w.Write(rw.Body.Bytes())
		rec.mu.Lock()
		rec.hits = append(rec.hits, h)
		rec.mu.Unlock()
	})
}

func (rec *recorder) all() []hit {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.hits)
}

// waitFor polls rec until it holds n requests, for up to 15 seconds
// (Hydra sends back-channel logouts from goroutines of its own, after it
// has answered the browser).
func (rec *recorder) waitFor(t *testing.T, what string, n int) []hit {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if hits := rec.all(); len(hits) >= n {
			return hits
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d requests within 15s, want %d", what, len(rec.all()), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// clock is the middleware's clock: real time plus an offset a test
// advances to make the access token look expired.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }
func (c *clock) Reset()                  { c.offset.Store(0) }

// backend records the requests rp sends to Hydra (the token and
// revocation endpoints, discovery, the JWKS).
type backend struct {
	mu   sync.Mutex
	reqs []backendRequest
}

type backendRequest struct {
	Method, URL    string
	User, Password string // HTTP Basic credentials, decoded
	Form           url.Values
	Status         int
}

func (b *backend) RoundTrip(r *http.Request) (*http.Response, error) {
	br := backendRequest{Method: r.Method, URL: r.URL.Scheme + "://" + r.URL.Host + r.URL.Path}
	br.User, br.Password, _ = r.BasicAuth()
	if r.Body != nil {
		body, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		br.Form, _ = url.ParseQuery(string(body))
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(strings.NewReader(string(body)))
	}
	resp, err := http.DefaultTransport.RoundTrip(r)
	if resp != nil {
		br.Status = resp.StatusCode
	}
	b.mu.Lock()
	b.reqs = append(b.reqs, br)
	b.mu.Unlock()
	return resp, err
}

// to returns the requests sent to endpoint (scheme://host/path).
func (b *backend) to(endpoint string) []backendRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []backendRequest
	for _, r := range b.reqs {
		if r.URL == endpoint {
			out = append(out, r)
		}
	}
	return out
}

// checkClientAuth checks client_secret_basic: the client's credentials in
// the Authorization header (form-urlencoded first, RFC 6749 2.3.1, which
// changes nothing for Hydra's UUIDs and hex secrets), none in the body.
func (a *app) checkClientAuth(t *testing.T, r backendRequest) {
	t.Helper()
	if r.User != a.client.ClientID || r.Password != a.client.ClientSecret {
		t.Fatalf("%s %s: Basic credentials %q, want the client's", r.Method, r.URL, r.User)
	}
	if r.Form.Has("client_secret") || r.Form.Has("client_assertion") {
		t.Fatalf("%s %s: client credentials in the body too: %v", r.Method, r.URL, keys(r.Form))
	}
}

// app is one relying party: rpkit's middleware with /me, the back-channel
// and the front-channel receivers, on its own loopback server, registered
// as its own client at Hydra.
type app struct {
	name    string
	srv     *httptest.Server
	client  hydratest.Client
	rp      *rp.Client
	store   *session.MemoryStore
	clk     *clock
	bc, fc  recorder
	backend backend      // rp's requests to Hydra
	landed  atomic.Int32 // post-logout landings that LoggedOut confirmed
}

type appOptions struct {
	backchannel, frontchannel bool
	refreshLeeway             time.Duration
}

func newApp(t *testing.T, h *hydratest.Server, name string, opts appOptions) *app {
	t.Helper()
	a := &app{name: name, store: session.NewMemoryStore(session.MemoryConfig{}), clk: new(clock)}
	var handler http.Handler
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(a.srv.Close)
	reg := hydratest.Client{
		RedirectURIs:           []string{a.srv.URL + "/callback"},
		PostLogoutRedirectURIs: []string{a.srv.URL + "/"},
	}
	if opts.backchannel {
		reg.BackchannelLogoutURI = a.srv.URL + "/backchannel-logout"
	}
	if opts.frontchannel {
		reg.FrontchannelLogoutURI = a.srv.URL + "/frontchannel-logout"
	}
	a.client = h.CreateClient(t, reg)
	var err error
	a.rp, err = rp.New(t.Context(), rp.Config{
		Issuer:                h.Issuer,
		ClientID:              a.client.ClientID,
		ClientSecret:          rp.Secret(a.client.ClientSecret),
		RedirectURL:           a.srv.URL + "/callback",
		PostLogoutRedirectURL: a.srv.URL + "/",
		Scopes:                []string{"offline_access"},
		HTTPClient:            &http.Client{Timeout: 10 * time.Second, Transport: &a.backend},
	})
	if err != nil {
		t.Fatalf("rp.New against Hydra: %v", err)
	}
	m, err := middleware.New(middleware.Config{
		Client: a.rp, Store: a.store, CookieName: "rpkit-" + name,
		DefaultReturnTo: "/me", RefreshLeeway: opts.refreshLeeway, Now: a.clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	bc, err := backchannel.New(backchannel.Config{Verifier: a.rp, Sessions: a.store})
	if err != nil {
		t.Fatal(err)
	}
	fc, err := frontchannel.New(frontchannel.Config{Issuer: h.Issuer, Sessions: a.store})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/login", m.Routes())
	mux.Handle("/callback", m.Routes())
	mux.Handle("/logout", m.Routes())
	mux.Handle("/backchannel-logout", a.bc.wrap(bc))
	mux.Handle("/frontchannel-logout", a.fc.wrap(fc))
	mux.Handle("GET /me", m.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := middleware.SessionFromContext(r.Context())
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"sub": s.Subject, "sid": s.SID, "access_token": s.AccessToken})
	})))
	mux.Handle("GET /{$}", m.PostLogoutLanding(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if middleware.LoggedOut(r.Context()) {
			a.landed.Add(1)
			io.WriteString(w, "logged out")
			return
		}
		io.WriteString(w, "home")
	})))
	handler = mux
	return a
}

// browser is the user's browser: a cookie jar, redirects followed, and
// every request it sends kept (see visited).
func browser(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	tr := &trail{rt: http.DefaultTransport.(*http.Transport).Clone()}
	t.Cleanup(tr.rt.CloseIdleConnections)
	return &http.Client{Jar: jar, Timeout: 20 * time.Second, Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > 20 {
				return fmt.Errorf("%d redirects", len(via))
			}
			return nil
		}}
}

type trail struct {
	rt   *http.Transport
	mu   sync.Mutex
	urls []*url.URL
}

func (tr *trail) RoundTrip(r *http.Request) (*http.Response, error) {
	u := *r.URL
	tr.mu.Lock()
	tr.urls = append(tr.urls, &u)
	tr.mu.Unlock()
	return tr.rt.RoundTrip(r)
}

// visited returns the query of every request the browser sent to
// endpoint (scheme://host/path), in order.
func visited(c *http.Client, endpoint string) []url.Values {
	tr := c.Transport.(*trail)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var qs []url.Values
	for _, u := range tr.urls {
		if u.Scheme+"://"+u.Host+u.Path == endpoint {
			qs = append(qs, u.Query())
		}
	}
	return qs
}

// keys returns the sorted parameter names of q.
func keys(q url.Values) []string {
	var ks []string
	for k := range q {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

type me struct {
	status             int
	sub, sid, accessTk string
}

func (a *app) me(t *testing.T, c *http.Client) me {
	t.Helper()
	req, _ := http.NewRequest("GET", a.srv.URL+"/me", nil)
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s /me: %v", a.name, err)
	}
	defer resp.Body.Close()
	got := me{status: resp.StatusCode}
	if resp.StatusCode == http.StatusOK {
		var v map[string]string
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			t.Fatalf("%s /me: %v", a.name, err)
		}
		got.sub, got.sid, got.accessTk = v["sub"], v["sid"], v["access_token"]
	}
	return got
}

// login runs the browser through /login → Hydra → the login and consent
// app → /callback → /me.
func (a *app) login(t *testing.T, c *http.Client) me {
	t.Helper()
	resp, err := c.Get(a.srv.URL + "/login")
	if err != nil {
		t.Fatalf("%s login: %v", a.name, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/me" {
		t.Fatalf("%s login ended at %s with %d: %s", a.name, resp.Request.URL, resp.StatusCode, body)
	}
	got := a.me(t, c)
	if got.status != 200 {
		t.Fatalf("%s /me after login: %d", a.name, got.status)
	}
	return got
}

func claims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestLogin: discovery of Hydra's issuer (with its trailing slash), the
// authorization code flow through Hydra's login and consent challenges,
// and the session it makes.
func TestLogin(t *testing.T) {
	h := hydratest.Start(t, hydratest.Options{})
	a := newApp(t, h, "a", appOptions{backchannel: true, frontchannel: true})
	c := browser(t)
	got := a.login(t, c)
	if got.sub != "user-1" || got.sid == "" || got.accessTk == "" {
		t.Fatalf("/me: %+v", got)
	}
	logins := h.UI.Logins()
	if len(logins) != 1 || logins[0].Skip || logins[0].ClientID != a.client.ClientID ||
		!slices.Equal(logins[0].Scopes, []string{"openid", "offline_access"}) {
		t.Fatalf("login challenges: %+v", logins)
	}
	if !strings.HasSuffix(h.Issuer, "/") {
		t.Fatalf("issuer %q", h.Issuer)
	}

	// What Hydra's authorization endpoint received from rpkit: the first
	// request; the later ones carry Hydra's own login and consent
	// verifiers besides.
	auth := visited(c, h.PublicURL+"/oauth2/auth")
	if len(auth) != 3 {
		t.Fatalf("%d requests to /oauth2/auth, want 3 (rpkit's, then with the login and the consent verifier)", len(auth))
	}
	q := auth[0]
	want := []string{"client_id", "code_challenge", "code_challenge_method", "nonce", "redirect_uri", "response_type", "scope", "state"}
	if !slices.Equal(keys(q), want) {
		t.Fatalf("authorization request parameters %v, want %v", keys(q), want)
	}
	if q.Get("client_id") != a.client.ClientID || q.Get("redirect_uri") != a.srv.URL+"/callback" ||
		q.Get("response_type") != "code" || q.Get("scope") != "openid offline_access" ||
		q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 ||
		q.Get("state") == "" || q.Get("nonce") == "" {
		t.Fatalf("authorization request: %v", q)
	}
	if q := auth[1]; q.Get("login_verifier") == "" {
		t.Fatalf("second authorization request: %v", q)
	}
	if q := auth[2]; q.Get("consent_verifier") == "" {
		t.Fatalf("third authorization request: %v", q)
	}

	// The code exchange at Hydra's token endpoint.
	tok := a.backend.to(h.PublicURL + "/oauth2/token")
	if len(tok) != 1 || tok[0].Method != "POST" || tok[0].Status != 200 {
		t.Fatalf("token requests: %+v", tok)
	}
	a.checkClientAuth(t, tok[0])
	f := tok[0].Form
	if f.Get("grant_type") != "authorization_code" || f.Get("code") == "" || f.Get("redirect_uri") != a.srv.URL+"/callback" ||
		len(f.Get("code_verifier")) < 43 {
		t.Fatalf("token request: %v", f)
	}
}

// TestRefresh: an access token that has expired (by the middleware's
// clock) is refreshed with Hydra's refresh token, which Hydra rotates.
func TestRefresh(t *testing.T) {
	h := hydratest.Start(t, hydratest.Options{AccessTokenTTL: time.Minute})
	a := newApp(t, h, "a", appOptions{})
	c := browser(t)
	first := a.login(t, c)
	if again := a.me(t, c); again.accessTk != first.accessTk {
		t.Fatal("the access token changed before it expired")
	}
	a.clk.Advance(2 * time.Minute)
	refreshed := a.me(t, c)
	if refreshed.status != 200 || refreshed.sub != first.sub || refreshed.sid != first.sid {
		t.Fatalf("/me after expiry: %+v (before: %+v)", refreshed, first)
	}
	if refreshed.accessTk == first.accessTk {
		t.Fatal("the access token was not refreshed")
	}
	tok := a.backend.to(h.PublicURL + "/oauth2/token")
	if len(tok) != 2 || tok[1].Status != 200 {
		t.Fatalf("token requests: %+v", tok)
	}
	a.checkClientAuth(t, tok[1])
	if f := tok[1].Form; f.Get("grant_type") != "refresh_token" || f.Get("refresh_token") == "" || len(f) != 2 {
		t.Fatalf("refresh request: %v", f)
	}
	a.clk.Reset()
	if again := a.me(t, c); again.accessTk != refreshed.accessTk {
		t.Fatal("the refreshed access token was not kept")
	}
}

// TestRPInitiatedLogout: three apps share one Hydra login session; the
// user logs out of A. The browser goes through Hydra's end-session
// endpoint (found by discovery: /oauth2/sessions/logout), the logout app,
// and Hydra's logout page with the front-channel iframes, back to A's
// post-logout page. Hydra's back-channel POSTs reach A and B (a token
// without exp and sub, which rpkit accepts by default) and end B's
// session; C (front-channel only) is logged out by its iframe.
func TestRPInitiatedLogout(t *testing.T) {
	h := hydratest.Start(t, hydratest.Options{})
	a := newApp(t, h, "a", appOptions{backchannel: true, frontchannel: true})
	b := newApp(t, h, "b", appOptions{backchannel: true})
	cc := newApp(t, h, "c", appOptions{frontchannel: true})
	br := browser(t)
	meA := a.login(t, br)
	meB := b.login(t, br)
	meC := cc.login(t, br)
	if meA.sid != meB.sid || meA.sid != meC.sid {
		t.Fatalf("the apps' sids differ: %q %q %q", meA.sid, meB.sid, meC.sid)
	}
	if l := h.UI.Logins(); len(l) != 3 || l[0].Skip || !l[1].Skip || !l[2].Skip {
		t.Fatalf("login challenges: %+v", l)
	}
	if got := a.rp.Metadata().EndSessionEndpoint; got != h.PublicURL+"/oauth2/sessions/logout" {
		t.Fatalf("end_session_endpoint %q", got)
	}

	// The logout button: a same-origin POST. Follow redirects until
	// Hydra's page with the front-channel iframes.
	req, _ := http.NewRequest("POST", a.srv.URL+"/logout", nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := br.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Request.URL.String(), h.PublicURL+"/oauth2/sessions/logout") {
		t.Fatalf("logout ended at %s with %d: %s", resp.Request.URL, resp.StatusCode, page)
	}
	if got := a.me(t, br); got.status != http.StatusUnauthorized {
		t.Fatalf("A's /me after its logout: %d", got.status)
	}
	// The logout revoked A's refresh token at Hydra.
	rev := a.backend.to(h.PublicURL + "/oauth2/revoke")
	if len(rev) != 1 || rev[0].Status != 200 {
		t.Fatalf("revocation requests: %+v", rev)
	}
	a.checkClientAuth(t, rev[0])
	if f := rev[0].Form; f.Get("token") == "" || f.Get("token_type_hint") != "refresh_token" {
		t.Fatalf("revocation request: %v", f)
	}
	// What Hydra's end-session endpoint received from rpkit (the second
	// request there carries Hydra's logout verifier).
	ends := visited(br, h.PublicURL+"/oauth2/sessions/logout")
	if len(ends) != 2 || ends[1].Get("logout_verifier") == "" {
		t.Fatalf("requests to the end-session endpoint: %v", ends)
	}
	end := ends[0]
	if want := []string{"client_id", "id_token_hint", "post_logout_redirect_uri", "state"}; !slices.Equal(keys(end), want) {
		t.Fatalf("end-session parameters %v, want %v", keys(end), want)
	}
	if end.Get("client_id") != a.client.ClientID || end.Get("post_logout_redirect_uri") != a.srv.URL+"/" || end.Get("state") == "" {
		t.Fatalf("end-session request: %v", end)
	}
	if hint := claims(t, end.Get("id_token_hint")); hint["sid"] != meA.sid || hint["sub"] != "user-1" || hint["iss"] != h.Issuer {
		t.Fatalf("id_token_hint: %v", hint)
	}
	outs := h.UI.Logouts()
	if len(outs) != 1 || !outs[0].RPInitiated || outs[0].SID != meA.sid || outs[0].Subject != "user-1" || outs[0].ClientID != a.client.ClientID {
		t.Fatalf("logout challenges: %+v", outs)
	}

	// Back-channel: Hydra posts to A and B from goroutines of its own.
	for _, x := range []*app{a, b} {
		hits := x.bc.waitFor(t, x.name+"'s back-channel logout", 1)
		if len(hits) != 1 || hits[0].Method != "POST" || hits[0].Status != http.StatusOK {
			t.Fatalf("%s's back-channel logout: %+v", x.name, hits)
		}
		tok := claims(t, hits[0].Form.Get("logout_token"))
		if tok["iss"] != h.Issuer || tok["sid"] != meA.sid || tok["jti"] == nil || tok["iat"] == nil {
			t.Fatalf("%s's logout token: %v", x.name, tok)
		}
		if aud, _ := tok["aud"].([]any); len(aud) != 1 || aud[0] != x.client.ClientID {
			t.Fatalf("%s's logout token aud: %v", x.name, tok["aud"])
		}
		if ev, _ := tok["events"].(map[string]any); ev == nil || ev["http://schemas.openid.net/event/backchannel-logout"] == nil {
			t.Fatalf("%s's logout token events: %v", x.name, tok["events"])
		}
		// What Hydra v2 does not send, and rpkit's default must accept.
		if _, ok := tok["exp"]; ok {
			t.Errorf("Hydra's logout token has an exp now: %v", tok)
		}
		if _, ok := tok["sub"]; ok {
			t.Errorf("Hydra's logout token has a sub now: %v", tok)
		}
	}
	if got := b.me(t, br); got.status != http.StatusUnauthorized {
		t.Fatalf("B's /me after the back-channel logout: %d", got.status)
	}
	if got := cc.me(t, br); got.status != http.StatusOK {
		t.Fatalf("C's /me before its front-channel iframe loaded: %d", got.status)
	}

	// Front-channel: what the browser does with Hydra's page — load every
	// iframe, then go where the page redirects.
	srcs := iframes(string(page))
	want := []string{a.srv.URL + "/frontchannel-logout", cc.srv.URL + "/frontchannel-logout"}
	var bases []string
	for _, src := range srcs {
		u, err := url.Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		if u.Query().Get("iss") != h.Issuer || u.Query().Get("sid") != meA.sid {
			t.Fatalf("front-channel URL %s: want iss=%s sid=%s", src, h.Issuer, meA.sid)
		}
		bases = append(bases, u.Scheme+"://"+u.Host+u.Path)
		iframe, _ := http.NewRequest("GET", src, nil)
		iframe.Header.Set("Sec-Fetch-Dest", "iframe")
		resp, err := br.Do(iframe)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("front-channel %s: %d", src, resp.StatusCode)
		}
	}
	slices.Sort(bases)
	slices.Sort(want)
	if !slices.Equal(bases, want) {
		t.Fatalf("front-channel iframes %v, want %v", srcs, want)
	}
	for _, x := range []*app{a, cc} {
		if hits := x.fc.all(); len(hits) != 1 || hits[0].Status != 200 {
			t.Fatalf("%s's front-channel logout: %+v", x.name, hits)
		}
	}
	if hits := b.fc.all(); len(hits) != 0 {
		t.Fatalf("B has no front-channel URI but got %+v", hits)
	}
	if got := cc.me(t, br); got.status != http.StatusUnauthorized {
		t.Fatalf("C's /me after its front-channel iframe: %d", got.status)
	}

	redir := metaRefresh(string(page))
	landing := a.srv.URL + "/?" + url.Values{"state": {end.Get("state")}}.Encode()
	if redir != landing {
		t.Fatalf("Hydra's logout page redirects to %q, want A's post-logout page %q", redir, landing)
	}
	resp, err = br.Get(redir)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "logged out" || a.landed.Load() != 1 {
		t.Fatalf("A's post-logout page: %d %q", resp.StatusCode, body)
	}

	// Hydra's login session is gone: the next login asks again.
	a.login(t, br)
	if l := h.UI.Logins(); len(l) != 4 || l[3].Skip {
		t.Fatalf("the login after the logout: %+v", l)
	}
}

// TestProviderInitiatedLogout: the provider ends the login session
// (DELETE /admin/oauth2/auth/sessions/login?sid=…, what an admin or the
// provider's own sign-out does); Hydra's back-channel logout ends the
// app's session.
func TestProviderInitiatedLogout(t *testing.T) {
	h := hydratest.Start(t, hydratest.Options{})
	a := newApp(t, h, "a", appOptions{backchannel: true, frontchannel: true})
	b := newApp(t, h, "b", appOptions{backchannel: true})
	br := browser(t)
	meA := a.login(t, br)
	b.login(t, br)
	if err := h.RevokeLoginSessionBySID(t.Context(), meA.sid); err != nil {
		t.Fatal(err)
	}
	for _, x := range []*app{a, b} {
		hits := x.bc.waitFor(t, x.name+"'s back-channel logout", 1)
		if len(hits) != 1 || hits[0].Status != http.StatusOK {
			t.Fatalf("%s's back-channel logout: %+v", x.name, hits)
		}
		if tok := claims(t, hits[0].Form.Get("logout_token")); tok["sid"] != meA.sid {
			t.Fatalf("%s's logout token: %v", x.name, tok)
		}
		if got := x.me(t, br); got.status != http.StatusUnauthorized {
			t.Fatalf("%s's /me after the provider's logout: %d", x.name, got.status)
		}
	}
	if n := len(h.UI.Logouts()); n != 0 {
		t.Fatalf("a provider-initiated logout went through the logout app: %d", n)
	}
	a.login(t, br)
	if l := h.UI.Logins(); len(l) != 3 || l[2].Skip {
		t.Fatalf("the login after the provider's logout: %+v", l)
	}
}

var (
	iframeRE  = regexp.MustCompile(`<iframe src="([^"]+)"`)
	refreshRE = regexp.MustCompile(`<meta http-equiv="refresh" content="\d+; URL=([^"]+)">`)
)

// iframes returns the src of every iframe of Hydra's logout page.
func iframes(page string) []string {
	var srcs []string
	for _, m := range iframeRE.FindAllStringSubmatch(page, -1) {
		srcs = append(srcs, html.UnescapeString(m[1]))
	}
	return srcs
}

// metaRefresh returns where Hydra's logout page sends the browser.
func metaRefresh(page string) string {
	m := refreshRE.FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}
