package middleware

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/rpkit/rpkit/event"
	"github.com/rpkit/rpkit/rp"
	"github.com/rpkit/rpkit/session"
)

func (m *Middleware) needsRefresh(s *session.Session) bool {
	return s.RefreshToken != "" && !s.AccessTokenExpiry.IsZero() &&
		!m.cfg.Now().Add(refreshLeeway(m.cfg.RefreshLeeway, s)).Before(s.AccessTokenExpiry)
}

// refreshLeeway is how long before its expiry s's access token is
// refreshed: Config.RefreshLeeway, capped at a quarter of the token's
// lifetime when that is known. Without the cap, a provider whose tokens
// live shorter than the leeway (a 3-second token and the default 30
// seconds) would be asked for a refresh on every request; with it, each
// token is refreshed once, at three quarters of its life. Tokens of two
// minutes or more keep the whole default leeway.
func refreshLeeway(leeway time.Duration, s *session.Session) time.Duration {
	if s.AccessTokenIssued.IsZero() {
		return leeway
	}
	if life := s.AccessTokenExpiry.Sub(s.AccessTokenIssued); life > 0 && leeway > life/4 {
		return life / 4
	}
	return leeway
}

// refresh refreshes s once per session however many requests ask at once:
// the first runs the refresh, the others wait for its result, each within
// its own context. The refresh itself runs with a context of its own, so a
// waiter that gives up does not abort it for the others.
//
// Flights are keyed by the hash of the session ID (session.Key), not the
// ID itself, which is a bearer credential: nothing the flight group keeps
// or reports can then be used as a cookie.
func (m *Middleware) refresh(ctx context.Context, s *session.Session) (*session.Session, error) {
	res, err := m.refreshes.Do(ctx, session.Key(s.ID), func() (*session.Session, error) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), providerTimeout)
		defer cancel()
		return m.doRefresh(rctx, s.ID)
	})
	if err != nil || res == nil {
		return nil, err
	}
	cp := *res // each request gets its own copy
	return &cp, nil
}

// siblingWait bounds how long a refused refresh waits for a sibling
// instance's concurrent refresh to land in the store.
const siblingWait = 600 * time.Millisecond

// Writing a refresh's tokens to a store that fails is retried after
// storeRetryFirst, doubling, for up to storeRetryWindow (and never past the
// refresh's own deadline); maxConflicts bounds the re-reads when other
// writes keep landing first.
const (
	storeRetryFirst  = 50 * time.Millisecond
	storeRetryWindow = 2 * time.Second
	maxConflicts     = 3
	revokeTimeout    = 5 * time.Second
)

// idTokenChecks are the failures of a refreshed ID token (Core 12.2 and
// the ID token checklist): the provider vouches for someone else, or
// something forged the answer. They end the session.
var idTokenChecks = []error{
	rp.ErrSubjectChanged, rp.ErrIssuer, rp.ErrAudience, rp.ErrAZP, rp.ErrSignature,
	rp.ErrNonceMismatch, rp.ErrAuthTime, rp.ErrExpired, rp.ErrIssuedAt, rp.ErrNotYetValid,
	rp.ErrMissingSubject, rp.ErrAtHash, rp.ErrAlgorithm, rp.ErrMalformedToken,
}

// endsSession reports whether a refresh error ends the session: the token
// endpoint refused the grant (invalid_grant: the refresh token was revoked,
// expired or rotated away) or the new ID token failed its checks. Anything
// else — a 408, a 429 (slow_down), a 5xx, another OAuth error, a 200 that is
// not a token response (a proxy's error page), a network failure, the
// key set in its refetch back-off — says nothing about the session, which
// is kept: an OP's rate-limit burst must not log out everyone whose access
// token expires during it.
func endsSession(err error) bool {
	var pe *rp.ProviderError
	if errors.As(err, &pe) {
		return pe.Endpoint == "token" && pe.Code == "invalid_grant"
	}
	for _, check := range idTokenChecks {
		if errors.Is(err, check) {
			return true
		}
	}
	return false
}

func (m *Middleware) doRefresh(ctx context.Context, id string) (*session.Session, error) {
	// Re-read: another request or instance may have refreshed already, or a
	// logout may have ended the session.
	s, err := m.get(ctx, id)
	if s == nil || err != nil || !m.needsRefresh(s) {
		return s, err
	}
	tok, err := m.cfg.Client.Refresh(ctx, &rp.Tokens{RefreshToken: rp.Secret(s.RefreshToken), IDToken: rp.Secret(s.IDToken)})
	if err != nil && !endsSession(err) {
		return m.keep(ctx, s, err)
	}
	if err != nil {
		// Refused (invalid_grant) or a new ID token failing Core 12.2. A
		// sibling instance may have just rotated the refresh token: wait
		// for its write before ending the session.
		cur, serr := m.awaitSibling(ctx, id, s.RefreshToken)
		if cur != nil || serr != nil {
			return cur, serr
		}
		m.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "rpkit: refresh failed, ending the session",
			slog.Any("session", s), slog.String("error", err.Error()))
		deleted, derr := m.cfg.Store.Delete(ctx, id)
		if derr != nil {
			m.refreshFailed(ctx, s, event.ReasonKept, err)
			return nil, fmt.Errorf("%w: %w", ErrStore, derr)
		}
		if deleted { // else a logout ended it meanwhile, and reported it
			m.refreshFailed(ctx, s, event.ReasonFailedRefresh, err)
			m.ended(ctx, s, event.ReasonFailedRefresh)
		}
		return nil, nil
	}
	saved, err := m.save(ctx, s, tok)
	switch {
	case err != nil:
		m.refreshFailed(ctx, s, event.ReasonKept, err)
	case saved != nil:
		m.cfg.Logger.LogAttrs(ctx, slog.LevelDebug, "rpkit: session refreshed", slog.String("iss", s.Issuer))
		event.Emit(ctx, m.cfg.Observer, event.Event{Kind: event.Refreshed, Issuer: s.Issuer, Subject: s.Subject})
	}
	return saved, err
}

