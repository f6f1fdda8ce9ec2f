package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
)

// startService runs the service as `go run` would, with env as its
// environment (APP_URL is set to a free loopback port), and returns it and
// its base URL.
func startService(t *testing.T, env map[string]string, log *slog.Logger) (*service, string) {
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
	cfg, err := configFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if log == nil {
		log = discard()
	}
	s, err := newService(t.Context(), cfg, log)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, s.handler()) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		s.close()
	})
	return s, base
}

// startWithProvider starts an oidctest provider and the service pointed at
// it, and registers the service's back-channel endpoint for the client.
func startWithProvider(t *testing.T) (*oidctest.Provider, *service, string) {
	t.Helper()
	p := oidctest.Start(t, oidctest.Config{})
	s, base := startService(t, map[string]string{
		"OIDC_ISSUER":        p.Issuer(),
		"OIDC_CLIENT_ID":     oidctest.DefaultClientID,
		"OIDC_CLIENT_SECRET": oidctest.DefaultClientSecret,
	}, nil)
	if err := p.AddClient(oidctest.Client{
		ID:                   oidctest.DefaultClientID,
		Secret:               oidctest.DefaultClientSecret,
		BackchannelLogoutURI: base + "/backchannel-logout",
	}); err != nil {
		t.Fatal(err)
	}
	return p, s, base
}

type result struct {
	status int
	header http.Header
	body   string
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

func do(t *testing.T, method, u, contentType, body string) result {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{resp.StatusCode, resp.Header, string(b)}
}

// createSession opens an API session and returns its ID.
func createSession(t *testing.T, base, sub, sid string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"sub": sub, "sid": sid})
	r := do(t, "POST", base+"/sessions", "application/json", string(body))
	var out struct{ ID string }
	if err := json.Unmarshal([]byte(r.body), &out); r.status != http.StatusCreated || err != nil || out.ID == "" {
		t.Fatalf("POST /sessions %s: %d %s", body, r.status, r.body)
	}
	if loc := r.header.Get("Location"); loc != "/sessions/"+out.ID {
		t.Fatalf("POST /sessions: Location %q", loc)
	}
	return out.ID
}

// sessions returns GET /sessions by ID.
func sessions(t *testing.T, base string) map[string]sessionView {
	t.Helper()
	r := do(t, "GET", base+"/sessions", "", "")
	var list []sessionView
	if err := json.Unmarshal([]byte(r.body), &list); r.status != http.StatusOK || err != nil || list == nil {
		t.Fatalf("GET /sessions: %d %s", r.status, r.body)
	}
	out := map[string]sessionView{}
	for _, s := range list {
		out[s.ID] = s
	}
	return out
}

// wantSessions fails unless exactly the sessions ids are left.
func wantSessions(t *testing.T, base string, ids ...string) {
	t.Helper()
	got := sessions(t, base)
	var have []string
	for id := range got {
		have = append(have, id)
	}
	slices.Sort(have)
	ids = slices.Sorted(slices.Values(ids))
	if !slices.Equal(have, ids) {
		t.Fatalf("sessions left: %v, want %v", have, ids)
	}
	for _, id := range ids {
		if r := do(t, "GET", base+"/sessions/"+id, "", ""); r.status != http.StatusOK {
			t.Fatalf("GET /sessions/%s: %d", id, r.status)
		}
	}
}

// postLogout mints a logout token at p and has p post it to the service.
func postLogout(t *testing.T, p *oidctest.Provider, base string, o oidctest.LogoutTokenOptions) result {
	t.Helper()
	tok, err := p.LogoutToken(o)
	if err != nil {
		t.Fatal(err)
	}
	return postToken(t, p, base, tok)
}

func postToken(t *testing.T, p *oidctest.Provider, base, tok string) result {
	t.Helper()
	resp, err := p.PostLogoutToken(t.Context(), base+"/backchannel-logout", tok)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{resp.StatusCode, resp.Header, string(b)}
}

