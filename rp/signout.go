package rp

import (
	"context"
	"errors"
	"fmt"
)

// ErrInactiveToken reports a refresh token that the provider's
// introspection endpoint says is not active: unknown, expired, revoked, or
// issued to another client. Nothing was revoked.
var ErrInactiveToken = errors.New("rp: token not active at the provider")

// SignOut is what [Client.SignOut] did and found.
type SignOut struct {
	// Subject and SID name the login the refresh token came from (its
	// "sub" and "sid" at introspection), so that the caller can end the
	// local sessions issued from it. Empty when the provider has no
	// introspection endpoint, or did not say.
	Subject, SID string
	// EndSessionURL is where the client may send the user to end the
	// provider session too (RP-Initiated Logout 1.0); "" when the provider
	// has no end_session_endpoint, or requires an id_token_hint that p
	// lacks (Config.EndSessionRequiresIDTokenHint).
	EndSessionURL string
}

// SignOut is the server-side logout of a client that holds a refresh token
// and no browser session (a mobile app, an API client): it introspects the
// refresh token when the provider can (RFC 7662), revokes it (RFC 7009;
// providers revoke the tokens issued from it too), and builds the
// end-session URL from p. The caller then ends its own sessions of
// SignOut's Subject and SID.
//
// Errors: [ErrInactiveToken] when introspection says the token is not
// active (nothing revoked); [ErrNoRevocation] when the provider cannot
// revoke; a [*ProviderError] or an error wrapping [ErrProviderUnavailable]
// when a call failed — then the token may still be valid: retry.
func (c *Client) SignOut(ctx context.Context, refreshToken Secret, p EndSessionParams) (*SignOut, error) {
	if refreshToken == "" {
		return nil, ErrNoRefreshToken
	}
	out := &SignOut{}
	switch in, err := c.Introspect(ctx, refreshToken, HintRefreshToken); {
	case errors.Is(err, ErrNoIntrospection):
	case err != nil:
		return nil, fmt.Errorf("rp: sign-out: %w", err)
	case !in.Active:
		return nil, ErrInactiveToken
	case in.ClientID != "" && in.ClientID != c.cfg.ClientID:
		return nil, fmt.Errorf("%w: issued to another client", ErrInactiveToken)
	default:
		out.Subject, out.SID = in.Subject, in.SID
	}
	if err := c.Revoke(ctx, refreshToken, HintRefreshToken); err != nil {
		return nil, fmt.Errorf("rp: sign-out: %w", err)
	}
	u, err := c.EndSessionURL(p)
	switch {
	case err == nil:
		out.EndSessionURL = u
	case !errors.Is(err, ErrNoEndSession) && !errors.Is(err, ErrIDTokenHintRequired):
		return nil, fmt.Errorf("rp: sign-out: %w", err)
	}
	return out, nil
}
