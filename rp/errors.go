package rp

import (
	"errors"
	"fmt"
	"time"
)

// Configuration and discovery errors, returned by [New].
var (
	// ErrConfig reports an invalid [Config].
	ErrConfig = errors.New("rp: invalid configuration")
	// ErrDiscovery reports a discovery document that could not be used:
	// a non-200 answer, malformed JSON, wrong member types or missing
	// required endpoints.
	ErrDiscovery = errors.New("rp: discovery failed")
	// ErrIssuerMismatch reports a discovery document whose "issuer" is not
	// exactly the configured issuer.
	ErrIssuerMismatch = errors.New("rp: discovery issuer does not match the configured issuer")
	// ErrProviderUnavailable reports that the provider could not be reached,
	// timed out or answered with a server error (5xx), or — with
	// Config.LazyDiscovery — has not been discovered yet (a
	// [*DiscoveryRetryError], which matches ErrNotDiscovered too). The
	// request may be retried later; nothing was accepted.
	ErrProviderUnavailable = errors.New("rp: provider unavailable")
)

// Authorization-response errors, returned by [Client.Callback].
var (
	// ErrStateMismatch reports a callback whose state is missing or differs
	// from the login's, or a callback with no login state at all.
	ErrStateMismatch = errors.New("rp: state mismatch")
	// ErrLoginExpired reports a callback for a login started longer ago than
	// Config.LoginTimeout.
	ErrLoginExpired = errors.New("rp: login attempt expired")
	// ErrInvalidCallback reports a malformed authorization response: a
	// missing code, a repeated or oversized parameter.
	ErrInvalidCallback = errors.New("rp: invalid authorization response")
	// ErrTokenResponse reports a token endpoint response that could not be
	// used (malformed JSON, wrong member types, no access token).
	ErrTokenResponse = errors.New("rp: invalid token response")
)

// Token checks. Each names one rule of the ID token checklist (OpenID Connect
// Core 3.1.3.7 and 12.2); logout tokens use the same signature rules.
var (
	// ErrMissingIDToken reports a token response without an id_token.
	ErrMissingIDToken = errors.New("rp: token response has no id_token")
	// ErrMalformedToken reports a token that is not a compact JWS with a
	// JSON claims object of the expected member types.
	ErrMalformedToken = errors.New("rp: malformed token")
	// ErrAlgorithm reports a token signed with an algorithm outside the
	// allow-list ("none" is never allowed, HMAC only when configured).
	ErrAlgorithm = errors.New("rp: signing algorithm not allowed")
	// ErrSignature reports a signature that the key the token names does
	// not verify (or, for HMAC, the client secret), or a token naming a key
	// that is not in the provider's key set even when fetched after the
	// token arrived.
	ErrSignature = errors.New("rp: invalid token signature")
	// ErrKeyRefetchLimited reports a token naming a key ID that is not in
	// the cached key set, when the set was refetched for an unknown key ID
	// less than Config.JWKSRefetchInterval ago. The token may be genuine
	// (signed by a key rotated in moments ago): answer "try again later",
	// not "invalid". It comes inside a [*KeyRetryError] saying when.
	ErrKeyRefetchLimited = errors.New("rp: JWKS refetch rate-limited")
	// ErrIssuer reports an "iss" claim that is not exactly the issuer.
	ErrIssuer = errors.New("rp: issuer mismatch")
	// ErrAudience reports an "aud" claim that does not contain the client ID.
	ErrAudience = errors.New("rp: audience does not contain client_id")
	// ErrAZP reports an "azp" claim that is not the client ID, or a missing
	// "azp" when the token has several audiences.
	ErrAZP = errors.New("rp: authorized party mismatch")
	// ErrExpired reports a token whose "exp" is missing or has passed
	// (beyond Config.ClockSkew).
	ErrExpired = errors.New("rp: token expired")
	// ErrIssuedAt reports a missing "iat" claim or one in the future.
	ErrIssuedAt = errors.New("rp: invalid iat")
	// ErrNotYetValid reports an "nbf" claim in the future.
	ErrNotYetValid = errors.New("rp: token not yet valid")
	// ErrNonceMismatch reports a "nonce" claim that differs from the login's
	// nonce (or, on refresh, from the original ID token's).
	ErrNonceMismatch = errors.New("rp: nonce mismatch")
	// ErrAuthTime reports an "auth_time" that is missing although max_age was
	// requested, older than max_age allows, in the future, or (on refresh)
	// different from the original authentication time.
	ErrAuthTime = errors.New("rp: auth_time check failed")
	// ErrAtHash reports an "at_hash" claim that does not match the access
	// token.
	ErrAtHash = errors.New("rp: at_hash mismatch")
	// ErrMissingSubject reports a token without a "sub" claim.
	ErrMissingSubject = errors.New("rp: token has no sub")
	// ErrSubjectChanged reports a refreshed ID token whose "sub" differs from
	// the original ID token's (Core 12.2).
	ErrSubjectChanged = errors.New("rp: refreshed id token subject changed")
	// ErrUserInfoSubject reports a UserInfo response whose "sub" differs from
	// the ID token's (Core 5.3.2).
	ErrUserInfoSubject = errors.New("rp: userinfo subject does not match id token")
)

