package browser

import (
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rpkit/rpkit/internal/interop"
	"github.com/rpkit/rpkit/internal/redact"
)

// TestDevProvider drives the webapp with its embedded development provider
// through Chromium: log in, see the profile, log out; log in again and let
// the provider end the session by back-channel, then by front-channel.
func TestDevProvider(t *testing.T) {
	chromium, node := tools(t)
	app := startWebapp(t, nil)
	shots := screenshotDir(t)

	r := runScenario(t, node, scenarioConfig{Scenario: "dev", AppURL: app.URL, Screenshots: shots, Chromium: chromium})

	// A link to the banner, followed by a browser that had no session:
	// no banner.
	if st := r.step(t, "stranger-ended-link"); st.IDs["ended"] != "" || strings.Contains(st.Text, "ended your session") {
		t.Errorf("a stranger following /?ended=backchannel sees the banner:\n%s", st.Text)
	}

	home := r.step(t, "login1-home")
	home.contains(t, "This page is public", "Log in")
	if home.IDs["login"] != "Log in" {
		t.Errorf("home page: #login = %q, want the Log in button", home.IDs["login"])
	}

	// The profile shows who logged in, the provider session and the expiry.
	profile := r.step(t, "login1-profile")
	if p := profile.path(t).Path; p != "/profile" {
		t.Errorf("after Log in the browser is at %s, want /profile", profile.URL)
	}
	profile.contains(t, "Alice Example", "Subject (sub)", "Provider session (sid)", "Session expires", "alice@example.com")
	if profile.IDs["sub"] != "alice" {
		t.Errorf("profile #sub = %q, want alice", profile.IDs["sub"])
	}
	sid := profile.IDs["sid"]
	if len(sid) < 16 || !strings.Contains(profile.Text, sid) {
		t.Errorf("profile #sid = %q: not a provider session id shown on the page", sid)
	}
	expiry, err := time.Parse(time.RFC1123, profile.IDs["expiry"])
	if err != nil {
		t.Errorf("profile #expiry = %q: %v", profile.IDs["expiry"], err)
	} else if until := time.Until(expiry); until < time.Hour || until > 48*time.Hour {
		t.Errorf("profile #expiry = %s: the session should end hours from now, not in %s", expiry, until)
	}
	if me := r.me(t, "me-logged-in"); me.Sub != "alice" || me.SID != sid || me.Claims["name"] != "Alice Example" {
		t.Errorf("/me while logged in = %+v, want sub alice, sid %s, name Alice Example", me, sid)
	}

	// RP-initiated logout: through the provider's end-session endpoint back
	// to the home page, which says so; the session is gone.
	out := r.step(t, "logged-out")
	if u := out.path(t); u.Path != "/" || u.Query().Get("state") == "" {
		t.Errorf("after Log out the browser is at %s, want / with the logout state", out.URL)
	}
	out.contains(t, "You have been logged out.", "Log in")
	if out.IDs["logged-out"] != "You have been logged out." {
		t.Errorf("home page after logout: #logged-out = %q", out.IDs["logged-out"])
	}
	if _, ok := out.IDs["logout"]; ok || strings.Contains(out.Text, "Alice Example ·") {
		t.Errorf("home page after logout still shows the user:\n%s", out.Text)
	}
	r.loggedOutProbes(t, "me-after-logout", "/me")

	// Back-channel: the provider POSTs a logout token, the app ends the
	// session and lands on the home page with the "ended" note.
	sid2 := r.step(t, "login2-profile").IDs["sid"]
	bc := r.step(t, "backchannel-ended")
	if u := bc.path(t); u.Path != "/" || u.Query().Get("ended") != "backchannel" {
		t.Errorf("after the back-channel button the browser is at %s, want /?ended=backchannel", bc.URL)
	}
	bc.contains(t, "The provider ended your session: its back-channel logout reached the app.", "Log in")
	if _, ok := bc.IDs["ended"]; !ok {
		t.Errorf("home page after back-channel logout: no #ended note:\n%s", bc.Text)
	}
	r.loggedOutProbes(t, "me-after-backchannel", "/me")
	r.loggedOutProbes(t, "profile-after-backchannel", "/profile")

	// Front-channel: a page frames /frontchannel-logout?iss&sid; the frame
	// says so and the session is gone.
	sid3 := r.step(t, "login3-profile").IDs["sid"]
	if sid2 == "" || sid3 == "" || sid2 == sid || sid3 == sid2 {
		t.Errorf("each login should get a new provider session: sids %q, %q, %q", sid, sid2, sid3)
	}
	fcPage := r.step(t, "frontchannel-page")
	fcPage.contains(t, "Front-channel logout", "without cookies")
	if len(r.Frontchannel) != 1 {
		t.Fatalf("front-channel requests seen by the browser: %+v, want 1", r.Frontchannel)
	}
	fc := r.Frontchannel[0]
	u, _ := url.Parse(fc.URL)
	if fc.Status != 200 || u.Query().Get("sid") != sid3 || u.Query().Get("iss") == "" || strings.TrimSpace(fc.FrameText) != "Logged out." {
		t.Errorf("front-channel frame: %s answered %d with %q, want sid %s and 200 \"Logged out.\"", fc.URL, fc.Status, fc.FrameText, sid3)
	}
	r.loggedOutProbes(t, "me-after-frontchannel", "/me")
	r.loggedOutProbes(t, "profile-after-frontchannel", "/profile")
	if !regexp.MustCompile(`msg="rpkit: front-channel logout" sid_hash=` + redact.Hash(sid3) + ` sessions_ended=1`).MatchString(app.Log.String()) {
		t.Errorf("the app did not log ending one session for the front-channel sid %s:\n%s", sid3, app.Log)
	}
	// The demo page's Continue: the home page says what happened, as after
	// the back-channel button.
	fcEnded := r.step(t, "frontchannel-ended")
	if u := fcEnded.path(t); u.Path != "/" || u.Query().Get("ended") != "frontchannel" {
		t.Errorf("Continue on the front-channel page led to %s, want /?ended=frontchannel", fcEnded.URL)
	}
	fcEnded.contains(t, "The provider ended your session: its front-channel logout reached the app.", "Log in")
	if fcEnded.IDs["ended"] == "" {
		t.Errorf("home page after the front-channel logout: no #ended banner:\n%s", fcEnded.Text)
	}

	// A forced failure: the callback loaded again once its login was
	// done. The app's styled error page says so and offers Try again, which
	// logs in.
	replayed := r.step(t, "callback-replayed")
	if u := replayed.path(t); u.Path != "/callback" {
		t.Errorf("the replayed callback is at %s", replayed.URL)
	}
	if replayed.ProblemKind != "expired" || replayed.IDs["problem-title"] != "The login expired" || replayed.IDs["try-again"] != "Try again" {
		t.Errorf("error page of a replayed callback: kind %q, ids %v", replayed.ProblemKind, replayed.IDs)
	}
	replayed.contains(t, "rpkit webapp", "already finished", "Try again")
	if strings.Contains(replayed.Text, "rp:") || strings.Contains(replayed.Text, "middleware:") {
		t.Errorf("the error page shows an error's text:\n%s", replayed.Text)
	}
	again := r.step(t, "try-again-profile")
	if again.path(t).Path != "/profile" || again.IDs["sub"] != "alice" {
		t.Errorf("Try again led to %s (sub %q), want the profile after a new login", again.URL, again.IDs["sub"])
	}
}

