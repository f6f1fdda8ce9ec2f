package middleware

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/rpkit/rpkit/event"
	"github.com/rpkit/rpkit/rp"
	"github.com/rpkit/rpkit/session"
)

// callback completes a login: the authorization response arrives as a
// query (GET) or a form_post body (POST).
func (m *Middleware) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	refuse := func(status int, err error) {
		event.Emit(ctx, m.cfg.Observer, event.Event{Kind: event.LoginRefused, Issuer: m.cfg.Client.Issuer(), Err: err})
		m.fail(w, r, status, err)
	}
	params := r.URL.Query()
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			refuse(http.StatusBadRequest, fmt.Errorf("%w: %v", rp.ErrInvalidCallback, err))
			return
		}
		params = r.PostForm
	}
	state := params.Get("state")
	var st rp.LoginState
	if len(state) < statePrefixLen || !m.readCookie(r, m.loginCookieName(state), &st) {
		refuse(http.StatusBadRequest, ErrNoLoginState)
		return
	}
	// Consumed whatever happens next: replaying this callback fails.
	m.clearCookie(w, m.loginCookieName(state))

	tok, err := m.cfg.Client.Callback(ctx, &st, params)
	if err != nil {
		refuse(statusFor(err), err)
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
		AccessTokenIssued: now,
		AuthParams:        tok.AuthParams,
		Created:           now,
		LastSeen:          now,
		Expiry:            now.Add(m.cfg.Lifetime),
	}
	if m.cfg.OnLogin != nil {
		if err := m.cfg.OnLogin(ctx, s); err != nil {
			err = fmt.Errorf("%w: %w", ErrLoginRefused, err)
			refuse(statusFor(err), err)
			return
		}
	}
	// A login replaces the browser's previous session, if any.
	if old, ok := m.sessionID(r); ok {
		if _, err := m.cfg.Store.Delete(ctx, old); err != nil {
			refuse(http.StatusServiceUnavailable, fmt.Errorf("%w: %w", ErrStore, err))
			return
		}
	}
	if err := m.cfg.Store.Create(ctx, s); err != nil {
		if errors.Is(err, session.ErrLoggedOut) {
			// The provider ended this provider session (a back-channel
			// logout) while the code was being exchanged: the login lost
			// the race, on whichever instance received the logout.
			refuse(http.StatusUnauthorized, err)
			return
		}
		refuse(http.StatusServiceUnavailable, fmt.Errorf("%w: %w", ErrStore, err))
		return
	}
	event.Emit(ctx, m.cfg.Observer, event.Event{Kind: event.SessionCreated, Issuer: s.Issuer, Subject: s.Subject})
	if err := m.setSessionCookie(w, s.ID); err != nil {
		// Without a cookie the new session is unreachable: remove it.
		if _, derr := m.cfg.Store.Delete(ctx, s.ID); derr != nil {
			m.cfg.Logger.LogAttrs(ctx, slog.LevelError, "rpkit: removing an unreachable session", slog.String("error", derr.Error()))
		}
		refuse(http.StatusInternalServerError, err)
		return
	}
	returnTo := st.ReturnTo
	if !safeReturnTo(returnTo) {
		returnTo = m.cfg.DefaultReturnTo
	}
	m.cfg.Logger.LogAttrs(ctx, slog.LevelDebug, "rpkit: login succeeded", slog.String("iss", s.Issuer))
	event.Emit(ctx, m.cfg.Observer, event.Event{Kind: event.LoginSucceeded, Issuer: s.Issuer, Subject: s.Subject})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, returnTo, http.StatusFound)
}
