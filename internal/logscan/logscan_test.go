package logscan

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpkit/rpkit/backchannel"
	"github.com/rpkit/rpkit/event"
	"github.com/rpkit/rpkit/frontchannel"
	"github.com/rpkit/rpkit/internal/fakeclock"
	"github.com/rpkit/rpkit/middleware"
	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
	"github.com/rpkit/rpkit/session"
)

// secrets collects every credential the run produced.
type secrets struct {
	mu   sync.Mutex
	vals map[string]string // value -> what it is
}

func (s *secrets) add(what, v string) {
	if len(v) < 8 { // too short to find without false hits; none is
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.vals == nil {
		s.vals = map[string]string{}
	}
	s.vals[v] = what
}

// recorder is a browser's transport that records the cookies it is given
// and the credentials in the URLs it is sent to (code, state, nonce).
type recorder struct {
	base http.RoundTripper
	s    *secrets
}

func (r recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	for _, name := range []string{"code", "state", "nonce", "code_challenge", "id_token_hint", "sid"} {
		r.s.add("URL parameter "+name, req.URL.Query().Get(name))
	}
	resp, err := r.base.RoundTrip(req)
	if err == nil {
		for _, c := range resp.Cookies() {
			r.s.add("cookie "+c.Name, c.Value)
		}
	}
	return resp, err
}

// TestNoSecretInLogs runs logins, refreshes, the three logouts and a
// series of refused requests through the middleware, both receivers and
// rp — every logger at Debug, slog.Default() included, and an observer
// that logs every event — and then looks for each credential in the logs.
func TestNoSecretInLogs(t *testing.T) {
	var logs bytes.Buffer
	var logMu sync.Mutex
	w := writerFunc(func(p []byte) (int, error) { logMu.Lock(); defer logMu.Unlock(); return logs.Write(p) })
	text := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	jsonLog := slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	prev := slog.Default()
	slog.SetDefault(jsonLog)
	t.Cleanup(func() { slog.SetDefault(prev) })

	s := &secrets{}
	s.add("client secret", string(oidctest.DefaultClientSecret))
	cookieSecret := "a-cookie-secret-of-thirty-two-bytes-or-more"
	s.add("cookie secret", cookieSecret)

	clk := fakeclock.New(time.Now().Truncate(time.Second))
	p := oidctest.Start(t, oidctest.Config{Now: clk.Now, AccessTokenTTL: 5 * time.Minute, RotateRefreshTokens: true})
	p.SetResponseHook("token", func(r *oidctest.Response) {
		for _, k := range []string{"access_token", "refresh_token", "id_token"} {
			if v, ok := r.Body[k].(string); ok {
				s.add(k, v)
			}
		}
	})

	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	if err := p.AddClient(oidctest.Client{ID: oidctest.DefaultClientID, Secret: oidctest.DefaultClientSecret,
		RedirectURIs:          []string{srv.URL + "/callback"},
		BackchannelLogoutURI:  srv.URL + "/backchannel-logout",
		FrontchannelLogoutURI: srv.URL + "/frontchannel-logout"}); err != nil {
		t.Fatal(err)
	}
	obs := event.Func(func(ctx context.Context, e event.Event) { text.Info("event", "event", e) })
	client, err := rp.New(t.Context(), rp.Config{
		Issuer: p.Issuer(), ClientID: oidctest.DefaultClientID, ClientSecret: oidctest.DefaultClientSecret,
		RedirectURL: srv.URL + "/callback", PostLogoutRedirectURL: srv.URL + "/",
		Scopes: []string{"offline_access"}, HTTPClient: p.Client(), Now: clk.Now, Observer: obs,
	})
	if err != nil {
		t.Fatal(err)
	}
	text.Debug("client", "client", client)
	store := session.NewMemoryStore(session.MemoryConfig{Now: clk.Now})
	codec, err := session.NewCookieCodec([]byte(cookieSecret))
	if err != nil {
		t.Fatal(err)
	}
	m, err := middleware.New(middleware.Config{Client: client, Store: store, Cookies: codec, Now: clk.Now, Logger: text, DefaultReturnTo: "/me"})
	if err != nil {
		t.Fatal(err)
	}
	bc, err := backchannel.New(backchannel.Config{Verifier: client, Sessions: store}) // slog.Default()
	if err != nil {
		t.Fatal(err)
	}
	fc, err := frontchannel.New(frontchannel.Config{Issuer: p.Issuer(), Sessions: store, Logger: text, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	if err := m.Mount(mux, middleware.Receivers{BackChannel: bc, FrontChannel: fc}); err != nil {
		t.Fatal(err)
	}
	mux.Handle("GET /me", m.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ss, _ := middleware.SessionFromContext(r.Context())
		for what, v := range map[string]string{"session ID": ss.ID, "sid": ss.SID, "ID token": ss.IDToken,
			"access token": ss.AccessToken, "refresh token": ss.RefreshToken} {
			s.add(what, v)
		}
		text.Info("the application logs its session", "session", ss)
		io.WriteString(w, ss.Subject)
	})))
	mux.Handle("GET /{$}", m.PostLogoutLanding(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	h = mux

	newBrowser := func() *http.Client {
		jar, _ := cookiejar.New(nil)
		return &http.Client{Jar: jar, Transport: recorder{http.DefaultTransport, s}, Timeout: 10 * time.Second}
	}
	get := func(c *http.Client, u string) int {
		t.Helper()
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	post := func(c *http.Client, u string, form url.Values) int {
		t.Helper()
		resp, err := c.PostForm(u, form)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	sidOf := func(c *http.Client) string {
		u, _ := url.Parse(srv.URL)
		for _, ck := range c.Jar.Cookies(u) {
			if id, err := codec.DecodeID("rpkit", ck.Value); ck.Name == "rpkit" && err == nil {
				if ss, err := store.Get(t.Context(), id); err == nil {
					return ss.SID
				}
			}
		}
		t.Fatal("no session")
		return ""
	}

	// Three browsers log in; each is logged out another way.
	rpLogout, back, front := newBrowser(), newBrowser(), newBrowser()
	for _, b := range []*http.Client{rpLogout, back, front} {
		if status := get(b, srv.URL+"/login"); status != http.StatusOK {
			t.Fatalf("login: %d", status)
		}
	}
	clk.Advance(6 * time.Minute) // refreshes
	for _, b := range []*http.Client{rpLogout, back, front} {
		if status := get(b, srv.URL+"/me"); status != http.StatusOK {
			t.Fatalf("/me after refresh: %d", status)
		}
	}

	// Refused requests, each of which logs.
	backSID, frontSID := sidOf(back), sidOf(front)
	logoutToken, err := p.LogoutToken(oidctest.LogoutTokenOptions{Subject: "alice", SID: backSID})
	if err != nil {
		t.Fatal(err)
	}
	s.add("logout token", logoutToken)
	stranger := newBrowser()
	get(stranger, srv.URL+"/callback?state=0123456789abcdef0123456789&code=stolen-code-0123456789") // no login state
	get(stranger, srv.URL+"/frontchannel-logout?"+url.Values{"iss": {"https://evil.example"}, "sid": {frontSID}}.Encode())
	p.SetTokenHook(oidctest.LogoutToken, func(m *oidctest.Mint) { m.Claims["aud"] = "someone-else" })
	forged, _ := p.LogoutToken(oidctest.LogoutTokenOptions{Subject: "alice", SID: backSID})
	s.add("refused logout token", forged)
	post(stranger, srv.URL+"/backchannel-logout", url.Values{"logout_token": {forged}})
	p.SetTokenHook(oidctest.LogoutToken, nil)

	// The three logouts, and a replay.
	if status := post(back, srv.URL+"/backchannel-logout", url.Values{"logout_token": {logoutToken}}); status != http.StatusOK {
		t.Fatalf("back-channel logout: %d", status)
	}
	post(stranger, srv.URL+"/backchannel-logout", url.Values{"logout_token": {logoutToken}})
	if status := get(front, srv.URL+"/frontchannel-logout?"+url.Values{"iss": {p.Issuer()}, "sid": {frontSID}}.Encode()); status != http.StatusOK {
		t.Fatalf("front-channel logout: %d", status)
	}
	post(rpLogout, srv.URL+"/logout", nil)

	// A refused refresh ends a session, with its log line.
	again := newBrowser()
	get(again, srv.URL+"/login")
	get(again, srv.URL+"/me")
	clk.Advance(6 * time.Minute)
	p.SetResponseHook("token", func(r *oidctest.Response) {
		r.Status, r.Body = http.StatusBadRequest, map[string]any{"error": "invalid_grant"}
	})
	get(again, srv.URL+"/me") // ends the session, then a new login fails at the token endpoint

	out := logs.String()
	for _, want := range []string{"login succeeded", "session refreshed", "back-channel logout", "front-channel logout", "session ended", "refused", "refresh failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("the logs lack %q: the scan saw too little", want)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.vals) < 15 {
		t.Fatalf("only %d credentials collected", len(s.vals))
	}
	for v, what := range s.vals {
		if strings.Contains(out, v) || strings.Contains(out, jsonEscaped(v)) {
			t.Errorf("a log line carries the %s", what)
		}
	}
	if t.Failed() {
		t.Logf("logs:\n%s", out)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func jsonEscaped(v string) string {
	b, _ := json.Marshal(v)
	return string(b[1 : len(b)-1])
}
