package frontchannel_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rpkit/rpkit/frontchannel"
	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/session"
)

type env struct {
	p     *oidctest.Provider
	store session.Store
	srv   *httptest.Server
}

func setup(t *testing.T, cfg func(*frontchannel.Config)) *env {
	t.Helper()
	p := oidctest.Start(t, oidctest.Config{})
	store := session.NewMemoryStore(session.MemoryConfig{})
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	c := frontchannel.Config{Issuer: p.Issuer(), Sessions: store}
	if cfg != nil {
		cfg(&c)
	}
	fc, err := frontchannel.New(c)
	if err != nil {
		t.Fatal(err)
	}
	h = fc
	if err := p.AddClient(oidctest.Client{ID: oidctest.DefaultClientID, Secret: oidctest.DefaultClientSecret,
		FrontchannelLogoutURI: srv.URL + "/frontchannel-logout"}); err != nil {
		t.Fatal(err)
	}
	return &env{p: p, store: store, srv: srv}
}

func (e *env) add(t *testing.T, sid string) string {
	t.Helper()
	s := &session.Session{Issuer: e.p.Issuer(), Subject: "alice", SID: sid, Expiry: time.Now().Add(time.Hour)}
	if err := e.store.Create(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	return s.ID
}

func (e *env) alive(t *testing.T, id string) bool {
	_, err := e.store.Get(t.Context(), id)
	return err == nil
}

// get requests u with no cookie at all, as a browser blocking third-party
// cookies in the provider's iframe would.
func get(t *testing.T, u string) *http.Response {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func checkHeaders(t *testing.T, resp *http.Response, issuer string) {
	t.Helper()
	h := resp.Header
	if h.Get("Cache-Control") != "no-cache, no-store" || h.Get("Pragma") != "no-cache" {
		t.Errorf("cache headers: %q %q", h.Get("Cache-Control"), h.Get("Pragma"))
	}
	if h.Get("X-Frame-Options") != "" {
		t.Errorf("X-Frame-Options %q forbids the provider's iframe", h.Get("X-Frame-Options"))
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors "+issuer) {
		t.Errorf("CSP %q does not let the provider frame the page", csp)
	}
}

func TestEndsSessionBySIDWithoutCookies(t *testing.T) {
	e := setup(t, nil)
	id, other := e.add(t, "sid-1"), e.add(t, "sid-2")
	u, err := e.p.FrontchannelLogoutURL(oidctest.DefaultClientID, "sid-1")
	if err != nil {
		t.Fatal(err)
	}
	resp := get(t, u)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	checkHeaders(t, resp, e.p.Issuer())
	if e.alive(t, id) || !e.alive(t, other) {
		t.Fatalf("alive after logout of sid-1: sid-1 %v, sid-2 %v", e.alive(t, id), e.alive(t, other))
	}
	// Again, or an unknown sid: still 200.
	if resp := get(t, u); resp.StatusCode != 200 {
		t.Fatalf("second request: %d", resp.StatusCode)
	}
	// A login to the ended provider session that completes afterwards (its
	// code exchange raced the logout) creates no session.
	late := &session.Session{Issuer: e.p.Issuer(), Subject: "alice", SID: "sid-1", Expiry: time.Now().Add(time.Hour)}
	if err := e.store.Create(t.Context(), late); !errors.Is(err, session.ErrLoggedOut) {
		t.Fatalf("Create for the logged-out sid = %v, want ErrLoggedOut", err)
	}
}

func TestRefusals(t *testing.T) {
	tests := []struct {
		name  string
		cfg   func(*frontchannel.Config)
		query func(iss string) url.Values
		want  int
	}{
		{"wrong iss", nil, func(string) url.Values { return url.Values{"iss": {"https://evil.example"}, "sid": {"sid-1"}} }, 400},
		{"iss with trailing slash", nil, func(iss string) url.Values { return url.Values{"iss": {iss + "/"}, "sid": {"sid-1"}} }, 400},
		{"missing sid", nil, func(iss string) url.Values { return url.Values{"iss": {iss}} }, 400},
		{"missing iss", nil, func(string) url.Values { return url.Values{"sid": {"sid-1"}} }, 400},
		{"repeated sid", nil, func(iss string) url.Values { return url.Values{"iss": {iss}, "sid": {"sid-1", "sid-2"}} }, 400},
		{"wrong iss with the missing-iss quirk on", func(c *frontchannel.Config) { c.AllowMissingIssuer = true },
			func(string) url.Values { return url.Values{"iss": {"https://evil.example"}, "sid": {"sid-1"}} }, 400},
		{"missing sid, sid optional, no cookie", func(c *frontchannel.Config) { c.SIDOptional = true },
			func(iss string) url.Values { return url.Values{"iss": {iss}} }, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, tc.cfg)
			id := e.add(t, "sid-1")
			resp := get(t, e.srv.URL+"/frontchannel-logout?"+tc.query(e.p.Issuer()).Encode())
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			checkHeaders(t, resp, e.p.Issuer())
			if !e.alive(t, id) {
				t.Fatal("a refused request ended the session")
			}
		})
	}
}

