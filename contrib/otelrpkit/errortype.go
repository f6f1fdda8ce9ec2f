package otelrpkit

import (
	"context"
	"errors"

	"github.com/rpkit/rpkit/backchannel"
	"github.com/rpkit/rpkit/frontchannel"
	"github.com/rpkit/rpkit/middleware"
	"github.com/rpkit/rpkit/rp"
	"github.com/rpkit/rpkit/session"
)

// OtherError is the [ErrorType] of an error that matches none of the
// errors it knows.
const OtherError = "other"

// sentinels are the errors ErrorType names, first match wins: rp's (the
// root cause: a failed check, an unreachable provider) before the wrappers
// of the packages built on it, the missing claim before the rule its claim
// serves, the context's last.
var sentinels = []struct {
	err  error
	name string
}{
	// rp: configuration and discovery.
	{rp.ErrConfig, "rp.ErrConfig"},
	{rp.ErrDiscovery, "rp.ErrDiscovery"},
	{rp.ErrIssuerMismatch, "rp.ErrIssuerMismatch"},
	// rp: the authorization response.
	{rp.ErrStateMismatch, "rp.ErrStateMismatch"},
	{rp.ErrLoginExpired, "rp.ErrLoginExpired"},
	{rp.ErrInvalidCallback, "rp.ErrInvalidCallback"},
	{rp.ErrTokenResponse, "rp.ErrTokenResponse"},
	// rp: token checks.
	{rp.ErrMissingIDToken, "rp.ErrMissingIDToken"},
	{rp.ErrMalformedToken, "rp.ErrMalformedToken"},
	{rp.ErrAlgorithm, "rp.ErrAlgorithm"},
	{rp.ErrKeyRefetchLimited, "rp.ErrKeyRefetchLimited"},
	{rp.ErrSignature, "rp.ErrSignature"},
	{rp.ErrMissingClaim, "rp.ErrMissingClaim"},
	{rp.ErrIssuer, "rp.ErrIssuer"},
	{rp.ErrAudience, "rp.ErrAudience"},
	{rp.ErrAZP, "rp.ErrAZP"},
	{rp.ErrExpired, "rp.ErrExpired"},
	{rp.ErrIssuedAt, "rp.ErrIssuedAt"},
	{rp.ErrNotYetValid, "rp.ErrNotYetValid"},
	{rp.ErrNonceMismatch, "rp.ErrNonceMismatch"},
	{rp.ErrAuthTime, "rp.ErrAuthTime"},
	{rp.ErrAtHash, "rp.ErrAtHash"},
	{rp.ErrMissingSubject, "rp.ErrMissingSubject"},
	{rp.ErrSubjectChanged, "rp.ErrSubjectChanged"},
	{rp.ErrUserInfoSubject, "rp.ErrUserInfoSubject"},
	// rp: logout tokens.
	{rp.ErrLogoutTokenType, "rp.ErrLogoutTokenType"},
	{rp.ErrLogoutEvent, "rp.ErrLogoutEvent"},
	{rp.ErrLogoutSubject, "rp.ErrLogoutSubject"},
	{rp.ErrLogoutNonce, "rp.ErrLogoutNonce"},
	{rp.ErrLogoutJTI, "rp.ErrLogoutJTI"},
	// rp: bearer tokens, sign-out, missing capabilities.
	{rp.ErrInvalidToken, "rp.ErrInvalidToken"},
	{rp.ErrInsufficientScope, "rp.ErrInsufficientScope"},
	{rp.ErrInactiveToken, "rp.ErrInactiveToken"},
	{rp.ErrNoEndSession, "rp.ErrNoEndSession"},
	{rp.ErrNoRevocation, "rp.ErrNoRevocation"},
	{rp.ErrNoIntrospection, "rp.ErrNoIntrospection"},
	{rp.ErrNoUserInfo, "rp.ErrNoUserInfo"},
	{rp.ErrNoRefreshToken, "rp.ErrNoRefreshToken"},
	{rp.ErrIDTokenHintRequired, "rp.ErrIDTokenHintRequired"},
	// rp: the provider is not discovered yet (Config.LazyDiscovery), before
	// the reason the last attempt failed.
	{rp.ErrNotDiscovered, "rp.ErrNotDiscovered"},
	// rp: the provider could not be reached, timed out or answered 5xx.
	{rp.ErrProviderUnavailable, "rp.ErrProviderUnavailable"},

	// The receivers.
	{backchannel.ErrReplay, "backchannel.ErrReplay"},
	{backchannel.ErrRequest, "backchannel.ErrRequest"},
	{frontchannel.ErrRequest, "frontchannel.ErrRequest"},

	// The middleware.
	{middleware.ErrNoLoginState, "middleware.ErrNoLoginState"},
	{middleware.ErrLoginRefused, "middleware.ErrLoginRefused"},
	{middleware.ErrUnauthenticated, "middleware.ErrUnauthenticated"},
	{middleware.ErrStore, "middleware.ErrStore"},
	{middleware.ErrRefreshUnavailable, "middleware.ErrRefreshUnavailable"},

	// Sessions and their stores.
	{session.ErrNotFound, "session.ErrNotFound"},
	{session.ErrConflict, "session.ErrConflict"},
	{session.ErrImmutable, "session.ErrImmutable"},
	{session.ErrInvalidSession, "session.ErrInvalidSession"},
	{session.ErrInvalidRecord, "session.ErrInvalidRecord"},
	{session.ErrLoggedOut, "session.ErrLoggedOut"},
	{session.ErrInvalidCookie, "session.ErrInvalidCookie"},
	{session.ErrCookieSecret, "session.ErrCookieSecret"},

	// A deadline or cancellation that nothing above wrapped.
	{context.DeadlineExceeded, "context.DeadlineExceeded"},
	{context.Canceled, "context.Canceled"},
}