// TestLogoutRevokesBySIDThenBySubject: a token with a sid revokes exactly
// the sessions of that sid; a token with only a sub revokes every session
// of the subject; other subjects' sessions stay.
func TestLogoutRevokesBySIDThenBySubject(t *testing.T) {
	p, _, base := startWithProvider(t)
	a1 := createSession(t, base, "alice", "A")
	a2 := createSession(t, base, "alice", "A")
	b := createSession(t, base, "alice", "B")
	c := createSession(t, base, "bob", "C")
	wantSessions(t, base, a1, a2, b, c)

	for _, step := range []struct {
		name  string
		token oidctest.LogoutTokenOptions
		left  []string
	}{
		{"sid A with sub", oidctest.LogoutTokenOptions{Subject: "alice", SID: "A"}, []string{b, c}},
		{"sid A again (nothing left to revoke)", oidctest.LogoutTokenOptions{SID: "A"}, []string{b, c}},
		{"unknown sid of bob", oidctest.LogoutTokenOptions{Subject: "bob", SID: "Z"}, []string{b, c}},
		{"sub alice only", oidctest.LogoutTokenOptions{Subject: "alice"}, []string{c}},
		{"sid C only", oidctest.LogoutTokenOptions{SID: "C"}, nil},
	} {
		r := postLogout(t, p, base, step.token)
		if r.status != http.StatusOK || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%s: %d %s", step.name, r.status, r.body)
		}
		wantSessions(t, base, step.left...)
	}
	// The development-provider route exists only without OIDC_ISSUER.
	if r := do(t, "POST", base+"/dev/logout?sid=A", "", ""); r.status != http.StatusNotFound {
		t.Fatalf("/dev/logout with a real provider: %d", r.status)
	}
}

// TestProviderInitiatedLogout: a provider session ends at the provider,
// which posts to the registered back-channel URI; the API sessions of that
// sid end.
func TestProviderInitiatedLogout(t *testing.T) {
	p, _, base := startWithProvider(t)
	auth := url.Values{
		"response_type": {"code"},
		"client_id":     {oidctest.DefaultClientID},
		"redirect_uri":  {"http://127.0.0.1/callback"},
		"scope":         {"openid"},
		"state":         {"state-123"},
	}
	if _, err := p.Authorize(t.Context(), p.URL("/authorize?"+auth.Encode())); err != nil {
		t.Fatal(err)
	}
	ps := p.Sessions()
	if len(ps) != 1 {
		t.Fatalf("provider sessions: %+v", ps)
	}
	mine := createSession(t, base, ps[0].Subject, ps[0].SID)
	other := createSession(t, base, ps[0].Subject, "another-sid")

	results, err := p.BackchannelLogout(t.Context(), ps[0].SID)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || results[0].Err != nil || results[0].Status != http.StatusOK || results[0].URI != base+"/backchannel-logout" {
		t.Fatalf("back-channel results: %+v", results)
	}
	wantSessions(t, base, other)
	if r := do(t, "GET", base+"/sessions/"+mine, "", ""); r.status != http.StatusNotFound {
		t.Fatalf("revoked session: %d", r.status)
	}
}

