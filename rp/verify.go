package rp

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
	"slices"
	"strings"
	"time"

	"github.com/rpkit/rpkit/internal/secure"
)

// idCheck is what one ID token verification compares the token with.
type idCheck struct {
	nonce       string         // the login's nonce (code flow)
	maxAge      *time.Duration // max_age of the login, nil when not requested
	accessToken string         // checked against at_hash when the token has one
	prev        *IDClaims      // refresh: the original ID token (Core 12.2)
}

// verifyIDToken runs the ID token checklist (Core 3.1.3.7; with prev set,
// the refresh rules of Core 12.2).
func (c *Client) verifyIDToken(ctx context.Context, p *provider, raw string, chk idCheck) (*IDClaims, error) {
	payload, hdr, err := c.verifyJWS(ctx, p, raw)
	if err != nil {
		return nil, err
	}
	cl, err := parseClaims(payload)
	if err != nil {
		return nil, err
	}
	if err := c.checkCommon(p, cl); err != nil {
		return nil, err
	}
	now, skew := c.cfg.Now(), c.cfg.ClockSkew
	if cl.Azp != "" && cl.Azp != c.cfg.ClientID {
		return nil, fmt.Errorf("%w: azp %q is not the client ID", ErrAZP, cl.Azp)
	}
	if len(cl.Audience) > 1 && cl.Azp == "" {
		return nil, fmt.Errorf("%w: several audiences and no azp", ErrAZP)
	}
	if nbf := cl.NotBefore.time(); !nbf.IsZero() && nbf.After(now.Add(skew)) {
		return nil, fmt.Errorf("%w: nbf %s", ErrNotYetValid, nbf.Format(time.RFC3339))
	}
	if cl.Subject == "" {
		return nil, &MissingClaimError{Claim: "sub", rule: ErrMissingSubject}
	}
	authTime := cl.AuthTime.time()
	if !authTime.IsZero() && authTime.After(now.Add(skew)) {
		return nil, fmt.Errorf("%w: auth_time %s is in the future", ErrAuthTime, authTime.Format(time.RFC3339))
	}

	if prev := chk.prev; prev != nil { // Core 12.2
		if cl.Subject != prev.Subject {
			return nil, fmt.Errorf("%w: was %q, now %q", ErrSubjectChanged, prev.Subject, cl.Subject)
		}
		// Same iss: checkCommon already requires the configured issuer.
		if n := cl.Nonce.value; n != nil && *n != prev.Nonce {
			return nil, fmt.Errorf("%w: refreshed token has a nonce other than the original", ErrNonceMismatch)
		}
		if !authTime.IsZero() && !prev.AuthTime.IsZero() && !authTime.Equal(prev.AuthTime) {
			return nil, fmt.Errorf("%w: refreshed token changed auth_time", ErrAuthTime)
		}
	} else {
		if n := cl.Nonce.value; n == nil || !secure.Equal(*n, chk.nonce) {
			return nil, ErrNonceMismatch
		}
		if chk.maxAge != nil {
			if authTime.IsZero() {
				return nil, fmt.Errorf("%w: max_age was requested and the token has no auth_time", ErrAuthTime)
			}
			if now.After(authTime.Add(*chk.maxAge + skew)) {
				return nil, fmt.Errorf("%w: authenticated at %s, more than max_age %s ago", ErrAuthTime, authTime.Format(time.RFC3339), *chk.maxAge)
			}
		}
	}
	if cl.AtHash != "" && chk.accessToken != "" {
		want, ok := accessTokenHash(string(hdr.Algorithm), chk.accessToken)
		if !ok || !secure.Equal(cl.AtHash, want) {
			return nil, ErrAtHash
		}
	}

	out := cl.idClaims(payload)
	if chk.prev != nil && out.Nonce == "" {
		out.Nonce = chk.prev.Nonce // keep the login's nonce for the next refresh
	}
	return out, nil
}

// checkCommon checks the claims every token from the provider carries the
// same way: iss, aud, exp and iat.
func (c *Client) checkCommon(p *provider, cl *jwtClaims) error {
	now, skew := c.cfg.Now(), c.cfg.ClockSkew
	switch {
	case p.tenantIssuer != "":
		if err := c.checkTenant(p, cl); err != nil {
			return err
		}
		cl.Issuer = c.cfg.Issuer
	case cl.Issuer != c.cfg.Issuer:
		if !slices.Contains(c.cfg.IssuerAliases, cl.Issuer) {
			return fmt.Errorf("%w: expected %q, got %q", ErrIssuer, c.cfg.Issuer, cl.Issuer)
		}
		cl.Issuer = c.cfg.Issuer // one name for the issuer in sessions and logouts
	}
	if !slices.Contains(cl.Audience, c.cfg.ClientID) {
		return fmt.Errorf("%w: aud %q", ErrAudience, []string(cl.Audience))
	}
	if cl.Expiry == nil {
		return &MissingClaimError{Claim: "exp", rule: ErrExpired}
	}
	if exp := cl.Expiry.Time; !now.Before(exp.Add(skew)) {
		return fmt.Errorf("%w: exp %s", ErrExpired, exp.Format(time.RFC3339))
	}
	if cl.IssuedAt == nil {
		return &MissingClaimError{Claim: "iat", rule: ErrIssuedAt}
	}
	if iat := cl.IssuedAt.Time; iat.After(now.Add(skew)) {
		return fmt.Errorf("%w: iat %s is in the future", ErrIssuedAt, iat.Format(time.RFC3339))
	}
	return nil
}

// accessTokenHash computes at_hash (Core 3.1.3.6): the left half of the hash
// of the access token, with the hash of the ID token's JWS algorithm.
func accessTokenHash(alg, accessToken string) (string, bool) {
	var h hash.Hash
	switch {
	case alg == "EdDSA", strings.HasSuffix(alg, "512"):
		h = sha512.New()
	case strings.HasSuffix(alg, "384"):
		h = sha512.New384()
	case strings.HasSuffix(alg, "256"):
		h = sha256.New()
	default:
		return "", false
	}
	h.Write([]byte(accessToken))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]), true
}

// checkTenant checks the iss of a multi-tenant issuer's token: the
// template with its "tid", for an allowed tenant.
func (c *Client) checkTenant(p *provider, cl *jwtClaims) error {
	if cl.TenantID == "" || strings.ContainsAny(cl.TenantID, "/?#{}") {
		return fmt.Errorf("%w: a multi-tenant issuer's token has no usable tid", ErrIssuer)
	}
	if want := strings.ReplaceAll(p.tenantIssuer, tenantPlaceholder, cl.TenantID); cl.Issuer != want {
		return fmt.Errorf("%w: expected %q for tenant %q, got %q", ErrIssuer, want, cl.TenantID, cl.Issuer)
	}
	if mt := c.cfg.MultiTenant; !mt.AnyTenant && !slices.Contains(mt.Tenants, cl.TenantID) {
		return fmt.Errorf("%w: tenant %q is not allowed", ErrIssuer, cl.TenantID)
	}
	return nil
}
