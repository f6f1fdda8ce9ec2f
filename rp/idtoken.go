package rp

import (
	"context"
	"fmt"
)

// VerifyIDToken verifies an ID token that reached the application some
// other way than [Client.Callback] (a native client's token handed to its
// backend, say), with the whole checklist Callback runs: signature and
// algorithm against the provider's keys (rotation included), iss, aud and
// azp, exp, iat, nbf, sub, auth_time, and the nonce, which must equal
// nonce — the one the authorization request sent. An empty nonce is
// refused with ErrNonceMismatch: without it a token issued to another
// login would verify. It does not check at_hash (it has no access token)
// or max_age; each failed check is the same sentinel error as at the
// callback.
func (c *Client) VerifyIDToken(ctx context.Context, raw Secret, nonce string) (*IDClaims, error) {
	if nonce == "" {
		return nil, fmt.Errorf("%w: no nonce to compare the token's with", ErrNonceMismatch)
	}
	p, err := c.provider(ctx)
	if err != nil {
		return nil, err
	}
	return c.verifyIDToken(ctx, p, string(raw), idCheck{nonce: nonce})
}