// TestInvalidLogoutTokens: a token or request that breaks a rule answers
// 400 with the specification's JSON error and revokes nothing.
func TestInvalidLogoutTokens(t *testing.T) {
	p, _, base := startWithProvider(t)
	a := createSession(t, base, "alice", "A")
	b := createSession(t, base, "alice", "B")
	now := time.Now()

	for _, tc := range []struct {
		name, want string // want: in error_description, naming the rule
		hook       func(*oidctest.Mint)
	}{
		{"wrong aud", "audience", func(m *oidctest.Mint) { m.Claims["aud"] = "another-client" }},
		{"wrong iss", "issuer", func(m *oidctest.Mint) { m.Claims["iss"] = "https://op.example" }},
		{"expired", "expired", func(m *oidctest.Mint) {
			m.Claims["iat"], m.Claims["exp"] = now.Add(-time.Hour).Unix(), now.Add(-30*time.Minute).Unix()
		}},
		{"no exp, iat too old", "expired", func(m *oidctest.Mint) {
			delete(m.Claims, "exp")
			m.Claims["iat"] = now.Add(-10 * time.Minute).Unix()
		}},
		{"iat in the future", "iat", func(m *oidctest.Mint) {
			m.Claims["iat"], m.Claims["exp"] = now.Add(time.Hour).Unix(), now.Add(2*time.Hour).Unix()
		}},
		{"alg none", "algorithm", func(m *oidctest.Mint) { m.Header = map[string]any{"alg": "none"} }},
		{"HS256 with the client secret", "algorithm", func(m *oidctest.Mint) { m.Header["alg"] = "HS256" }},
		{"typ of an access token", "type", func(m *oidctest.Mint) { m.Header["typ"] = "at+jwt" }},
		{"nonce", "nonce", func(m *oidctest.Mint) { m.Claims["nonce"] = "n-0S6_WzA2Mj" }},
		{"no events", "event", func(m *oidctest.Mint) { delete(m.Claims, "events") }},
		{"event is not an object", "event", func(m *oidctest.Mint) {
			m.Claims["events"] = map[string]any{"http://schemas.openid.net/event/backchannel-logout": "yes"}
		}},
		{"no jti", "jti", func(m *oidctest.Mint) { delete(m.Claims, "jti") }},
		{"neither sub nor sid", "neither sub nor sid", func(m *oidctest.Mint) { delete(m.Claims, "sub"); delete(m.Claims, "sid") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p.SetTokenHook(oidctest.LogoutToken, tc.hook)
			defer p.SetTokenHook(oidctest.LogoutToken, nil)
			r := postLogout(t, p, base, oidctest.LogoutTokenOptions{Subject: "alice", SID: "A"})
			var e struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			json.Unmarshal([]byte(r.body), &e)
			if r.status != http.StatusBadRequest || e.Error != "invalid_request" || !strings.Contains(e.Description, tc.want) ||
				r.header.Get("Cache-Control") != "no-store" {
				t.Fatalf("%d %s", r.status, r.body)
			}
			wantSessions(t, base, a, b)
		})
	}

	// Requests that are not a form post of one logout_token.
	tok, err := p.LogoutToken(oidctest.LogoutTokenOptions{Subject: "alice", SID: "A"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, method, contentType, body string
		want                            int
	}{
		{"GET", "GET", "", "", http.StatusMethodNotAllowed},
		{"JSON body", "POST", "application/json", `{"logout_token":"` + tok + `"}`, http.StatusBadRequest},
		{"no logout_token", "POST", "application/x-www-form-urlencoded", "token=" + tok, http.StatusBadRequest},
		{"two logout_tokens", "POST", "application/x-www-form-urlencoded", "logout_token=" + tok + "&logout_token=" + tok, http.StatusBadRequest},
		{"not a JWT", "POST", "application/x-www-form-urlencoded", "logout_token=not-a-jwt", http.StatusBadRequest},
	} {
		if r := do(t, tc.method, base+"/backchannel-logout", tc.contentType, tc.body); r.status != tc.want {
			t.Errorf("%s: %d %s", tc.name, r.status, r.body)
		}
	}
	wantSessions(t, base, a, b)
}

// TestLogoutTokenOfUnknownKey: tokens no key of the provider verifies.
// One naming the provider's own key with a signature it does not verify is
// invalid (400, signature), however often it comes. One naming an unknown
// key makes the service refetch the provider's keys at once, and is
// refused (400) when the new set lacks it too. The next unknown key,
// moments later, finds the keys refetched too recently
// (rp.Config.JWKSRefetchInterval): it may be signed by a key rotated in
// meanwhile, so the provider is told to retry (503 with Retry-After).
// None revokes anything.
func TestLogoutTokenOfUnknownKey(t *testing.T) {
	p, _, base := startWithProvider(t)
	a := createSession(t, base, "alice", "A")
	foreign, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	defer p.SetTokenHook(oidctest.LogoutToken, nil)
	for i, want := range []struct {
		kid                string // "": the provider's EC key
		status             int
		error, description string
		retryAfter         string
	}{
		{"", http.StatusBadRequest, "invalid_request", "signature", ""},
		{"", http.StatusBadRequest, "invalid_request", "signature", ""},
		{"rotated-1", http.StatusBadRequest, "invalid_request", "signature", ""},
		{"rotated-2", http.StatusServiceUnavailable, "temporarily_unavailable", "rate-limited", "10"},
	} {
		p.SetTokenHook(oidctest.LogoutToken, func(m *oidctest.Mint) {
			m.Header["alg"], m.Key, m.Header["kid"] = "ES256", foreign, want.kid
			if want.kid == "" {
				m.Header["kid"] = p.SigningKeyIDs()[1] // the current EC key
			}
		})
		r := postLogout(t, p, base, oidctest.LogoutTokenOptions{Subject: "alice", SID: "A"})
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		json.Unmarshal([]byte(r.body), &e)
		if r.status != want.status || e.Error != want.error || !strings.Contains(e.Description, want.description) ||
			r.header.Get("Cache-Control") != "no-store" || r.header.Get("Retry-After") != want.retryAfter {
			t.Fatalf("token %d: %d %v %s, want %d %s", i, r.status, r.header, r.body, want.status, want.description)
		}
		wantSessions(t, base, a)
	}
}

// TestReplayedLogoutToken: the same token a second time is refused, and a
// session opened in between survives it.
func TestReplayedLogoutToken(t *testing.T) {
	p, _, base := startWithProvider(t)
	createSession(t, base, "alice", "A")
	tok, err := p.LogoutToken(oidctest.LogoutTokenOptions{Subject: "alice", SID: "A"})
	if err != nil {
		t.Fatal(err)
	}
	if r := postToken(t, p, base, tok); r.status != http.StatusOK {
		t.Fatalf("first post: %d %s", r.status, r.body)
	}
	wantSessions(t, base)
	again := createSession(t, base, "alice", "A")
	r := postToken(t, p, base, tok)
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "replay") {
		t.Fatalf("replayed post: %d %s", r.status, r.body)
	}
	wantSessions(t, base, again)
}