// oauthCodes are the registered OAuth 2.0 and OpenID Connect error codes
// (RFC 6749 4.1.2.1 and 5.2, RFC 6750 3.1, RFC 7009 2.2.1, RFC 8628 3.5,
// RFC 9449 and OpenID Connect Core 3.1.2.6): a provider's error with one of
// these has it as its ErrorType; with any other (a provider may send
// anything), "rp.ProviderError".
var oauthCodes = map[string]bool{
	"invalid_request":            true,
	"unauthorized_client":        true,
	"access_denied":              true,
	"unsupported_response_type":  true,
	"invalid_scope":              true,
	"server_error":               true,
	"temporarily_unavailable":    true,
	"invalid_client":             true,
	"invalid_grant":              true,
	"unsupported_grant_type":     true,
	"invalid_token":              true,
	"insufficient_scope":         true,
	"unsupported_token_type":     true,
	"authorization_pending":      true,
	"slow_down":                  true,
	"expired_token":              true,
	"invalid_dpop_proof":         true,
	"use_dpop_nonce":             true,
	"interaction_required":       true,
	"login_required":             true,
	"account_selection_required": true,
	"consent_required":           true,
	"invalid_request_uri":        true,
	"invalid_request_object":     true,
	"request_not_supported":      true,
	"request_uri_not_supported":  true,
	"registration_not_supported": true,
}

// ErrorType is the bounded name that the error.type attribute gives err:
//
//   - a registered OAuth 2.0 or OpenID Connect error code ("access_denied",
//     "invalid_grant", "login_required", …) when err is or wraps an
//     [*rp.ProviderError] with that Code;
//   - else the rpkit sentinel err matches, by its Go name: "rp.ErrSignature",
//     "rp.ErrExpired", "rp.ErrProviderUnavailable",
//     "backchannel.ErrReplay", "middleware.ErrNoLoginState",
//     "session.ErrNotFound", "context.DeadlineExceeded", … (rp's sentinels
//     before those of the packages that wrap them);
//   - else "rp.ProviderError" for a provider's error with another code;
//   - else [OtherError]; and "" for a nil err.
//
// It never returns text taken from err, which is unbounded.
func ErrorType(err error) string {
	if err == nil {
		return ""
	}
	pe := providerError(err)
	if pe != nil && oauthCodes[pe.Code] {
		return pe.Code
	}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return s.name
		}
	}
	if pe != nil {
		return "rp.ProviderError"
	}
	return OtherError
}

// providerError is the first *rp.ProviderError in err's tree, as errors.As
// finds it, but without the allocation of its target.
func providerError(err error) *rp.ProviderError {
	for err != nil {
		if pe, ok := err.(*rp.ProviderError); ok {
			return pe
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if pe := providerError(e); pe != nil {
					return pe
				}
			}
			return nil
		default:
			return nil
		}
	}
	return nil
}