// TestCancelAtProvider: the user presses Cancel on node oidc-provider 9's
// login page. The provider returns error=access_denied to the callback;
// the app shows its error page, in its own style, saying the login was
// cancelled, and Try again goes back to the provider's login page.
func TestCancelAtProvider(t *testing.T) {
	chromium, node := tools(t)
	addr := freeAddr(t)
	appURL := "http://" + addr
	op := interop.StartProvider(t, interop.ProviderOptions{RedirectURI: appURL + "/callback", PostLogoutRedirectURI: appURL + "/"})
	app := startWebapp(t, map[string]string{
		"APP_URL": appURL, "LISTEN_ADDR": addr,
		"OIDC_ISSUER": op.Issuer, "OIDC_CLIENT_ID": op.ClientID, "OIDC_CLIENT_SECRET": op.ClientSecret,
	})
	shots := screenshotDir(t)

	r := runScenario(t, node, scenarioConfig{
		Scenario: "cancel", AppURL: app.URL, Screenshots: shots, Chromium: chromium,
		Provider: &scenarioOP{Issuer: op.Issuer},
	})
	r.step(t, "provider-login").contains(t, "Sign-in", "Cancel")
	c := r.step(t, "cancelled")
	if u := c.path(t); u.Path != "/callback" || u.Query().Get("error") != "access_denied" {
		t.Errorf("after Cancel the browser is at %s, want the app's callback with error=access_denied", c.URL)
	}
	if c.ProblemKind != "cancelled" || c.IDs["problem-title"] != "Login cancelled" || c.IDs["try-again"] != "Try again" {
		t.Errorf("error page after Cancel: kind %q, ids %v", c.ProblemKind, c.IDs)
	}
	c.contains(t, "rpkit webapp", "You cancelled the login at the identity provider", "Try again")
	if !strings.Contains(app.Log.String(), "access_denied") {
		t.Errorf("the app did not log the provider's access_denied:\n%s", app.Log)
	}
	if again := r.step(t, "try-again-provider"); !strings.HasPrefix(again.URL, op.Issuer+"/interaction/") {
		t.Errorf("Try again led to %s, want the provider's login page", again.URL)
	} else {
		again.contains(t, "Sign-in")
	}
}