func TestCreateSessionValidation(t *testing.T) {
	_, _, base := startWithProvider(t)
	const jsonType = "application/json"
	for _, tc := range []struct {
		name, contentType, body string
		want                    int
	}{
		{"sub and sid", jsonType, `{"sub":"alice","sid":"A"}`, http.StatusCreated},
		{"sid only", jsonType, `{"sid":"A"}`, http.StatusCreated},
		{"charset parameter", jsonType + "; charset=utf-8", ` {"sid":"A","sub":"bob"} ` + "\n", http.StatusCreated},
		{"no sid", jsonType, `{"sub":"alice"}`, http.StatusBadRequest},
		{"empty sid", jsonType, `{"sub":"alice","sid":""}`, http.StatusBadRequest},
		{"null sid", jsonType, `{"sub":"alice","sid":null}`, http.StatusBadRequest},
		{"numeric sid", jsonType, `{"sub":"alice","sid":7}`, http.StatusBadRequest},
		{"numeric sub", jsonType, `{"sub":7,"sid":"A"}`, http.StatusBadRequest},
		{"null sub", jsonType, `{"sub":null,"sid":"A"}`, http.StatusBadRequest},
		{"object sub", jsonType, `{"sub":{"id":"alice"},"sid":"A"}`, http.StatusBadRequest},
		{"unknown member", jsonType, `{"sub":"alice","sid":"A","admin":true}`, http.StatusBadRequest},
		{"member in another case", jsonType, `{"SID":"A"}`, http.StatusBadRequest},
		{"empty body", jsonType, ``, http.StatusBadRequest},
		{"null", jsonType, `null`, http.StatusBadRequest},
		{"array", jsonType, `[{"sid":"A"}]`, http.StatusBadRequest},
		{"not JSON", jsonType, `sid=A`, http.StatusBadRequest},
		{"truncated", jsonType, `{"sid":"A"`, http.StatusBadRequest},
		{"trailing data", jsonType, `{"sid":"A"}{"sid":"B"}`, http.StatusBadRequest},
		{"trailing garbage", jsonType, `{"sid":"A"} x`, http.StatusBadRequest},
		{"too large", jsonType, `{"sid":"` + strings.Repeat("A", maxSessionBody) + `"}`, http.StatusRequestEntityTooLarge},
		{"too large by trailing space", jsonType, `{"sid":"A"}` + strings.Repeat(" ", maxSessionBody), http.StatusRequestEntityTooLarge},
		{"form content type", "application/x-www-form-urlencoded", `{"sid":"A"}`, http.StatusUnsupportedMediaType},
		{"no content type", "", `{"sid":"A"}`, http.StatusUnsupportedMediaType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(sessions(t, base))
			r := do(t, "POST", base+"/sessions", tc.contentType, tc.body)
			if r.status != tc.want || r.header.Get("Content-Type") != "application/json" {
				t.Fatalf("%d %s", r.status, r.body)
			}
			var out map[string]string
			if err := json.Unmarshal([]byte(r.body), &out); err != nil {
				t.Fatalf("body %q: %v", r.body, err)
			}
			after := len(sessions(t, base))
			if tc.want == http.StatusCreated {
				if out["id"] == "" || after != before+1 {
					t.Fatalf("created %v; sessions %d → %d", out, before, after)
				}
			} else if out["error"] == "" || after != before {
				t.Fatalf("refused with %v; sessions %d → %d", out, before, after)
			}
		})
	}

	// A session reads back whole; an unknown ID is 404.
	id := createSession(t, base, "carol", "S-1")
	r := do(t, "GET", base+"/sessions/"+id, "", "")
	var got apiSession
	if err := json.Unmarshal([]byte(r.body), &got); err != nil || r.status != http.StatusOK ||
		got.ID != id || got.Subject != "carol" || got.SID != "S-1" || !strings.HasPrefix(got.Issuer, "http://127.0.0.1:") || got.Created.IsZero() {
		t.Fatalf("GET /sessions/%s: %d %s", id, r.status, r.body)
	}
	if r := do(t, "GET", base+"/sessions/no-such-id", "", ""); r.status != http.StatusNotFound || !strings.Contains(r.body, `"error"`) {
		t.Fatalf("unknown session: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", base+"/healthz", "", ""); r.status != http.StatusOK {
		t.Fatalf("/healthz: %d", r.status)
	}
}

