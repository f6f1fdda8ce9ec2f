package middleware_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpkit/rpkit/middleware"
	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
	"github.com/rpkit/rpkit/session"
)

func TestLoginRedirect(t *testing.T) {
	a := newApp(t, options{})
	r := do(t, newBrowser(t).single, "GET", a.srv.URL+"/login?return_to=/x", nil)
	if r.status != http.StatusFound {
		t.Fatalf("status %d", r.status)
	}
	u, _ := url.Parse(r.location())
	q := u.Query()
	if u.Scheme+"://"+u.Host+u.Path != a.p.Issuer()+"/authorize" {
		t.Fatalf("Location %s", u)
	}
	for _, k := range []string{"response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge", "code_challenge_method"} {
		if q.Get(k) == "" {
			t.Errorf("authorization request lacks %s", k)
		}
	}
	if q.Get("code_challenge_method") != "S256" || q.Get("redirect_uri") != a.srv.URL+"/callback" {
		t.Errorf("query %v", q)
	}
	if cc := r.header.Get("Set-Cookie"); !strings.Contains(cc, "HttpOnly") || !strings.Contains(cc, "SameSite=Lax") || !strings.Contains(cc, "Path=/") {
		t.Errorf("login-state cookie attributes: %s", cc)
	}
}

func TestLoginAndMe(t *testing.T) {
	a := newApp(t, options{})
	b := newBrowser(t)
	if status, _ := a.me(t, b); status != http.StatusUnauthorized {
		t.Fatalf("/me before login: %d", status)
	}
	r := do(t, b.single, "GET", a.srv.URL+"/me", nil)
	if r.status != http.StatusFound || r.location() != "/login?return_to=%2Fme" {
		t.Fatalf("/me as a browser before login: %d %s", r.status, r.location())
	}
	r = a.login(t, b, "/me")
	if r.status != 200 || r.url.Path != "/me" {
		t.Fatalf("login ended at %s with %d", r.url, r.status)
	}
	status, body := a.me(t, b)
	if status != 200 || body["sub"] != oidctest.DefaultSubject || body["sid"] == "" {
		t.Fatalf("/me: %d %v", status, body)
	}
	c := a.cookie(b, "rpkit")
	if c == nil {
		t.Fatal("no session cookie")
	}
	// The cookie holds an encrypted session ID, not the session.
	if strings.Contains(c.Value, oidctest.DefaultSubject) || len(c.Value) > 300 {
		t.Fatalf("session cookie %q", c.Value)
	}
}

func TestSessionCookieAttributes(t *testing.T) {
	a := newApp(t, options{})
	b := newBrowser(t)
	r := do(t, b.single, "GET", a.srv.URL+"/login", nil)
	authz, err := a.p.Authorize(t.Context(), r.location())
	if err != nil {
		t.Fatal(err)
	}
	r = do(t, b.single, "GET", a.srv.URL+"/callback?"+authz.Encode(), nil)
	if r.status != http.StatusFound || r.location() != "/me" {
		t.Fatalf("callback: %d %s", r.status, r.location())
	}
	var session string
	for _, c := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "rpkit=") {
			session = c
		}
	}
	for _, attr := range []string{"HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="} {
		if !strings.Contains(session, attr) {
			t.Errorf("session cookie %q lacks %s", session, attr)
		}
	}
	if strings.Contains(session, "Secure") {
		t.Errorf("http app got a Secure cookie: %s", session)
	}
}

