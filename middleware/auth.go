package middleware

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/rpkit/rpkit/rp"
	"github.com/rpkit/rpkit/session"
)

type contextKey struct{ name string }

var sessionKey = &contextKey{"session"}

// SessionFromContext returns the session that RequireAuth or OptionalAuth
// put in the request context. The value is the handler's own copy.
func SessionFromContext(ctx context.Context) (*session.Session, bool) {
	s, ok := ctx.Value(sessionKey).(*session.Session)
	return s, ok
}

// ClaimsFromContext decodes the session's ID token claims into dst (for
// example a *rp.StandardClaims or a *map[string]any). It reports false when
// the request has no session.
func ClaimsFromContext(ctx context.Context, dst any) (bool, error) {
	s, ok := SessionFromContext(ctx)
	if !ok {
		return false, nil
	}
	if err := json.Unmarshal(s.Claims, dst); err != nil {
		return true, fmt.Errorf("middleware: decoding claims: %w", err)
	}
	return true, nil
}

// RequireAuth serves next only with a valid session (refreshed first when
// its access token has expired). Without one, a browser GET is redirected to
// the login route with return_to set to the current URL; an API request
// (Accept: application/json) or any other method gets 401. A session store
// or provider that cannot be reached gives 503/502, never a session-less
// call of next.
func (m *Middleware) RequireAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := m.serve(w, r)
		if !ok {
			return
		}
		if s == nil {
			m.unauthenticated(w, r)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey, s)))
	})
}

// OptionalAuth serves next with the session in the context when there is a
// valid one, and without it otherwise.
func (m *Middleware) OptionalAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := m.serve(w, r)
		if !ok {
			return
		}
		if s != nil {
			r = r.WithContext(context.WithValue(r.Context(), sessionKey, s))
		}
		next.ServeHTTP(w, r)
	})
}

func (m *Middleware) unauthenticated(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if wantsJSON(r) || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		m.cfg.ErrorHandler(w, r, http.StatusUnauthorized, ErrUnauthenticated)
		return
	}
	returnTo := r.URL.RequestURI()
	if !safeReturnTo(returnTo) {
		returnTo = m.cfg.DefaultReturnTo
	}
	http.Redirect(w, r, m.cfg.Paths.Login+"?"+url.Values{"return_to": {returnTo}}.Encode(), http.StatusFound)
}

// serve loads the request's session: nil when there is none (the stale
// cookie is then cleared). ok is false when it already answered the request
// with an error.
func (m *Middleware) serve(w http.ResponseWriter, r *http.Request) (s *session.Session, ok bool) {
	s, err := m.load(r.Context(), r)
	switch {
	case err != nil:
		m.fail(w, r, statusFor(err), err)
		return nil, false
	case s == nil:
		if _, err := r.Cookie(m.cookieName); err == nil {
			m.clearCookie(w, m.cookieName) // stale, tampered or logged out
		}
	}
	return s, true
}

// load returns the request's valid session, refreshed if needed, or nil.
// Errors mean the store or the provider could not be reached: the caller
// fails closed, and the session is kept for when they are back.
func (m *Middleware) load(ctx context.Context, r *http.Request) (*session.Session, error) {
	id, ok := m.sessionID(r)
	if !ok {
		return nil, nil
	}
	s, err := m.get(ctx, id)
	if s == nil || err != nil {
		return nil, err
	}
	now := m.cfg.Now()
	if m.cfg.IdleTimeout > 0 && now.Sub(s.LastSeen) > m.cfg.IdleTimeout {
		if err := m.cfg.Store.Delete(ctx, id); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrStore, err)
		}
		return nil, nil
	}
	if m.needsRefresh(s) {
		return m.refresh(ctx, s)
	}
	if m.cfg.IdleTimeout > 0 && now.Sub(s.LastSeen) > m.cfg.IdleTimeout/10 {
		s.LastSeen = now
		err := m.cfg.Store.Update(ctx, s)
		if errors.Is(err, session.ErrConflict) {
			// Written meanwhile (a refresh, maybe on another instance):
			// that write is newer than what this request read.
			return m.get(ctx, id)
		}
		if err != nil {
			return m.notFoundIsLogout(err)
		}
	}
	return s, nil
}