// TestDevLogout: with no provider configured, POST /dev/logout has the
// development provider post logout tokens to the service.
func TestDevLogout(t *testing.T) {
	var logs syncBuffer
	s, base := startService(t, nil, slog.New(slog.NewTextHandler(&logs, nil)))
	if s.dev == nil || s.cfg.Issuer != s.dev.Issuer() || s.cfg.ClientID != oidctest.DefaultClientID {
		t.Fatalf("development provider: %+v", s.cfg)
	}
	a := createSession(t, base, "alice", "A")
	b := createSession(t, base, "alice", "B")
	c := createSession(t, base, "bob", "C")

	for _, step := range []struct {
		query string
		want  int
		left  []string
	}{
		{"", http.StatusBadRequest, []string{a, b, c}},
		{"?sid=A", http.StatusOK, []string{b, c}},
		{"?sid=unknown", http.StatusOK, []string{b, c}},
		{"?sub=alice", http.StatusOK, []string{c}},
		{"?sid=C&sub=bob", http.StatusOK, nil},
	} {
		if r := do(t, "POST", base+"/dev/logout"+step.query, "", ""); r.status != step.want {
			t.Fatalf("POST /dev/logout%s: %d %s", step.query, r.status, r.body)
		}
		wantSessions(t, base, step.left...)
	}
	if r := do(t, "GET", base+"/dev/logout?sid=A", "", ""); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("GET /dev/logout: %d", r.status)
	}
	// The token for sid A carried alice, whom the table knew; no token is
	// ever logged.
	out := logs.String()
	if !regexp.MustCompile(`msg="back-channel logout: API sessions revoked" token.iss=` + regexp.QuoteMeta(s.cfg.Issuer) + ` token.sub=alice token.sid_hash=[0-9a-f]{12} token.jti=\S+ revoked=1`).MatchString(out) {
		t.Errorf("no revocation log for sid A in:\n%s", out)
	}
	if strings.Contains(out, "sid=A") {
		t.Errorf("a log line carries a sid:\n%s", out)
	}
	if strings.Contains(out, "eyJ") {
		t.Errorf("a token was logged:\n%s", out)
	}
}

