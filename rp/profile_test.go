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
		e := setup(t, nil, func(c *rp.Config) { c.Profile = rp.ProfileAuth0 })
		u, err := endSession(t, e, true)
		if err != nil || u.Path != "/end_session" || u.Query().Get("returnTo") == "" {
			t.Fatalf("end-session URL %v, %v", u, err)
		}
	})
	t.Run("Cognito: /logout on the pool's domain with client_id and logout_uri", func(t *testing.T) {
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
