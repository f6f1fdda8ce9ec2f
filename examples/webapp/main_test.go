package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"
)

// startApp runs the webapp as `go run` would, with env as its environment
// (APP_URL is set to a free loopback port), and returns its base URL.
func startApp(t *testing.T, env map[string]string) (*app, string) {
	t.Helper()
	return startAppLog(t, env, discard())
}

// startAppLog is startApp with log as the app's logger.
func startAppLog(t *testing.T, env map[string]string, log *slog.Logger) (*app, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	if env == nil {
		env = map[string]string{}
	}
	if env["APP_URL"] == "" {
		env["APP_URL"] = base
	}
	if env["DEV_PROVIDER_ADDR"] == "" {
		env["DEV_PROVIDER_ADDR"] = "127.0.0.1:0" // a provider of its own, never a developer's on 8090
	}
	cfg, err := configFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(t.Context(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	h, err := a.handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close(); a.close() })
	return a, base
}

type browser struct{ follow, single *http.Client }

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{
		follow: &http.Client{Jar: jar, Timeout: 10 * time.Second},
		single: &http.Client{Jar: jar, Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
}

type result struct {
	status int
	header http.Header
	body   string
	url    *url.URL
}

func get(t *testing.T, c *http.Client, method, u string, header http.Header) result {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), method, u, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{resp.StatusCode, resp.Header, string(b), resp.Request.URL}
}

var asJSON = http.Header{"Accept": {"application/json"}}

// TestContract walks the routes of the contract with the embedded
// development provider.
func TestContract(t *testing.T) {
	a, base := startApp(t, nil)
	b := newBrowser(t)

	if r := get(t, b.single, "GET", base+"/healthz", nil); r.status != 200 {
		t.Fatalf("/healthz: %d", r.status)
	}
	if r := get(t, b.single, "GET", base+"/", nil); r.status != 200 || !strings.Contains(r.body, `id="login"`) {
		t.Fatalf("/: %d", r.status)
	}
	r := get(t, b.single, "GET", base+"/login?return_to=/me", nil)
	loc, _ := url.Parse(r.header.Get("Location"))
	q := loc.Query()
	if r.status != 302 || !strings.HasPrefix(loc.String(), a.cfg.Issuer+"/authorize?") {
		t.Fatalf("/login: %d %s", r.status, loc)
	}
	for k, want := range map[string]string{"response_type": "code", "client_id": a.cfg.ClientID, "redirect_uri": base + "/callback",
		"scope": "openid profile email offline_access", "code_challenge_method": "S256", "prompt": "consent"} {
		if q.Get(k) != want {
			t.Errorf("authorization request %s = %q, want %q", k, q.Get(k), want)
		}
	}
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if q.Get(k) == "" {
			t.Errorf("authorization request lacks %s", k)
		}
	}
	if r := get(t, b.single, "GET", base+"/me", asJSON); r.status != 401 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("/me as API before login: %d", r.status)
	}
	if r := get(t, b.single, "GET", base+"/me", nil); r.status != 302 || r.header.Get("Location") != "/login?return_to=%2Fme" {
		t.Fatalf("/me as browser before login: %d %s", r.status, r.header.Get("Location"))
	}

	// Log in: default return_to is /me.
	r = get(t, b.follow, "GET", base+"/login", nil)
	if r.status != 200 || r.url.Path != "/me" || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("login landed on %s: %d", r.url, r.status)
	}
	var me struct {
		Sub    string         `json:"sub"`
		SID    string         `json:"sid"`
		Claims map[string]any `json:"claims"`
	}
	if err := json.Unmarshal([]byte(r.body), &me); err != nil || me.Sub != "alice" || me.SID == "" || me.Claims["email"] != "alice@example.com" {
		t.Fatalf("/me: %s (%v)", r.body, err)
	}
	if r := get(t, b.single, "GET", base+"/profile", nil); r.status != 200 || !strings.Contains(r.body, "Alice Example") || !strings.Contains(r.body, `id="expiry"`) {
		t.Fatalf("/profile: %d", r.status)
	}

	// Log out through the provider and back to the home page.
	r = get(t, b.single, "POST", base+"/logout", nil)
	loc, _ = url.Parse(r.header.Get("Location"))
	if r.status != 302 || !strings.HasPrefix(loc.String(), a.cfg.Issuer+"/end_session?") || loc.Query().Get("post_logout_redirect_uri") != base+"/" {
		t.Fatalf("/logout: %d %s", r.status, loc)
	}
	r = get(t, b.follow, "GET", loc.String(), nil)
	if r.status != 200 || r.url.Path != "/" || !strings.Contains(r.body, "You have been logged out") {
		t.Fatalf("after logout: %d at %s", r.status, r.url)
	}
	if r := get(t, b.single, "GET", base+"/me", asJSON); r.status != 401 {
		t.Fatalf("/me after logout: %d", r.status)
	}
	if revs := a.dev.Revocations(); len(revs) != 1 {
		t.Fatalf("revocations at the provider: %+v", revs)
	}
	// No local session: logout still goes to the provider, whose session
	// may be alive, without an id_token_hint (the provider asks the user to
	// confirm); so does the JSON answer.
	if r := get(t, b.single, "POST", base+"/logout", nil); r.status != 302 ||
		!strings.HasPrefix(r.header.Get("Location"), a.cfg.Issuer+"/end_session?") || strings.Contains(r.header.Get("Location"), "id_token_hint") {
		t.Fatalf("/logout without session: %d %s", r.status, r.header.Get("Location"))
	}
	var out struct {
		RedirectURL *string `json:"redirect_url"`
	}
	r = get(t, b.single, "POST", base+"/logout", asJSON)
	if r.status != 200 || json.Unmarshal([]byte(r.body), &out) != nil || out.RedirectURL == nil ||
		!strings.HasPrefix(*out.RedirectURL, a.cfg.Issuer+"/end_session?") || strings.Contains(*out.RedirectURL, "id_token_hint") {
		t.Fatalf("JSON /logout without session: %d %s", r.status, r.body)
	}
}