// TestSecureCookieOnHTTPS: an https redirect URL makes every cookie Secure
// and names them __Host-rpkit….
func TestSecureCookieOnHTTPS(t *testing.T) {
	p := oidctest.Start(t, oidctest.Config{})
	client, err := rp.New(t.Context(), rp.Config{Issuer: p.Issuer(), ClientID: oidctest.DefaultClientID,
		ClientSecret: oidctest.DefaultClientSecret, RedirectURL: "https://app.example/callback", HTTPClient: p.Client()})
	if err != nil {
		t.Fatal(err)
	}
	m, err := middleware.New(middleware.Config{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	m.Routes().ServeHTTP(rec, httptest.NewRequest("GET", "https://app.example/login", nil))
	c := rec.Result().Cookies()
	if len(c) != 1 || !c[0].Secure || !c[0].HttpOnly || !strings.HasPrefix(c[0].Name, "__Host-rpkit-login-") || c[0].Path != "/" || c[0].Domain != "" {
		t.Fatalf("cookies %+v", c)
	}
}

// TestTwoTabs: logins started in two tabs both complete.
func TestTwoTabs(t *testing.T) {
	a := newApp(t, options{})
	b := newBrowser(t)
	first := do(t, b.single, "GET", a.srv.URL+"/login?return_to=/one", nil)
	second := do(t, b.single, "GET", a.srv.URL+"/login?return_to=/two", nil)
	for _, tab := range []result{second, first} {
		params, err := a.p.Authorize(t.Context(), tab.location())
		if err != nil {
			t.Fatal(err)
		}
		r := do(t, b.single, "GET", a.srv.URL+"/callback?"+params.Encode(), nil)
		if r.status != http.StatusFound {
			t.Fatalf("callback: %d %s", r.status, r.body)
		}
	}
	if status, _ := a.me(t, b); status != 200 {
		t.Fatalf("/me: %d", status)
	}
}

// TestCallbackReplay: a callback URL used twice fails the second time and
// makes no session.
func TestCallbackReplay(t *testing.T) {
	a := newApp(t, options{})
	b := newBrowser(t)
	r := do(t, b.single, "GET", a.srv.URL+"/login", nil)
	params, err := a.p.Authorize(t.Context(), r.location())
	if err != nil {
		t.Fatal(err)
	}
	cb := a.srv.URL + "/callback?" + params.Encode()
	if r := do(t, b.single, "GET", cb, nil); r.status != http.StatusFound {
		t.Fatalf("first callback: %d", r.status)
	}
	// Same browser, and a fresh one (an attacker with the URL).
	for _, br := range []*browser{b, newBrowser(t)} {
		r := do(t, br.single, "GET", cb, nil)
		if r.status != http.StatusBadRequest || strings.Contains(r.body, "middleware:") {
			t.Fatalf("replayed callback: %d %q", r.status, r.body)
		}
	}
	if status, _ := a.me(t, newBrowser(t)); status != http.StatusUnauthorized {
		t.Fatal("replay made a session")
	}
}

func TestOpenRedirect(t *testing.T) {
	a := newApp(t, options{})
	for _, rt := range []string{"//evil.example/x", "/\\evil.example", "https://evil.example/", "javascript:alert(1)", "/\t/evil.example", "/%2F%2Fevil.example", "/%5C%5Cevil.example"} {
		r := a.login(t, newBrowser(t), rt)
		if r.url.Host != strings.TrimPrefix(a.srv.URL, "http://") || r.url.Path != "/me" {
			t.Errorf("return_to %q landed on %s", rt, r.url)
		}
	}
	r := a.login(t, newBrowser(t), "/?a=b")
	if r.url.Path != "/" || r.url.RawQuery != "a=b" || r.body != "hello alice" {
		t.Errorf("return_to /?a=b landed on %s: %q", r.url, r.body)
	}
}

// TestNoFixation: a session cookie the browser had before (planted by an
// attacker, or an older session) is replaced by a new session ID.
func TestNoFixation(t *testing.T) {
	a := newApp(t, options{})
	b := newBrowser(t)
	a.login(t, b, "")
	old := a.cookie(b, "rpkit").Value
	attacker := newBrowser(t)
	a.setCookie(attacker, &http.Cookie{Name: "rpkit", Value: old, Path: "/"})
	a.login(t, attacker, "")
	if a.cookie(attacker, "rpkit").Value == old {
		t.Fatal("login kept the session cookie the browser came with")
	}
	// The old session was replaced: its cookie no longer works.
	if status, _ := a.me(t, b); status != http.StatusUnauthorized {
		t.Fatalf("old session still valid: %d", status)
	}
}

func TestTamperedCookies(t *testing.T) {
	a := newApp(t, options{})
	b := newBrowser(t)
	a.login(t, b, "")
	good := a.cookie(b, "rpkit").Value
	for _, v := range []string{good[:len(good)/2], good[:len(good)-2] + "AA", "garbage", strings.Repeat("A", 3000), "%%%"} {
		br := newBrowser(t)
		a.setCookie(br, &http.Cookie{Name: "rpkit", Value: v, Path: "/"})
		if status, _ := a.me(t, br); status != http.StatusUnauthorized {
			t.Errorf("cookie %.20q: /me %d, want 401", v, status)
		}
		if r := do(t, br.single, "GET", a.srv.URL+"/", nil); r.status != 200 || r.body != "home" {
			t.Errorf("cookie %.20q: / %d %q", v, r.status, r.body)
		}
	}
}

// TestRefreshOnce: 20 concurrent requests with an expired access token make
// one refresh.
func TestRefreshOnce(t *testing.T) {
	a := newApp(t, options{})
	b := newBrowser(t)
	a.login(t, b, "")
	_, before := a.me(t, b)
	a.clk.Advance(6 * time.Minute) // past the 5-minute access token
	var wg sync.WaitGroup
	ats := make(chan any, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, body := a.me(t, b)
			if status != 200 {
				t.Errorf("/me during refresh: %d", status)
			}
			ats <- body["at"]
		}()
	}
	wg.Wait()
	close(ats)
	if n := refreshCount(a.p); n != 1 {
		t.Fatalf("%d refreshes for 20 concurrent requests, want 1", n)
	}
	for at := range ats {
		if at == before["at"] {
			t.Fatal("a request was served with the expired access token")
		}
	}
}

func TestRefreshFailureEndsSession(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(a *app)
	}{
		{"refresh token revoked", func(a *app) {
			a.p.SetResponseHook("token", func(r *oidctest.Response) {
				r.Status, r.Body = 400, map[string]any{"error": "invalid_grant"}
			})
		}},
		{"new ID token of another subject", func(a *app) {
			a.p.SetTokenHook(oidctest.IDToken, func(m *oidctest.Mint) { m.Claims["sub"] = "mallory" })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newApp(t, options{})
			b := newBrowser(t)
			a.login(t, b, "")
			a.clk.Advance(6 * time.Minute)
			tc.break_(a)
			if status, _ := a.me(t, b); status != http.StatusUnauthorized {
				t.Fatalf("/me after a failed refresh: %d", status)
			}
			if n := refreshCount(a.p); n != 1 {
				t.Fatalf("%d refreshes", n)
			}
		})
	}
}