// get reads a session; an absent or expired one is nil, nil.
func (m *Middleware) get(ctx context.Context, id string) (*session.Session, error) {
	s, err := m.cfg.Store.Get(ctx, id)
	switch {
	case errors.Is(err, session.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrStore, err)
	case !m.cfg.Now().Before(s.Expiry):
		return nil, nil
	}
	return s, nil
}

// notFoundIsLogout turns an Update's ErrNotFound (a logout won the race)
// into "no session", and any other failure into a store error.
func (m *Middleware) notFoundIsLogout(err error) (*session.Session, error) {
	if errors.Is(err, session.ErrNotFound) {
		return nil, nil
	}
	return nil, fmt.Errorf("%w: %w", ErrStore, err)
}

func (m *Middleware) needsRefresh(s *session.Session) bool {
	return s.RefreshToken != "" && !s.AccessTokenExpiry.IsZero() &&
		!m.cfg.Now().Add(m.cfg.RefreshLeeway).Before(s.AccessTokenExpiry)
}

// refresh refreshes s once per session however many requests ask at once:
// the first runs the refresh, the others wait for its result, each within
// its own context. The refresh itself runs with a context of its own, so a
// waiter that gives up does not abort it for the others.
func (m *Middleware) refresh(ctx context.Context, s *session.Session) (*session.Session, error) {
	res, err := m.refreshes.Do(ctx, s.ID, func() (*session.Session, error) {
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

func (m *Middleware) doRefresh(ctx context.Context, id string) (*session.Session, error) {
	// Re-read: another request or instance may have refreshed already, or a
	// logout may have ended the session.
	s, err := m.get(ctx, id)
	if s == nil || err != nil || !m.needsRefresh(s) {
		return s, err
	}
	tok, err := m.cfg.Client.Refresh(ctx, &rp.Tokens{RefreshToken: rp.Secret(s.RefreshToken), IDToken: rp.Secret(s.IDToken)})
	if err != nil {
		if errors.Is(err, rp.ErrProviderUnavailable) || errors.Is(err, rp.ErrKeyRefetchLimited) || ctx.Err() != nil {
			return nil, err // fail closed, keep the session for later
		}
		// Refused (invalid_grant) or a new ID token failing Core 12.2. A
		// sibling instance may have just rotated the refresh token: wait
		// for its write before ending the session.
		cur, serr := m.awaitSibling(ctx, id, s.RefreshToken)
		if cur != nil || serr != nil {
			return cur, serr
		}
		m.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "rpkit: refresh failed, ending the session",
			slog.Any("session", s), slog.String("error", err.Error()))
		if derr := m.cfg.Store.Delete(ctx, id); derr != nil {
			return nil, fmt.Errorf("%w: %w", ErrStore, derr)
		}
		return nil, nil
	}
	for range 3 {
		s.AccessToken = string(tok.AccessToken)
		s.RefreshToken = string(tok.RefreshToken)
		s.AccessTokenExpiry = tok.Expiry
		s.IDToken = string(tok.IDToken)
		if tok.Claims != nil {
			s.Claims = tok.Claims.Raw()
		}
		s.LastSeen = m.cfg.Now()
		err := m.cfg.Store.Update(ctx, s)
		switch {
		case err == nil:
			return s, nil
		case errors.Is(err, session.ErrConflict):
			// Another write (an idle-time touch) landed first: these
			// tokens are newer, apply them to what is stored now.
			cur, gerr := m.get(ctx, id)
			if gerr != nil {
				return nil, gerr
			}
			if cur != nil {
				s = cur
				continue
			}
			fallthrough // ended meanwhile
		case errors.Is(err, session.ErrNotFound):
			// A logout won the race: the tokens just obtained belong to no
			// session any more.
			m.revoke(ctx, tok.RefreshToken)
			return nil, nil
		default:
			return nil, fmt.Errorf("%w: %w", ErrStore, err)
		}
	}
	return nil, fmt.Errorf("%w: the session kept changing during a refresh", ErrStore)
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
