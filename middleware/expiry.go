package middleware

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/rpkit/rpkit/event"
	"github.com/rpkit/rpkit/session"
)

// over reports whether a stored session must end before it serves this
// request, and why:
//
//   - its issuer is not the client's: a session of another provider in a
//     shared store (a second application, an instance configured for
//     another issuer), whose refresh token must never go to this client's
//     provider;
//   - its absolute lifetime (Config.Lifetime) has passed — stores drop such
//     sessions themselves (a Redis TTL), so this is met only when the
//     store still returns one (its clock is behind the middleware's);
//   - it was unused for longer than Config.IdleTimeout.
func (m *Middleware) over(s *session.Session, now time.Time) (event.Reason, bool) {
	switch {
	case s.Issuer != m.cfg.Client.Issuer():
		return event.ReasonIssuerMismatch, true
	case !now.Before(s.Expiry):
		return event.ReasonExpired, true
	case m.cfg.IdleTimeout > 0 && now.Sub(s.LastSeen) > m.cfg.IdleTimeout:
		return event.ReasonIdle, true
	}
	return "", false
}

// end deletes a session that is over and reports it, once however many
// requests (on however many instances) meet it at once: only the request
// whose Delete removed it reports it.
func (m *Middleware) end(ctx context.Context, s *session.Session, reason event.Reason) error {
	deleted, err := m.cfg.Store.Delete(ctx, s.ID)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	if deleted {
		level, msg := slog.LevelDebug, "rpkit: session ended"
		if reason == event.ReasonIssuerMismatch {
			level, msg = slog.LevelWarn, "rpkit: ending a session of another issuer"
		}
		m.cfg.Logger.LogAttrs(ctx, level, msg, slog.String("reason", string(reason)),
			slog.String("session_iss", s.Issuer), slog.String("client_iss", m.cfg.Client.Issuer()))
		m.ended(ctx, s, reason)
	}
	return nil
}

// ended reports the end of session s.
func (m *Middleware) ended(ctx context.Context, s *session.Session, reason event.Reason) {
	event.Emit(ctx, m.cfg.Observer, event.Event{Kind: event.SessionEnded, Reason: reason, Issuer: s.Issuer, Subject: s.Subject, Count: 1})
}