// TestRefreshProviderDown: the provider cannot be reached during a refresh
// and the access token has expired: fail closed (503) and keep the session
// for when it is back.
func TestRefreshProviderDown(t *testing.T) {
	a := newApp(t, options{})
	b := newBrowser(t)
	a.login(t, b, "")
	a.clk.Advance(6 * time.Minute)
	a.p.SetResponseHook("token", func(r *oidctest.Response) { r.Status, r.Raw = 503, []byte("down") })
	if status, _ := a.me(t, b); status != http.StatusServiceUnavailable {
		t.Fatalf("/me with the provider down: %d, want 503", status)
	}
	a.p.SetResponseHook("token", nil)
	if status, _ := a.me(t, b); status != 200 {
		t.Fatalf("/me after the provider is back: %d", status)
	}
}

func TestLogout(t *testing.T) {
	a := newApp(t, options{})
	b := newBrowser(t)
	a.login(t, b, "")
	r := do(t, b.single, "POST", a.srv.URL+"/logout", nil)
	if r.status != http.StatusFound {
		t.Fatalf("logout: %d", r.status)
	}
	u, _ := url.Parse(r.location())
	q := u.Query()
	if u.Scheme+"://"+u.Host+u.Path != a.p.Issuer()+"/end_session" || q.Get("id_token_hint") == "" ||
		q.Get("post_logout_redirect_uri") != a.srv.URL+"/" || q.Get("state") == "" || q.Get("client_id") != oidctest.DefaultClientID {
		t.Fatalf("logout redirect %s", u)
	}
	// Local session ended first: /me is 401 even before the provider.
	if status, _ := a.me(t, b); status != http.StatusUnauthorized {
		t.Fatalf("/me after logout: %d", status)
	}
	if revs := a.p.Revocations(); len(revs) != 1 || revs[0].TokenTypeHint != "refresh_token" {
		t.Fatalf("revocations %+v", revs)
	}
	// The provider sends the browser back with the state: the landing
	// page checks it.
	r = do(t, b.follow, "GET", u.String(), nil)
	if r.status != 200 || r.body != "logged out" {
		t.Fatalf("post-logout landing: %d %q (at %s)", r.status, r.body, r.url)
	}
	// A forged state on the landing page is not a logout confirmation.
	r = do(t, b.follow, "GET", a.srv.URL+"/?state=forged", nil)
	if r.status != 200 || r.body != "home" {
		t.Fatalf("landing with a forged state: %d %q", r.status, r.body)
	}
}