// TestBackchannelLogoutOtherMethods: the back-channel endpoint answers
// other methods itself — 405 with Allow: POST, no-store and the
// specification's JSON error — not with ServeMux's plain-text 405.
func TestBackchannelLogoutOtherMethods(t *testing.T) {
	_, _, base := startWithProvider(t)
	for _, method := range []string{"GET", "PUT", "DELETE"} {
		r := do(t, method, base+"/backchannel-logout", "", "")
		var e struct {
			Error string `json:"error"`
		}
		json.Unmarshal([]byte(r.body), &e)
		if r.status != http.StatusMethodNotAllowed || r.header.Get("Cache-Control") != "no-store" ||
			r.header.Get("Allow") != http.MethodPost || r.header.Get("Content-Type") != "application/json" ||
			e.Error != "invalid_request" {
			t.Errorf("%s /backchannel-logout: %d %v %s", method, r.status, r.header, r.body)
		}
	}
}

// TestRun runs the program as main does, with the development provider, on
// a free loopback port (APP_URL; the defaults are TestConfigFromEnv's),
// uses it and stops it through its context.
func TestRun(t *testing.T) {
	base, stop := startRun(t)
	createSession(t, base, "alice", "A")
	b := createSession(t, base, "alice", "B")
	if r := do(t, "POST", base+"/dev/logout?sid=A", "", ""); r.status != http.StatusOK {
		t.Fatalf("/dev/logout: %d %s", r.status, r.body)
	}
	wantSessions(t, base, b)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// startRun starts run with only APP_URL set, on a loopback port that was
// free a moment before, and returns its base URL once /healthz answers, and
// stop, which ends run's context and returns its error (also called when
// the test ends). run listens on the port itself, so another process may
// take it in between: run then fails with EADDRINUSE and startRun tries
// another port.
func startRun(t *testing.T) (base string, stop func() error) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		base = "http://" + ln.Addr().String()
		ln.Close()
		env := map[string]string{"APP_URL": base}
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() { errc <- run(ctx, discard(), func(k string) string { return env[k] }) }()
		err = waitHealthy(base, errc, 10*time.Second)
		if err == nil {
			stop = sync.OnceValue(func() error {
				cancel()
				select {
				case err := <-errc:
					if err != nil {
						return fmt.Errorf("run after shutdown: %w", err)
					}
					return nil
				case <-time.After(10 * time.Second):
					return errors.New("run did not return after its context ended")
				}
			})
			t.Cleanup(func() { stop() })
			return base, stop
		}
		cancel()
		if errors.Is(err, syscall.EADDRINUSE) && attempt < 5 {
			t.Logf("%s was taken meanwhile (%v); trying another port", base, err)
			continue
		}
		t.Fatalf("run on %s: %v", base, err)
	}
}

// waitHealthy polls base/healthz until it answers 200, run (errc) returns
// or timeout passes. Each poll gives up after a second: should another
// process hold the port, it may accept and never answer.
func waitHealthy(base string, errc <-chan error, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(timeout); ; time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-errc:
			return fmt.Errorf("run returned early: %w", err)
		default:
		}
		if resp, err := client.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("/healthz did not answer within %s", timeout)
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	for _, tc := range []struct {
		env     map[string]string
		wantErr bool
	}{
		{map[string]string{}, false},
		{map[string]string{"APP_URL": "https://api.example.com/svc/", "LISTEN_ADDR": ":9000"}, false},
		{map[string]string{"OIDC_ISSUER": "https://op.example", "OIDC_CLIENT_ID": "api"}, false},
		{map[string]string{"OIDC_ISSUER": "https://op.example"}, true},
		{map[string]string{"APP_URL": "ftp://x"}, true},
		{map[string]string{"APP_URL": "127.0.0.1:8081"}, true},
		{map[string]string{"APP_URL": "http://127.0.0.1:8081/?x=1"}, true},
	} {
		_, err := configFromEnv(func(k string) string { return tc.env[k] })
		if (err != nil) != tc.wantErr {
			t.Errorf("env %v: err = %v", tc.env, err)
		}
	}
	cfg, _ := configFromEnv(func(string) string { return "" })
	if cfg.Issuer != "" || cfg.ClientID != oidctest.DefaultClientID || cfg.ClientSecret != oidctest.DefaultClientSecret ||
		cfg.AppURL.String() != "http://127.0.0.1:8081" || cfg.ListenAddr != "127.0.0.1:8081" ||
		cfg.url("/backchannel-logout") != "http://127.0.0.1:8081/backchannel-logout" {
		t.Fatalf("defaults: %+v", cfg)
	}
	cfg, _ = configFromEnv(func(k string) string {
		return map[string]string{"OIDC_ISSUER": "https://op.example", "OIDC_CLIENT_ID": "api", "APP_URL": "https://api.example.com/svc/"}[k]
	})
	if cfg.ClientSecret != "" || cfg.ListenAddr != "api.example.com:443" || cfg.url("/backchannel-logout") != "https://api.example.com/svc/backchannel-logout" {
		t.Fatalf("with a real provider: %+v", cfg)
	}
}