// TestProviderV9 logs in through node oidc-provider 9's own login and
// consent pages (its development interactions: any password) and logs out
// through its end-session confirmation page, back to the app's home page.
func TestProviderV9(t *testing.T) {
	chromium, node := tools(t)
	addr := freeAddr(t)
	appURL := "http://" + addr
	op := interop.StartProvider(t, interop.ProviderOptions{
		RedirectURI:           appURL + "/callback",
		PostLogoutRedirectURI: appURL + "/",
		// Registered so that the ID token carries sid (v9 adds it only
		// for clients that asked for session-bound logout).
		BackchannelLogoutURI: appURL + "/backchannel-logout",
	})
	app := startWebapp(t, map[string]string{
		"APP_URL": appURL, "LISTEN_ADDR": addr,
		"OIDC_ISSUER": op.Issuer, "OIDC_CLIENT_ID": op.ClientID, "OIDC_CLIENT_SECRET": op.ClientSecret,
	})
	shots := screenshotDir(t)

	r := runScenario(t, node, scenarioConfig{
		Scenario: "provider", AppURL: app.URL, Screenshots: shots, Chromium: chromium,
		Provider: &scenarioOP{Issuer: op.Issuer, Login: "alice", Password: "not checked by devInteractions"},
	})

	login := r.step(t, "login-provider-login")
	if !strings.HasPrefix(login.URL, op.Issuer+"/interaction/") {
		t.Errorf("Log in led to %s, want the provider's interaction page", login.URL)
	}
	login.contains(t, "Sign-in")
	consent := r.step(t, "login-provider-consent")
	if !strings.HasPrefix(consent.URL, op.Issuer+"/interaction/") {
		t.Errorf("after signing in the browser is at %s, want the provider's consent page", consent.URL)
	}
	consent.contains(t, "Authorize", "Continue")

	// oidc-provider releases scope claims (name, email) at the userinfo
	// endpoint only once an access token is issued, and the app shows the
	// ID token's claims: the profile names alice by her subject.
	profile := r.step(t, "login-profile")
	profile.contains(t, "alice · Log out", "Subject (sub)", op.Issuer, "rpkit-interop")
	if profile.IDs["sub"] != "alice" || profile.IDs["sid"] == "" || profile.IDs["expiry"] == "" {
		t.Errorf("profile ids = %v, want sub alice, a sid and the expiry", profile.IDs)
	}
	if _, dev := profile.IDs["dev-backchannel"]; dev {
		t.Errorf("the development buttons show with a real provider:\n%s", profile.Text)
	}
	if me := r.me(t, "me-logged-in"); me.Sub != "alice" || me.SID != profile.IDs["sid"] || me.Claims["iss"] != op.Issuer {
		t.Errorf("/me = %+v, want sub alice, sid %s, iss %s", me, profile.IDs["sid"], op.Issuer)
	}

	end := r.step(t, "provider-end-session")
	if !strings.HasPrefix(end.URL, op.Issuer+"/session/end") {
		t.Errorf("Log out led to %s, want the provider's end-session page", end.URL)
	}
	end.contains(t, "Do you want to sign-out from", "Yes, sign me out")

	out := r.step(t, "logged-out")
	if u := out.path(t); u.Path != "/" || u.Query().Get("state") == "" {
		t.Errorf("after confirming at the provider the browser is at %s, want the app's / with the logout state", out.URL)
	}
	out.contains(t, "You have been logged out.", "Log in")
	if out.IDs["logged-out"] != "You have been logged out." {
		t.Errorf("home page after logout: #logged-out = %q", out.IDs["logged-out"])
	}
	r.loggedOutProbes(t, "me-after-logout", "/me")
	r.loggedOutProbes(t, "profile-after-logout", "/profile")
	op.WaitEvent(t, "end_session.success", 5*time.Second)
	// The provider also posted a logout token for the session the app had
	// already ended; the app must have accepted it.
	op.AssertNoEvent(t, "backchannel.error")
	op.AssertNoEvent(t, "server_error")
	op.AssertNoEvent(t, "end_session.error")
}

