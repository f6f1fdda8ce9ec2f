package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpkit/rpkit/backchannel"
	"github.com/rpkit/rpkit/frontchannel"
	"github.com/rpkit/rpkit/middleware"
	"github.com/rpkit/rpkit/rp"
	"github.com/rpkit/rpkit/session"
)

// The tests run rpkit's app side in-process — the middleware, the
// back-channel and front-channel receivers over a session.MemoryStore,
// mounted as examples/webapp mounts them — against node's oidc-provider,
// and drive the flows with a cookie-jar HTTP client standing in for the
// browser.

const (
	eventTimeout    = 10 * time.Second
	backchannelPath = "/backchannel-logout"
	logoutEvent     = "http://schemas.openid.net/event/backchannel-logout"
)

type appOptions struct {
	legacy       bool          // oidc-provider 6.31.1
	frontchannel bool          // register the front-channel URI (legacy only)
	strictExp    bool          // rp.Config.RequireLogoutTokenExp
	accessTTL    time.Duration // provider's access token lifetime
}

// testApp is the application under test, with what the test watches.
type testApp struct {
	URL    string
	op     *Provider
	client *rp.Client
	store  *session.MemoryStore
	offset atomic.Int64 // added to time.Now: the RP side's clock

	mu       sync.Mutex
	received []backchannelRequest // every POST to the back-channel receiver
	ended    []int                // Logout results of the back-channel receiver
	order    []string             // "backchannel", "post-logout landing", in arrival order
}

type backchannelRequest struct {
	token  string
	status int
	body   string
}

// now is the RP side's clock: real time, plus what advance added.
func (a *testApp) now() time.Time { return time.Now().Add(time.Duration(a.offset.Load())) }

func (a *testApp) advance(d time.Duration) { a.offset.Add(int64(d)) }

func (a *testApp) record(what string) {
	a.mu.Lock()
	a.order = append(a.order, what)
	a.mu.Unlock()
}

func (a *testApp) backchannelRequests() []backchannelRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.received)
}

// startApp starts the provider with this app registered as its client, then
// the app.
func startApp(t *testing.T, opts appOptions) *testApp {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil) // listening: its URL is known
	t.Cleanup(srv.Close)
	base := "http://" + srv.Listener.Addr().String()
	a := &testApp{URL: base}
	popts := ProviderOptions{
		Legacy:                opts.legacy,
		RedirectURI:           base + "/callback",
		PostLogoutRedirectURI: base + "/",
		BackchannelLogoutURI:  base + backchannelPath,
		AccessTokenTTL:        opts.accessTTL,
	}
	if opts.frontchannel {
		popts.FrontchannelLogoutURI = base + "/frontchannel-logout"
	}
	a.op = StartProvider(t, popts)

	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	a.client, err = rp.New(ctx, rp.Config{
		Issuer:                a.op.Issuer,
		ClientID:              a.op.ClientID,
		ClientSecret:          rp.Secret(a.op.ClientSecret),
		RedirectURL:           base + "/callback",
		PostLogoutRedirectURL: base + "/",
		Scopes:                []string{"profile", "email", "offline_access"},
		RequireLogoutTokenExp: opts.strictExp,
		Now:                   a.now,
	})
	if err != nil {
		t.Fatalf("rp.New against %s: %v", a.op.Issuer, err)
	}
	a.store = session.NewMemoryStore(session.MemoryConfig{Now: a.now})
	mw, err := middleware.New(middleware.Config{
		Client:          a.client,
		Store:           a.store,
		DefaultReturnTo: "/me",
		// oidc-provider grants offline_access (a refresh token) only with
		// prompt=consent, as OpenID Connect Core 11 allows.
		LoginOptions: []rp.LoginOption{rp.WithPrompt("consent")},
		Logger:       log,
		Now:          a.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	bc, err := backchannel.New(backchannel.Config{
		Verifier: a.client,
		Sessions: countingSessions{a.store, a},
		Replay:   backchannel.NewMemoryReplayCache(a.now),
		Logger:   log,
	})
	if err != nil {
		t.Fatal(err)
	}
	fc, err := frontchannel.New(frontchannel.Config{Issuer: a.op.Issuer, Sessions: a.store, SessionID: mw.SessionID, Logger: log})
	if err != nil {
		t.Fatal(err)
	}

	mux := http.NewServeMux()
	routes := mw.Routes()
	p := mw.Paths()
	mux.Handle(p.Login, routes)
	mux.Handle(p.Callback, routes)
	mux.Handle(p.Logout, routes)
	mux.Handle("GET /{$}", mw.PostLogoutLanding(mw.OptionalAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if middleware.LoggedOut(r.Context()) {
			a.record("post-logout landing")
			io.WriteString(w, "logged-out\n")
			return
		}
		if _, ok := middleware.SessionFromContext(r.Context()); ok {
			io.WriteString(w, "logged-in\n")
			return
		}
		io.WriteString(w, "anonymous\n")
	}))))
	mux.Handle("GET /me", mw.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := middleware.SessionFromContext(r.Context())
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(me{Sub: s.Subject, SID: s.SID, Claims: s.Claims,
			AccessToken: s.AccessToken, RefreshToken: s.RefreshToken, IDToken: s.IDToken})
	})))
	mux.Handle(backchannelPath, a.recordBackchannel(bc))
	mux.Handle("/frontchannel-logout", fc)
	srv.Config.Handler = mux
	srv.Start()
	return a
}

