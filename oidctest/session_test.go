package oidctest_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/rpkit/rpkit/oidctest"
)

// browserLogin runs an authorization request for the default client with
// c, a client with a cookie jar that does not follow redirects, and
// returns the sid of the ID token the code redeems for.
func browserLogin(t *testing.T, p *oidctest.Provider, c *http.Client) string {
	t.Helper()
	verifier, challenge := pkce()
	q := url.Values{"response_type": {"code"}, "client_id": {oidctest.DefaultClientID}, "redirect_uri": {callback},
		"scope": {"openid"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	resp, err := c.Get(p.URL("/authorize?" + q.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if resp.StatusCode != http.StatusFound || err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorize: %d %v %v", resp.StatusCode, loc, err)
	}
	status, body := exchange(t, p, loc.Query().Get("code"), verifier)
	if status != http.StatusOK {
		t.Fatalf("token: %d %v", status, body)
	}
	_, claims := verify(t, p, body["id_token"].(string))
	return claims["sid"].(string)
}

func newJarClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// TestSessionPerBrowser: a provider session belongs to the browser that
// logged in (its session cookie), not to the user: two browsers logging in
// as the same user get two sids, each browser keeps its own across logins,
// and ending one browser's session leaves the other's.
func TestSessionPerBrowser(t *testing.T) {
	p := oidctest.Start(t, oidctest.Config{})
	one, two := newJarClient(), newJarClient()
	sid1, sid2 := browserLogin(t, p, one), browserLogin(t, p, two)
	if sid1 == sid2 {
		t.Fatalf("two browsers share the provider session %s", sid1)
	}
	if again := browserLogin(t, p, one); again != sid1 {
		t.Errorf("the first browser's second login: sid %s, want its own %s", again, sid1)
	}
	if s := p.Sessions(); len(s) != 2 || s[0].SID != sid1 || s[1].SID != sid2 || s[0].Subject != s[1].Subject {
		t.Fatalf("Sessions = %+v", s)
	}

	// The cookie: host-only on the provider's origin, HttpOnly, Lax, and
	// not the sid.
	u, _ := url.Parse(p.Issuer())
	cookies := one.Jar.Cookies(u)
	if len(cookies) != 1 || !strings.HasPrefix(cookies[0].Name, "oidctest_session_") || cookies[0].Value == sid1 {
		t.Fatalf("the browser's cookies at the provider: %+v", cookies)
	}
	resp, err := newJarClient().Get(p.URL("/authorize?" + url.Values{"response_type": {"code"}, "client_id": {oidctest.DefaultClientID},
		"redirect_uri": {callback}, "scope": {"openid"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if sc := resp.Header.Get("Set-Cookie"); !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Lax") ||
		!strings.Contains(sc, "Path=/") || strings.Contains(strings.ToLower(sc), "domain=") {
		t.Errorf("Set-Cookie: %s", sc)
	}
	// A client without a cookie jar is a new browser each time.
	if a, b := browserLogin(t, p, &http.Client{CheckRedirect: one.CheckRedirect}), browserLogin(t, p, &http.Client{CheckRedirect: one.CheckRedirect}); a == b {
		t.Errorf("two logins without cookies share sid %s", a)
	}

	// A back-channel logout of the first browser's session ends only it.
	if _, err := p.BackchannelLogout(t.Context(), sid1); err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Sessions() {
		if s.SID == sid1 {
			t.Errorf("session %s survived its logout", sid1)
		}
	}
	if again := browserLogin(t, p, two); again != sid2 {
		t.Errorf("the second browser lost its session: sid %s, want %s", again, sid2)
	}
	if again := browserLogin(t, p, one); again == sid1 || again == sid2 {
		t.Errorf("the first browser after its logout: sid %s, want a new one", again)
	}

	// The end-session endpoint without a hint ends the browser's own
	// session and clears its cookie.
	resp, err = two.Get(p.URL("/end_session"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, s := range p.Sessions() {
		if s.SID == sid2 {
			t.Errorf("end_session without a hint left the browser's session %s", sid2)
		}
	}
	if c := two.Jar.Cookies(u); len(c) != 0 {
		t.Errorf("cookies after end_session: %+v", c)
	}
}

// TestAuthorizeIsOneBrowserPerUser: Provider.Authorize keeps one provider
// session per user, across clients, as before sessions were per browser.
func TestAuthorizeIsOneBrowserPerUser(t *testing.T) {
	p := oidctest.Start(t, oidctest.Config{Users: []oidctest.User{{Subject: "alice"}, {Subject: "bob"}}})
	authorize(t, p, oidctest.DefaultClientID)
	authorize(t, p, oidctest.DefaultClientID, "login_hint", "bob")
	authorize(t, p, oidctest.DefaultClientID)
	authorize(t, p, oidctest.DefaultClientID, "login_hint", "bob")
	if s := p.Sessions(); len(s) != 2 || s[0].Subject != "alice" || s[1].Subject != "bob" {
		t.Fatalf("Sessions = %+v", s)
	}
}
