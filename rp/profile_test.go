package rp_test

import (
	"maps"
	"net/url"
	"strings"
	"testing"

	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
)

// TestIssuerAliases: a token whose iss is an alias of the issuer (Google's
// two forms) is accepted, and its verified claims name the configured
// issuer, so that sessions and logouts agree; without the alias it is
// refused.
func TestIssuerAliases(t *testing.T) {
	t.Parallel()
	const alias = "accounts.google.com"
	hook := func(m *oidctest.Mint) { m.Claims["iss"] = alias }
	for _, tc := range []struct {
		name string
		cfg  func(*rp.Config)
		want error
	}{
		{"no alias", nil, rp.ErrIssuer},
		{"IssuerAliases", func(c *rp.Config) { c.IssuerAliases = []string{alias} }, nil},
		{"ProfileGoogle", func(c *rp.Config) { c.Profile = rp.ProfileGoogle }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, nil, tc.cfg)
			e.p.SetTokenHook(oidctest.IDToken, hook)
			tok, err := e.login(t)
			wantErr(t, err, tc.want)
			if err == nil && tok.Claims.Issuer != e.p.Issuer() {
				t.Fatalf("claims name the issuer %q, want %q", tok.Claims.Issuer, e.p.Issuer())
			}
			e.p.SetTokenHook(oidctest.LogoutToken, hook)
			raw, _ := e.p.LogoutToken(oidctest.LogoutTokenOptions{SID: "s"})
			lt, err := e.c.VerifyLogoutToken(t.Context(), raw)
			wantErr(t, err, tc.want)
			if err == nil && lt.Issuer != e.p.Issuer() {
				t.Fatalf("logout token names the issuer %q", lt.Issuer)
			}
		})
	}
}

// TestProfiles: each profile asks of rp what its provider documents,
// checked on what the provider would receive.
func TestProfiles(t *testing.T) {
	t.Parallel()
	endSession := func(t *testing.T, e *env, hint bool) (*url.URL, error) {
		t.Helper()
		p := rp.EndSessionParams{State: "st"}
		if hint {
			p.IDTokenHint = e.mustLogin(t).IDToken
		}
		raw, err := e.c.EndSessionURL(p)
		if err != nil {
			return nil, err
		}
		return url.Parse(raw)
	}
	t.Run("Auth0 without OIDC logout: /v2/logout with client_id and returnTo", func(t *testing.T) {
		t.Parallel()
		e := setup(t, func(c *oidctest.Config) { c.NoEndSession = true }, func(c *rp.Config) { c.Profile = rp.ProfileAuth0 })
		u, err := endSession(t, e, false)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		if u.Path != "/v2/logout" || !strings.HasPrefix(u.String(), e.p.Issuer()) || q.Get("client_id") != oidctest.DefaultClientID ||
			q.Get("returnTo") != "http://127.0.0.1:9999/" || q.Has("post_logout_redirect_uri") {
			t.Fatalf("end-session URL %s", u)
		}
	})
	t.Run("Auth0 with OIDC logout enabled: discovery's endpoint wins", func(t *testing.T) {
		t.Parallel()
		e := setup(t, nil, func(c *rp.Config) { c.Profile = rp.ProfileAuth0 })
		u, err := endSession(t, e, true)
		if err != nil || u.Path != "/end_session" || u.Query().Get("returnTo") == "" {
			t.Fatalf("end-session URL %v, %v", u, err)
		}
	})
	t.Run("Cognito: /logout on the pool's domain with client_id and logout_uri", func(t *testing.T) {
		t.Parallel()
		e := setup(t, nil, func(c *rp.Config) {
			c.Profile = rp.ProfileCognito
			c.Endpoints.EndSession = "https://my-pool.auth.eu-west-1.amazoncognito.com/logout"
		})
		u, err := endSession(t, e, false)
		if err != nil {
			t.Fatal(err)
		}
		if q := u.Query(); u.Host != "my-pool.auth.eu-west-1.amazoncognito.com" || u.Path != "/logout" ||
			q.Get("client_id") != oidctest.DefaultClientID || q.Get("logout_uri") != "http://127.0.0.1:9999/" {
			t.Fatalf("end-session URL %s", u)
		}
	})
	t.Run("Okta: no end-session request without id_token_hint", func(t *testing.T) {
		t.Parallel()
		e := setup(t, nil, func(c *rp.Config) { c.Profile = rp.ProfileOkta })
		_, err := endSession(t, e, false)
		wantErr(t, err, rp.ErrIDTokenHintRequired)
		if _, err := endSession(t, e, true); err != nil {
			t.Fatal(err)
		}
	})
	for _, tc := range []struct {
		name    string
		profile rp.Profile
		param   string
		hint    bool
	}{
		{"Keycloak keeps session_state", rp.ProfileKeycloak, "session_state", false},
		{"Gluu keeps session_id and requires a hint", rp.ProfileGluu, "session_id", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, nil, func(c *rp.Config) { c.Profile = tc.profile })
			st, params := e.authorize(t)
			params.Set(tc.param, "op-session-1")
			tok, err := e.c.Callback(t.Context(), st, params)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[string]string{tc.param: "op-session-1"}; !maps.Equal(tok.AuthParams, want) {
				t.Fatalf("AuthParams %v, want %v", tok.AuthParams, want)
			}
			_, err = e.c.EndSessionURL(rp.EndSessionParams{})
			if tc.hint {
				wantErr(t, err, rp.ErrIDTokenHintRequired)
			} else {
				wantErr(t, err, nil)
			}
		})
	}
	t.Run("the application's own values win", func(t *testing.T) {
		t.Parallel()
		e := setup(t, nil, func(c *rp.Config) {
			c.Profile = rp.ProfileKeycloak
			c.KeepAuthorizationParams = []string{"other"}
		})
		st, params := e.authorize(t)
		params.Set("session_state", "x")
		params.Set("other", "y")
		tok, err := e.c.Callback(t.Context(), st, params)
		if err != nil || !maps.Equal(tok.AuthParams, map[string]string{"other": "y"}) {
			t.Fatalf("AuthParams %v, %v", tok.AuthParams, err)
		}
	})
}

