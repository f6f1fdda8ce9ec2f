package middleware

import (
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"time"

	"github.com/rpkit/rpkit/rp"
)

// statePrefixLen is how much of a login's state names its cookie: 96 bits,
// enough to tell concurrent attempts apart.
const statePrefixLen = 16

// logoutStateTTL bounds the trip to the provider's logout page and back.
const logoutStateTTL = 10 * time.Minute

// cookie returns a cookie with the attributes every rpkit cookie has:
// HttpOnly, SameSite=Lax, Path=/, Secure on https.
func (m *Middleware) cookie(name, value string, maxAge time.Duration) *http.Cookie {
	c := &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		Domain:   m.cfg.CookieDomain,
		HttpOnly: true,
		Secure:   m.secure,
		SameSite: http.SameSiteLaxMode,
		MaxAge:   int(maxAge / time.Second),
	}
	if maxAge < 0 {
		c.MaxAge = -1
	}
	return c
}

// setCookie encodes v into a signed, encrypted cookie bound to its name.
func (m *Middleware) setCookie(w http.ResponseWriter, name string, v any, maxAge time.Duration) error {
	value, err := m.cfg.Cookies.Encode(name, v)
	if err != nil {
		return err
	}
	http.SetCookie(w, m.cookie(name, value, maxAge))
	return nil
}

func (m *Middleware) clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, m.cookie(name, "", -1))
}

// readCookie decodes cookie name into dst; any failure (absent, tampered,
// old key, garbage) is reported as false.
func (m *Middleware) readCookie(r *http.Request, name string, dst any) bool {
	c, err := r.Cookie(name)
	if err != nil {
		return false
	}
	return m.cfg.Cookies.Decode(name, c.Value, dst) == nil
}

// sessionID returns the session ID the request's cookie carries.
func (m *Middleware) sessionID(r *http.Request) (string, bool) {
	value, ok := cookieValue(r, m.cookieName)
	if !ok {
		return "", false
	}
	id, err := m.cfg.Cookies.DecodeID(m.cookieName, value)
	return id, err == nil
}

// setSessionCookie sets the session cookie to carry id.
func (m *Middleware) setSessionCookie(w http.ResponseWriter, id string) error {
	value, err := m.cfg.Cookies.EncodeID(m.cookieName, id)
	if err != nil {
		return err
	}
	http.SetCookie(w, m.cookie(m.cookieName, value, m.cfg.Lifetime))
	return nil
}

// cookieValue returns the value of the request's first cookie called
// name, as r.Cookie(name) would, without parsing and allocating every
// cookie the request carries: it runs on every request. A quoted value
// loses its quotes; a value with a character a cookie may not carry is
// not found.
func cookieValue(r *http.Request, name string) (string, bool) {
	for _, line := range r.Header["Cookie"] {
		for part := range strings.SplitSeq(line, ";") {
			part = textproto.TrimString(part)
			n, v, ok := strings.Cut(part, "=")
			if !ok || n != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if !validCookieValue(v) {
				continue
			}
			return v, true
		}
	}
	return "", false
}

// validCookieValue reports whether v has only cookie-octets (RFC 6265
// 4.1.1), as net/http's parser requires, space and comma excepted, which it
// also accepts.
func validCookieValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == ';' || c == '\\' {
			return false
		}
	}
	return true
}

// SessionID returns the session ID carried by the request's session cookie,
// without touching the store (for example for a front-channel logout
// receiver's cookie fallback).
func (m *Middleware) SessionID(r *http.Request) (string, bool) { return m.sessionID(r) }

func (m *Middleware) loginCookiePrefix() string { return m.cookieName + "-login-" }

func (m *Middleware) loginCookieName(state string) string {
	return m.loginCookiePrefix() + state[:statePrefixLen]
}

func (m *Middleware) logoutCookieName() string { return m.cookieName + "-logout" }

// pruneLoginCookies keeps the newest loginCookieLimit-1 login attempts of a
// browser (the new attempt makes the limit), so that abandoned attempts
// cannot grow the Cookie header without bound.
func (m *Middleware) pruneLoginCookies(w http.ResponseWriter, r *http.Request) {
	type attempt struct {
		name    string
		created time.Time
	}
	var attempts []attempt
	for _, c := range r.Cookies() {
		if !strings.HasPrefix(c.Name, m.loginCookiePrefix()) {
			continue
		}
		var st rp.LoginState
		if m.cfg.Cookies.Decode(c.Name, c.Value, &st) != nil {
			m.clearCookie(w, c.Name)
			continue
		}
		attempts = append(attempts, attempt{c.Name, st.Created})
	}
	if len(attempts) < loginCookieLimit {
		return
	}
	slices.SortFunc(attempts, func(a, b attempt) int { return b.created.Compare(a.created) })
	for _, a := range attempts[loginCookieLimit-1:] {
		m.clearCookie(w, a.name)
	}
}
