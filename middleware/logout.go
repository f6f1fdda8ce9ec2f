package middleware

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/rpkit/rpkit/internal/randid"
	"github.com/rpkit/rpkit/rp"
	"github.com/rpkit/rpkit/session"
)

// logout ends the session: the local session first, then the refresh token
// at the provider, then the browser goes to the provider's end-session
// endpoint — or to the local post-logout page when the provider has none.
// With Accept: application/json it answers {"redirect_url": …} instead
// (null when there is no provider URL).
//
// Without a local session (it expired, a logout elsewhere ended it, the
// cookie is gone) the provider's session may still be alive: the browser is
// sent to the end-session endpoint all the same, without an id_token_hint
// (RP-Initiated Logout 1.0 allows it; the provider asks the user to
// confirm), unless the provider requires a hint
// (rp.Config.EndSessionRequiresIDTokenHint). A stored record that cannot be
// decoded (written by another version of the application) is deleted by
// its ID and the logout goes on in the same way, rather than failing until
// the record expires.
func (m *Middleware) logout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	w.Header().Set("Cache-Control", "no-store")

	state := randid.New()
	var hint rp.Secret
	var extra url.Values
	if id, ok := m.sessionID(r); ok {
		s, err := m.get(ctx, id)
		switch {
		case errors.Is(err, session.ErrInvalidRecord):
			m.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "rpkit: logout deletes a stored session record that cannot be decoded",
				slog.String("key", session.Key(id)), slog.String("error", err.Error()))
		case err != nil:
			m.fail(w, r, http.StatusServiceUnavailable, err)
			return
		}
		if err := m.cfg.Store.Delete(ctx, id); err != nil {
			// Fail closed and keep the cookie, so the user can try again.
			m.fail(w, r, http.StatusServiceUnavailable, fmt.Errorf("%w: %w", ErrStore, err))
			return
		}
		m.clearCookie(w, m.cookieName)
		if s != nil {
			m.revoke(ctx, rp.Secret(s.RefreshToken), "after logout")
			if m.cfg.OnLogout != nil {
				m.cfg.OnLogout(ctx, s)
			}
			hint = rp.Secret(s.IDToken)
			for _, name := range m.cfg.EndSessionParams {
				if v, ok := s.AuthParams[name]; ok {
					if extra == nil {
						extra = url.Values{}
					}
					extra.Set(name, v)
				}
			}
		}
	}
	var providerURL string
	u, err := m.cfg.Client.EndSessionURL(rp.EndSessionParams{IDTokenHint: hint, State: state, Extra: extra})
	switch {
	case err == nil:
		providerURL = u
	case !errors.Is(err, rp.ErrNoEndSession) && !errors.Is(err, rp.ErrIDTokenHintRequired):
		m.cfg.Logger.LogAttrs(ctx, slog.LevelError, "rpkit: building the end-session URL", slog.String("error", err.Error()))
	}
	if err := m.setCookie(w, m.logoutCookieName(), state, logoutStateTTL); err != nil {
		m.cfg.Logger.LogAttrs(ctx, slog.LevelError, "rpkit: setting the logout state", slog.String("error", err.Error()))
	}
	if wantsJSON(r) {
		var redirect *string
		if providerURL != "" {
			redirect = &providerURL
		}
		writeJSON(w, http.StatusOK, map[string]*string{"redirect_url": redirect})
		return
	}
	target := providerURL
	if target == "" {
		target = m.cfg.Paths.PostLogout + "?" + url.Values{"state": {state}}.Encode()
	}
	http.Redirect(w, r, target, http.StatusFound)
}

// revoke revokes the refresh token when the provider has a revocation
// endpoint. A failure is logged (with why, never the token), not shown:
// the token belongs to no session any more, and the user is logged out
// here.
func (m *Middleware) revoke(ctx context.Context, token rp.Secret, why string) {
	if token == "" {
		return
	}
	err := m.cfg.Client.Revoke(ctx, token, rp.HintRefreshToken)
	if err != nil && !errors.Is(err, rp.ErrNoRevocation) {
		m.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "rpkit: revoking the refresh token "+why, slog.String("error", err.Error()))
	}
}

var loggedOutKey = &contextKey{"logged-out"}

// PostLogoutLanding wraps the page the browser lands on after a logout
// (Paths.PostLogout). When the request carries the state that the logout
// sent (the provider echoes it), it consumes the logout-state cookie and
// marks the request so that [LoggedOut] reports true; a missing or foreign
// state just serves the page.
func (m *Middleware) PostLogoutLanding(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		state := r.URL.Query().Get("state")
		if state == "" {
			next.ServeHTTP(w, r)
			return
		}
		var want string
		if m.readCookie(r, m.logoutCookieName(), &want) && want != "" && equal(state, want) {
			m.clearCookie(w, m.logoutCookieName())
			r = r.WithContext(context.WithValue(r.Context(), loggedOutKey, true))
		}
		next.ServeHTTP(w, r)
	})
}

// LoggedOut reports whether the request is the return from a logout this
// browser started, its state checked by [Middleware.PostLogoutLanding].
func LoggedOut(ctx context.Context) bool {
	v, _ := ctx.Value(loggedOutKey).(bool)
	return v
}