// TestTable: revocation follows the sid-else-sub rule and leaves the
// indexes exact, also under concurrent use.
func TestTable(t *testing.T) {
	tb := newTable(nil)
	const iss, other = "https://op.example", "https://other.example"
	a1 := tb.create(iss, "alice", "A")
	tb.create(iss, "alice", "A")
	tb.create(iss, "alice", "B")
	tb.create(iss, "", "N") // no subject
	tb.create(other, "alice", "A")
	if got := tb.subjectOf(iss, "A"); got != "alice" {
		t.Fatalf("subjectOf A: %q", got)
	}
	if got := tb.subjectOf(iss, "N"); got != "" {
		t.Fatalf("subjectOf N: %q", got)
	}
	for _, step := range []struct {
		iss, sid, sub string
		want, left    int
	}{
		{iss, "", "", 0, 5},
		{iss, "A", "bob", 2, 3}, // by sid, whatever the sub
		{iss, "A", "", 0, 3},
		{iss, "", "alice", 1, 2}, // B; not the other issuer's
		{iss, "N", "", 1, 1},
		{other, "", "alice", 1, 0},
	} {
		if n := tb.revoke(step.iss, step.sid, step.sub); n != step.want || len(tb.list()) != step.left {
			t.Fatalf("revoke(%q, %q, %q) = %d, %d left; want %d, %d", step.iss, step.sid, step.sub, n, len(tb.list()), step.want, step.left)
		}
		checkIndexes(t, tb)
	}
	if _, ok := tb.get(a1.ID); ok {
		t.Fatal("revoked session still readable")
	}

	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				sub, sid := fmt.Sprint("user", i%3), fmt.Sprint("sid", (g+i)%5)
				tb.create(iss, sub, sid)
				switch i % 7 {
				case 0:
					tb.revoke(iss, sid, "")
				case 3:
					tb.revoke(iss, "", sub)
				}
				tb.list()
				tb.subjectOf(iss, sid)
			}
		})
	}
	wg.Wait()
	checkIndexes(t, tb)
}

