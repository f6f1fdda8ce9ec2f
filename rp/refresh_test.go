package rp_test

import (
	"errors"
	"maps"
	"net/http"
	"testing"
	"time"

	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
)

func TestRefreshKeepsUnrotatedRefreshToken(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	tok := e.mustLogin(t)
	next, err := e.c.Refresh(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if next.RefreshToken != tok.RefreshToken {
		t.Fatal("the provider did not rotate the refresh token, yet the old one was dropped")
	}
	if next.AccessToken == tok.AccessToken || next.IDToken == tok.IDToken {
		t.Fatal("refresh returned the old access or ID token")
	}
	if next.Claims.Subject != tok.Claims.Subject || next.Claims.Nonce != tok.Claims.Nonce {
		t.Fatalf("claims = %+v", next.Claims)
	}
}

func TestRefreshRotation(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *oidctest.Config) { c.RotateRefreshTokens = true }, nil)
	tok := e.mustLogin(t)
	next, err := e.c.Refresh(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if next.RefreshToken == tok.RefreshToken || next.RefreshToken == "" {
		t.Fatal("rotated refresh token not taken")
	}
	// The old refresh token is dead at the provider.
	_, err = e.c.Refresh(t.Context(), tok)
	if pe := providerErr(t, err); pe.Code != "invalid_grant" || pe.Endpoint != "token" {
		t.Fatalf("reused refresh token: %+v", pe)
	}
}

// TestRefreshStoredTokens refreshes tokens restored from storage: raw ID
// token and refresh token only, no parsed claims — even after the ID token
// has expired.
func TestRefreshStoredTokens(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	tok := e.mustLogin(t)
	e.clk.Advance(3 * time.Hour)
	stored := &rp.Tokens{RefreshToken: tok.RefreshToken, IDToken: tok.IDToken}
	next, err := e.c.Refresh(t.Context(), stored)
	if err != nil {
		t.Fatal(err)
	}
	if next.Claims.Subject != oidctest.DefaultSubject {
		t.Fatalf("claims = %+v", next.Claims)
	}
	e.p.SetTokenHook(oidctest.IDToken, func(m *oidctest.Mint) { m.Claims["sub"] = "mallory" })
	_, err = e.c.Refresh(t.Context(), stored)
	wantErr(t, err, rp.ErrSubjectChanged)
}

func TestRefreshWithoutIDTokenKeepsOld(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	tok := e.mustLogin(t)
	e.p.SetResponseHook("token", func(r *oidctest.Response) { delete(r.Body, "id_token") })
	next, err := e.c.Refresh(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if next.IDToken != tok.IDToken || next.Claims != tok.Claims || next.AccessToken == tok.AccessToken {
		t.Fatal("refresh without id_token must keep the old ID token and take the new access token")
	}
}

// TestRefreshIDTokenChecks: each Core 12.2 rule broken alone by the
// refreshed ID token.
func TestRefreshIDTokenChecks(t *testing.T) {
	t.Parallel()
	foreign := rsaKey(t)
	tests := []struct {
		name   string
		tamper func(*oidctest.Mint)
		want   error
	}{
		{"valid", nil, nil},
		{"sub changed", func(m *oidctest.Mint) { m.Claims["sub"] = "mallory" }, rp.ErrSubjectChanged},
		{"iss changed", func(m *oidctest.Mint) { m.Claims["iss"] = "https://evil.example" }, rp.ErrIssuer},
		{"aud without client", func(m *oidctest.Mint) { m.Claims["aud"] = "other-client" }, rp.ErrAudience},
		{"expired", func(m *oidctest.Mint) { m.Claims["exp"] = unix(m, -time.Hour) }, rp.ErrExpired},
		{"bad signature", func(m *oidctest.Mint) { m.Key = foreign }, rp.ErrSignature},
		{"alg none", func(m *oidctest.Mint) { m.Header["alg"] = "none" }, rp.ErrAlgorithm},
		{"nonce other than the original", func(m *oidctest.Mint) { m.Claims["nonce"] = "other" }, rp.ErrNonceMismatch},
		{"auth_time changed", func(m *oidctest.Mint) { m.Claims["auth_time"] = unix(m, -time.Minute) }, rp.ErrAuthTime},
		{"no nonce (allowed)", func(m *oidctest.Mint) { delete(m.Claims, "nonce") }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, nil, nil)
			tok := e.mustLogin(t)
			e.clk.Advance(5 * time.Minute)
			if tc.tamper != nil {
				e.p.SetTokenHook(oidctest.IDToken, tc.tamper)
			}
			next, err := e.c.Refresh(t.Context(), tok)
			wantErr(t, err, tc.want)
			if tc.want == nil && next.Claims.Subject != tok.Claims.Subject {
				t.Fatalf("claims = %+v", next.Claims)
			}
		})
	}
}

func TestRefreshErrors(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	_, err := e.c.Refresh(t.Context(), &rp.Tokens{})
	wantErr(t, err, rp.ErrNoRefreshToken)

	tok := e.mustLogin(t)
	if err := e.c.Revoke(t.Context(), tok.RefreshToken, rp.HintRefreshToken); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.Refresh(t.Context(), tok)
	if pe := providerErr(t, err); pe.Code != "invalid_grant" || pe.StatusCode != 400 {
		t.Fatalf("refresh with revoked token: %+v", pe)
	}
}

