package middleware

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/rpkit/rpkit/session"
)

// RequireAuth serves next only with a valid session (refreshed first when
// its access token has expired). Without one, a browser GET is redirected to
// the login route with return_to set to the current URL; an API request
// (Accept: application/json) or any other method gets 401. A session store
// or provider that cannot be reached gives 503, never a session-less call
// of next.
//
// Only the provider's invalid_grant or a refreshed ID token that fails its
// checks (Core 12.2) ends a session at refresh. Any other failed refresh (a
// 408, 429 or 5xx, an answer that is not a token response, the network)
// keeps it: next is served with the current tokens while the access token
// is still valid, and once it has expired the request gets 503 with the
// provider's Retry-After, if any ([ErrRefreshUnavailable]); a later request
// refreshes again.
//
// Its responses are one user's: they carry "Cache-Control: private,
// no-store" and "Vary: Cookie", so that no shared cache serves them to
// anyone else. next may choose its own caching with
// w.Header().Set("Cache-Control", …).
func (m *Middleware) RequireAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "private, no-store")
		h.Add("Vary", "Cookie")
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
		if _, ok := cookieValue(r, m.cookieName); ok {
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
	s, err := m.read(ctx, id)
	if s == nil || err != nil {
		return nil, err
	}
	now := m.cfg.Now()
	if reason, over := m.over(s, now); over {
		return nil, m.end(ctx, s, reason)
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
	s, err := m.read(ctx, id)
	if s == nil || err != nil || !m.cfg.Now().Before(s.Expiry) {
		return nil, err
	}
	return s, nil
}

// read reads a session, expired or not; an absent one is nil, nil.
func (m *Middleware) read(ctx context.Context, id string) (*session.Session, error) {
	s, err := m.cfg.Store.Get(ctx, id)
	switch {
	case errors.Is(err, session.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrStore, err)
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