// me is the test app's /me: the session, tokens included (a test app on
// loopback; never do that in a real one).
type me struct {
	Sub          string          `json:"sub"`
	SID          string          `json:"sid"`
	Claims       json.RawMessage `json:"claims"`
	AccessToken  string          `json:"access_token"`
	RefreshToken string          `json:"refresh_token"`
	IDToken      string          `json:"id_token"`
}

// countingSessions records how many sessions each back-channel logout
// ended.
type countingSessions struct {
	*session.MemoryStore
	a *testApp
}

func (c countingSessions) Logout(ctx context.Context, l session.Logout) (int, error) {
	n, err := c.MemoryStore.Logout(ctx, l)
	c.a.mu.Lock()
	c.a.ended = append(c.a.ended, n)
	c.a.mu.Unlock()
	return n, err
}

// recordBackchannel wraps the receiver to keep each raw logout token and
// the answer.
func (a *testApp) recordBackchannel(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		a.mu.Lock()
		a.received = append(a.received, backchannelRequest{token: form.Get("logout_token"), status: rec.Code, body: rec.Body.String()})
		a.order = append(a.order, "backchannel")
		a.mu.Unlock()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})
}

// login signs alice in through the provider's pages and returns /me.
func (a *testApp) login(t *testing.T, b *Browser) me {
	t.Helper()
	page := b.Get(t, a.URL+"/login?return_to=/me")
	if !a.op.OnProvider(page, "/interaction/") {
		t.Fatalf("/login did not lead to the provider's login page: %s (HTTP %d)\n%s", page.URL, page.Status, excerpt(page.Body))
	}
	page = a.op.DevLogin(t, b, page, "alice")
	if page.URL.String() != a.URL+"/me" || page.Status != http.StatusOK {
		t.Fatalf("after the login: %s (HTTP %d)\n%s", page.URL, page.Status, excerpt(page.Body))
	}
	var m me
	if err := json.Unmarshal([]byte(page.Body), &m); err != nil {
		t.Fatalf("/me: %v: %s", err, page.Body)
	}
	if m.Sub != "alice" || m.SID == "" {
		t.Fatalf("/me after login: sub %q sid %q, want alice and a sid", m.Sub, m.SID)
	}
	var claims struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(m.Claims, &claims); err != nil || claims.SID != m.SID {
		t.Fatalf("ID token claims %s: sid %q, session sid %q", m.Claims, claims.SID, m.SID)
	}
	if m.RefreshToken == "" {
		t.Fatal("no refresh token: offline_access was not granted")
	}
	return m
}

// me fetches /me as an API client: the status, and the session when 200.
func (a *testApp) me(t *testing.T, b *Browser) (int, me) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, a.URL+"/me", nil)
	req.Header.Set("Accept", "application/json")
	page := b.Do(t, req)
	var m me
	if page.Status == http.StatusOK {
		if err := json.Unmarshal([]byte(page.Body), &m); err != nil {
			t.Fatalf("/me: %v: %s", err, page.Body)
		}
	}
	return page.Status, m
}

