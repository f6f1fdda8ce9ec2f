package rp_test

import (
	"errors"
	"testing"

	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
)

// TestVerifyIDToken: the exported checklist accepts the login's token with
// its nonce and refuses it with another nonce, with none, or tampered.
func TestVerifyIDToken(t *testing.T) {
	t.Parallel()
	p := oidctest.Start(t, oidctest.Config{})
	c, err := rp.New(t.Context(), rp.Config{Issuer: p.Issuer(), ClientID: oidctest.DefaultClientID,
		ClientSecret: oidctest.DefaultClientSecret, RedirectURL: redirectURL, HTTPClient: p.Client()})
	if err != nil {
		t.Fatal(err)
	}
	authURL, st, err := c.StartLogin()
	if err != nil {
		t.Fatal(err)
	}
	params, err := p.Authorize(t.Context(), authURL)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.Callback(t.Context(), st, params)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := c.VerifyIDToken(t.Context(), tok.IDToken, st.Nonce)
	if err != nil || claims.Subject != tok.Claims.Subject {
		t.Fatalf("VerifyIDToken of the login's token: %v, %v", claims, err)
	}
	raw := string(tok.IDToken)
	forged := raw[:len(raw)-4] + "AAAA"
	for _, tc := range []struct {
		name  string
		raw   string
		nonce string
		want  error
	}{
		{"another nonce", raw, st.Nonce + "x", rp.ErrNonceMismatch},
		{"no nonce", raw, "", rp.ErrNonceMismatch},
		{"bad signature", forged, st.Nonce, rp.ErrSignature},
		{"not a JWT", "abc", st.Nonce, rp.ErrMalformedToken},
	} {
		if _, err := c.VerifyIDToken(t.Context(), rp.Secret(tc.raw), tc.nonce); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}
