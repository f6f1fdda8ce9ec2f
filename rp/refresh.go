package rp

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"strings"

	"golang.org/x/oauth2"
)

// Refresh uses prev.RefreshToken (refresh_token grant) and returns the new
// tokens. When the provider does not rotate the refresh token, the old one
// is kept. When the response carries a new ID token it must pass Core 12.2
// against prev's ID token: valid signature and exp, same iss and sub, aud
// containing the client ID, the original auth_time and nonce if present —
// else the error names the failed check (e.g. [ErrSubjectChanged]) and the
// caller should end the session. Without a new ID token, prev's is kept.
//
// prev.Claims may be nil (tokens restored from storage): the claims are then
// read from prev.IDToken, which must be the ID token this client verified
// at login.
func (c *Client) Refresh(ctx context.Context, prev *Tokens) (*Tokens, error) {
	if prev == nil || prev.RefreshToken == "" {
		return nil, ErrNoRefreshToken
	}
	orig := prev.Claims
	if orig == nil && prev.IDToken != "" {
		var err error
		if orig, err = storedClaims(string(prev.IDToken)); err != nil {
			return nil, err
		}
	}
	p, err := c.provider(ctx)
	if err != nil {
		return nil, err
	}
	src := p.oauth2.TokenSource(tokenContext(ctx, p), &oauth2.Token{RefreshToken: string(prev.RefreshToken)})
	tok, err := src.Token()
	if err != nil {
		return nil, c.tokenError(err)
	}
	raw, err := idTokenOf(tok)
	if err != nil {
		return nil, err
	}
	if raw == "" {
		t := c.tokensFrom(tok, string(prev.IDToken), orig)
		t.AuthParams = maps.Clone(prev.AuthParams)
		return t, nil
	}
	if orig == nil {
		return nil, fmt.Errorf("%w: refresh returned an ID token but there is no original to compare it with", ErrSubjectChanged)
	}
	claims, err := c.verifyIDToken(ctx, p, raw, idCheck{prev: orig, accessToken: tok.AccessToken})
	if err != nil {
		return nil, err
	}
	t := c.tokensFrom(tok, raw, claims)
	t.AuthParams = maps.Clone(prev.AuthParams) // the login's, kept
	return t, nil
}

// storedClaims reads the claims of an ID token that this client verified
// earlier and the application stored. The signature is not checked again
// (the token may have expired since); the claims only serve as the
// reference that a refreshed token is compared with.
func storedClaims(raw string) (*IDClaims, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: stored ID token is not a compact JWS", ErrMalformedToken)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("%w: stored ID token: %v", ErrMalformedToken, err)
	}
	cl, err := parseClaims(payload)
	if err != nil {
		return nil, err
	}
	return cl.idClaims(payload), nil
}
