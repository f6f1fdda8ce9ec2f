package rp_test

import (
	"errors"
	"net/url"
	"testing"

	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
)

func TestUserInfo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tamper func(*oidctest.Response)
		want   error
	}{
		{"valid", nil, nil},
		{"other sub", func(r *oidctest.Response) { r.Body["sub"] = "mallory" }, rp.ErrUserInfoSubject},
		{"no sub", func(r *oidctest.Response) { delete(r.Body, "sub") }, rp.ErrUserInfoSubject},
		{"sub of the wrong type", func(r *oidctest.Response) { r.Body["sub"] = 7 }, rp.ErrTokenResponse},
		{"not JSON", func(r *oidctest.Response) { r.Raw = []byte("nope") }, rp.ErrTokenResponse},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, nil, nil)
			tok := e.mustLogin(t)
			if tc.tamper != nil {
				e.p.SetResponseHook("userinfo", tc.tamper)
			}
			var std rp.StandardClaims
			err := e.c.UserInfo(t.Context(), tok, &std)
			wantErr(t, err, tc.want)
			if tc.want == nil && (std.Subject != oidctest.DefaultSubject || std.Name != "Alice Example") {
				t.Fatalf("userinfo = %+v", std)
			}
		})
	}
}

func TestUserInfoErrors(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	tok := e.mustLogin(t)
	if err := e.c.Revoke(t.Context(), tok.AccessToken, rp.HintAccessToken); err != nil {
		t.Fatal(err)
	}
	err := e.c.UserInfo(t.Context(), tok, nil)
	if pe := providerErr(t, err); pe.StatusCode != 401 || pe.Endpoint != "userinfo" {
		t.Fatalf("userinfo with revoked token: %+v", pe)
	}

	e = setup(t, func(c *oidctest.Config) { c.NoUserInfo = true }, nil)
	tok = e.mustLogin(t)
	wantErr(t, e.c.UserInfo(t.Context(), tok, nil), rp.ErrNoUserInfo)
}

func TestRevokeAndIntrospect(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	tok := e.mustLogin(t)

	in, err := e.c.Introspect(t.Context(), tok.AccessToken, rp.HintAccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if !in.Active || in.Subject != oidctest.DefaultSubject || in.ClientID != oidctest.DefaultClientID || in.Expiry.IsZero() {
		t.Fatalf("introspection = %+v", in)
	}
	if err := e.c.Revoke(t.Context(), tok.RefreshToken, rp.HintRefreshToken); err != nil {
		t.Fatal(err)
	}
	revs := e.p.Revocations()
	if len(revs) != 1 || revs[0].Token != string(tok.RefreshToken) || revs[0].TokenTypeHint != "refresh_token" || revs[0].ClientID != oidctest.DefaultClientID {
		t.Fatalf("provider saw revocations %+v", revs)
	}
	in, err = e.c.Introspect(t.Context(), tok.RefreshToken, rp.HintRefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if in.Active {
		t.Fatal("revoked refresh token is still active")
	}
	ins := e.p.Introspections()
	if len(ins) != 2 || ins[1].Token != string(tok.RefreshToken) || ins[1].Active {
		t.Fatalf("provider saw introspections %+v", ins)
	}
	// Revoking an unknown token succeeds (RFC 7009 2.2).
	if err := e.c.Revoke(t.Context(), "unknown-token", ""); err != nil {
		t.Fatal(err)
	}
}

func TestIntrospectionResponseChecks(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	tok := e.mustLogin(t)
	e.p.SetResponseHook("introspection", func(r *oidctest.Response) { r.Body["active"] = "yes" })
	_, err := e.c.Introspect(t.Context(), tok.AccessToken, "")
	wantErr(t, err, rp.ErrTokenResponse)
	e.p.SetResponseHook("introspection", func(r *oidctest.Response) { delete(r.Body, "active") })
	_, err = e.c.Introspect(t.Context(), tok.AccessToken, "")
	wantErr(t, err, rp.ErrTokenResponse)
}

func TestNoRevocationOrIntrospection(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *oidctest.Config) { c.NoRevocation, c.NoIntrospection = true, true }, nil)
	tok := e.mustLogin(t)
	wantErr(t, e.c.Revoke(t.Context(), tok.RefreshToken, ""), rp.ErrNoRevocation)
	_, err := e.c.Introspect(t.Context(), tok.AccessToken, "")
	wantErr(t, err, rp.ErrNoIntrospection)
}

// TestUserInfoBearerError: an RFC 6750 error in WWW-Authenticate (no JSON
// body) keeps its fields.
func TestUserInfoBearerError(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	tok := e.mustLogin(t)
	e.p.SetResponseHook("userinfo", func(r *oidctest.Response) {
		r.Status = 401
		r.Raw = []byte{}
		r.Header.Set("WWW-Authenticate", `Bearer realm="op", error="invalid_token", error_description="token expired"`)
	})
	err := e.c.UserInfo(t.Context(), tok, nil)
	if pe := providerErr(t, err); pe.Code != "invalid_token" || pe.Description != "token expired" || pe.StatusCode != 401 {
		t.Fatalf("provider error = %+v", pe)
	}
	wantErr(t, err, rp.ErrInvalidToken)
}