func TestLogoutWithoutEndSession(t *testing.T) {
	a := newApp(t, options{op: func(c *oidctest.Config) { c.NoEndSession = true }})
	b := newBrowser(t)
	a.login(t, b, "")
	r := do(t, b.single, "POST", a.srv.URL+"/logout", nil)
	if r.status != http.StatusFound || !strings.HasPrefix(r.location(), "/?state=") {
		t.Fatalf("logout: %d %s", r.status, r.location())
	}
	r = do(t, b.follow, "GET", a.srv.URL+r.location(), nil)
	if r.body != "logged out" {
		t.Fatalf("landing: %q", r.body)
	}
	if status, _ := a.me(t, b); status != http.StatusUnauthorized {
		t.Fatalf("/me after logout: %d", status)
	}
}

func TestLogoutJSON(t *testing.T) {
	for _, tc := range []struct {
		name    string
		op      func(*oidctest.Config)
		login   bool
		wantURL bool
	}{
		{"with end_session_endpoint", nil, true, true},
		{"without end_session_endpoint", func(c *oidctest.Config) { c.NoEndSession = true }, true, false},
		// The provider's session may outlive the local one: a logout
		// without a hint, for the provider to confirm.
		{"no session", nil, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newApp(t, options{op: tc.op})
			b := newBrowser(t)
			if tc.login {
				a.login(t, b, "")
			}
			r := do(t, b.single, "POST", a.srv.URL+"/logout", jsonAccept)
			if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
				t.Fatalf("JSON logout: %d %s", r.status, r.header.Get("Content-Type"))
			}
			if got := strings.Contains(r.body, `"redirect_url":"http`); got != tc.wantURL {
				t.Fatalf("body %s", r.body)
			}
			if !tc.wantURL && strings.TrimSpace(r.body) != `{"redirect_url":null}` {
				t.Fatalf("body %s", r.body)
			}
		})
	}
}

// TestLogoutWithoutSession: see TestLogoutWithoutLocalSession for the
// other cases.
func TestLogoutWithoutSession(t *testing.T) {
	a := newApp(t, options{})
	r := do(t, newBrowser(t).single, "POST", a.srv.URL+"/logout", nil)
	if r.status != http.StatusFound || !strings.HasPrefix(r.location(), a.p.Issuer()+"/end_session?") || strings.Contains(r.location(), "id_token_hint") {
		t.Fatalf("logout without session: %d %s", r.status, r.location())
	}
}

