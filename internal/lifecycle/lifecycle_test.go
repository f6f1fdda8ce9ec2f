package lifecycle_test

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rpkit/rpkit/backchannel"
	"github.com/rpkit/rpkit/frontchannel"
	"github.com/rpkit/rpkit/internal/fakeclock"
	"github.com/rpkit/rpkit/middleware"
	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
	"github.com/rpkit/rpkit/session"
)

// provider is one provider as its documentation describes it, and what an
// application on rpkit configures for it.
type provider struct {
	name string
	op   func(*oidctest.Config)
	rp   func(*rp.Config, *oidctest.Provider)
	mw   func(*middleware.Config)
	fc   func(*frontchannel.Config)
	// authParams are added to the authorization response (Gluu's
	// session_id, Keycloak's session_state).
	authParams url.Values
	// tokenHook shapes the ID tokens (Entra's tid and tenant iss).
	tokenHook func(p *oidctest.Provider) func(*oidctest.Mint)
	// discovery adjusts the discovery document (Entra's issuer template).
	discovery func(p *oidctest.Provider) func(*oidctest.Response)
	// channels are the logout channels the provider has.
	channels []string
	// endSession checks the RP-initiated logout: where the browser is
	// sent (a redirect or a form) and, when the request reaches oidctest,
	// what it received.
	endSession func(t *testing.T, target *url.URL, method string, got url.Values, idToken string)
	// formPost: the logout answers an auto-submitting form.
	formPost bool
	// localOnly: the logout ends the session locally, no provider URL.
	localOnly bool
	// urlOnly: oidctest cannot play the provider's end-session endpoint
	// (Entra's tenant-issued hint): check the request only.
	urlOnly bool
}

const entraTenant = "9188040d-6c67-4c5b-b112-36a304b66dad"

