package rp_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
)

const logoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// TestLogoutTokenChecks: for each rule of Back-Channel Logout 1.0 2.6, a
// token breaking only that rule, and the error that names it.
func TestLogoutTokenChecks(t *testing.T) {
	t.Parallel()
	foreign := rsaKey(t)
	tests := []struct {
		name   string
		opts   oidctest.LogoutTokenOptions
		tamper func(*oidctest.Mint)
		cfg    func(*rp.Config)
		want   error
	}{
		{name: "valid sid and sub"},
		{name: "valid sid only", opts: oidctest.LogoutTokenOptions{SID: "sid-1"}},
		{name: "valid sub only", opts: oidctest.LogoutTokenOptions{Subject: "alice"}},
		{name: "typ JWT (older providers)", tamper: func(m *oidctest.Mint) { m.Header["typ"] = "JWT" }},
		{name: "no typ (older providers)", tamper: func(m *oidctest.Mint) { delete(m.Header, "typ") }},
		{name: "typ application/logout+jwt", tamper: func(m *oidctest.Mint) { m.Header["typ"] = "application/logout+jwt" }},
		{name: "typ of an access token", tamper: func(m *oidctest.Mint) { m.Header["typ"] = "at+jwt" }, want: rp.ErrLogoutTokenType},
		{name: "typ not a string", tamper: func(m *oidctest.Mint) { m.Header["typ"] = 7 }, want: rp.ErrLogoutTokenType},
		{name: "alg none", tamper: func(m *oidctest.Mint) { m.Header["alg"] = "none" }, want: rp.ErrAlgorithm},
		{name: "HMAC not configured", tamper: func(m *oidctest.Mint) {
			m.Header["alg"] = "HS256"
			m.Key = []byte(oidctest.DefaultClientSecret)
		}, want: rp.ErrAlgorithm},
		{name: "signed by a key not in the JWKS", tamper: func(m *oidctest.Mint) { m.Key = foreign }, want: rp.ErrSignature},
		{name: "iss", tamper: func(m *oidctest.Mint) { m.Claims["iss"] = "https://evil.example" }, want: rp.ErrIssuer},
		{name: "aud", tamper: func(m *oidctest.Mint) { m.Claims["aud"] = "other-client" }, want: rp.ErrAudience},
		{name: "iat missing", tamper: func(m *oidctest.Mint) { delete(m.Claims, "iat") }, want: rp.ErrIssuedAt},
		{name: "iat in the future", tamper: func(m *oidctest.Mint) { m.Claims["iat"] = unix(m, 10*time.Minute) }, want: rp.ErrIssuedAt},
		{name: "exp passed", tamper: func(m *oidctest.Mint) { m.Claims["exp"] = unix(m, -5*time.Minute) }, want: rp.ErrExpired},
		{name: "exp missing (Hydra, oidc-provider 6)", tamper: func(m *oidctest.Mint) { delete(m.Claims, "exp") }},
		{name: "exp missing, too old by iat", tamper: func(m *oidctest.Mint) {
			delete(m.Claims, "exp")
			m.Claims["iat"] = unix(m, -4*time.Minute)
		}, want: rp.ErrExpired},
		{name: "exp missing, strict", tamper: func(m *oidctest.Mint) { delete(m.Claims, "exp") },
			cfg: func(c *rp.Config) { c.RequireLogoutTokenExp = true }, want: rp.ErrMissingClaim},
		{name: "exp and iat missing", tamper: func(m *oidctest.Mint) { delete(m.Claims, "exp"); delete(m.Claims, "iat") }, want: rp.ErrMissingClaim},
		{name: "Hydra v2: no exp, no sub, typ JWT", opts: oidctest.LogoutTokenOptions{SID: "sid-1"}, tamper: func(m *oidctest.Mint) {
			delete(m.Claims, "exp")
			m.Header["typ"] = "JWT"
		}},
		{name: "neither sub nor sid", tamper: func(m *oidctest.Mint) { delete(m.Claims, "sub"); delete(m.Claims, "sid") }, want: rp.ErrLogoutSubject},
		{name: "events missing", tamper: func(m *oidctest.Mint) { delete(m.Claims, "events") }, want: rp.ErrLogoutEvent},
		{name: "events not an object", tamper: func(m *oidctest.Mint) { m.Claims["events"] = []string{logoutEvent} }, want: rp.ErrLogoutEvent},
		{name: "event member missing", tamper: func(m *oidctest.Mint) { m.Claims["events"] = map[string]any{"other": map[string]any{}} }, want: rp.ErrLogoutEvent},
		{name: "event value not an object", tamper: func(m *oidctest.Mint) { m.Claims["events"] = map[string]any{logoutEvent: true} }, want: rp.ErrLogoutEvent},
		{name: "nonce present", tamper: func(m *oidctest.Mint) { m.Claims["nonce"] = "n" }, want: rp.ErrLogoutNonce},
		{name: "jti missing", tamper: func(m *oidctest.Mint) { delete(m.Claims, "jti") }, want: rp.ErrLogoutJTI},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, nil, tc.cfg)
			if tc.tamper != nil {
				e.p.SetTokenHook(oidctest.LogoutToken, tc.tamper)
			}
			opts := tc.opts
			if opts.SID == "" && opts.Subject == "" {
				opts = oidctest.LogoutTokenOptions{Subject: "alice", SID: "sid-1"}
			}
			raw, err := e.p.LogoutToken(opts)
			if err != nil {
				t.Fatal(err)
			}
			lt, err := e.c.VerifyLogoutToken(t.Context(), raw)
			wantErr(t, err, tc.want)
			if tc.want == nil && (lt.Issuer != e.p.Issuer() || lt.JTI == "" || lt.SID != opts.SID || lt.Subject != opts.Subject || !lt.Expiry.After(e.clk.Now()) ||
				!lt.AcceptUntil.Equal(lt.Expiry.Add(time.Minute))) {
				t.Fatalf("logout token = %+v", lt)
			}
		})
	}
}

