package main

import (
	"net/http"
	"time"
)

// The home page's "the provider ended your session" banners (/?ended=…)
// show only in the browser whose own action ended its session: the demo
// buttons set a short-lived cookie, signed and encrypted by the app's
// cookie codec (bound to its name), that names the channel, and the home
// page shows the banner when the query names the same channel, the cookie
// is valid and the browser has no session, then clears the cookie. A link
// to /?ended=backchannel from anywhere else shows nothing: it cannot come
// with that cookie (cookies are not isolated by port, so another app on
// 127.0.0.1 could set one of that name, but not one that decodes).

// endedCookie names the banner's cookie.
const endedCookie = "webapp-ended"

// endedTTL is how long after the button the banner may show.
const endedTTL = 2 * time.Minute

// markEnded remembers, in the browser, that its session is being ended
// through channel.
func (a *app) markEnded(w http.ResponseWriter, channel string) {
	v, err := a.cookies.Encode(endedCookie, channel)
	if err != nil {
		a.log.Error("encoding the banner cookie", "error", err)
		return
	}
	http.SetCookie(w, a.bannerCookie(v, int(endedTTL/time.Second)))
}

// takeEnded returns the channel that ended this browser's session, when
// the request's ?ended= names it and its cookie says so, and clears the
// cookie; else "".
func (a *app) takeEnded(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(endedCookie)
	if err != nil {
		return ""
	}
	http.SetCookie(w, a.bannerCookie("", -1))
	var channel string
	if a.cookies.Decode(endedCookie, c.Value, &channel) != nil || channel == "" || channel != r.URL.Query().Get("ended") {
		return ""
	}
	return channel
}

func (a *app) bannerCookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: endedCookie, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		Secure: a.cfg.AppURL.Scheme == "https", SameSite: http.SameSiteLaxMode}
}