// refreshFailed reports a failed refresh of s: the session was kept
// (ReasonKept) or ended (ReasonFailedRefresh).
func (m *Middleware) refreshFailed(ctx context.Context, s *session.Session, reason event.Reason, err error) {
	event.Emit(ctx, m.cfg.Observer, event.Event{Kind: event.RefreshFailed, Reason: reason, Issuer: s.Issuer, Subject: s.Subject, Err: err})
}

// keep answers a refresh that failed without saying anything about the
// session (see endsSession): the session stays as it is. While its access
// token is still valid (the refresh ran within RefreshLeeway) the request
// is served with it and a later request tries again; once it has expired
// the request fails with ErrRefreshUnavailable (503, with the provider's
// Retry-After).
func (m *Middleware) keep(ctx context.Context, s *session.Session, err error) (*session.Session, error) {
	m.refreshFailed(ctx, s, event.ReasonKept, err)
	if m.cfg.Now().Before(s.AccessTokenExpiry) {
		m.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "rpkit: refresh failed, keeping the session until its access token expires",
			slog.Any("session", s), slog.String("error", err.Error()))
		return s, nil
	}
	return nil, fmt.Errorf("%w: %w", ErrRefreshUnavailable, err)
}

// applyTokens puts a refresh's tokens into s.
func applyTokens(s *session.Session, tok *rp.Tokens, now time.Time) {
	s.AccessToken = string(tok.AccessToken)
	s.RefreshToken = string(tok.RefreshToken)
	s.AccessTokenExpiry = tok.Expiry
	s.AccessTokenIssued = now
	s.IDToken = string(tok.IDToken)
	if tok.Claims != nil {
		s.Claims = tok.Claims.Raw()
	}
	s.LastSeen = now
}

// save writes a refresh's tokens into the session s.
//
// A provider that rotates refresh tokens has already invalidated the one
// stored: if these tokens are not stored, the next request presents the
// old token, gets invalid_grant, and the session ends while the new token
// stays valid at the provider, held by no one (and a provider with reuse
// detection revokes the whole token family). So a store failure is retried
// with a back-off for a short while within the refresh's own deadline;
// if the write still fails the new refresh token is revoked, and the
// request fails with ErrStore (503). The old token is then dead too, so the
// session will end at its next refresh: that is the cost of a store that
// stayed down, and better than a live token no one holds.
//
// A failed write whose reply was lost may still have landed: the retry
// then meets ErrConflict, re-reads the session and applies the same tokens
// to it, which is harmless.
func (m *Middleware) save(ctx context.Context, s *session.Session, tok *rp.Tokens) (*session.Session, error) {
	id, used := s.ID, s.RefreshToken
	retryUntil := time.Now().Add(storeRetryWindow)
	if d, ok := ctx.Deadline(); ok && d.Before(retryUntil) {
		retryUntil = d
	}
	wait, conflicts := storeRetryFirst, 0
	var err error
	for {
		applyTokens(s, tok, m.cfg.Now())
		err = m.cfg.Store.Update(ctx, s)
		if errors.Is(err, session.ErrConflict) && conflicts < maxConflicts {
			// Another write (an idle-time touch) landed first: these
			// tokens are newer, apply them to what is stored now.
			conflicts++
			var cur *session.Session
			if cur, err = m.get(ctx, id); err == nil {
				if cur == nil {
					err = session.ErrNotFound // ended meanwhile
				} else {
					s = cur
					continue
				}
			}
		}
		switch {
		case err == nil:
			return s, nil
		case errors.Is(err, session.ErrNotFound):
			// A logout won the race: the tokens just obtained belong to no
			// session any more.
			m.revoke(ctx, tok.RefreshToken, "of a session that ended during its refresh")
			return nil, nil
		case errors.Is(err, session.ErrConflict):
			err = errors.New("the session kept changing during a refresh")
		case ctx.Err() == nil && time.Now().Add(wait).Before(retryUntil):
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
			wait *= 2
			continue
		}
		break
	}
	if string(tok.RefreshToken) != used {
		// The context may be spent by now: the revocation gets its own.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), revokeTimeout)
		defer cancel()
		m.revoke(rctx, tok.RefreshToken, "that could not be stored after a refresh")
		return nil, fmt.Errorf("%w: storing the refreshed tokens (the new refresh token was revoked): %w", ErrStore, err)
	}
	return nil, fmt.Errorf("%w: storing the refreshed tokens: %w", ErrStore, err)
}

// awaitSibling re-reads the session a few times after a refused refresh:
// it returns the session when its refresh token changed (another instance
// refreshed it), nil when it stayed the same or is gone.
func (m *Middleware) awaitSibling(ctx context.Context, id, used string) (*session.Session, error) {
	deadline := time.Now().Add(siblingWait)
	for {
		cur, err := m.get(ctx, id)
		if err != nil || cur == nil || cur.RefreshToken != used {
			return cur, err
		}
		if time.Now().After(deadline) {
			return nil, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(siblingWait / 6):
		}
	}
}
