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
)

// logout ends the session: the local session first, then the refresh token
// at the provider, then the browser goes to the provider's end-session
// endpoint — or to the local post-logout page when the provider has none or
// there was no session. With Accept: application/json it answers
// {"redirect_url": …} instead (null when there is no provider URL).
func (m *Middleware) logout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	w.Header().Set("Cache-Control", "no-store")

	state := randid.New()
	var providerURL string
	if id, ok := m.sessionID(r); ok {
		s, err := m.get(ctx, id)
		if err != nil {
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
			m.revoke(ctx, rp.Secret(s.RefreshToken))
			if m.cfg.OnLogout != nil {
				m.cfg.OnLogout(ctx, s)
			}
			u, err := m.cfg.Client.EndSessionURL(rp.EndSessionParams{IDTokenHint: rp.Secret(s.IDToken), State: state})
			switch {
			case err == nil:
				providerURL = u
			case !errors.Is(err, rp.ErrNoEndSession):
				m.cfg.Logger.LogAttrs(ctx, slog.LevelError, "rpkit: building the end-session URL", slog.String("error", err.Error()))
			}
		}
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
// endpoint. A failure is logged, not shown: the local session is already
// gone and the user is logged out here.
func (m *Middleware) revoke(ctx context.Context, token rp.Secret) {
	if token == "" {
		return
	}
	err := m.cfg.Client.Revoke(ctx, token, rp.HintRefreshToken)
	if err != nil && !errors.Is(err, rp.ErrNoRevocation) {
		m.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "rpkit: revoking the refresh token after logout", slog.String("error", err.Error()))
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