func providers() []provider {
	wantParams := func(want map[string]string, absent ...string) func(*testing.T, *url.URL, string, url.Values, string) {
		return func(t *testing.T, target *url.URL, method string, got url.Values, idToken string) {
			t.Helper()
			for k, v := range want {
				if v == "ID_TOKEN" {
					v = idToken
				}
				if got.Get(k) != v {
					t.Errorf("end-session %s %s: %s = %q, want %q (all: %v)", method, target.Path, k, got.Get(k), v, got)
				}
			}
			for _, k := range absent {
				if got.Has(k) {
					t.Errorf("end-session %s: %s sent (%v)", method, k, got)
				}
			}
		}
	}
	return []provider{
		{
			name:       "Gluu oxAuth",
			rp:         func(c *rp.Config, _ *oidctest.Provider) { c.Profile = rp.ProfileGluu },
			mw:         func(c *middleware.Config) { c.EndSessionParams = []string{"session_id"} },
			authParams: url.Values{"session_id": {"gluu-session-1"}},
			channels:   []string{"rp", "back", "front"},
			endSession: wantParams(map[string]string{"id_token_hint": "ID_TOKEN", "session_id": "gluu-session-1",
				"post_logout_redirect_uri": "APP/", "client_id": oidctest.DefaultClientID}),
		},
		{
			name:       "Okta",
			rp:         func(c *rp.Config, _ *oidctest.Provider) { c.Profile = rp.ProfileOkta },
			channels:   []string{"rp"},
			endSession: wantParams(map[string]string{"id_token_hint": "ID_TOKEN", "post_logout_redirect_uri": "APP/"}),
		},
		{
			name:       "Decathlon Connect",
			mw:         func(c *middleware.Config) { c.EndSessionFormPost = true },
			channels:   []string{"rp"},
			formPost:   true,
			endSession: wantParams(map[string]string{"id_token_hint": "ID_TOKEN", "post_logout_redirect_uri": "APP/"}),
		},
		{
			name:       "Keycloak",
			rp:         func(c *rp.Config, _ *oidctest.Provider) { c.Profile = rp.ProfileKeycloak },
			authParams: url.Values{"session_state": {"kc-state-1"}},
			channels:   []string{"rp", "back", "front"},
			endSession: wantParams(map[string]string{"id_token_hint": "ID_TOKEN", "post_logout_redirect_uri": "APP/"}, "session_state"),
		},
		{
			name: "Microsoft Entra ID (multi-tenant)",
			rp: func(c *rp.Config, _ *oidctest.Provider) {
				c.Profile = rp.ProfileEntra
				c.MultiTenant = &rp.MultiTenant{Tenants: []string{entraTenant}}
			},
			fc: func(c *frontchannel.Config) { c.AllowMissingIssuer = true },
			discovery: func(p *oidctest.Provider) func(*oidctest.Response) {
				return func(r *oidctest.Response) { r.Body["issuer"] = p.Issuer() + "/{tenantid}/v2.0" }
			},
			tokenHook: func(p *oidctest.Provider) func(*oidctest.Mint) {
				return func(m *oidctest.Mint) {
					m.Claims["tid"] = entraTenant
					m.Claims["iss"] = p.Issuer() + "/" + entraTenant + "/v2.0"
					m.Claims["login_hint"] = "O.entra-hint"
				}
			},
			channels:   []string{"rp", "front-without-iss"},
			urlOnly:    true,
			endSession: wantParams(map[string]string{"id_token_hint": "ID_TOKEN", "logout_hint": "O.entra-hint", "post_logout_redirect_uri": "APP/"}),
		},
		{
			name:     "Auth0 (without OIDC logout)",
			op:       func(c *oidctest.Config) { c.NoEndSession = true },
			rp:       func(c *rp.Config, _ *oidctest.Provider) { c.Profile = rp.ProfileAuth0 },
			channels: []string{"rp"},
			endSession: func(t *testing.T, target *url.URL, _ string, got url.Values, _ string) {
				if target.Path != "/v2/logout" || got.Get("client_id") != oidctest.DefaultClientID || got.Get("returnTo") != "APP/" {
					t.Errorf("Auth0 logout %s", target)
				}
			},
		},
		{
			name: "Google",
			op:   func(c *oidctest.Config) { c.NoEndSession = true },
			rp:   func(c *rp.Config, _ *oidctest.Provider) { c.Profile = rp.ProfileGoogle },
			tokenHook: func(*oidctest.Provider) func(*oidctest.Mint) {
				return func(m *oidctest.Mint) { m.Claims["iss"] = "accounts.google.com" }
			},
			channels:  []string{"rp"},
			localOnly: true,
		},
		{
			name: "Amazon Cognito",
			rp: func(c *rp.Config, _ *oidctest.Provider) {
				c.Profile = rp.ProfileCognito
				c.Endpoints.EndSession = "https://my-pool.auth.eu-west-1.amazoncognito.com/logout"
			},
			channels: []string{"rp"},
			endSession: func(t *testing.T, target *url.URL, _ string, got url.Values, _ string) {
				if target.Host != "my-pool.auth.eu-west-1.amazoncognito.com" || got.Get("client_id") != oidctest.DefaultClientID || got.Get("logout_uri") != "APP/" {
					t.Errorf("Cognito logout %s", target)
				}
			},
		},
	}
}

// app is one application on rpkit for a provider: the middleware's routes,
// /me, and the back- and front-channel receivers.
type app struct {
	url   string
	p     *oidctest.Provider
	clk   *fakeclock.Clock
	store session.Store
}

