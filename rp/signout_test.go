package rp_test

import (
	"net/http"
	"testing"

	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
)

// TestSignOut: the server-side sign-out of a refresh token's holder finds
// the login it came from, revokes it and gives the end-session URL; what
// the provider cannot do, or refuses, has its error.
func TestSignOut(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	tok := e.mustLogin(t)
	out, err := e.c.SignOut(t.Context(), tok.RefreshToken, rp.EndSessionParams{State: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if out.Subject != tok.Claims.Subject || out.SID != tok.Claims.SID || out.EndSessionURL == "" {
		t.Fatalf("sign-out = %+v", out)
	}
	revs := e.p.Revocations()
	if len(revs) != 1 || revs[0].Token != string(tok.RefreshToken) || revs[0].TokenTypeHint != "refresh_token" {
		t.Fatalf("revocations %+v", revs)
	}
	// Again: the token is no longer active, nothing more is revoked.
	_, err = e.c.SignOut(t.Context(), tok.RefreshToken, rp.EndSessionParams{})
	wantErr(t, err, rp.ErrInactiveToken)
	if n := len(e.p.Revocations()); n != 1 {
		t.Fatalf("%d revocations after an inactive token", n)
	}
	_, err = e.c.SignOut(t.Context(), "", rp.EndSessionParams{})
	wantErr(t, err, rp.ErrNoRefreshToken)

	for _, tc := range []struct {
		name string
		op   func(*oidctest.Config)
		hook func(*oidctest.Provider)
		want error
		url  bool
		who  bool
	}{
		{"no introspection endpoint", func(c *oidctest.Config) { c.NoIntrospection = true }, nil, nil, true, false},
		{"no end_session_endpoint", func(c *oidctest.Config) { c.NoEndSession = true }, nil, nil, false, true},
		{"no revocation endpoint", func(c *oidctest.Config) { c.NoRevocation = true }, nil, rp.ErrNoRevocation, false, false},
		{"revocation endpoint down", nil, func(p *oidctest.Provider) {
			p.SetResponseHook("revocation", func(r *oidctest.Response) { r.Status = http.StatusServiceUnavailable })
		}, rp.ErrProviderUnavailable, false, false},
		{"a token of another client", nil, func(p *oidctest.Provider) {
			p.SetResponseHook("introspection", func(r *oidctest.Response) { r.Body["client_id"] = "other-client" })
		}, rp.ErrInactiveToken, false, false},
		{"introspection endpoint down", nil, func(p *oidctest.Provider) {
			p.SetResponseHook("introspection", func(r *oidctest.Response) { r.Status = http.StatusBadGateway })
		}, rp.ErrProviderUnavailable, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, tc.op, nil)
			tok := e.mustLogin(t)
			if tc.hook != nil {
				tc.hook(e.p)
			}
			out, err := e.c.SignOut(t.Context(), tok.RefreshToken, rp.EndSessionParams{})
			wantErr(t, err, tc.want)
			if err != nil {
				return
			}
			if (out.EndSessionURL != "") != tc.url || (out.SID == tok.Claims.SID && out.SID != "") != tc.who {
				t.Fatalf("sign-out = %+v", out)
			}
		})
	}
}
