package middleware

import (
	"net/http"

	"github.com/rpkit/rpkit/rp"
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
		// The provider's metadata is not known yet (rp.Config.LazyDiscovery
		// before discovery succeeded): 503, with when to retry.
		m.fail(w, r, statusFor(err), err)
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