func TestLogoutMethods(t *testing.T) {
	a := newApp(t, options{})
	b := newBrowser(t)
	a.login(t, b, "")
	if r := do(t, b.single, "GET", a.srv.URL+"/logout", nil); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("GET /logout: %d", r.status)
	}
	// A cross-site form POST is refused and the session lives on.
	r := do(t, b.single, "POST", a.srv.URL+"/logout", http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}})
	if r.status != http.StatusForbidden {
		t.Fatalf("cross-site POST /logout: %d", r.status)
	}
	if status, _ := a.me(t, b); status != 200 {
		t.Fatalf("/me after a refused logout: %d", status)
	}
	// A same-origin POST (the app's own logout button) works.
	r = do(t, b.single, "POST", a.srv.URL+"/logout", http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {a.srv.URL}})
	if r.status != http.StatusFound {
		t.Fatalf("same-origin POST /logout: %d", r.status)
	}

	a = newApp(t, options{mw: func(c *middleware.Config) { c.AllowGETLogout = true }})
	b = newBrowser(t)
	a.login(t, b, "")
	if r := do(t, b.single, "GET", a.srv.URL+"/logout", nil); r.status != http.StatusFound {
		t.Fatalf("GET /logout with AllowGETLogout: %d", r.status)
	}
}

// TestEndSessionParams: an authorization-response parameter kept with the
// session (Gluu's session_id) goes back to the provider's end-session
// endpoint when the middleware is told to send it, and only then.
func TestEndSessionParams(t *testing.T) {
	for _, send := range []bool{true, false} {
		t.Run(fmt.Sprintf("send=%v", send), func(t *testing.T) {
			a := newApp(t, options{
				rp: func(c *rp.Config) { c.KeepAuthorizationParams = []string{"session_id"} },
				mw: func(c *middleware.Config) {
					if send {
						c.EndSessionParams = []string{"session_id"}
					}
				},
			})
			b := newBrowser(t)
			r := do(t, b.single, "GET", a.srv.URL+"/login", nil)
			params, err := a.p.Authorize(t.Context(), r.location())
			if err != nil {
				t.Fatal(err)
			}
			params.Set("session_id", "gluu-op-session-1") // as Gluu's authorization response carries it
			if r := do(t, b.single, "GET", a.srv.URL+"/callback?"+params.Encode(), nil); r.status != http.StatusFound {
				t.Fatalf("callback: %d %s", r.status, r.body)
			}
			r = do(t, b.single, "POST", a.srv.URL+"/logout", nil)
			u, err := url.Parse(r.location())
			if r.status != http.StatusFound || err != nil || u.Path != "/end_session" {
				t.Fatalf("logout: %d %s", r.status, r.location())
			}
			q := u.Query()
			if got := q.Get("session_id"); (got == "gluu-op-session-1") != send || (!send && q.Has("session_id")) {
				t.Fatalf("end-session query %v", q)
			}
			if q.Get("id_token_hint") == "" {
				t.Fatalf("end-session query without id_token_hint: %v", q)
			}
		})
	}
}

// hiddenInput matches the logout form's inputs.
var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)

