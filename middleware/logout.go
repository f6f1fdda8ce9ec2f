package middleware

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/rpkit/rpkit/event"
	"github.com/rpkit/rpkit/internal/httpx"
	"github.com/rpkit/rpkit/internal/randid"
	"github.com/rpkit/rpkit/internal/secure"
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
		deleted, err := m.cfg.Store.Delete(ctx, id)
		if err != nil {
			// Fail closed and keep the cookie, so the user can try again.
			m.fail(w, r, http.StatusServiceUnavailable, fmt.Errorf("%w: %w", ErrStore, err))
			return
		}
		m.clearCookie(w, m.cookieName)
		if s != nil && deleted {
			m.cfg.Logger.LogAttrs(ctx, slog.LevelDebug, "rpkit: session ended", slog.String("reason", string(event.ReasonRPLogout)), slog.String("iss", s.Issuer))
			m.ended(ctx, s, event.ReasonRPLogout)
		}
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
	var form *rp.EndSessionForm
	params := rp.EndSessionParams{IDTokenHint: hint, State: state, Extra: extra}
	u, err := m.cfg.Client.EndSessionURL(params)
	if err == nil && (m.cfg.EndSessionFormPost || len(u) > maxEndSessionURL) {
		form, err = m.cfg.Client.EndSessionForm(params)
	}
	switch {
	case err == nil && form == nil:
		providerURL = u
	case err == nil:
	case !errors.Is(err, rp.ErrNoEndSession) && !errors.Is(err, rp.ErrIDTokenHintRequired):
		m.cfg.Logger.LogAttrs(ctx, slog.LevelError, "rpkit: building the end-session request", slog.String("error", err.Error()))
	}
	if err := m.setCookie(w, m.logoutCookieName(), state, logoutStateTTL); err != nil {
		m.cfg.Logger.LogAttrs(ctx, slog.LevelError, "rpkit: setting the logout state", slog.String("error", err.Error()))
	}
	if wantsJSON(r) {
		var redirect *string
		if providerURL != "" {
			redirect = &providerURL
		}
		body := map[string]any{"redirect_url": redirect}
		if form != nil {
			// The page submits it itself: a form POST of fields to action.
			body["form"] = map[string]any{"method": http.MethodPost, "action": form.Action, "fields": flatten(form.Fields)}
		}
		httpx.WriteJSON(w, http.StatusOK, body)
		return
	}
	if form != nil {
		m.writeLogoutForm(w, form)
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
		if m.readCookie(r, m.logoutCookieName(), &want) && want != "" && secure.Equal(state, want) {
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

// maxEndSessionURL is the longest end-session URL sent as a redirect: past
// it (a large ID token as hint) the request goes as a form POST, since
// proxies and browsers cut or refuse longer URLs.
const maxEndSessionURL = 2000

// logoutFormPage auto-submits the end-session form. The one script is
// allowed by its hash; without script, the button submits it.
var logoutFormPage = template.Must(template.New("logout").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Logging out</title></head>
<body><form method="post" action="{{.Action}}">
{{range $k, $vs := .Fields}}{{range $vs}}<input type="hidden" name="{{$k}}" value="{{.}}">
{{end}}{{end}}<noscript><button type="submit">Continue logging out</button></noscript>
</form>
<script>` + logoutFormScript + `</script>
</body></html>
`))

const logoutFormScript = "document.forms[0].submit()"

// logoutFormScriptHash is the CSP hash source of logoutFormScript.
var logoutFormScriptHash = func() string {
	sum := sha256.Sum256([]byte(logoutFormScript))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

// writeLogoutForm answers the page that POSTs the end-session request. Its
// Content-Security-Policy allows that one script and form submissions to
// the end-session endpoint's origin and the post-logout redirect's (some
// browsers apply form-action to the provider's redirect back too), nothing
// else; it is never cached, framed or sent as a referrer.
func (m *Middleware) writeLogoutForm(w http.ResponseWriter, form *rp.EndSessionForm) {
	targets := []string{origin(form.Action)}
	if o := origin(form.Fields.Get("post_logout_redirect_uri")); o != "" && o != targets[0] {
		targets = append(targets, o)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src "+logoutFormScriptHash+
		"; form-action "+strings.Join(targets, " ")+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusOK)
	if err := logoutFormPage.Execute(w, form); err != nil {
		m.cfg.Logger.LogAttrs(context.Background(), slog.LevelError, "rpkit: writing the logout form", slog.String("error", err.Error()))
	}
}

// origin returns the scheme://host[:port] of an absolute URL, or "".
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// flatten returns the first value of each field, for JSON.
func flatten(v url.Values) map[string]string {
	out := make(map[string]string, len(v))
	for k := range v {
		out[k] = v.Get(k)
	}
	return out
}