// TestRefreshTransientAnswers: the token endpoint's answers that are not a
// refusal of the grant keep what the caller needs to tell them apart (the
// status, the code, the Retry-After) or name ErrTokenResponse.
func TestRefreshTransientAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		tamper     func(e *env, r *oidctest.Response)
		status     int
		code       string
		retryAfter time.Duration
		want       error // also matched, besides a *rp.ProviderError
	}{
		{"429 slow_down with Retry-After seconds", func(e *env, r *oidctest.Response) {
			r.Status, r.Body = 429, map[string]any{"error": "slow_down"}
			r.Header.Set("Retry-After", "7")
		}, 429, "slow_down", 7 * time.Second, nil},
		{"408 without Retry-After", func(e *env, r *oidctest.Response) {
			r.Status, r.Body = 408, map[string]any{"error": "timeout"}
		}, 408, "timeout", 0, nil},
		{"503 with Retry-After as an HTTP-date", func(e *env, r *oidctest.Response) {
			r.Status, r.Raw = 503, []byte("down")
			r.Header.Set("Retry-After", e.clk.Now().Add(30*time.Second).UTC().Format(http.TimeFormat))
		}, 503, "", 30 * time.Second, rp.ErrProviderUnavailable},
		{"503 with a Retry-After date in the past", func(e *env, r *oidctest.Response) {
			r.Status, r.Raw = 503, []byte("down")
			r.Header.Set("Retry-After", e.clk.Now().Add(-time.Hour).UTC().Format(http.TimeFormat))
		}, 503, "", 0, rp.ErrProviderUnavailable},
		{"503 with a malformed Retry-After", func(e *env, r *oidctest.Response) {
			r.Status, r.Raw = 503, []byte("down")
			r.Header.Set("Retry-After", "soon")
		}, 503, "", 0, rp.ErrProviderUnavailable},
		{"invalid_grant", func(e *env, r *oidctest.Response) {
			r.Status, r.Body = 400, map[string]any{"error": "invalid_grant"}
		}, 400, "invalid_grant", 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, nil, nil)
			tok := e.mustLogin(t)
			e.p.SetResponseHook("token", func(r *oidctest.Response) { tc.tamper(e, r) })
			_, err := e.c.Refresh(t.Context(), tok)
			pe := providerErr(t, err)
			if pe.Endpoint != "token" || pe.StatusCode != tc.status || pe.Code != tc.code || pe.RetryAfter != tc.retryAfter {
				t.Fatalf("provider error = %+v, want HTTP %d %q, RetryAfter %s", pe, tc.status, tc.code, tc.retryAfter)
			}
			if tc.want != nil {
				wantErr(t, err, tc.want)
			}
		})
	}
}

// TestRefreshNotATokenResponse: a 200 that is not a token response (a
// proxy's HTML error page) is ErrTokenResponse, not a provider refusal.
func TestRefreshNotATokenResponse(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	tok := e.mustLogin(t)
	e.p.SetResponseHook("token", func(r *oidctest.Response) {
		r.Header.Set("Content-Type", "text/html; charset=utf-8")
		r.Raw = []byte("<html><body>502 Bad Gateway</body></html>")
	})
	_, err := e.c.Refresh(t.Context(), tok)
	wantErr(t, err, rp.ErrTokenResponse)
	var pe *rp.ProviderError
	if errors.As(err, &pe) {
		t.Fatalf("an HTML page became a provider error: %+v", pe)
	}
}

// TestKeepAuthorizationParams: the authorization response's parameters
// named by KeepAuthorizationParams (Gluu's session_id, session_state) come
// with the tokens, and a refresh carries them over; the protocol's own
// parameters cannot be kept.
func TestKeepAuthorizationParams(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, func(c *rp.Config) { c.KeepAuthorizationParams = []string{"session_id", "session_state"} })
	st, params := e.authorize(t)
	params.Set("session_id", "op-session-1")
	params.Set("other", "not kept")
	tok, err := e.c.Callback(t.Context(), st, params)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"session_id": "op-session-1"}; !maps.Equal(tok.AuthParams, want) {
		t.Fatalf("AuthParams = %v, want %v", tok.AuthParams, want)
	}
	refreshed, err := e.c.Refresh(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(refreshed.AuthParams, tok.AuthParams) {
		t.Fatalf("AuthParams after refresh = %v", refreshed.AuthParams)
	}
	// Without the option nothing is kept.
	plain := setup(t, nil, nil)
	st, params = plain.authorize(t)
	params.Set("session_id", "op-session-2")
	if tok, err := plain.c.Callback(t.Context(), st, params); err != nil || tok.AuthParams != nil {
		t.Fatalf("AuthParams without the option = %v, %v", tok.AuthParams, err)
	}
	for _, name := range []string{"code", "state", "iss", "error", ""} {
		_, err := rp.New(t.Context(), clientConfig(e.p, e.clk, func(c *rp.Config) { c.KeepAuthorizationParams = []string{name} }))
		wantErr(t, err, rp.ErrConfig)
	}
}