// TestCallbackNeverFiveHundred: broken callbacks answer 4xx and make no
// session.
func TestCallbackNeverFiveHundred(t *testing.T) {
	_, base := startApp(t, nil)
	b := newBrowser(t)
	for _, q := range []string{"", "?code=x", "?state=x&code=y", "?state=" + strings.Repeat("A", 5000), "?error=access_denied&state=abcdefghijklmnopq",
		"?state=%00%ff%fe&code=%00"} {
		r := get(t, b.single, "GET", base+"/callback"+q, nil)
		if r.status < 400 || r.status >= 500 {
			t.Errorf("/callback%.40s: %d", q, r.status)
		}
	}
	if r := get(t, b.single, "GET", base+"/me", asJSON); r.status != 401 {
		t.Fatalf("a broken callback made a session: %d", r.status)
	}
}

func TestConfigFromEnv(t *testing.T) {
	good := strings.Repeat("s", 32)
	for _, tc := range []struct {
		env     map[string]string
		wantErr bool
	}{
		{map[string]string{}, false},
		{map[string]string{"APP_URL": "ftp://x"}, true},
		{map[string]string{"OIDC_ISSUER": "https://op.example"}, true},
		{map[string]string{"SESSION_STORE": "disk"}, true},
		{map[string]string{"COOKIE_SECRETS": "short"}, true},
		{map[string]string{"COOKIE_SECRETS": good + "," + good + "x"}, false},
		// hex and base64 count their decoded bytes
		{map[string]string{"COOKIE_SECRETS": strings.Repeat("ab", 32)}, false},
		{map[string]string{"COOKIE_SECRETS": strings.Repeat("ab", 16)}, true},
		{map[string]string{"COOKIE_SECRETS": base64.StdEncoding.EncodeToString(make([]byte, 32))}, false},
		{map[string]string{"COOKIE_SECRETS": base64.StdEncoding.EncodeToString(make([]byte, 24))}, true},
		// an APP_URL with a path is refused, not half served
		{map[string]string{"APP_URL": "http://127.0.0.1:8080/app"}, true},
		{map[string]string{"APP_URL": "http://127.0.0.1:8080/"}, false},
		// the development provider stays on a loopback IP
		{map[string]string{"DEV_PROVIDER_ADDR": "127.0.0.1:0"}, false},
		{map[string]string{"DEV_PROVIDER_ADDR": "[::1]:8090"}, false},
		{map[string]string{"DEV_PROVIDER_ADDR": "0.0.0.0:8090"}, true},
		{map[string]string{"DEV_PROVIDER_ADDR": "localhost:8090"}, true},
		{map[string]string{"DEV_PROVIDER_ADDR": "8090"}, true},
		{map[string]string{"DEV_ACCESS_TOKEN_TTL": "5s"}, false},
		{map[string]string{"DEV_ACCESS_TOKEN_TTL": "5"}, true},
		{map[string]string{"DEV_ACCESS_TOKEN_TTL": "-1m"}, true},
		{map[string]string{"DEBUG_METRICS": "1"}, false},
		{map[string]string{"DEBUG_METRICS": "yes please"}, true},
	} {
		_, err := configFromEnv(func(k string) string { return tc.env[k] })
		if (err != nil) != tc.wantErr {
			t.Errorf("env %v: err = %v", tc.env, err)
		}
	}
	cfg, _ := configFromEnv(func(string) string { return "" })
	if cfg.AppURL.String() != "http://127.0.0.1:8080" || cfg.ListenAddr != "127.0.0.1:8080" || cfg.SessionStore != "memory" ||
		strings.Join(cfg.Scopes, " ") != "openid profile email offline_access" || cfg.RedisURL != "redis://127.0.0.1:6379/0" ||
		cfg.DevProviderAddr != "127.0.0.1:8090" || cfg.DevAccessTokenTTL != 2*time.Minute || cfg.DebugMetrics {
		t.Fatalf("defaults: %+v", cfg)
	}
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestConfigMessages: a misconfiguration says what to change.
func TestConfigMessages(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{"COOKIE_SECRETS": strings.Repeat("s", 40) + "," + strings.Repeat("ab", 16)},
			[]string{"entry 2", "16 bytes", "hex", "openssl rand -hex 32"}},
		{map[string]string{"APP_URL": "http://127.0.0.1:8080/app"}, []string{"without a path", "/app"}},
	} {
		_, err := configFromEnv(func(k string) string { return tc.env[k] })
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("env %v: error %v lacks %q", tc.env, err, w)
			}
		}
	}
	// The port in use names the variable that changes it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	env := map[string]string{"APP_URL": "http://" + ln.Addr().String()}
	err = run(discard(), func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "in use") || !strings.Contains(err.Error(), "LISTEN_ADDR") {
		t.Fatalf("port in use: %v", err)
	}
	// Redis unreachable: one line naming REDIS_URL.
	free, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := free.Addr().String()
	free.Close()
	cfg, err := configFromEnv(func(k string) string {
		return map[string]string{"SESSION_STORE": "redis", "REDIS_URL": "redis://" + addr + "/0", "DEV_PROVIDER_ADDR": "127.0.0.1:0"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newApp(t.Context(), cfg, discard()); err == nil || !strings.Contains(err.Error(), "REDIS_URL") ||
		!strings.Contains(err.Error(), "redis-server") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("Redis unreachable: %v", err)
	}
}

// TestCanonicalHost: a browser that opened the app under another host
// than APP_URL's (localhost for 127.0.0.1) is sent to APP_URL before a
// login starts, so that the login cookie and the callback share a host.
func TestCanonicalHost(t *testing.T) {
	_, base := startApp(t, nil)
	u, _ := url.Parse(base)
	other := "http://localhost:" + u.Port()
	b := newBrowser(t)
	r := get(t, b.single, "GET", other+"/login?return_to=/me", nil)
	if r.status != http.StatusFound || r.header.Get("Location") != base+"/login?return_to=/me" {
		t.Fatalf("GET %s/login: %d %q", other, r.status, r.header.Get("Location"))
	}
	// Under APP_URL's own host the login starts.
	r = get(t, b.single, "GET", base+"/login", nil)
	if r.status != http.StatusFound || strings.HasPrefix(r.header.Get("Location"), base) {
		t.Fatalf("GET %s/login: %d %q", base, r.status, r.header.Get("Location"))
	}
	// The provider's back-channel posts are not redirected.
	r = get(t, b.single, "POST", other+"/backchannel-logout", nil)
	if r.status == http.StatusFound {
		t.Fatal("a back-channel post was redirected")
	}
}