// ErrMissingClaim is matched by every [*MissingClaimError].
var ErrMissingClaim = errors.New("rp: token lacks a required claim")

// MissingClaimError reports a token without a claim its checklist
// requires: exp, iat or sub of an ID token; iat, jti, or exp (with
// Config.RequireLogoutTokenExp) of a logout token. It matches
// [ErrMissingClaim] and the sentinel of the rule the claim serves
// ([ErrExpired] for exp, [ErrIssuedAt] for iat, [ErrMissingSubject] for
// sub, [ErrLogoutJTI] for jti), and its message names the claim.
type MissingClaimError struct {
	// Claim is the missing claim's name, such as "exp".
	Claim string
	rule  error
}

// Error names the missing claim.
func (e *MissingClaimError) Error() string {
	return fmt.Sprintf("rp: token has no %q claim", e.Claim)
}

// Is matches ErrMissingClaim and the sentinel of the claim's rule.
func (e *MissingClaimError) Is(target error) bool {
	return target == ErrMissingClaim || (e.rule != nil && target == e.rule)
}

// Logout token checks (Back-Channel Logout 1.0, 2.4 and 2.6), besides the
// signature, iss, aud, iat and exp checks shared with ID tokens.
var (
	// ErrLogoutTokenType reports a "typ" header other than logout+jwt (a
	// missing typ or "JWT" is accepted for older providers): for example an
	// ID token or an access token posted as a logout token.
	ErrLogoutTokenType = errors.New("rp: wrong logout token type")
	// ErrLogoutEvent reports a missing or malformed "events" claim: it must
	// be an object with the member
	// "http://schemas.openid.net/event/backchannel-logout", itself an object.
	ErrLogoutEvent = errors.New("rp: logout token has no backchannel-logout event")
	// ErrLogoutSubject reports a logout token with neither "sub" nor "sid".
	ErrLogoutSubject = errors.New("rp: logout token has neither sub nor sid")
	// ErrLogoutNonce reports a logout token with a "nonce" claim, which the
	// specification forbids so that an ID token cannot pass as one.
	ErrLogoutNonce = errors.New("rp: logout token has a nonce")
	// ErrLogoutJTI reports a logout token without "jti" (needed to refuse
	// replays).
	ErrLogoutJTI = errors.New("rp: logout token has no jti")
)