// TestEntraWithoutIss: with the quirk on, a request without iss is taken
// as the configured issuer's.
func TestEntraWithoutIss(t *testing.T) {
	e := setup(t, func(c *frontchannel.Config) { c.AllowMissingIssuer = true })
	id := e.add(t, "sid-1")
	if resp := get(t, e.srv.URL+"/frontchannel-logout?sid=sid-1"); resp.StatusCode != 200 || e.alive(t, id) {
		t.Fatalf("status %d, alive %v", resp.StatusCode, e.alive(t, id))
	}
}

// TestCookieFallback: without sid (and SIDOptional), the session of the
// cookie the browser sent is ended.
func TestCookieFallback(t *testing.T) {
	e := setup(t, func(c *frontchannel.Config) {
		c.SIDOptional = true
		c.SessionID = func(r *http.Request) (string, bool) {
			ck, err := r.Cookie("session")
			if err != nil {
				return "", false
			}
			return ck.Value, true
		}
	})
	id := e.add(t, "sid-1")
	request := func(dest string) int {
		req, _ := http.NewRequest("GET", e.srv.URL+"/frontchannel-logout", nil)
		req.AddCookie(&http.Cookie{Name: "session", Value: id})
		req.Header.Set("Sec-Fetch-Dest", dest)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// A top-level navigation (a link on any site) ends nothing.
	if status := request("document"); status != 200 || !e.alive(t, id) {
		t.Fatalf("top-level navigation: status %d, alive %v", status, e.alive(t, id))
	}
	if status := request("iframe"); status != 200 || e.alive(t, id) {
		t.Fatalf("iframe: status %d, alive %v", status, e.alive(t, id))
	}
}

type downStore struct{ session.Store }

func (downStore) Logout(context.Context, session.Logout) (int, error) {
	return 0, errors.New("connection refused")
}

func TestStoreDown(t *testing.T) {
	p := oidctest.Start(t, oidctest.Config{})
	h, err := frontchannel.New(frontchannel.Config{Issuer: p.Issuer(), Sessions: downStore{session.NewMemoryStore(session.MemoryConfig{})}})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/frontchannel-logout?"+url.Values{"iss": {p.Issuer()}, "sid": {"s"}}.Encode(), nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d", rec.Code)
	}
}

// TestFrameableDespiteOuterMiddleware: an X-Frame-Options set by an outer
// handler (a common security-headers middleware) is removed, or the
// provider's iframe would be blocked.
func TestFrameableDespiteOuterMiddleware(t *testing.T) {
	p := oidctest.Start(t, oidctest.Config{})
	fc, err := frontchannel.New(frontchannel.Config{Issuer: p.Issuer(), Sessions: session.NewMemoryStore(session.MemoryConfig{})})
	if err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Security-Policy", "frame-ancestors 'none'")
		fc.ServeHTTP(w, r)
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/frontchannel-logout?"+url.Values{"iss": {p.Issuer()}, "sid": {"s"}}.Encode(), nil))
	if rec.Code != 200 || rec.Header().Get("X-Frame-Options") != "" || rec.Header().Get("Content-Security-Policy") != "default-src 'none'; frame-ancestors "+p.Issuer() {
		t.Fatalf("%d %v", rec.Code, rec.Header())
	}
}