// waitBackchannel waits for the provider's report of its back-channel
// delivery: backchannel.success, or backchannel.error when wantError. The
// other outcome fails the test when the wait times out, with the events so
// far; the tests that want success also assert no backchannel.error.
func (a *testApp) waitBackchannel(t *testing.T, wantError bool) Event {
	t.Helper()
	sent := a.op.WaitEvent(t, "backchannel.logout_token", eventTimeout)
	want := "backchannel.success"
	if wantError {
		want = "backchannel.error"
	}
	if ev := a.op.WaitEvent(t, want, eventTimeout); ev.String("sid") != sidOf(t, sent) {
		t.Fatalf("provider reported %s for another sid than the token it sent (%q)", ev.Line, sidOf(t, sent))
	}
	return sent
}

func sidOf(t *testing.T, sent Event) string {
	t.Helper()
	_, claims, err := DecodeJWT(sent.String("logout_token"))
	if err != nil {
		t.Fatal(err)
	}
	sid, _ := claims["sid"].(string)
	return sid
}

// checkLogoutToken checks what the provider sent against Back-Channel
// Logout 1.0 and the provider version's known shape.
func (a *testApp) checkLogoutToken(t *testing.T, raw, wantSID string) {
	t.Helper()
	header, claims, err := DecodeJWT(raw)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("logout token header %v claims %v", header, claims)
	if header["alg"] != "RS256" {
		t.Errorf("alg %v, want RS256", header["alg"])
	}
	if kid, _ := header["kid"].(string); kid == "" || kid != a.op.KeyID || !slices.Contains(jwksKIDs(t, a.op), kid) {
		t.Errorf("kid %v: want %q, published in the JWKS", header["kid"], a.op.KeyID)
	}
	typ, hasTyp := header["typ"]
	iat, _ := claims["iat"].(json.Number)
	iatN, err := iat.Int64()
	if err != nil {
		t.Errorf("iat %v", claims["iat"])
	}
	if a.op.Legacy {
		// 6.31.1 signs logout tokens as ID tokens: typ JWT, no exp.
		if hasTyp && typ != "JWT" {
			t.Errorf("legacy typ %v, want JWT or none", typ)
		}
		if exp, ok := claims["exp"]; ok {
			t.Errorf("legacy logout token has exp %v", exp)
		}
	} else {
		if typ != "logout+jwt" {
			t.Errorf("typ %v, want logout+jwt", typ)
		}
		exp, _ := claims["exp"].(json.Number)
		if expN, err := exp.Int64(); err != nil || expN != iatN+120 {
			t.Errorf("exp %v, want iat+120 = %d", claims["exp"], iatN+120)
		}
	}
	if d := time.Since(time.Unix(iatN, 0)); d < -5*time.Second || d > time.Minute {
		t.Errorf("iat %d is %s from now", iatN, d)
	}
	if claims["iss"] != a.op.Issuer {
		t.Errorf("iss %v, want %s", claims["iss"], a.op.Issuer)
	}
	switch aud := claims["aud"].(type) {
	case string:
		if aud != a.op.ClientID {
			t.Errorf("aud %q", aud)
		}
	case []any:
		if len(aud) != 1 || aud[0] != a.op.ClientID {
			t.Errorf("aud %v", aud)
		}
	default:
		t.Errorf("aud %v", claims["aud"])
	}
	if claims["sub"] != "alice" {
		t.Errorf("sub %v", claims["sub"])
	}
	if claims["sid"] != wantSID {
		t.Errorf("sid %v, want the session's %q", claims["sid"], wantSID)
	}
	events, _ := claims["events"].(map[string]any)
	if _, ok := events[logoutEvent].(map[string]any); !ok {
		t.Errorf("events %v lacks the %s object", claims["events"], logoutEvent)
	}
	if jti, _ := claims["jti"].(string); jti == "" {
		t.Errorf("jti %v", claims["jti"])
	}
	if _, ok := claims["nonce"]; ok {
		t.Errorf("logout token has a nonce")
	}
}