// Bearer token errors (RFC 6750 3.1) that a resource server — the
// UserInfo endpoint — answers, matched by a [*ProviderError] with that Code.
var (
	// ErrInvalidToken reports an access token the provider refused:
	// expired, revoked or malformed ("invalid_token"). Refresh it, or log in
	// again.
	ErrInvalidToken = errors.New("rp: access token refused (invalid_token)")
	// ErrInsufficientScope reports an access token without the scope the
	// request needs ("insufficient_scope").
	ErrInsufficientScope = errors.New("rp: access token lacks the scope (insufficient_scope)")
)

// Missing capabilities. Each wraps [errors.ErrUnsupported].
var (
	// ErrNoEndSession reports a provider without an end_session_endpoint: the
	// caller can fall back to a local-only logout.
	ErrNoEndSession = fmt.Errorf("rp: provider has no end_session_endpoint: %w", errors.ErrUnsupported)
	// ErrNoRevocation reports a provider without a revocation_endpoint.
	ErrNoRevocation = fmt.Errorf("rp: provider has no revocation_endpoint: %w", errors.ErrUnsupported)
	// ErrNoIntrospection reports a provider without an introspection_endpoint.
	ErrNoIntrospection = fmt.Errorf("rp: provider has no introspection_endpoint: %w", errors.ErrUnsupported)
	// ErrNoUserInfo reports a provider without a userinfo_endpoint.
	ErrNoUserInfo = fmt.Errorf("rp: provider has no userinfo_endpoint: %w", errors.ErrUnsupported)
	// ErrNoRefreshToken reports a refresh attempted without a refresh token.
	ErrNoRefreshToken = errors.New("rp: no refresh token")
	// ErrIDTokenHintRequired reports an end-session request without an
	// id_token_hint to a provider that Config.EndSessionRequiresIDTokenHint
	// says requires one: the caller ends the session locally only.
	ErrIDTokenHintRequired = errors.New("rp: the provider requires an id_token_hint to end its session")
)

// ProviderError is an error answered by the provider in OAuth 2.0 form: an
// authorization error response (RFC 6749 4.1.2.1) or an error from the token,
// revocation, introspection or userinfo endpoint. Use [errors.As] to read it.
// A ProviderError with a 5xx StatusCode also matches [ErrProviderUnavailable].
type ProviderError struct {
	// Endpoint names where the error came from: "authorization", "token",
	// "revocation", "introspection" or "userinfo".
	Endpoint string
	// StatusCode is the HTTP status, 0 for an authorization response.
	StatusCode int
	// Code is the "error" member, such as "invalid_grant" or "access_denied".
	Code string
	// Description and URI are "error_description" and "error_uri".
	Description, URI string
	// RetryAfter is how long the token endpoint asked the client to wait
	// before trying again, from its Retry-After header (delay-seconds or an
	// HTTP-date, RFC 9110 10.2.3, measured against Config.Now): typically
	// with a 429, a 503 or a "slow_down". Zero when the header is absent,
	// malformed or in the past, and for the other endpoints.
	RetryAfter time.Duration

	err error // the underlying error, e.g. *oauth2.RetrieveError
}

// Error describes the provider's answer. It never includes a response body.
func (e *ProviderError) Error() string {
	s := "rp: provider error from " + e.Endpoint + " endpoint"
	if e.StatusCode != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.StatusCode)
	}
	if e.Code != "" {
		s += ": " + e.Code
	}
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

// Unwrap returns the underlying error, such as an *oauth2.RetrieveError.
func (e *ProviderError) Unwrap() error { return e.err }

// Is matches a server error (5xx) against [ErrProviderUnavailable], and the
// RFC 6750 codes invalid_token and insufficient_scope against
// [ErrInvalidToken] and [ErrInsufficientScope].
func (e *ProviderError) Is(target error) bool {
	switch target {
	case ErrProviderUnavailable:
		return e.StatusCode >= 500
	case ErrInvalidToken:
		return e.Code == "invalid_token"
	case ErrInsufficientScope:
		return e.Code == "insufficient_scope"
	}
	return false
}
