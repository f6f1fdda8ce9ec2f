package rp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/rpkit/rpkit/internal/redact"
)

// backchannelLogoutEvent is the events member a logout token must carry.
const backchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// LogoutToken is a verified Back-Channel Logout 1.0 logout token.
type LogoutToken struct {
	Issuer   string
	Subject  string // empty when the token names only a sid
	SID      string // empty when the token names only a sub
	JTI      string
	Audience []string
	IssuedAt time.Time
	// Expiry is the token's "exp", or, for a token without one (unless
	// Config.RequireLogoutTokenExp), IssuedAt + Config.LogoutTokenMaxAge.
	Expiry time.Time
	// AcceptUntil is when VerifyLogoutToken stops accepting this token:
	// Expiry plus Config.ClockSkew. A replay cache must hold the JTI until
	// then, or a replay inside the leeway would pass.
	AcceptUntil time.Time

	raw json.RawMessage
}

// Decode unmarshals all the token's claims into v.
func (t *LogoutToken) Decode(v any) error { return json.Unmarshal(t.raw, v) }

// LogValue logs the token's identifying claims: iss, sub, jti and a hash of
// the sid (with the issuer, a sid can end its session through
// front-channel logout, so logs never carry it).
func (t *LogoutToken) LogValue() slog.Value {
	return slog.GroupValue(slog.String("iss", t.Issuer), slog.String("sub", t.Subject),
		slog.String("sid_hash", redact.Hash(t.SID)), slog.String("jti", t.JTI))
}

// VerifyLogoutToken verifies a logout token received at a back-channel
// logout endpoint (Back-Channel Logout 1.0, 2.6): signature and algorithm
// exactly as for ID tokens (same key set, rotation included; "none" never,
// HMAC only when configured), typ header (logout+jwt, or missing or JWT for
// older providers), iss, aud, iat, exp (or, without one, an iat no older
// than Config.LogoutTokenMaxAge; Config.RequireLogoutTokenExp requires it),
// sub and/or sid, the backchannel-logout event, no nonce, a jti. Each
// failure wraps its own sentinel error; a missing claim is a
// [*MissingClaimError] naming it.
//
// It does NOT refuse replays: the caller keeps the JTIs it has seen until
// AcceptUntil (package backchannel does, with a replay cache). It does no HTTP
// besides fetching the provider's keys.
func (c *Client) VerifyLogoutToken(ctx context.Context, raw string) (*LogoutToken, error) {
	p, err := c.provider(ctx)
	if err != nil {
		return nil, err
	}
	payload, hdr, err := c.verifyJWS(ctx, p, raw)
	if err != nil {
		return nil, err
	}
	if typ, ok := hdr.ExtraHeaders["typ"]; ok {
		s, _ := typ.(string)
		s = strings.TrimPrefix(strings.ToLower(s), "application/")
		if s != "logout+jwt" && s != "jwt" {
			return nil, fmt.Errorf("%w: typ %q", ErrLogoutTokenType, typ)
		}
	}
	cl, err := parseClaims(payload)
	if err != nil {
		return nil, err
	}
	skew := c.cfg.ClockSkew
	expiry := cl.Expiry.time()
	if cl.Expiry == nil {
		switch {
		case c.cfg.RequireLogoutTokenExp:
			return nil, &MissingClaimError{Claim: "exp", rule: ErrExpired}
		case cl.IssuedAt == nil:
			return nil, &MissingClaimError{Claim: "iat", rule: ErrIssuedAt}
		}
		// Hydra, oidc-provider 6.x: bound the token's age by iat instead.
		expiry = cl.IssuedAt.Time.Add(c.cfg.LogoutTokenMaxAge)
		cl.Expiry = &numericDate{expiry} // checked by checkCommon like an exp
	}
	if err := c.checkCommon(p, cl); err != nil {
		return nil, err
	}
	if cl.Subject == "" && cl.SID == "" {
		return nil, ErrLogoutSubject
	}
	if err := checkLogoutEvent(cl.Events); err != nil {
		return nil, err
	}
	if cl.Nonce.present { // even "nonce": null
		return nil, ErrLogoutNonce
	}
	if cl.JTI == "" {
		return nil, &MissingClaimError{Claim: "jti", rule: ErrLogoutJTI}
	}
	return &LogoutToken{
		Issuer: cl.Issuer, Subject: cl.Subject, SID: cl.SID, JTI: cl.JTI, Audience: cl.Audience,
		IssuedAt: cl.IssuedAt.time(), Expiry: expiry, AcceptUntil: expiry.Add(skew), raw: payload,
	}, nil
}

// checkLogoutEvent checks that events is an object whose backchannel-logout
// member is an object.
func checkLogoutEvent(events json.RawMessage) error {
	var ev map[string]json.RawMessage
	if len(events) == 0 || json.Unmarshal(events, &ev) != nil || ev == nil {
		return fmt.Errorf("%w: events is not an object", ErrLogoutEvent)
	}
	member, ok := ev[backchannelLogoutEvent]
	if !ok {
		return fmt.Errorf("%w: events lacks %s", ErrLogoutEvent, backchannelLogoutEvent)
	}
	if m := bytes.TrimSpace(member); len(m) == 0 || m[0] != '{' {
		return fmt.Errorf("%w: the event's value is not an object", ErrLogoutEvent)
	}
	return nil
}
