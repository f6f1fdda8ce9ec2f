package rp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/rpkit/rpkit/internal/secure"
)

// Tokens are the verified result of a login or a refresh. Its secrets redact
// themselves when printed or logged.
type Tokens struct {
	AccessToken  Secret
	TokenType    string    // "Bearer"
	RefreshToken Secret    // empty when the provider issued none
	Expiry       time.Time // of the access token; zero when unknown
	IDToken      Secret    // the raw ID token, e.g. for id_token_hint
	Claims       *IDClaims // the ID token's verified claims
	// AuthParams are the authorization response's parameters named by
	// Config.KeepAuthorizationParams that it carried, such as Gluu's
	// "session_id" or "session_state" (OpenID Connect Session Management),
	// which some end-session endpoints want back. Refresh carries them
	// over. Nil when none was kept.
	AuthParams map[string]string
}

// LogValue logs the non-secret parts only.
func (t Tokens) LogValue() slog.Value {
	attrs := []slog.Attr{slog.Time("expiry", t.Expiry), slog.Bool("refresh_token", t.RefreshToken != "")}
	if t.Claims != nil {
		attrs = append(attrs, slog.String("sub", t.Claims.Subject))
	}
	return slog.GroupValue(attrs...)
}

// maxParamBytes bounds each authorization response parameter.
const maxParamBytes = 4 << 10

// Callback completes a login: params are the authorization response (the
// redirect's query, or the form_post body), st the [LoginState] from
// [Client.StartLogin]. It checks state in constant time, turns an error
// response into a [*ProviderError], exchanges the code with the PKCE
// verifier and verifies the ID token (signature, alg, iss, aud, azp, exp,
// iat, nonce, auth_time against max_age, at_hash, sub).
//
// A LoginState must be used once: the caller deletes it whatever the
// outcome, so a replayed callback fails with ErrStateMismatch.
func (c *Client) Callback(ctx context.Context, st *LoginState, params url.Values) (*Tokens, error) {
	if st == nil || st.State == "" || st.Nonce == "" || st.Verifier == "" {
		return nil, fmt.Errorf("%w: no complete login state", ErrStateMismatch)
	}
	for k, v := range params {
		if len(v) != 1 {
			return nil, fmt.Errorf("%w: parameter %q appears %d times", ErrInvalidCallback, k, len(v))
		}
		if len(v[0]) > maxParamBytes {
			return nil, fmt.Errorf("%w: parameter %q is longer than %d bytes", ErrInvalidCallback, k, maxParamBytes)
		}
	}
	if !secure.Equal(params.Get("state"), st.State) {
		return nil, ErrStateMismatch
	}
	if c.cfg.Now().Sub(st.Created) > c.cfg.LoginTimeout {
		return nil, fmt.Errorf("%w: started at %s", ErrLoginExpired, st.Created.Format(time.RFC3339))
	}
	p, err := c.provider(ctx)
	if err != nil {
		return nil, err
	}
	// RFC 9207: the iss parameter defends against mix-up attacks.
	if iss, ok := params["iss"]; ok || p.meta.AuthorizationResponseIssParameterSupported {
		if !ok || iss[0] != c.cfg.Issuer {
			return nil, fmt.Errorf("%w: authorization response iss %q", ErrIssuer, params.Get("iss"))
		}
	}
	if code := params.Get("error"); code != "" {
		return nil, &ProviderError{
			Endpoint:    "authorization",
			Code:        code,
			Description: params.Get("error_description"),
			URI:         params.Get("error_uri"),
		}
	}
	code := params.Get("code")
	if code == "" {
		return nil, fmt.Errorf("%w: no code", ErrInvalidCallback)
	}

	tok, err := p.oauth2.Exchange(tokenContext(ctx, p), code, oauth2.VerifierOption(string(st.Verifier)))
	if err != nil {
		return nil, c.tokenError(err)
	}
	raw, err := idTokenOf(tok)
	if err != nil {
		return nil, err
	}
	if raw == "" {
		return nil, ErrMissingIDToken
	}
	claims, err := c.verifyIDToken(ctx, p, raw, idCheck{nonce: st.Nonce, maxAge: st.MaxAge, accessToken: tok.AccessToken})
	if err != nil {
		return nil, err
	}
	t := c.tokensFrom(tok, raw, claims)
	for _, name := range c.cfg.KeepAuthorizationParams {
		if v := params.Get(name); v != "" {
			if t.AuthParams == nil {
				t.AuthParams = make(map[string]string)
			}
			t.AuthParams[name] = v
		}
	}
	return t, nil
}

// idTokenOf returns the id_token member of a token response, "" if absent.
func idTokenOf(tok *oauth2.Token) (string, error) {
	switch v := tok.Extra("id_token").(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	default:
		return "", fmt.Errorf("%w: id_token is a %T, not a string", ErrTokenResponse, v)
	}
}

// tokensFrom converts x/oauth2's token. The expiry is computed from
// expires_in with the client's clock (x/oauth2 uses time.Now).
func (c *Client) tokensFrom(tok *oauth2.Token, rawID string, claims *IDClaims) *Tokens {
	t := &Tokens{
		AccessToken:  Secret(tok.AccessToken),
		TokenType:    tok.Type(),
		RefreshToken: Secret(tok.RefreshToken),
		IDToken:      Secret(rawID),
		Claims:       claims,
	}
	if tok.ExpiresIn > 0 {
		t.Expiry = c.cfg.Now().Add(time.Duration(tok.ExpiresIn) * time.Second)
	}
	return t
}

// tokenContext carries the authenticating HTTP client to x/oauth2.
func tokenContext(ctx context.Context, p *provider) context.Context {
	return oidc.ClientContext(ctx, p.token)
}

// tokenError classifies an error from x/oauth2's token requests: an HTTP
// error answer (or a 200 with an "error" member) is a [*ProviderError]
// carrying the status and the Retry-After, a transport failure is
// [ErrProviderUnavailable], anything else (a 200 that is not a token
// response, such as a proxy's HTML page) is [ErrTokenResponse].
func (c *Client) tokenError(err error) error {
	var re *oauth2.RetrieveError
	var ue *url.Error
	switch {
	case errors.As(err, &re):
		pe := &ProviderError{
			Endpoint:    "token",
			Code:        re.ErrorCode,
			Description: re.ErrorDescription,
			URI:         re.ErrorURI,
			err:         re,
		}
		if re.Response != nil {
			pe.StatusCode = re.Response.StatusCode
			pe.RetryAfter = retryAfter(re.Response.Header.Get("Retry-After"), c.cfg.Now())
		}
		return pe
	case errors.As(err, &ue):
		return unavailable(err)
	}
	// Not an HTTP error: the response could not be parsed (wrong JSON
	// types, missing access_token, ...).
	return fmt.Errorf("%w: %v", ErrTokenResponse, err)
}

// retryAfter parses a Retry-After value (RFC 9110 10.2.3): delay-seconds or
// an HTTP-date, the latter measured from now. Absent, malformed, negative or
// past values are zero.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseUint(v, 10, 31); err == nil {
		return time.Duration(secs) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil && at.After(now) {
		return at.Sub(now)
	}
	return 0
}
