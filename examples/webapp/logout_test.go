package main

import (
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestDevBackchannelButton: the profile's button makes the development
// provider post a logout token to /backchannel-logout, which ends the
// session.
func TestDevBackchannelButton(t *testing.T) {
	_, base := startApp(t, nil)
	b := newBrowser(t)
	get(t, b.follow, "GET", base+"/login?return_to=/profile", nil)
	if r := get(t, b.single, "GET", base+"/profile", nil); !strings.Contains(r.body, `id="dev-backchannel"`) {
		t.Fatal("no back-channel button on the profile page")
	}
	r := get(t, b.single, "POST", base+"/dev/backchannel-logout", nil)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/?ended=backchannel" {
		t.Fatalf("button: %d %s %s", r.status, r.header.Get("Location"), r.body)
	}
	if r := get(t, b.single, "GET", base+"/me", asJSON); r.status != 401 {
		t.Fatalf("/me after back-channel logout: %d", r.status)
	}
	if r := get(t, b.single, "GET", base+"/?ended=backchannel", nil); !strings.Contains(r.body, `id="ended"`) {
		t.Fatal("home page does not explain what happened")
	}
}

// TestDevFrontchannelPage: the demo page frames /frontchannel-logout; that
// URL, fetched without any cookie, ends the session.
func TestDevFrontchannelPage(t *testing.T) {
	a, base := startApp(t, nil)
	b := newBrowser(t)
	get(t, b.follow, "GET", base+"/login", nil)
	r := get(t, b.single, "GET", base+"/dev/frontchannel-logout", nil)
	m := regexp.MustCompile(`<iframe id="frontchannel" src="([^"]+)"`).FindStringSubmatch(r.body)
	if r.status != 200 || m == nil {
		t.Fatalf("demo page: %d", r.status)
	}
	frame := html.UnescapeString(m[1])
	if !strings.HasPrefix(frame, base+"/frontchannel-logout?") || !strings.Contains(frame, "sid=") {
		t.Fatalf("iframe src %q", frame)
	}
	resp, err := http.Get(frame) // no cookie jar: as in the provider's iframe
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-cache, no-store" ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors "+a.cfg.Issuer) {
		t.Fatalf("receiver: %d %v", resp.StatusCode, resp.Header)
	}
	if r := get(t, b.single, "GET", base+"/me", asJSON); r.status != 401 {
		t.Fatalf("/me after front-channel logout: %d", r.status)
	}
}

// TestReceiversRefuse: a bad logout token is 400 JSON, no-store; a
// front-channel request for another issuer is 400.
func TestReceiversRefuse(t *testing.T) {
	_, base := startApp(t, nil)
	resp, err := http.Post(base+"/backchannel-logout", "application/x-www-form-urlencoded", strings.NewReader("logout_token=a.b.c"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("bad logout token: %d %v", resp.StatusCode, resp.Header)
	}
	resp, err = http.Get(base + "/frontchannel-logout?iss=https%3A%2F%2Fevil.example&sid=x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("front-channel with a foreign iss: %d", resp.StatusCode)
	}
}

// TestDevProviderSessionPerBrowser: two browsers logged in as alice have
// two provider sessions (sids); the back-channel button in one ends that
// browser's session only.
func TestDevProviderSessionPerBrowser(t *testing.T) {
	_, base := startApp(t, nil)
	one, two := newBrowser(t), newBrowser(t)
	sid := func(b *browser) string {
		t.Helper()
		r := get(t, b.single, "GET", base+"/me", asJSON)
		m := regexp.MustCompile(`"sid":"([^"]+)"`).FindStringSubmatch(r.body)
		if r.status != 200 || m == nil {
			t.Fatalf("/me: %d %s", r.status, r.body)
		}
		return m[1]
	}
	get(t, one.follow, "GET", base+"/login", nil)
	get(t, two.follow, "GET", base+"/login", nil)
	sid1, sid2 := sid(one), sid(two)
	if sid1 == sid2 {
		t.Fatalf("two browsers share the provider session %s", sid1)
	}
	if r := get(t, one.single, "POST", base+"/dev/backchannel-logout", nil); r.status != http.StatusSeeOther {
		t.Fatalf("back-channel button: %d %s", r.status, r.body)
	}
	if r := get(t, one.single, "GET", base+"/me", asJSON); r.status != 401 {
		t.Fatalf("/me in the browser that pressed the button: %d", r.status)
	}
	if got := sid(two); got != sid2 {
		t.Fatalf("the other browser's session: sid %s, want %s", got, sid2)
	}
}
