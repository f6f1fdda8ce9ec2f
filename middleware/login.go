package middleware

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/rpkit/rpkit/rp"
	"github.com/rpkit/rpkit/session"
)

// login starts a login: GET /login?return_to=/path.
func (m *Middleware) login(w http.ResponseWriter, r *http.Request) {
	returnTo := r.URL.Query().Get("return_to")
	if !safeReturnTo(returnTo) {
		returnTo = m.cfg.DefaultReturnTo
	}
	opts := append([]rp.LoginOption{rp.WithReturnTo(returnTo)}, m.cfg.LoginOptions...)
	authURL, st, err := m.cfg.Client.StartLogin(opts...)
	if err != nil {
		m.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	m.pruneLoginCookies(w, r)
	if err := m.setCookie(w, m.loginCookieName(st.State), st, m.cfg.Client.LoginTimeout()); err != nil {
		// A return_to that escapes too long for a cookie: drop it rather
		// than fail the login.
		st.ReturnTo = m.cfg.DefaultReturnTo
		if err := m.setCookie(w, m.loginCookieName(st.State), st, m.cfg.Client.LoginTimeout()); err != nil {
			m.fail(w, r, http.StatusInternalServerError, err)
			return
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, authURL, http.StatusFound)
}

// callback completes a login: the authorization response arrives as a
// query (GET) or a form_post body (POST).
func (m *Middleware) callback(w http.ResponseWriter, r *http.Request) {
	params := r.URL.Query()
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			m.fail(w, r, http.StatusBadRequest, fmt.Errorf("%w: %v", rp.ErrInvalidCallback, err))
			return
		}
		params = r.PostForm
	}
	state := params.Get("state")
	var st rp.LoginState
	if len(state) < statePrefixLen || !m.readCookie(r, m.loginCookieName(state), &st) {
		m.fail(w, r, http.StatusBadRequest, ErrNoLoginState)
		return
	}
	// Consumed whatever happens next: replaying this callback fails.
	m.clearCookie(w, m.loginCookieName(state))

	ctx := r.Context()
	tok, err := m.cfg.Client.Callback(ctx, &st, params)
	if err != nil {
		m.fail(w, r, statusFor(err), err)
		return
	}
	now := m.cfg.Now()
	s := &session.Session{
		Issuer:            tok.Claims.Issuer,
		Subject:           tok.Claims.Subject,
		SID:               tok.Claims.SID,
		IDToken:           string(tok.IDToken),
		Claims:            tok.Claims.Raw(),
		AccessToken:       string(tok.AccessToken),
		RefreshToken:      string(tok.RefreshToken),
		AccessTokenExpiry: tok.Expiry,
		AuthParams:        tok.AuthParams,
		Created:           now,
		LastSeen:          now,
		Expiry:            now.Add(m.cfg.Lifetime),
	}
	if m.cfg.OnLogin != nil {
		if err := m.cfg.OnLogin(ctx, s); err != nil {
			err = fmt.Errorf("%w: %w", ErrLoginRefused, err)
			m.fail(w, r, statusFor(err), err)
			return
		}
	}
	// A login replaces the browser's previous session, if any.
	if old, ok := m.sessionID(r); ok {
		if err := m.cfg.Store.Delete(ctx, old); err != nil {
			m.fail(w, r, http.StatusServiceUnavailable, fmt.Errorf("%w: %w", ErrStore, err))
			return
		}
	}
	if err := m.cfg.Store.Create(ctx, s); err != nil {
		if errors.Is(err, session.ErrLoggedOut) {
			// The provider ended this provider session (a back-channel
			// logout) while the code was being exchanged: the login lost
			// the race, on whichever instance received the logout.
			m.fail(w, r, http.StatusUnauthorized, err)
			return
		}
		m.fail(w, r, http.StatusServiceUnavailable, fmt.Errorf("%w: %w", ErrStore, err))
		return
	}
	if err := m.setCookie(w, m.cookieName, s.ID, m.cfg.Lifetime); err != nil {
		// Without a cookie the new session is unreachable: remove it.
		if derr := m.cfg.Store.Delete(ctx, s.ID); derr != nil {
			m.cfg.Logger.LogAttrs(ctx, slog.LevelError, "rpkit: removing an unreachable session", slog.String("error", derr.Error()))
		}
		m.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	returnTo := st.ReturnTo
	if !safeReturnTo(returnTo) {
		returnTo = m.cfg.DefaultReturnTo
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, returnTo, http.StatusFound)
}
