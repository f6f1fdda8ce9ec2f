package main

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// startLogin begins a login in b and returns the state the app sent to
// the provider, as the provider would echo it.
func startLogin(t *testing.T, b *browser, base string) (state string) {
	t.Helper()
	r := get(t, b.single, "GET", base+"/login", nil)
	loc, err := url.Parse(r.header.Get("Location"))
	if r.status != http.StatusFound || err != nil || loc.Query().Get("state") == "" {
		t.Fatalf("/login: %d %s", r.status, r.header.Get("Location"))
	}
	return loc.Query().Get("state")
}

// TestErrorPage: the middleware's errors get the example's page, saying
// what happened with a Try again link, and the middleware's statuses and
// JSON.
func TestErrorPage(t *testing.T) {
	_, base := startApp(t, nil)
	b := newBrowser(t)

	// The user pressed Cancel at the provider: error=access_denied.
	state := startLogin(t, b, base)
	r := get(t, b.single, "GET", base+"/callback?"+url.Values{"error": {"access_denied"}, "state": {state}}.Encode(), nil)
	page(t, r, http.StatusBadRequest, "cancelled", "Login cancelled", "You cancelled the login")

	// Another error from the provider: the login failed.
	state = startLogin(t, b, base)
	r = get(t, b.single, "GET", base+"/callback?"+url.Values{"error": {"server_error"}, "state": {state}}.Encode(), nil)
	page(t, r, http.StatusBadRequest, "failed", "The login failed", "did not complete the login")

	// A callback whose login is gone (already finished, or expired).
	r = get(t, b.single, "GET", base+"/callback?"+url.Values{"code": {"x"}, "state": {state}}.Encode(), nil)
	page(t, r, http.StatusBadRequest, "expired", "The login expired", "10 minutes")

	// A bad code: the provider's answer is refused.
	state = startLogin(t, b, base)
	r = get(t, b.single, "GET", base+"/callback?"+url.Values{"code": {"forged"}, "state": {state}}.Encode(), nil)
	page(t, r, http.StatusBadRequest, "failed", "The login failed", "not accepted")

	// JSON clients get the middleware's answer, not the page.
	state = startLogin(t, b, base)
	r = get(t, b.single, "GET", base+"/callback?"+url.Values{"error": {"access_denied"}, "state": {state}}.Encode(), asJSON)
	var body map[string]string
	if r.status != http.StatusBadRequest || r.header.Get("Content-Type") != "application/json" ||
		json.Unmarshal([]byte(r.body), &body) != nil || body["error"] != "invalid_request" || body["error_description"] == "" {
		t.Fatalf("JSON callback error: %d %s %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	r = get(t, b.single, "GET", base+"/me", asJSON)
	if r.status != http.StatusUnauthorized || json.Unmarshal([]byte(r.body), &body) != nil || body["error"] != "login_required" {
		t.Fatalf("JSON /me without a session: %d %s", r.status, r.body)
	}
	// A POST to a page that needs a session, from a browser.
	r = get(t, b.single, "POST", base+"/dev/backchannel-logout", nil)
	page(t, r, http.StatusUnauthorized, "login-required", "Not logged in", "logged in")
}

// page checks an error page: status, styled like the other pages, kind,
// title, text and a Try again link that starts a login.
func page(t *testing.T, r result, status int, kind, title, text string) {
	t.Helper()
	if r.status != status || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("%s: %d %s %q, want %d HTML no-store", kind, r.status, r.header.Get("Content-Type"), r.header.Get("Cache-Control"), status)
	}
	for _, want := range []string{`<header><h1>`, `data-kind="` + kind + `"`, title, text, `id="try-again"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("%s: the page lacks %q:\n%s", kind, want, r.body)
		}
	}
	m := regexp.MustCompile(`id="try-again" href="([^"]+)"`).FindStringSubmatch(r.body)
	if m == nil || !strings.HasPrefix(html.UnescapeString(m[1]), "/login") {
		t.Errorf("%s: Try again links to %v, want /login", kind, m)
	}
}

// TestEndedBanner: the "the provider ended your session" banner shows in
// the browser that ended its session with a demo button, once; a link to
// /?ended=… shows it to no one else, nor does a cookie that is not the
// app's.
func TestEndedBanner(t *testing.T) {
	_, base := startApp(t, nil)
	stranger := newBrowser(t)
	for _, q := range []string{"backchannel", "frontchannel"} {
		if r := get(t, stranger.single, "GET", base+"/?ended="+q, nil); r.status != 200 || strings.Contains(r.body, `id="ended"`) {
			t.Errorf("a stranger following /?ended=%s sees the banner", q)
		}
	}
	forged := &http.Client{Jar: stranger.single.Jar}
	u, _ := url.Parse(base)
	forged.Jar.SetCookies(u, []*http.Cookie{{Name: endedCookie, Value: "backchannel"}})
	if r := get(t, forged, "GET", base+"/?ended=backchannel", nil); strings.Contains(r.body, `id="ended"`) {
		t.Error("a forged banner cookie shows the banner")
	}

	// Back-channel button: the banner, once.
	b := newBrowser(t)
	get(t, b.follow, "GET", base+"/login", nil)
	if r := get(t, b.follow, "POST", base+"/dev/backchannel-logout", nil); r.url.RawQuery != "ended=backchannel" ||
		!strings.Contains(r.body, "its back-channel logout reached the app") {
		t.Fatalf("after the back-channel button: %s\n%s", r.url, r.body)
	}
	if r := get(t, b.single, "GET", base+"/?ended=backchannel", nil); strings.Contains(r.body, `id="ended"`) {
		t.Error("the banner shows again on reload")
	}

	// Front-channel demo: the frame ends the session, Continue shows the
	// banner.
	get(t, b.follow, "GET", base+"/login", nil)
	r := get(t, b.single, "GET", base+"/dev/frontchannel-logout", nil)
	m := regexp.MustCompile(`<iframe id="frontchannel" src="([^"]+)"`).FindStringSubmatch(r.body)
	c := regexp.MustCompile(`id="continue" href="([^"]+)"`).FindStringSubmatch(r.body)
	if m == nil || c == nil {
		t.Fatalf("demo page: %d %s", r.status, r.body)
	}
	// Continue before the frame ended the session: still logged in, no
	// banner.
	if r := get(t, b.single, "GET", base+html.UnescapeString(c[1]), nil); strings.Contains(r.body, `id="ended"`) {
		t.Error("the front-channel banner shows while the session is alive")
	}
	r = get(t, b.single, "GET", base+"/dev/frontchannel-logout", nil)
	m = regexp.MustCompile(`<iframe id="frontchannel" src="([^"]+)"`).FindStringSubmatch(r.body)
	resp, err := http.Get(html.UnescapeString(m[1])) // the frame, without cookies
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if r := get(t, b.single, "GET", base+html.UnescapeString(c[1]), nil); !strings.Contains(r.body, "its front-channel logout reached the app") {
		t.Errorf("after the front-channel frame, Continue: %d\n%s", r.status, r.body)
	}
}