func TestMethodsAndConfig(t *testing.T) {
	e := setup(t, nil)
	resp, err := http.Post(e.srv.URL+"/frontchannel-logout", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
	if _, err := frontchannel.New(frontchannel.Config{Issuer: e.p.Issuer()}); err == nil {
		t.Fatal("no Sessions accepted")
	}
	if _, err := frontchannel.New(frontchannel.Config{Issuer: e.p.Issuer(), Sessions: e.store, FrameAncestors: []string{"https://x; script-src *"}}); err == nil {
		t.Fatal("a CSP injection accepted as frame ancestor")
	}
	// Sessions needs only Logout; the cookie fallback needs Delete too.
	logoutOnly := struct{ frontchannel.Sessions }{e.store}
	if _, err := frontchannel.New(frontchannel.Config{Issuer: e.p.Issuer(), Sessions: logoutOnly}); err != nil {
		t.Fatalf("Sessions with Logout only: %v", err)
	}
	sessionID := func(*http.Request) (string, bool) { return "", false }
	if _, err := frontchannel.New(frontchannel.Config{Issuer: e.p.Issuer(), Sessions: logoutOnly, SessionID: sessionID}); err == nil {
		t.Fatal("SessionID accepted with Sessions that cannot Delete")
	}
	b, _ := json.Marshal(frontchannel.Registration("https://app.example/frontchannel-logout"))
	if string(b) != `{"frontchannel_logout_uri":"https://app.example/frontchannel-logout","frontchannel_logout_session_required":true}` {
		t.Fatalf("%s", b)
	}
}

// lockedBuffer collects log output written by the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// take returns what was logged since the last call.
func (b *lockedBuffer) take() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	b.buf.Reset()
	return s
}

// TestLogsAreCapped: one unauthenticated GET with huge iss, sid or method
// must not write a huge log line. Values the handler logs are cut at 64
// bytes; an iss or sid over 4 KiB is refused before the store sees it.
func TestLogsAreCapped(t *testing.T) {
	logs := &lockedBuffer{}
	e := setup(t, func(c *frontchannel.Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	huge := strings.Repeat("s", 500<<10)
	long := strings.Repeat("s", 3000) // under the 4 KiB limit: accepted, logged cut
	tests := []struct {
		name   string
		method string
		query  url.Values
		want   int
		value  string // must not appear whole in the log
	}{
		{"huge sid", "GET", url.Values{"iss": {e.p.Issuer()}, "sid": {huge}}, 400, huge},
		{"huge iss", "GET", url.Values{"iss": {e.p.Issuer() + huge}, "sid": {"sid-1"}}, 400, huge},
		{"long sid", "GET", url.Values{"iss": {e.p.Issuer()}, "sid": {long}}, 200, long},
		{"long wrong iss", "GET", url.Values{"iss": {"https://" + long}, "sid": {"sid-1"}}, 400, long},
		{"long multibyte sid", "GET", url.Values{"iss": {e.p.Issuer()}, "sid": {"x" + strings.Repeat("é", 1500)}}, 200, "x" + strings.Repeat("é", 1500)},
		{"long method", strings.Repeat("M", 3000), url.Values{"iss": {e.p.Issuer()}, "sid": {"sid-1"}}, 405, strings.Repeat("M", 3000)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := e.add(t, "sid-1")
			req, err := http.NewRequest(tc.method, e.srv.URL+"/frontchannel-logout?"+tc.query.Encode(), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if !e.alive(t, id) {
				t.Fatal("the request ended another session")
			}
			out := logs.take()
			if out == "" {
				t.Fatal("nothing logged")
			}
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if len(line) > 512 {
					t.Errorf("log line of %d bytes: %.200s…", len(line), line)
				}
			}
			// slog escapes invalid UTF-8 as \x.. (text) or U+FFFD (JSON).
			if !utf8.ValidString(out) || strings.Contains(out, `\x`) || strings.ContainsRune(out, utf8.RuneError) {
				t.Errorf("a value cut inside a character: %q", out)
			}
			if strings.Contains(out, tc.value[:65]) {
				t.Errorf("the log holds more than 64 bytes of the request's value: %.300s", out)
			}
		})
	}
}

// TestHEADEndsNothing: a HEAD (a link checker, a prefetch) is answered 405
// with Allow: GET, and the session lives on.
func TestHEADEndsNothing(t *testing.T) {
	e := setup(t, nil)
	id := e.add(t, "sid-1")
	u, err := e.p.FrontchannelLogoutURL(oidctest.DefaultClientID, "sid-1")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Head(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET" {
		t.Fatalf("HEAD: status %d, Allow %q; want 405, GET", resp.StatusCode, resp.Header.Get("Allow"))
	}
	checkHeaders(t, resp, e.p.Issuer())
	if !e.alive(t, id) {
		t.Fatal("HEAD ended the session")
	}
	if resp := get(t, u); resp.StatusCode != 200 || e.alive(t, id) {
		t.Fatalf("GET after HEAD: status %d, alive %v", resp.StatusCode, e.alive(t, id))
	}
}