// TestFrontchannelThirdPartyCookiesBlocked is front-channel logout as
// browsers do it today. The app runs at http://localhost:PORT and the
// provider (oidc-provider 6.31.1, which renders front-channel iframes) at
// http://127.0.0.1:PORT: two different sites. (With both on 127.0.0.1 the
// iframe would be same-site, since cookies ignore ports, and would carry
// the app's cookies: no third-party situation at all.) The user logs in,
// then logs out at the provider itself; the provider's logout page loads
// the app's /frontchannel-logout?iss=…&sid=… in a hidden iframe, where the
// app is a third party, in a browser whose profile blocks third-party
// cookies (Chromium's "Block third-party cookies" setting,
// profile.cookie_controls_mode=1, written into the fresh profile: no
// command-line switch of Chromium 156 overrides that setting, see
// scenario.mjs).
//
// What it proves:
//   - the iframe request reached the app without any of the app's cookies:
//     recorded on the app's side by a proxy in front of the app, and on the
//     browser's side (DevTools protocol), which names why each cookie was
//     withheld — the probe cookie, SameSite=None, for "UserPreferences", that
//     is third-party cookie blocking; the session cookie (SameSite=Lax) at
//     least for SameSite;
//   - the same probe cookie was sent on the app's own top-level pages, and a
//     control browser that allows third-party cookies sends it in the same
//     cross-site framing: the blocking, not the setup, kept it out;
//   - still the app ended the session (by sid, from its store): the app logs
//     one session ended, and /me and /profile answer 401 / a redirect to log
//     in with the browser's cookies;
//   - the app's answer may be framed by the provider (no frame-ancestors
//     violation on its logout page) and by no other origin (the control
//     page on 127.0.0.1 with another port is refused).
func TestFrontchannelThirdPartyCookiesBlocked(t *testing.T) {
	chromium, node := tools(t)
	proxy := listenProxy(t)
	_, port, _ := net.SplitHostPort(proxy.Addr)
	appURL := "http://localhost:" + port
	op := interop.StartProvider(t, interop.ProviderOptions{
		Legacy:                true,
		RedirectURI:           appURL + "/callback",
		PostLogoutRedirectURI: appURL + "/",
		FrontchannelLogoutURI: appURL + "/frontchannel-logout",
		// No back-channel URI: only the iframe can end the session.
	})
	app := startWebapp(t, map[string]string{
		"APP_URL":     appURL, // the browser's view: through the proxy, on localhost
		"OIDC_ISSUER": op.Issuer, "OIDC_CLIENT_ID": op.ClientID, "OIDC_CLIENT_SECRET": op.ClientSecret,
	})
	proxy.serve(t, app.Addr)

	// The control's page: another site (127.0.0.1) framing the app's
	// receiver with a sid that names no session.
	control := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>control</title><p>Another site frames the app:</p><iframe src="%s"></iframe>`,
			html.EscapeString(appURL+"/frontchannel-logout?"+url.Values{"iss": {op.Issuer}, "sid": {controlSID}}.Encode()))
	}))
	t.Cleanup(control.Close)
	shots := screenshotDir(t)

	r := runScenario(t, node, scenarioConfig{
		Scenario: "frontchannel", AppURL: app.URL, Screenshots: shots, Chromium: chromium,
		Provider:        &scenarioOP{Issuer: op.Issuer, Login: "alice", Password: "any"},
		ControlFrameURL: control.URL,
	})

	// Logged in through the provider's pages; the app knows the sid.
	r.step(t, "login-provider-login").contains(t, "Sign-in")
	profile := r.step(t, "login-profile")
	profile.contains(t, "alice · Log out", op.Issuer)
	sid := profile.IDs["sid"]
	if profile.IDs["sub"] != "alice" || sid == "" {
		t.Fatalf("profile ids = %v, want sub alice and a sid (front-channel logout needs it)", profile.IDs)
	}
	if me := r.me(t, "me-logged-in"); me.SID != sid {
		t.Errorf("/me sid = %q, want %q", me.SID, sid)
	}

	// First-party, the browser sends the session cookie and the probe.
	first := false
	for _, req := range proxy.requests("/profile") {
		first = first || (req.hasCookie("rpkit") && req.hasCookie(probeCookie))
	}
	if !first {
		t.Errorf("GET /profile never carried both the session cookie and %s: %+v", probeCookie, proxy.requests("/profile"))
	}

	// Logged out at the provider: its confirmation page, then its page of
	// iframes, then its success page.
	r.step(t, "provider-end-session").contains(t, "Do you want to sign-out from", "Yes, sign me out")
	r.step(t, "provider-logged-out").contains(t, "Sign-out Success")

	// The iframe request, as the app saw it: the one for this sid, and no
	// cookie at all.
	var got []seenRequest
	for _, req := range proxy.requests("/frontchannel-logout") {
		if req.Query.Get("sid") == sid {
			got = append(got, req)
		}
	}
	if len(got) != 1 {
		t.Fatalf("front-channel requests for sid %s at the app: %+v, want exactly 1", sid, proxy.requests("/frontchannel-logout"))
	}
	if got[0].Status != http.StatusOK || got[0].Query.Get("iss") != op.Issuer || len(got[0].Cookies) != 0 {
		t.Errorf("front-channel request at the app: %+v, want 200 with iss %s and no cookies", got[0], op.Issuer)
	}
	if !strings.Contains(got[0].Body, "<p>Logged out.</p>") {
		t.Errorf("the app answered the front-channel frame with %q, want the Logged out. page", got[0].Body)
	}

	// The same request, as the browser saw it: which cookies it withheld
	// and why.
	var fc *frameRequest
	for i := range r.Frontchannel {
		if u, _ := url.Parse(r.Frontchannel[i].URL); u != nil && u.Query().Get("sid") == sid {
			fc = &r.Frontchannel[i]
		}
	}
	if fc == nil {
		t.Fatalf("the browser recorded no front-channel request for sid %s: %+v", sid, r.Frontchannel)
	}
	reasons := map[string][]string{}
	for _, c := range fc.Cookies {
		reasons[c.Name] = c.BlockedReasons
		if len(c.BlockedReasons) == 0 {
			t.Logf("frame request %s: the browser sent cookie %s (SameSite %s)", fc.URL, c.Name, c.SameSite)
		} else {
			t.Logf("frame request %s: the browser withheld cookie %s (SameSite %s) for %v", fc.URL, c.Name, c.SameSite, c.BlockedReasons)
		}
	}
	t.Logf("the app saw the frame request with cookies %v (status %d)", got[0].Cookies, got[0].Status)
	if rs, ok := reasons[probeCookie]; !ok || !slices.Contains(rs, "UserPreferences") {
		t.Errorf("the browser's reasons for withholding %s from the frame: %v (present: %v), want UserPreferences (third-party cookies blocked); all: %+v",
			probeCookie, rs, ok, fc.Cookies)
	}
	if rs, ok := reasons["rpkit"]; !ok || len(rs) == 0 {
		t.Errorf("the browser did not withhold the session cookie from the frame: %v (present: %v); all: %+v", rs, ok, fc.Cookies)
	}

	// The session ended anyway: by sid, in the app's store.
	if !regexp.MustCompile(`msg="rpkit: front-channel logout" sid_hash=` + redact.Hash(sid) + ` sessions_ended=1`).MatchString(app.Log.String()) {
		t.Errorf("the app did not log ending one session for sid %s:\n%s", sid, app.Log)
	}
	after := r.step(t, "app-home-after")
	after.contains(t, "This page is public", "Log in")
	if _, ok := after.IDs["logout"]; ok {
		t.Errorf("the app's home page still shows a session after the front-channel logout:\n%s", after.Text)
	}
	r.loggedOutProbes(t, "me-after-frontchannel", "/me")
	r.loggedOutProbes(t, "profile-after-frontchannel", "/profile")
	op.AssertNoEvent(t, "server_error")
	op.AssertNoEvent(t, "end_session.error")

	// The app let the provider frame its answer (CSP frame-ancestors names
	// the issuer's origin), and only the provider: the control's page on
	// another origin is refused.
	framedByControl := false
	for _, c := range r.Console {
		if strings.Contains(c, "frame-ancestors") {
			if strings.HasPrefix(c, "blocked: ") {
				t.Errorf("the provider's logout page could not frame the app: %s", c)
			}
			framedByControl = framedByControl || (strings.HasPrefix(c, "control: ") && strings.Contains(c, `"frame-ancestors `+op.Issuer+`"`))
		}
	}
	if !framedByControl {
		t.Errorf("the control page on another origin was not refused by the app's frame-ancestors; console:\n%s", strings.Join(r.Console, "\n"))
	}

	// The control: with third-party cookies allowed, the same cross-site
	// framing carries the SameSite=None probe (the Lax session cookie
	// stays out either way).
	var ctl []seenRequest
	for _, req := range proxy.requests("/frontchannel-logout") {
		if req.Query.Get("sid") == controlSID {
			ctl = append(ctl, req)
		}
	}
	for _, c := range ctl {
		t.Logf("control: the app saw the framed request with cookies %v", c.Cookies)
	}
	if len(ctl) != 1 || !ctl[0].hasCookie(probeCookie) {
		t.Errorf("control (third-party cookies allowed): framed requests at the app %+v, want one carrying %s", ctl, probeCookie)
	}
	for _, c := range r.Control {
		for _, ck := range c.Cookies {
			if ck.Name == probeCookie && len(ck.BlockedReasons) != 0 {
				t.Errorf("control: the browser withheld %s: %v", probeCookie, ck.BlockedReasons)
			}
		}
	}
}

// controlSID names no session: the control's frame ends nothing.
const controlSID = "control-no-such-session"