// TestLogoutFormPost: the end-session request as an auto-submitting form
// POST — by option (Decathlon Connect), or when the GET URL would be too
// long — with a CSP that allows exactly that form and its script; the
// provider receives the ID token in the POST body, not in a URL, and the
// browser comes back to the post-logout landing. The JSON logout returns
// what a page needs to submit it.
func TestLogoutFormPost(t *testing.T) {
	for _, tc := range []struct {
		name   string
		option bool
		large  bool // an ID token that makes the GET URL too long
	}{
		{"by option", true, false},
		{"URL too long", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newApp(t, options{mw: func(c *middleware.Config) { c.EndSessionFormPost = tc.option }})
			if tc.large {
				a.p.SetTokenHook(oidctest.IDToken, func(m *oidctest.Mint) { m.Claims["groups"] = strings.Repeat("g", 3000) })
			}
			b := newBrowser(t)
			a.login(t, b, "")
			r := do(t, b.single, "POST", a.srv.URL+"/logout", nil)
			csp := r.header.Get("Content-Security-Policy")
			if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") ||
				r.header.Get("Cache-Control") != "no-store" || r.header.Get("Referrer-Policy") != "no-referrer" {
				t.Fatalf("logout answered %d %v", r.status, r.header)
			}
			for _, want := range []string{"default-src 'none'", "form-action " + a.p.Issuer(), "frame-ancestors 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %q", csp, want)
				}
			}
			script := regexp.MustCompile(`<script>(.*)</script>`).FindStringSubmatch(r.body)
			if script == nil {
				t.Fatalf("no script in %s", r.body)
			}
			sum := sha256.Sum256([]byte(script[1]))
			if !strings.Contains(csp, "script-src 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'") {
				t.Errorf("CSP %q does not allow the page's script", csp)
			}
			action := regexp.MustCompile(`<form method="post" action="([^"]*)">`).FindStringSubmatch(r.body)
			if action == nil || html.UnescapeString(action[1]) != a.p.URL("/end_session") {
				t.Fatalf("form action %v", action)
			}
			fields := url.Values{}
			for _, m := range hiddenInput.FindAllStringSubmatch(r.body, -1) {
				fields.Set(m[1], html.UnescapeString(m[2]))
			}
			for _, k := range []string{"id_token_hint", "client_id", "post_logout_redirect_uri", "state"} {
				if fields.Get(k) == "" {
					t.Fatalf("form lacks %s: %v", k, fields)
				}
			}
			// The browser submits it.
			resp, err := b.follow.PostForm(html.UnescapeString(action[1]), fields)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != "logged out" {
				t.Fatalf("landing after the form: %d %q", resp.StatusCode, body)
			}
			reqs := a.p.EndSessionRequests()
			if last := reqs[len(reqs)-1]; last.Method != http.MethodPost || last.Params.Get("id_token_hint") != fields.Get("id_token_hint") {
				t.Fatalf("end-session request %+v", last)
			}
		})
	}

	a := newApp(t, options{mw: func(c *middleware.Config) { c.EndSessionFormPost = true }})
	b := newBrowser(t)
	a.login(t, b, "")
	r := do(t, b.single, "POST", a.srv.URL+"/logout", jsonAccept)
	var got struct {
		RedirectURL *string `json:"redirect_url"`
		Form        struct {
			Method, Action string
			Fields         map[string]string
		} `json:"form"`
	}
	if err := json.Unmarshal([]byte(r.body), &got); err != nil || got.RedirectURL != nil || got.Form.Method != "POST" ||
		got.Form.Action != a.p.URL("/end_session") || got.Form.Fields["id_token_hint"] == "" || got.Form.Fields["state"] == "" {
		t.Fatalf("JSON logout: %s (%v)", r.body, err)
	}
}

// TestSessionOfAnotherIssuer: a session made for another provider (two
// instances over one store, each with its own development provider) is
// ended where it is presented, never refreshed at the wrong provider.
func TestSessionOfAnotherIssuer(t *testing.T) {
	store := session.NewMemoryStore(session.MemoryConfig{})
	codec, err := session.NewCookieCodec([]byte("shared-cookie-secret-0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	shared := func(c *middleware.Config) { c.Cookies = codec }
	a := newApp(t, options{store: store, mw: shared})
	b := newApp(t, options{store: store, mw: shared})
	br := newBrowser(t)
	a.login(t, br, "")
	cookies := a.cookies(br)
	u, _ := url.Parse(b.srv.URL)
	br.jar.SetCookies(u, cookies)
	b.clk.Advance(10 * time.Minute) // A's access token has expired: B would refresh it
	if status, _ := b.me(t, br); status != http.StatusUnauthorized {
		t.Fatalf("/me at the other issuer's app: %d, want 401", status)
	}
	if n := refreshCount(b.p) + refreshCount(a.p); n != 0 {
		t.Fatalf("%d refreshes of a session of another issuer", n)
	}
	if status, _ := a.me(t, br); status != http.StatusUnauthorized {
		t.Fatalf("the session was not ended in the shared store: /me at its own app %d", status)
	}
}