// TestUserInfoWWWAuthenticate: the Bearer challenge is read as RFC 7235
// says — quoted strings with commas, equals signs and escaped quotes
// (Okta's descriptions), several challenges in one header, any case — and
// RFC 6750's codes have their sentinels.
func TestUserInfoWWWAuthenticate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, header      string
		code, description string
		want              error
	}{
		{"Okta: commas in the description", `Bearer error="insufficient_scope", error_description="The access token must provide access to at least one of these scopes - profile, email, address or phone"`,
			"insufficient_scope", "The access token must provide access to at least one of these scopes - profile, email, address or phone", rp.ErrInsufficientScope},
		{"Okta: invalid_token", `Bearer error="invalid_token", error_description="The access token is invalid"`,
			"invalid_token", "The access token is invalid", rp.ErrInvalidToken},
		{"more parameters around", `Bearer authorization_uri="http://op/oauth2/v1/authorize", realm="http://op", scope="openid email", error="insufficient_scope", error_description="x, y", resource="/oauth2/v1/userinfo"`,
			"insufficient_scope", "x, y", rp.ErrInsufficientScope},
		{"comma inside quotes", `Bearer error="invalid_token", error_description="The token has expired, please log in again"`,
			"invalid_token", "The token has expired, please log in again", rp.ErrInvalidToken},
		{"escaped quote and equals sign", `Bearer error=invalid_token, error_description="bad \"sig\"=x"`,
			"invalid_token", `bad "sig"=x`, rp.ErrInvalidToken},
		{"Basic first, Bearer second", `Basic realm="op", Bearer realm="op", error="invalid_token", error_description="a, b"`,
			"invalid_token", "a, b", rp.ErrInvalidToken},
		{"scheme and names in another case", `bearer ERROR="invalid_token"`, "invalid_token", "", rp.ErrInvalidToken},
		{"no Bearer challenge", `Basic realm="op", error="invalid_token"`, "", "", nil},
		{"unterminated quote", `Bearer error="invalid_token", error_description="cut`, "invalid_token", "cut", rp.ErrInvalidToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, nil, nil)
			tok := e.mustLogin(t)
			e.p.SetResponseHook("userinfo", func(r *oidctest.Response) {
				r.Status = 403
				r.Raw = []byte{}
				r.Header.Set("WWW-Authenticate", tc.header)
			})
			err := e.c.UserInfo(t.Context(), tok, nil)
			pe := providerErr(t, err)
			if pe.Code != tc.code || pe.Description != tc.description {
				t.Fatalf("code %q, description %q; want %q, %q", pe.Code, pe.Description, tc.code, tc.description)
			}
			if tc.want != nil {
				wantErr(t, err, tc.want)
			}
			if errors.Is(err, rp.ErrInvalidToken) != (tc.want == rp.ErrInvalidToken) || errors.Is(err, rp.ErrInsufficientScope) != (tc.want == rp.ErrInsufficientScope) {
				t.Fatalf("sentinels of %v", err)
			}
		})
	}
}

// TestEndSessionIDTokenHint: without a hint the URL still names the client
// and where to come back (RP-Initiated Logout 1.0 allows it, the provider
// asks the user to confirm), unless the configuration says the provider
// requires a hint.
func TestEndSessionIDTokenHint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		requires bool
		hint     bool
		want     error
	}{
		{"no hint", false, false, nil},
		{"hint", false, true, nil},
		{"hint required, none given", true, false, rp.ErrIDTokenHintRequired},
		{"hint required and given", true, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, nil, func(c *rp.Config) { c.EndSessionRequiresIDTokenHint = tc.requires })
			tok := e.mustLogin(t)
			p := rp.EndSessionParams{State: "st"}
			if tc.hint {
				p.IDTokenHint = tok.IDToken
			}
			u, err := e.c.EndSessionURL(p)
			wantErr(t, err, tc.want)
			if tc.want != nil {
				if u != "" {
					t.Fatalf("URL %q with the error", u)
				}
				return
			}
			parsed, err := url.Parse(u)
			if err != nil {
				t.Fatal(err)
			}
			q := parsed.Query()
			if q.Get("client_id") != oidctest.DefaultClientID || q.Get("post_logout_redirect_uri") != "http://127.0.0.1:9999/" ||
				q.Get("state") != "st" || q.Has("id_token_hint") != tc.hint {
				t.Fatalf("end-session URL %s", u)
			}
		})
	}
	// A provider without an end_session_endpoint says so first.
	e := setup(t, func(c *oidctest.Config) { c.NoEndSession = true }, func(c *rp.Config) { c.EndSessionRequiresIDTokenHint = true })
	_, err := e.c.EndSessionURL(rp.EndSessionParams{})
	wantErr(t, err, rp.ErrNoEndSession)
}