func start(t *testing.T, pv provider) *app {
	t.Helper()
	clk := fakeclock.New(time.Now().Truncate(time.Second))
	ocfg := oidctest.Config{Now: clk.Now, AccessTokenTTL: 2 * time.Minute}
	if pv.op != nil {
		pv.op(&ocfg)
	}
	p := oidctest.Start(t, ocfg)
	if pv.discovery != nil {
		p.SetResponseHook("discovery", pv.discovery(p))
	}
	if pv.tokenHook != nil {
		p.SetTokenHook(oidctest.IDToken, pv.tokenHook(p))
	}
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	rcfg := rp.Config{Issuer: p.Issuer(), ClientID: oidctest.DefaultClientID, ClientSecret: oidctest.DefaultClientSecret,
		RedirectURL: srv.URL + "/callback", PostLogoutRedirectURL: srv.URL + "/", Scopes: []string{"offline_access"},
		HTTPClient: p.Client(), Now: clk.Now}
	if pv.rp != nil {
		pv.rp(&rcfg, p)
	}
	client, err := rp.New(t.Context(), rcfg)
	if err != nil {
		t.Fatal(err)
	}
	store := session.NewMemoryStore(session.MemoryConfig{Now: clk.Now})
	mcfg := middleware.Config{Client: client, Store: store, Now: clk.Now, DefaultReturnTo: "/me"}
	if pv.mw != nil {
		pv.mw(&mcfg)
	}
	m, err := middleware.New(mcfg)
	if err != nil {
		t.Fatal(err)
	}
	bc, err := backchannel.New(backchannel.Config{Verifier: client, Sessions: store})
	if err != nil {
		t.Fatal(err)
	}
	fcfg := frontchannel.Config{Issuer: p.Issuer(), Sessions: store}
	if pv.fc != nil {
		pv.fc(&fcfg)
	}
	fc, err := frontchannel.New(fcfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, path := range []string{"/login", "/callback", "/logout"} {
		mux.Handle(path, m.Routes())
	}
	mux.Handle("/backchannel-logout", bc)
	mux.Handle("/frontchannel-logout", fc)
	mux.Handle("GET /me", m.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := middleware.SessionFromContext(r.Context())
		io.WriteString(w, s.Subject)
	})))
	mux.Handle("GET /{$}", m.PostLogoutLanding(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if middleware.LoggedOut(r.Context()) {
			io.WriteString(w, "logged out")
		}
	})))
	h = mux
	if err := p.AddClient(oidctest.Client{ID: oidctest.DefaultClientID, Secret: oidctest.DefaultClientSecret,
		BackchannelLogoutURI: srv.URL + "/backchannel-logout", FrontchannelLogoutURI: srv.URL + "/frontchannel-logout"}); err != nil {
		t.Fatal(err)
	}
	return &app{url: srv.URL, p: p, clk: clk, store: store}
}

type browser struct{ hc *http.Client }