// checkIndexes fails unless every session is in its indexes and every
// index entry is a session with that key.
func checkIndexes(t *testing.T, tb *table) {
	t.Helper()
	tb.mu.Lock()
	defer tb.mu.Unlock()
	entries := 0
	for k, ids := range tb.bySID {
		if len(ids) == 0 {
			t.Fatalf("empty sid index %v", k)
		}
		for id := range ids {
			entries++
			if s, ok := tb.byID[id]; !ok || s.Issuer != k.issuer || s.SID != k.value {
				t.Fatalf("sid index %v lists %s", k, id)
			}
		}
	}
	for k, ids := range tb.bySub {
		if len(ids) == 0 {
			t.Fatalf("empty sub index %v", k)
		}
		for id := range ids {
			if s, ok := tb.byID[id]; !ok || s.Issuer != k.issuer || s.Subject != k.value {
				t.Fatalf("sub index %v lists %s", k, id)
			}
		}
	}
	for id, s := range tb.byID {
		if _, ok := tb.bySID[indexKey{s.Issuer, s.SID}][id]; !ok {
			t.Fatalf("session %s missing from its sid index", id)
		}
		if _, ok := tb.bySub[indexKey{s.Issuer, s.Subject}][id]; s.Subject != "" && !ok {
			t.Fatalf("session %s missing from its sub index", id)
		}
	}
	if entries != len(tb.byID) {
		t.Fatalf("%d sid index entries for %d sessions", entries, len(tb.byID))
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestSignOutAPI: DELETE /session/token as the app sign-out API specifies
// it: the refresh token of a login is revoked at the provider, the API
// sessions of that login end (not another login's), and the answer is the
// end-session URL in the success envelope; a second sign-out of the same
// token, a missing or malformed body, and a provider failure get the error
// envelope with a correlation ID.
func TestSignOutAPI(t *testing.T) {
	p, _, base := startWithProvider(t)
	client, err := rp.New(t.Context(), rp.Config{Issuer: p.Issuer(), ClientID: oidctest.DefaultClientID,
		ClientSecret: oidctest.DefaultClientSecret, RedirectURL: "http://127.0.0.1/cb",
		Scopes: []string{"offline_access"}, HTTPClient: p.Client()})
	if err != nil {
		t.Fatal(err)
	}
	authURL, st, _ := client.StartLogin()
	params, err := p.Authorize(t.Context(), authURL)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := client.Callback(t.Context(), st, params)
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("login: %v (refresh token %v)", err, tok.RefreshToken != "")
	}
	mine := createSession(t, base, tok.Claims.Subject, tok.Claims.SID)
	other := createSession(t, base, "bob", "another-login")

	type env struct {
		Data          *string `json:"data"`
		Code          *int    `json:"code"`
		Msg           string  `json:"msg"`
		CorrelationID *string `json:"correlation_id"`
	}
	signOut := func(contentType, body string) (int, env) {
		t.Helper()
		r := do(t, "DELETE", base+"/session/token", contentType, body)
		var e env
		if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Code == nil {
			t.Fatalf("DELETE /session/token: %d %q", r.status, r.body)
		}
		return r.status, e
	}
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	wantFailure := func(status int, e env, want int) {
		t.Helper()
		if status != want || *e.Code == 0 || e.Msg == "" || e.Data != nil || e.CorrelationID == nil || !uuid.MatchString(*e.CorrelationID) {
			t.Fatalf("failure answer %d %+v, want %d with the error envelope", status, e, want)
		}
	}

	body, _ := json.Marshal(map[string]string{"refresh_token": string(tok.RefreshToken)})
	status, e := signOut("application/json", string(body))
	if status != http.StatusOK || *e.Code != 0 || e.Msg != "" || e.CorrelationID != nil || e.Data == nil ||
		!strings.HasPrefix(*e.Data, p.URL("/end_session")) {
		t.Fatalf("sign-out: %d %+v", status, e)
	}
	wantSessions(t, base, other) // mine ended
	if revs := p.Revocations(); len(revs) != 1 || revs[0].Token != string(tok.RefreshToken) {
		t.Fatalf("revocations at the provider: %+v", revs)
	}
	if r := do(t, "GET", base+"/sessions/"+mine, "", ""); r.status != http.StatusNotFound {
		t.Fatalf("GET /sessions/%s after the sign-out: %d", mine, r.status)
	}

	status, e = signOut("application/json", string(body)) // revoked now
	wantFailure(status, e, http.StatusUnauthorized)
	for _, tc := range []struct{ contentType, body string }{
		{"application/json", `{}`},
		{"application/json", `{"refresh_token": ""}`},
		{"application/json", `{"refresh_token": 7}`},
		{"application/json", `not json`},
		{"application/json", `{"refresh_token": "x"} {}`},
		{"text/plain", string(body)},
	} {
		status, e := signOut(tc.contentType, tc.body)
		wantFailure(status, e, http.StatusBadRequest)
	}

	// The provider fails: the token stays valid, and the client may retry.
	tok2, err := client.Refresh(t.Context(), tok) // refused: revoked above
	if err == nil {
		t.Fatalf("refresh with a revoked token: %+v", tok2)
	}
	authURL, st, _ = client.StartLogin()
	params, _ = p.Authorize(t.Context(), authURL)
	tok, err = client.Callback(t.Context(), st, params)
	if err != nil {
		t.Fatal(err)
	}
	p.SetResponseHook("introspection", func(r *oidctest.Response) { r.Status = http.StatusServiceUnavailable })
	body, _ = json.Marshal(map[string]string{"refresh_token": string(tok.RefreshToken)})
	status, e = signOut("application/json", string(body))
	wantFailure(status, e, http.StatusBadGateway)
	p.SetResponseHook("introspection", nil)
	if status, e := signOut("application/json", string(body)); status != http.StatusOK || *e.Code != 0 {
		t.Fatalf("the retry once the provider is back: %d %+v", status, e)
	}
}
