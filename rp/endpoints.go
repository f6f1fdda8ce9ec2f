package rp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rpkit/rpkit/internal/secure"
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
	p, err := c.provider(ctx)
	if err != nil {
		return err
	}
	if p.meta.RevocationEndpoint == "" {
		return ErrNoRevocation
	}
	_, err = postToken(ctx, p, "revocation", p.meta.RevocationEndpoint, token, hint)
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
	p, err := c.provider(ctx)
	if err != nil {
		return nil, err
	}
	if p.meta.IntrospectionEndpoint == "" {
		return nil, ErrNoIntrospection
	}
	body, err := postToken(ctx, p, "introspection", p.meta.IntrospectionEndpoint, token, hint)
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
func postToken(ctx context.Context, p *provider, endpoint, u string, token Secret, hint TokenTypeHint) ([]byte, error) {
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
	resp, err := do(p.token, req)
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

// authParam returns one auth-param of the Bearer challenge in a
// WWW-Authenticate header, such as error="invalid_token", or "" when there
// is none. The header is parsed as RFC 7235 defines it: several challenges
// may share it, separated by commas like their parameters, and a value may
// be a quoted-string holding commas, equals signs and backslash-escaped
// quotes (Okta's error descriptions do).
func authParam(header, name string) string {
	for _, ch := range parseChallenges(header) {
		if strings.EqualFold(ch.scheme, "Bearer") {
			return ch.params[strings.ToLower(name)]
		}
	}
	return ""
}

// challenge is one challenge of a WWW-Authenticate header: its scheme and
// its auth-params, names lower-cased.
type challenge struct {
	scheme string
	params map[string]string
}

// parseChallenges parses a WWW-Authenticate header (RFC 7235 4.1 and 2.1):
//
//	challenge  = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//	auth-param = token BWS "=" BWS ( token / quoted-string )
//
// It never fails: what it cannot read ends the parse.
func parseChallenges(h string) []challenge {
	var out []challenge
	i := 0
	skip := func(set string) {
		for i < len(h) && strings.IndexByte(set, h[i]) >= 0 {
			i++
		}
	}
	token := func() string {
		j := i
		for i < len(h) && isTokenChar(h[i]) {
			i++
		}
		return h[j:i]
	}
	for i < len(h) {
		skip(" \t,")
		scheme := token()
		if scheme == "" {
			break
		}
		ch := challenge{scheme: scheme, params: map[string]string{}}
		for {
			skip(" \t")
			start := i
			name := token()
			skip(" \t")
			if name == "" {
				break
			}
			if i >= len(h) || h[i] != '=' {
				// Not a parameter: the next challenge's scheme.
				i = start
				break
			}
			i++ // '='
			skip(" \t")
			var value string
			if i < len(h) && h[i] == '"' {
				var b strings.Builder
				for i++; i < len(h) && h[i] != '"'; i++ {
					if h[i] == '\\' && i+1 < len(h) {
						i++
					}
					b.WriteByte(h[i])
				}
				if i < len(h) {
					i++ // the closing quote
				}
				value = b.String()
			} else {
				value = token()
			}
			ch.params[strings.ToLower(name)] = value
			skip(" \t")
			if i < len(h) && h[i] == ',' {
				i++
			}
		}
		out = append(out, ch)
	}
	return out
}

// isTokenChar reports whether c may appear in an RFC 7230 token (tchar),
// or in a token68 ("/" and "+" besides).
func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~/", c) >= 0
}

// UserInfo fetches the UserInfo endpoint with t's access token, checks that
// its "sub" is the ID token's (Core 5.3.2: otherwise [ErrUserInfoSubject])
// and decodes all claims into dst (for example a *[StandardClaims] or a
// *map[string]any). Signed UserInfo responses (application/jwt) are not
// supported: the client must not register userinfo_signed_response_alg.
func (c *Client) UserInfo(ctx context.Context, t *Tokens, dst any) error {
	p, err := c.provider(ctx)
	if err != nil {
		return err
	}
	if p.meta.UserInfoEndpoint == "" {
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
	resp, err := get(ctx, c.http, p.meta.UserInfoEndpoint, "application/json",
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
	if sub.Subject == nil || !secure.Equal(*sub.Subject, want.Subject) {
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
