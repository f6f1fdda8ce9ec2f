package rp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// TokenTypeHint tells the revocation or introspection endpoint what kind of
// token it is given (RFC 7009 2.1).
type TokenTypeHint string

// Token type hints; the zero value sends none.
const (
	HintAccessToken  TokenTypeHint = "access_token"
	HintRefreshToken TokenTypeHint = "refresh_token"
)

// Revoke revokes a token at the provider's revocation endpoint (RFC 7009),
// with the client's authentication. Revoking an unknown or already revoked
// token succeeds, as the RFC says. A provider without a revocation endpoint
// gives [ErrNoRevocation].
func (c *Client) Revoke(ctx context.Context, token Secret, hint TokenTypeHint) error {
	if c.meta.RevocationEndpoint == "" {
		return ErrNoRevocation
	}
	_, err := c.postToken(ctx, "revocation", c.meta.RevocationEndpoint, token, hint)
	return err
}

// Introspection is an RFC 7662 introspection response. Only Active is
// meaningful when Active is false.
type Introspection struct {
	Active    bool
	Scope     string
	ClientID  string
	Username  string
	TokenType string
	Subject   string
	Issuer    string
	Audience  []string
	JTI       string
	SID       string
	Expiry    time.Time // zero when absent
	IssuedAt  time.Time
	NotBefore time.Time

	raw json.RawMessage
}

// Decode unmarshals the whole response into v (for provider-specific
// members).
func (i *Introspection) Decode(v any) error { return json.Unmarshal(i.raw, v) }

// Introspect asks the provider's introspection endpoint (RFC 7662) about a
// token, with the client's authentication. A provider without one gives
// [ErrNoIntrospection].
func (c *Client) Introspect(ctx context.Context, token Secret, hint TokenTypeHint) (*Introspection, error) {
	if c.meta.IntrospectionEndpoint == "" {
		return nil, ErrNoIntrospection
	}
	body, err := c.postToken(ctx, "introspection", c.meta.IntrospectionEndpoint, token, hint)
	if err != nil {
		return nil, err
	}
	var r struct {
		Active    *bool        `json:"active"`
		Scope     string       `json:"scope"`
		ClientID  string       `json:"client_id"`
		Username  string       `json:"username"`
		TokenType string       `json:"token_type"`
		Subject   string       `json:"sub"`
		Issuer    string       `json:"iss"`
		Audience  audience     `json:"aud"`
		JTI       string       `json:"jti"`
		SID       string       `json:"sid"`
		Expiry    *numericDate `json:"exp"`
		IssuedAt  *numericDate `json:"iat"`
		NotBefore *numericDate `json:"nbf"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%w: introspection: %v", ErrTokenResponse, err)
	}
	if r.Active == nil {
		return nil, fmt.Errorf("%w: introspection response has no \"active\"", ErrTokenResponse)
	}
	return &Introspection{
		Active: *r.Active, Scope: r.Scope, ClientID: r.ClientID, Username: r.Username,
		TokenType: r.TokenType, Subject: r.Subject, Issuer: r.Issuer, Audience: r.Audience,
		JTI: r.JTI, SID: r.SID, Expiry: r.Expiry.time(), IssuedAt: r.IssuedAt.time(),
		NotBefore: r.NotBefore.time(), raw: body,
	}, nil
}

// postToken POSTs token (and its hint) to an endpoint that authenticates the
// client, and returns the 200 body. Other answers become a *ProviderError.
func (c *Client) postToken(ctx context.Context, endpoint, u string, token Secret, hint TokenTypeHint) ([]byte, error) {
	if token == "" {
		return nil, fmt.Errorf("rp: %s: empty token", endpoint)
	}
	form := url.Values{"token": {string(token)}}
	if hint != "" {
		form.Set("token_type_hint", string(hint))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := do(c.token, req)
	if err != nil {
		return nil, err
	}
	if resp.status != http.StatusOK {
		return nil, providerError(endpoint, resp, "")
	}
	return resp.body, nil
}

// providerError reads an OAuth error from a JSON body or, failing that, a
// WWW-Authenticate header (RFC 6750 3).
func providerError(endpoint string, resp *response, wwwAuthenticate string) *ProviderError {
	var e struct {
		Code        string `json:"error"`
		Description string `json:"error_description"`
		URI         string `json:"error_uri"`
	}
	if json.Unmarshal(resp.body, &e) != nil || e.Code == "" {
		e.Code = authParam(wwwAuthenticate, "error")
		e.Description = authParam(wwwAuthenticate, "error_description")
	}
	return &ProviderError{Endpoint: endpoint, StatusCode: resp.status, Code: e.Code, Description: e.Description, URI: e.URI}
}

// authParam returns one auth-param of a WWW-Authenticate challenge such as
// `Bearer error="invalid_token", error_description="expired"`.
func authParam(challenge, name string) string {
	_, params, ok := strings.Cut(challenge, " ")
	if !ok {
		return ""
	}
	for _, p := range strings.Split(params, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(k, name) {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// UserInfo fetches the UserInfo endpoint with t's access token, checks that
// its "sub" is the ID token's (Core 5.3.2: otherwise [ErrUserInfoSubject])
// and decodes all claims into dst (for example a *[StandardClaims] or a
// *map[string]any). Signed UserInfo responses (application/jwt) are not
// supported: the client must not register userinfo_signed_response_alg.
func (c *Client) UserInfo(ctx context.Context, t *Tokens, dst any) error {
	if c.meta.UserInfoEndpoint == "" {
		return ErrNoUserInfo
	}
	if t == nil || t.AccessToken == "" {
		return fmt.Errorf("rp: userinfo: no access token")
	}
	want := t.Claims
	if want == nil {
		var err error
		if want, err = storedClaims(string(t.IDToken)); err != nil {
			return fmt.Errorf("%w: no ID token to compare with: %w", ErrUserInfoSubject, err)
		}
	}
	resp, err := get(ctx, c.http, c.meta.UserInfoEndpoint, "application/json",
		http.Header{"Authorization": {"Bearer " + string(t.AccessToken)}})
	if err != nil {
		return err
	}
	if resp.status != http.StatusOK {
		return providerError("userinfo", resp, resp.header.Get("WWW-Authenticate"))
	}
	payload := resp.body
	var sub struct {
		Subject *string `json:"sub"`
	}
	if err := json.Unmarshal(payload, &sub); err != nil {
		return fmt.Errorf("%w: userinfo: %v", ErrTokenResponse, err)
	}
	if sub.Subject == nil || !equalConstantTime(*sub.Subject, want.Subject) {
		return fmt.Errorf("%w: id token sub %q", ErrUserInfoSubject, want.Subject)
	}
	if dst == nil {
		return nil
	}
	if err := json.Unmarshal(payload, dst); err != nil {
		return fmt.Errorf("rp: userinfo: decoding into %T: %w", dst, err)
	}
	return nil
}