// TestMultiTenantIssuer: Microsoft Entra ID's /common issuer. Discovery
// states a template; a token is accepted when its iss is the template
// filled with its tid, for an allowed tenant (or any, explicitly), and its
// verified claims name the configured issuer.
func TestMultiTenantIssuer(t *testing.T) {
	t.Parallel()
	const allowed, other = "9188040d-6c67-4c5b-b112-36a304b66dad", "72f988bf-86f1-41af-91ab-2d7cd011db47"
	for _, tc := range []struct {
		name    string
		mt      *rp.MultiTenant
		tid     string
		iss     func(template, tid string) string
		wantNew error
		want    error
	}{
		{"allowed tenant", &rp.MultiTenant{Tenants: []string{allowed}}, allowed, nil, nil, nil},
		{"another tenant", &rp.MultiTenant{Tenants: []string{allowed}}, other, nil, nil, rp.ErrIssuer},
		{"any tenant, explicitly", &rp.MultiTenant{AnyTenant: true}, other, nil, nil, nil},
		{"iss of another tenant than tid", &rp.MultiTenant{AnyTenant: true}, allowed,
			func(template, _ string) string { return strings.ReplaceAll(template, "{tenantid}", other) }, nil, rp.ErrIssuer},
		{"no tid", &rp.MultiTenant{AnyTenant: true}, "", nil, nil, rp.ErrIssuer},
		{"the template itself as iss", &rp.MultiTenant{AnyTenant: true}, "{tenantid}", nil, nil, rp.ErrIssuer},
		{"no tenant policy", &rp.MultiTenant{}, allowed, nil, rp.ErrConfig, nil},
		{"not multi-tenant", nil, allowed, nil, rp.ErrIssuerMismatch, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			p := oidctest.Start(t, oidctest.Config{Now: clk.Now})
			template := p.Issuer() + "/{tenantid}/v2.0"
			p.SetResponseHook("discovery", func(r *oidctest.Response) { r.Body["issuer"] = template })
			c, err := rp.New(t.Context(), clientConfig(p, clk, func(c *rp.Config) { c.MultiTenant = tc.mt }))
			wantErr(t, err, tc.wantNew)
			if err != nil {
				return
			}
			e := &env{p: p, c: c, clk: clk}
			p.SetTokenHook(oidctest.IDToken, func(m *oidctest.Mint) {
				if tc.tid != "" {
					m.Claims["tid"] = tc.tid
				}
				m.Claims["iss"] = strings.ReplaceAll(template, "{tenantid}", tc.tid)
				if tc.iss != nil {
					m.Claims["iss"] = tc.iss(template, tc.tid)
				}
			})
			tok, err := e.login(t)
			wantErr(t, err, tc.want)
			if err == nil && tok.Claims.Issuer != p.Issuer() {
				t.Fatalf("claims name the issuer %q, want the configured %q", tok.Claims.Issuer, p.Issuer())
			}
		})
	}
}

// TestLogoutHintClaim: with ProfileEntra the ID token's login_hint claim
// becomes the end-session request's logout_hint; an explicit LogoutHint
// wins, and without the claim none is sent.
func TestLogoutHintClaim(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, func(c *rp.Config) { c.Profile = rp.ProfileEntra })
	e.p.SetTokenHook(oidctest.IDToken, func(m *oidctest.Mint) { m.Claims["login_hint"] = "O.aGVsbG8" })
	tok := e.mustLogin(t)
	for _, tc := range []struct {
		p    rp.EndSessionParams
		want string
	}{
		{rp.EndSessionParams{IDTokenHint: tok.IDToken}, "O.aGVsbG8"},
		{rp.EndSessionParams{IDTokenHint: tok.IDToken, LogoutHint: "explicit"}, "explicit"},
		{rp.EndSessionParams{}, ""},
	} {
		raw, err := e.c.EndSessionURL(tc.p)
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(raw)
		if got := u.Query().Get("logout_hint"); got != tc.want {
			t.Errorf("logout_hint = %q, want %q", got, tc.want)
		}
	}
	e.p.SetTokenHook(oidctest.IDToken, nil)
	plain := e.mustLogin(t)
	raw, _ := e.c.EndSessionURL(rp.EndSessionParams{IDTokenHint: plain.IDToken})
	if strings.Contains(raw, "logout_hint") {
		t.Errorf("a logout_hint without the claim: %s", raw)
	}
}