func newBrowser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{&http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(t *testing.T, method, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	var resp *http.Response
	var err error
	if form != nil {
		resp, err = b.hc.PostForm(u, form)
	} else {
		req, _ := http.NewRequest(method, u, nil)
		resp, err = b.hc.Do(req)
	}
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// login runs the code flow, adding the provider's own authorization
// response parameters, and returns the provider session's sid.
func (a *app) login(t *testing.T, b *browser, pv provider) string {
	t.Helper()
	resp, _ := b.do(t, "GET", a.url+"/login", nil)
	params, err := a.p.Authorize(t.Context(), resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range pv.authParams {
		params[k] = vs
	}
	if resp, body := b.do(t, "GET", a.url+"/callback?"+params.Encode(), nil); resp.StatusCode != http.StatusFound {
		t.Fatalf("callback: %d %s", resp.StatusCode, body)
	}
	if code := a.me(t, b); code != http.StatusOK {
		t.Fatalf("/me after login: %d", code)
	}
	return a.p.Sessions()[len(a.p.Sessions())-1].SID
}

func (a *app) me(t *testing.T, b *browser) int {
	t.Helper()
	req, _ := http.NewRequest("GET", a.url+"/me", nil)
	req.Header.Set("Accept", "application/json") // 401, not a redirect to the login
	resp, err := b.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)

// TestLifecycle runs, per provider, login → use → refresh → each logout
// channel it has, and checks what the provider receives at logout.
func TestLifecycle(t *testing.T) {
	for _, pv := range providers() {
		t.Run(pv.name, func(t *testing.T) {
			a := start(t, pv)
			for _, ch := range pv.channels {
				t.Run(ch, func(t *testing.T) {
					b := newBrowser()
					sid := a.login(t, b, pv)
					// Use, then refresh: the access token lives two minutes.
					refreshes := func() int {
						return len(slices.DeleteFunc(a.p.TokenRequests(), func(r oidctest.TokenRequest) bool { return r.GrantType != "refresh_token" }))
					}
					before := refreshes()
					a.clk.Advance(3 * time.Minute)
					if code := a.me(t, b); code != http.StatusOK || refreshes() != before+1 {
						t.Fatalf("/me after the access token expired: %d, %d refreshes", code, refreshes()-before)
					}
					switch ch {
					case "rp":
						a.rpLogout(t, b, pv)
					case "back":
						res, err := a.p.BackchannelLogout(t.Context(), sid)
						if err != nil || len(res) != 1 || res[0].Status != http.StatusOK {
							t.Fatalf("back-channel logout: %+v, %v", res, err)
						}
					case "front", "front-without-iss":
						u, err := a.p.FrontchannelLogoutURL(oidctest.DefaultClientID, sid)
						if err != nil {
							t.Fatal(err)
						}
						if ch == "front-without-iss" {
							pu, _ := url.Parse(u)
							q := pu.Query()
							q.Del("iss")
							pu.RawQuery = q.Encode()
							u = pu.String()
						}
						if resp, _ := newBrowser().do(t, "GET", u, nil); resp.StatusCode != http.StatusOK {
							t.Fatalf("front-channel logout: %d", resp.StatusCode)
						}
					}
					if code := a.me(t, b); code != http.StatusUnauthorized {
						t.Fatalf("/me after the %s logout: %d", ch, code)
					}
				})
			}
		})
	}
}

// rpLogout clicks "Log out" and follows the logout to the provider and
// back, checking what the provider receives.
func (a *app) rpLogout(t *testing.T, b *browser, pv provider) {
	t.Helper()
	// The ID token the session holds, as the provider should receive it.
	var idToken string
	resp, body := b.do(t, "POST", a.url+"/logout", nil)
	switch {
	case pv.localOnly:
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), "/?state=") {
			t.Fatalf("logout without a provider endpoint: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		return
	case pv.formPost:
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("form logout: %d", resp.StatusCode)
		}
		action := regexp.MustCompile(`action="([^"]*)"`).FindStringSubmatch(body)
		fields := url.Values{}
		for _, m := range hiddenInput.FindAllStringSubmatch(body, -1) {
			fields.Set(m[1], html.UnescapeString(m[2]))
		}
		target, _ := url.Parse(html.UnescapeString(action[1]))
		idToken = fields.Get("id_token_hint")
		resp, _ = b.do(t, "POST", target.String(), fields)
		a.checkReceived(t, pv, target, http.MethodPost, idToken)
	default:
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("logout: %d", resp.StatusCode)
		}
		target, _ := url.Parse(resp.Header.Get("Location"))
		idToken = target.Query().Get("id_token_hint")
		if pv.urlOnly || !strings.HasPrefix(target.String(), a.p.Issuer()) || target.Path != "/end_session" {
			// Not oidctest's endpoint (Auth0's /v2/logout, Cognito's
			// domain): check the request only.
			pv.endSession(t, target, http.MethodGet, replaceApp(target.Query(), a.url), idToken)
			return
		}
		resp, _ = b.do(t, "GET", target.String(), nil)
		a.checkReceived(t, pv, target, http.MethodGet, idToken)
	}
	// The provider sends the browser back to the post-logout landing.
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(back.String(), a.url+"/") {
		t.Fatalf("provider answered %d to %s", resp.StatusCode, back)
	}
	if _, body := b.do(t, "GET", back.String(), nil); body != "logged out" {
		t.Fatalf("post-logout landing: %q", body)
	}
}

func (a *app) checkReceived(t *testing.T, pv provider, target *url.URL, method, idToken string) {
	t.Helper()
	reqs := a.p.EndSessionRequests()
	if len(reqs) == 0 || idToken == "" {
		t.Fatalf("the provider received no end-session request with a hint (%d requests)", len(reqs))
	}
	last := reqs[len(reqs)-1]
	if last.Method != method {
		t.Fatalf("end-session request by %s, want %s", last.Method, method)
	}
	pv.endSession(t, target, method, replaceApp(last.Params, a.url), idToken)
}

// replaceApp writes the app's URL as APP in the values, for comparisons.
func replaceApp(v url.Values, appURL string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		for _, s := range vs {
			out.Add(k, strings.ReplaceAll(s, appURL, "APP"))
		}
	}
	return out
}