// TestLogoutTokenIsNotAnIDToken: an ID token posted as a logout token is
// refused (it has a nonce and no event).
func TestLogoutTokenIsNotAnIDToken(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	tok := e.mustLogin(t)
	_, err := e.c.VerifyLogoutToken(t.Context(), string(tok.IDToken))
	if !errors.Is(err, rp.ErrLogoutEvent) && !errors.Is(err, rp.ErrLogoutNonce) {
		t.Fatalf("ID token as logout token: %v", err)
	}
}

// TestLogoutTokenKeyRotation: a logout token signed with a key the provider
// rotated in after the client cached its JWKS verifies.
func TestLogoutTokenKeyRotation(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	e.mustLogin(t) // caches the JWKS
	e.p.RotateKeys(true)
	e.clk.Advance(11 * time.Second)
	raw, err := e.p.LogoutToken(oidctest.LogoutTokenOptions{SID: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.VerifyLogoutToken(t.Context(), raw); err != nil {
		t.Fatal(err)
	}
}

// TestLogoutTokenMissingClaims: a token refused for a missing claim says
// which one, in its error and its message — not "expired".
func TestLogoutTokenMissingClaims(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		drop   []string
		strict bool
		claim  string
		rule   error
	}{
		{[]string{"exp"}, true, "exp", rp.ErrExpired},
		{[]string{"exp", "iat"}, false, "iat", rp.ErrIssuedAt},
		{[]string{"iat"}, false, "iat", rp.ErrIssuedAt},
		{[]string{"jti"}, false, "jti", rp.ErrLogoutJTI},
	} {
		t.Run(strings.Join(tc.drop, "+"), func(t *testing.T) {
			t.Parallel()
			e := setup(t, nil, func(c *rp.Config) { c.RequireLogoutTokenExp = tc.strict })
			e.p.SetTokenHook(oidctest.LogoutToken, func(m *oidctest.Mint) {
				for _, c := range tc.drop {
					delete(m.Claims, c)
				}
			})
			raw, err := e.p.LogoutToken(oidctest.LogoutTokenOptions{SID: "s"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.c.VerifyLogoutToken(t.Context(), raw)
			var mc *rp.MissingClaimError
			if !errors.As(err, &mc) || mc.Claim != tc.claim || !errors.Is(err, tc.rule) || !errors.Is(err, rp.ErrMissingClaim) {
				t.Fatalf("error = %v, want a MissingClaimError for %s", err, tc.claim)
			}
			if !strings.Contains(err.Error(), `"`+tc.claim+`"`) || strings.Contains(err.Error(), "expired") {
				t.Fatalf("message %q does not name the claim", err)
			}
		})
	}
}