func jwksKIDs(t *testing.T, op *Provider) []string {
	t.Helper()
	resp, err := http.Get(op.Issuer + "/jwks")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KID)
	}
	return kids
}

// TestV9LoginRefreshRPLogout: against oidc-provider 9, a login through the
// provider's login and consent pages gives a session with sid and a refresh
// token; an expired access token is refreshed with the refresh_token grant;
// POST /logout goes through the provider's end-session confirmation, whose
// back-channel logout token (typ logout+jwt, exp = iat+120) reaches the app
// and is accepted before the browser returns to the app with the state.
func TestV9LoginRefreshRPLogout(t *testing.T) {
	t.Parallel()
	a := startApp(t, appOptions{accessTTL: 60 * time.Second})
	defer a.op.AssertNoEvent(t, "backchannel.error")
	defer a.op.AssertNoEvent(t, "server_error")
	b := NewBrowser()

	if !a.client.Metadata().AuthorizationResponseIssParameterSupported {
		// With it, rpkit requires iss in the authorization response: the
		// login below proves oidc-provider sends it.
		t.Error("oidc-provider 9 does not advertise authorization_response_iss_parameter_supported")
	}
	m := a.login(t, b)
	if ev := a.op.WaitEvent(t, "grant.success", eventTimeout); ev.String("grant_type") != "authorization_code" {
		t.Fatalf("first grant: %s", ev.Line)
	}

	// Refresh: 45 s later on the RP's clock the 60 s access token is within
	// the middleware's 30 s leeway.
	if status, again := a.me(t, b); status != http.StatusOK || again.AccessToken != m.AccessToken {
		t.Fatalf("/me before the clock moved: %d, token changed: %v", status, again.AccessToken != m.AccessToken)
	}
	a.advance(45 * time.Second)
	status, refreshed := a.me(t, b)
	if status != http.StatusOK {
		t.Fatalf("/me after the access token expired: %d", status)
	}
	if ev := a.op.WaitEvent(t, "grant.success", eventTimeout); ev.String("grant_type") != "refresh_token" {
		t.Fatalf("second grant: %s", ev.Line)
	}
	if refreshed.AccessToken == m.AccessToken || refreshed.SID != m.SID || refreshed.Sub != "alice" {
		t.Fatalf("after refresh: new access token %v, sid %q (was %q), sub %q",
			refreshed.AccessToken != m.AccessToken, refreshed.SID, m.SID, refreshed.Sub)
	}
	// (The refreshed ID token may equal the first one byte for byte: same
	// claims within the same second, and RS256 signatures are deterministic.)

	// RP-initiated logout.
	page := b.PostForm(t, a.URL+"/logout", nil)
	if !a.op.OnProvider(page, "/session/end") {
		t.Fatalf("POST /logout led to %s (HTTP %d)", page.URL, page.Status)
	}
	q := page.URL.Query()
	if q.Get("id_token_hint") != refreshed.IDToken || q.Get("post_logout_redirect_uri") != a.URL+"/" ||
		q.Get("state") == "" || q.Get("client_id") != a.op.ClientID {
		t.Errorf("end-session request %s", page.URL.Redacted())
	}
	page = a.op.ConfirmLogout(t, b, page)
	if page.URL.String() != a.URL+"/?state="+url.QueryEscape(q.Get("state")) || strings.TrimSpace(page.Body) != "logged-out" {
		t.Fatalf("after the logout confirmation: %s (HTTP %d) %q", page.URL, page.Status, page.Body)
	}
	sent := a.waitBackchannel(t, false)
	got := a.backchannelRequests()
	if len(got) != 1 || got[0].status != http.StatusOK {
		t.Fatalf("back-channel requests: %+v", got)
	}
	if got[0].token != sent.String("logout_token") {
		t.Error("the app received another token than the provider sent")
	}
	a.checkLogoutToken(t, got[0].token, m.SID)
	a.mu.Lock()
	order := slices.Clone(a.order)
	a.mu.Unlock()
	if !slices.Equal(order, []string{"backchannel", "post-logout landing"}) {
		t.Errorf("order at the app: %q, want the logout token before the browser's return", order)
	}
	// POST /logout deleted the local session before leaving for the
	// provider, so the token, though valid and accepted, found none left
	// (TestV9ProviderInitiatedLogout shows one ending a live session).
	a.mu.Lock()
	ended := slices.Clone(a.ended)
	a.mu.Unlock()
	if !slices.Equal(ended, []int{0}) {
		t.Errorf("sessions ended by the back-channel logout: %v, want [0]", ended)
	}
	if status, _ := a.me(t, b); status != http.StatusUnauthorized {
		t.Errorf("/me after logout: %d", status)
	}

	// The middleware revoked the refresh token (RFC 7009) before leaving:
	// the provider's end-session would not have (a grant with
	// offline_access outlives the provider session).
	if ev := a.op.WaitEvent(t, "grant.revoked", eventTimeout); ev.String("route") != "revocation" {
		t.Errorf("grant revoked by %s, want the revocation endpoint", ev.Line)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := a.client.Refresh(ctx, &rp.Tokens{RefreshToken: rp.Secret(refreshed.RefreshToken), IDToken: rp.Secret(refreshed.IDToken)})
	var pe *rp.ProviderError
	if !errors.As(err, &pe) || pe.Code != "invalid_grant" {
		t.Errorf("refresh with the revoked refresh token: %v, want invalid_grant", err)
	}
}

// TestV9ProviderInitiatedLogout: the user ends the provider session at the
// provider itself (its end-session page, confirmed), not through the app:
// the provider's back-channel logout token ends the app's session. It also
// records that oidc-provider 9 has no front-channel logout.
func TestV9ProviderInitiatedLogout(t *testing.T) {
	t.Parallel()
	a := startApp(t, appOptions{})
	defer a.op.AssertNoEvent(t, "backchannel.error")
	defer a.op.AssertNoEvent(t, "server_error")
	b := NewBrowser()

	// Front-Channel Logout was removed from oidc-provider in v7: v9 neither
	// advertises nor performs it; provider-legacy.mjs (6.31.1) covers it.
	md := a.client.Metadata()
	t.Logf("oidc-provider 9 has no front-channel logout (frontchannel_logout_supported %v); see TestLegacyFrontchannelLogout", md.FrontchannelLogoutSupported)
	if md.FrontchannelLogoutSupported || !md.BackchannelLogoutSupported || !md.BackchannelLogoutSessionSupported {
		t.Errorf("discovery: frontchannel %v, backchannel %v, backchannel session %v",
			md.FrontchannelLogoutSupported, md.BackchannelLogoutSupported, md.BackchannelLogoutSessionSupported)
	}

	m := a.login(t, b)
	a.logoutAtProvider(t, b, m.SID)
}

// TestLegacyFrontchannelLogout: against oidc-provider 6.31.1, logging out
// at the provider renders iframes to the app's front-channel URI with
// ?iss=…&sid=…; requested without cookies (as in a third-party iframe),
// it ends the session. The same logout's back-channel token (typ JWT, no
// exp) is refused with 400 by this app's strict receiver
// (RequireLogoutTokenExp), which leaves the session alone.
func TestLegacyFrontchannelLogout(t *testing.T) {
	t.Parallel()
	a := startApp(t, appOptions{legacy: true, frontchannel: true, strictExp: true})
	defer a.op.AssertNoEvent(t, "server_error")
	b := NewBrowser()

	md := a.client.Metadata()
	if !md.FrontchannelLogoutSupported || !md.FrontchannelLogoutSessionSupported {
		t.Errorf("discovery: frontchannel %v, frontchannel session %v", md.FrontchannelLogoutSupported, md.FrontchannelLogoutSessionSupported)
	}
	m := a.login(t, b)
	page := a.op.Logout(t, b)
	if !a.op.OnProvider(page, "/session/end/confirm") || page.Status != http.StatusOK {
		t.Fatalf("logout confirmation answered %s (HTTP %d)", page.URL, page.Status)
	}

	// The back-channel part, sent before the page: refused, session kept.
	sent := a.waitBackchannel(t, true)
	got := a.backchannelRequests()
	if len(got) != 1 || got[0].status != http.StatusBadRequest || !strings.Contains(got[0].body, `"invalid_request"`) {
		t.Fatalf("back-channel requests: %+v, want one refused with 400 invalid_request", got)
	}
	if got[0].token != sent.String("logout_token") {
		t.Error("the app received another token than the provider sent")
	}
	a.checkLogoutToken(t, got[0].token, m.SID)
	a.mu.Lock()
	ended := slices.Clone(a.ended)
	a.mu.Unlock()
	if status, _ := a.me(t, b); status != http.StatusOK || len(ended) != 0 {
		t.Fatalf("/me after the refused logout token: %d, sessions ended %v; want the session kept", status, ended)
	}

	// The front-channel part.
	var frame string
	for _, src := range page.Iframes() {
		if strings.HasPrefix(src, a.URL+"/frontchannel-logout?") {
			frame = src
		}
	}
	if frame == "" {
		t.Fatalf("no iframe to the app's front-channel URI in:\n%s", excerpt(page.Body))
	}
	fu, err := url.Parse(frame)
	if err != nil {
		t.Fatal(err)
	}
	if fu.Query().Get("iss") != a.op.Issuer || fu.Query().Get("sid") != m.SID {
		t.Errorf("iframe src %s: want iss %s and sid %s", frame, a.op.Issuer, m.SID)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(frame) // no cookie jar
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-cache, no-store" ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors "+a.op.Issuer) {
		t.Errorf("front-channel receiver: %d %v", resp.StatusCode, resp.Header)
	}
	if status, _ := a.me(t, b); status != http.StatusUnauthorized {
		t.Errorf("/me after the front-channel logout: %d", status)
	}
}

// TestLegacyBackchannelWithoutExp: against oidc-provider 6.31.1, a refresh
// works, and an app with rp's default accepts its logout tokens (no exp,
// typ JWT; their age bounded by iat): the provider's back-channel logout
// ends the session.
func TestLegacyBackchannelWithoutExp(t *testing.T) {
	t.Parallel()
	a := startApp(t, appOptions{legacy: true, accessTTL: 60 * time.Second})
	defer a.op.AssertNoEvent(t, "backchannel.error")
	defer a.op.AssertNoEvent(t, "server_error")
	b := NewBrowser()

	m := a.login(t, b)
	// A refresh against 6.31.1 too (its refreshed ID token passes Core 12.2).
	a.advance(45 * time.Second)
	status, refreshed := a.me(t, b)
	if status != http.StatusOK || refreshed.AccessToken == m.AccessToken {
		t.Fatalf("/me after the access token expired: %d, new access token %v", status, refreshed.AccessToken != m.AccessToken)
	}
	for _, want := range []string{"authorization_code", "refresh_token"} {
		if ev := a.op.WaitEvent(t, "grant.success", eventTimeout); ev.String("grant_type") != want {
			t.Errorf("grant at the provider: %s, want %s", ev.Line, want)
		}
	}

	a.logoutAtProvider(t, b, m.SID)
}

// logoutAtProvider ends the provider session at the provider itself (not
// through the app) and checks that its logout token, for sid, ended exactly
// the app's one session.
func (a *testApp) logoutAtProvider(t *testing.T, b *Browser, sid string) {
	t.Helper()
	page := a.op.Logout(t, b)
	if !a.op.OnProvider(page, "/session/end/success") {
		t.Errorf("after the provider logout: %s (HTTP %d)", page.URL, page.Status)
	}
	a.waitBackchannel(t, false)
	got := a.backchannelRequests()
	if len(got) != 1 || got[0].status != http.StatusOK {
		t.Fatalf("back-channel requests: %+v", got)
	}
	a.checkLogoutToken(t, got[0].token, sid)
	a.mu.Lock()
	ended := slices.Clone(a.ended)
	a.mu.Unlock()
	if !slices.Equal(ended, []int{1}) {
		t.Errorf("sessions ended by the back-channel logout: %v, want [1]", ended)
	}
	if status, _ := a.me(t, b); status != http.StatusUnauthorized {
		t.Errorf("/me after the provider logout: %d", status)
	}
}
