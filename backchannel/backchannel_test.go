package backchannel_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpkit/rpkit/backchannel"
	"github.com/rpkit/rpkit/internal/fakeclock"
	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
	"github.com/rpkit/rpkit/session"
)

// receiver is a back-channel endpoint over a memory store, with its
// provider.
type receiver struct {
	p     *oidctest.Provider
	c     *rp.Client
	store session.Store
	uri   string
	clk   *fakeclock.Clock
}

func newReceiver(t *testing.T, store session.Store, cfg func(*backchannel.Config), rcfg func(*rp.Config)) *receiver {
	t.Helper()
	clk := fakeclock.New(time.Now().Truncate(time.Second))
	p := oidctest.Start(t, oidctest.Config{Now: clk.Now})
	rc := rp.Config{Issuer: p.Issuer(), ClientID: oidctest.DefaultClientID, ClientSecret: oidctest.DefaultClientSecret,
		RedirectURL: "http://127.0.0.1:9/callback", HTTPClient: p.Client(), Now: clk.Now}
	if rcfg != nil {
		rcfg(&rc)
	}
	c, err := rp.New(t.Context(), rc)
	if err != nil {
		t.Fatal(err)
	}
	if store == nil {
		store = session.NewMemoryStore(session.MemoryConfig{Now: clk.Now})
	}
	bc := backchannel.Config{Verifier: c, Sessions: store, Replay: backchannel.NewMemoryReplayCache(clk.Now)}
	if cfg != nil {
		cfg(&bc)
	}
	h, err := backchannel.New(bc)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &receiver{p: p, c: c, store: store, uri: srv.URL + "/backchannel-logout", clk: clk}
}

// add stores a session of sub with sid and returns its ID.
func (r *receiver) add(t *testing.T, sub, sid string) string {
	t.Helper()
	s := &session.Session{Issuer: r.p.Issuer(), Subject: sub, SID: sid, Expiry: r.clk.Now().Add(time.Hour)}
	if err := r.store.Create(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	return s.ID
}

func (r *receiver) alive(t *testing.T, id string) bool {
	t.Helper()
	_, err := r.store.Get(t.Context(), id)
	if err != nil && !errors.Is(err, session.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

type answer struct {
	status int
	header http.Header
	body   map[string]string
}

// post sends a logout token minted by the provider.
func (r *receiver) post(t *testing.T, o oidctest.LogoutTokenOptions) answer {
	t.Helper()
	raw, err := r.p.LogoutToken(o)
	if err != nil {
		t.Fatal(err)
	}
	return r.postRaw(t, raw)
}

func (r *receiver) postRaw(t *testing.T, raw string) answer {
	t.Helper()
	resp, err := r.p.PostLogoutToken(t.Context(), r.uri, raw)
	if err != nil {
		t.Fatal(err)
	}
	return read(t, resp)
}

func read(t *testing.T, resp *http.Response) answer {
	t.Helper()
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header}
	b, _ := io.ReadAll(resp.Body)
	if len(b) > 0 {
		if err := json.Unmarshal(b, &a.body); err != nil {
			t.Fatalf("body %q: %v", b, err)
		}
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q", cc)
	}
	return a
}

const event = "http://schemas.openid.net/event/backchannel-logout"

// TestRules: a logout token that breaks one rule is refused with 400 and
// ends nothing.
func TestRules(t *testing.T) {
	foreign := rsaKey(t)
	tests := []struct {
		name   string
		tamper func(*oidctest.Mint)
		desc   string
	}{
		{"alg none", func(m *oidctest.Mint) { m.Header["alg"] = "none" }, "signing algorithm not allowed"},
		{"HMAC", func(m *oidctest.Mint) { m.Header["alg"] = "HS256"; m.Key = []byte(oidctest.DefaultClientSecret) }, "signing algorithm not allowed"},
		{"foreign key", func(m *oidctest.Mint) { m.Key = foreign }, "invalid token signature"},
		{"typ", func(m *oidctest.Mint) { m.Header["typ"] = "id_token+jwt" }, "wrong logout token type"},
		{"iss", func(m *oidctest.Mint) { m.Claims["iss"] = "https://evil.example" }, "issuer mismatch"},
		{"aud", func(m *oidctest.Mint) { m.Claims["aud"] = "other" }, "audience does not contain client_id"},
		{"iat missing", func(m *oidctest.Mint) { delete(m.Claims, "iat") }, "logout token has no iat claim"},
		{"iat future", func(m *oidctest.Mint) { m.Claims["iat"] = m.Claims["iat"].(int64) + 600 }, "invalid iat"},
		{"exp passed", func(m *oidctest.Mint) { m.Claims["exp"] = m.Claims["iat"].(int64) - 300 }, "token expired"},
		{"exp missing, iat too old", func(m *oidctest.Mint) { delete(m.Claims, "exp"); m.Claims["iat"] = m.Claims["iat"].(int64) - 600 }, "token expired"},
		{"no sub nor sid", func(m *oidctest.Mint) { delete(m.Claims, "sub"); delete(m.Claims, "sid") }, "logout token has neither sub nor sid"},
		{"no events", func(m *oidctest.Mint) { delete(m.Claims, "events") }, "logout token has no backchannel-logout event"},
		{"event not an object", func(m *oidctest.Mint) { m.Claims["events"] = map[string]any{event: "yes"} }, "logout token has no backchannel-logout event"},
		{"nonce", func(m *oidctest.Mint) { m.Claims["nonce"] = "x" }, "logout token has a nonce"},
		{"nonce null", func(m *oidctest.Mint) { m.Claims["nonce"] = nil }, "logout token has a nonce"},
		{"nonce not a string", func(m *oidctest.Mint) { m.Claims["nonce"] = 7 }, "malformed token"},
		{"no jti", func(m *oidctest.Mint) { delete(m.Claims, "jti") }, "logout token has no jti claim"},
		{"garbage", func(m *oidctest.Mint) { m.Header["alg"] = "none"; m.Claims = map[string]any{"x": []int{1}} }, "signing algorithm not allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newReceiver(t, nil, nil, nil)
			id := r.add(t, "alice", "sid-1")
			r.p.SetTokenHook(oidctest.LogoutToken, tc.tamper)
			a := r.post(t, oidctest.LogoutTokenOptions{Subject: "alice", SID: "sid-1"})
			if a.status != http.StatusBadRequest || a.body["error"] != "invalid_request" || a.body["error_description"] != tc.desc {
				t.Fatalf("answer %d %v, want 400 %q", a.status, a.body, tc.desc)
			}
			if !r.alive(t, id) {
				t.Fatal("a refused logout token ended the session")
			}
		})
	}
}

// TestEndsTheRightSessions: sid-only, sub-only and sid+sub tokens, over two
// sessions of alice with sids, one of alice without a sid (her provider
// puts sid in logout tokens, not in ID tokens) and one of bob. A sid+sub
// token ends the sid's sessions and the subject's sid-less ones.
func TestEndsTheRightSessions(t *testing.T) {
	tests := []struct {
		name                    string
		opts                    oidctest.LogoutTokenOptions
		a1, a2, noSID, bobAlive bool
		ended                   int
	}{
		{"sid only", oidctest.LogoutTokenOptions{SID: "sid-a1"}, false, true, true, true, 1},
		{"sub only", oidctest.LogoutTokenOptions{Subject: "alice"}, false, false, false, true, 3},
		{"sid and sub", oidctest.LogoutTokenOptions{Subject: "alice", SID: "sid-a2"}, true, false, false, true, 2},
		{"sid and sub, unknown sid", oidctest.LogoutTokenOptions{Subject: "alice", SID: "sid-x"}, true, true, false, true, 1},
		{"unknown sid", oidctest.LogoutTokenOptions{SID: "sid-unknown"}, true, true, true, true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs strings.Builder
			r := newReceiver(t, nil, func(c *backchannel.Config) {
				c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			}, nil)
			a1, a2, noSID, bob := r.add(t, "alice", "sid-a1"), r.add(t, "alice", "sid-a2"), r.add(t, "alice", ""), r.add(t, "bob", "sid-b")
			if a := r.post(t, tc.opts); a.status != http.StatusOK {
				t.Fatalf("answer %d %v", a.status, a.body)
			}
			if r.alive(t, a1) != tc.a1 || r.alive(t, a2) != tc.a2 || r.alive(t, noSID) != tc.noSID || r.alive(t, bob) != tc.bobAlive {
				t.Fatalf("alive after logout: alice-1 %v, alice-2 %v, alice without sid %v, bob %v",
					r.alive(t, a1), r.alive(t, a2), r.alive(t, noSID), r.alive(t, bob))
			}
			if want := fmt.Sprintf("sessions_ended=%d", tc.ended); !strings.Contains(logs.String(), want) {
				t.Errorf("log %q lacks %s", logs.String(), want)
			}
		})
	}
}

func TestReplayRefused(t *testing.T) {
	r := newReceiver(t, nil, nil, nil)
	raw, err := r.p.LogoutToken(oidctest.LogoutTokenOptions{Subject: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if a := r.postRaw(t, raw); a.status != http.StatusOK {
		t.Fatalf("first: %d", a.status)
	}
	id := r.add(t, "alice", "sid-2") // a login after the logout
	if a := r.postRaw(t, raw); a.status != http.StatusBadRequest || a.body["error_description"] != "logout token replayed" {
		t.Fatalf("replay: %d %v", a.status, a.body)
	}
	if !r.alive(t, id) {
		t.Fatal("a replayed token ended a session")
	}
}

// TestRotatedKeyAccepted: a token signed by a key the provider rotated in
// after the receiver cached its keys ends the session at once: the unknown
// kid is fetched at once, not after a cooldown.
func TestRotatedKeyAccepted(t *testing.T) {
	r := newReceiver(t, nil, nil, nil)
	id := r.add(t, "alice", "sid-1")
	if a := r.post(t, oidctest.LogoutTokenOptions{SID: "other"}); a.status != http.StatusOK {
		t.Fatal("first token") // caches the JWKS
	}
	r.p.RotateKeys(false)
	if a := r.post(t, oidctest.LogoutTokenOptions{SID: "sid-1"}); a.status != http.StatusOK {
		t.Fatalf("rotated key: %d %v", a.status, a.body)
	}
	if r.alive(t, id) {
		t.Fatal("session not ended")
	}
	if n := r.p.Count("jwks"); n != 2 {
		t.Fatalf("JWKS fetched %d times, want 2", n)
	}
}

// TestKnownKidBadSignature: tokens naming the provider's key with a
// signature it does not verify are invalid (400), every one of them, and
// cost no JWKS request: they are not "retry later".
func TestKnownKidBadSignature(t *testing.T) {
	r := newReceiver(t, nil, nil, nil)
	id := r.add(t, "alice", "sid-1")
	foreign := rsaKey(t)
	r.p.SetTokenHook(oidctest.LogoutToken, func(m *oidctest.Mint) { m.Key = foreign })
	for i := range 30 {
		a := r.post(t, oidctest.LogoutTokenOptions{SID: "sid-1"})
		if a.status != http.StatusBadRequest || a.body["error_description"] != "invalid token signature" || a.header.Get("Retry-After") != "" {
			t.Fatalf("forged token %d: %d %v %v", i, a.status, a.header, a.body)
		}
	}
	if n := r.p.Count("jwks"); n != 1 {
		t.Fatalf("JWKS fetched %d times for 30 forged tokens, want 1", n)
	}
	if !r.alive(t, id) {
		t.Fatal("a forged token ended the session")
	}
}

// TestForgedKidsRateLimited: a flood of tokens naming unknown keys costs
// the provider one JWKS request per interval. The first after the cache is
// warm is refetched for and refused (400); the others, within the
// interval, meet the cooldown: 503 with a Retry-After counted down to the
// instant a refetch is allowed, since a genuine token signed by a
// just-rotated key would too.
func TestForgedKidsRateLimited(t *testing.T) {
	r := newReceiver(t, nil, nil, nil)
	if a := r.post(t, oidctest.LogoutTokenOptions{SID: "other"}); a.status != http.StatusOK {
		t.Fatal("first token") // caches the JWKS
	}
	foreign := rsaKey(t)
	r.p.SetTokenHook(oidctest.LogoutToken, func(m *oidctest.Mint) { m.Key = foreign; m.Header["kid"] = "forged-" + m.Claims["jti"].(string) })
	for i := range 30 {
		if i == 10 {
			r.clk.Advance(3500 * time.Millisecond)
		}
		a := r.post(t, oidctest.LogoutTokenOptions{SID: "s"})
		wantRetry := map[bool]string{true: "10", false: "7"}[i < 10]
		switch {
		case i == 0 && (a.status != http.StatusBadRequest || a.body["error_description"] != "invalid token signature"):
			t.Fatalf("first forged token: %d %v", a.status, a.body)
		case i > 0 && (a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") != wantRetry):
			t.Fatalf("forged token %d: %d %v, want 503 with Retry-After %s", i, a.status, a.header, wantRetry)
		}
	}
	if n := r.p.Count("jwks"); n != 2 {
		t.Fatalf("JWKS fetched %d times for 30 forged tokens, want 2", n)
	}
}

// TestKeysUnavailable: when the provider's JWKS cannot be fetched the
// receiver answers 503 with the verifier's back-off as Retry-After, and the
// provider's retry after it ends the session.
func TestKeysUnavailable(t *testing.T) {
	r := newReceiver(t, nil, nil, nil)
	id := r.add(t, "alice", "sid-1")
	var fail atomic.Bool
	fail.Store(true)
	r.p.SetResponseHook("jwks", func(resp *oidctest.Response) {
		if fail.Load() {
			resp.Status = http.StatusInternalServerError
		}
	})
	raw, err := r.p.LogoutToken(oidctest.LogoutTokenOptions{SID: "sid-1"})
	if err != nil {
		t.Fatal(err)
	}
	if a := r.postRaw(t, raw); a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") != "1" ||
		a.body["error"] != "temporarily_unavailable" {
		t.Fatalf("JWKS down: %d %v %v", a.status, a.header, a.body)
	}
	if !r.alive(t, id) {
		t.Fatal("session ended without a verified token")
	}
	fail.Store(false)
	r.clk.Advance(time.Second)
	if a := r.postRaw(t, raw); a.status != http.StatusOK {
		t.Fatalf("the provider's retry: %d %v", a.status, a.body)
	}
	if r.alive(t, id) {
		t.Fatal("session not ended")
	}
}

func TestRequestChecks(t *testing.T) {
	r := newReceiver(t, nil, nil, nil)
	raw, _ := r.p.LogoutToken(oidctest.LogoutTokenOptions{SID: "s"})
	post := func(contentType, body string) answer {
		req, _ := http.NewRequestWithContext(t.Context(), "POST", r.uri, strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return read(t, resp)
	}
	form := "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name, contentType, body string
		want                    int
	}{
		{"no token", form, "", 400},
		{"empty token", form, "logout_token=", 400},
		{"two tokens", form, "logout_token=" + raw + "&logout_token=" + raw, 400},
		{"JSON body", "application/json", `{"logout_token":"` + raw + `"}`, 400},
		{"not a JWT", form, "logout_token=hello", 400},
		{"binary", form, "logout_token=%00%ff%fe.%00.%00", 400},
		{"too large", form, "logout_token=" + strings.Repeat("A", 70<<10), 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if a := post(tc.contentType, tc.body); a.status != tc.want {
				t.Fatalf("%d %v, want %d", a.status, a.body, tc.want)
			}
		})
	}
	t.Run("GET", func(t *testing.T) {
		resp, err := http.Get(r.uri + "?logout_token=" + url.QueryEscape(raw))
		if err != nil {
			t.Fatal(err)
		}
		if a := read(t, resp); a.status != http.StatusMethodNotAllowed || a.header.Get("Allow") != "POST" {
			t.Fatalf("%d Allow=%q", a.status, a.header.Get("Allow"))
		}
	})
	t.Run("too large, chunked", func(t *testing.T) {
		body := io.MultiReader(strings.NewReader("logout_token="), strings.NewReader(strings.Repeat("A", 70<<10)))
		req, _ := http.NewRequestWithContext(t.Context(), "POST", r.uri, body)
		req.Header.Set("Content-Type", form)
		req.ContentLength = -1
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if a := read(t, resp); a.status != http.StatusRequestEntityTooLarge {
			t.Fatalf("%d", a.status)
		}
	})
}

// failingStore fails its deletes while down, as a Redis that went away.
type failingStore struct {
	session.Store
	down atomic.Bool
}

func (f *failingStore) Logout(ctx context.Context, l session.Logout) (int, error) {
	if f.down.Load() {
		return 0, errors.New("connection refused")
	}
	return f.Store.Logout(ctx, l)
}

// TestStoreFailureLetsTheProviderRetry: 503, nothing claimed, and the same
// token succeeds once the store is back.
func TestStoreFailureLetsTheProviderRetry(t *testing.T) {
	store := &failingStore{Store: session.NewMemoryStore(session.MemoryConfig{})}
	r := newReceiver(t, store, nil, nil)
	id := r.add(t, "alice", "sid-1")
	raw, _ := r.p.LogoutToken(oidctest.LogoutTokenOptions{SID: "sid-1"})
	store.down.Store(true)
	if a := r.postRaw(t, raw); a.status != http.StatusServiceUnavailable || a.body["error"] != "temporarily_unavailable" {
		t.Fatalf("with the store down: %d %v", a.status, a.body)
	}
	store.down.Store(false)
	if a := r.postRaw(t, raw); a.status != http.StatusOK {
		t.Fatalf("retry: %d %v", a.status, a.body)
	}
	if r.alive(t, id) {
		t.Fatal("session not ended by the retry")
	}
}

func TestOnLogout(t *testing.T) {
	var got *rp.LogoutToken
	fail := false
	r := newReceiver(t, nil, func(c *backchannel.Config) {
		c.Sessions = nil
		c.OnLogout = func(_ context.Context, lt *rp.LogoutToken) error {
			if fail {
				return errors.New("table locked")
			}
			got = lt
			return nil
		}
	}, nil)
	if a := r.post(t, oidctest.LogoutTokenOptions{Subject: "alice", SID: "sid-9"}); a.status != http.StatusOK {
		t.Fatalf("%d", a.status)
	}
	if got == nil || got.Subject != "alice" || got.SID != "sid-9" || got.Issuer != r.p.Issuer() || got.JTI == "" {
		t.Fatalf("OnLogout got %+v", got)
	}
	fail = true
	if a := r.post(t, oidctest.LogoutTokenOptions{SID: "sid-10"}); a.status != http.StatusServiceUnavailable {
		t.Fatalf("OnLogout failing: %d", a.status)
	}
}

// TestLogoutTokenWithoutExp: a token without exp (Ory Hydra, oidc-provider
// 6.x) is accepted by default, within its iat bound; with
// RequireLogoutTokenExp it is refused, and the 400 names the missing claim.
func TestLogoutTokenWithoutExp(t *testing.T) {
	noExp := func(m *oidctest.Mint) { delete(m.Claims, "exp"); m.Header["typ"] = "JWT" }
	lax := newReceiver(t, nil, nil, nil)
	lax.p.SetTokenHook(oidctest.LogoutToken, noExp)
	id := lax.add(t, "alice", "s")
	if a := lax.post(t, oidctest.LogoutTokenOptions{SID: "s"}); a.status != 200 || lax.alive(t, id) {
		t.Fatalf("default: %d", a.status)
	}
	strict := newReceiver(t, nil, nil, func(c *rp.Config) { c.RequireLogoutTokenExp = true })
	strict.p.SetTokenHook(oidctest.LogoutToken, noExp)
	id = strict.add(t, "alice", "s")
	if a := strict.post(t, oidctest.LogoutTokenOptions{SID: "s"}); a.status != 400 || a.body["error_description"] != "logout token has no exp claim" || !strict.alive(t, id) {
		t.Fatalf("strict: %d %v", a.status, a.body)
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := backchannel.New(backchannel.Config{}); err == nil {
		t.Fatal("no verifier accepted")
	}
	r := newReceiver(t, nil, nil, nil)
	if _, err := backchannel.New(backchannel.Config{Verifier: r.c}); err == nil {
		t.Fatal("neither Sessions nor OnLogout accepted")
	}
}

func TestRegistration(t *testing.T) {
	b, _ := json.Marshal(backchannel.Registration("https://app.example/backchannel-logout"))
	if string(b) != `{"backchannel_logout_uri":"https://app.example/backchannel-logout","backchannel_logout_session_required":true}` {
		t.Fatalf("%s", b)
	}
}

// TestReplayWithinALargeLeeway: the jti is held for as long as the verifier
// accepts the token, whatever rp's clock skew.
func TestReplayWithinALargeLeeway(t *testing.T) {
	r := newReceiver(t, nil, nil, func(c *rp.Config) { c.ClockSkew = 5 * time.Minute })
	raw, err := r.p.LogoutToken(oidctest.LogoutTokenOptions{Subject: "alice"}) // exp = iat + 2m
	if err != nil {
		t.Fatal(err)
	}
	if a := r.postRaw(t, raw); a.status != http.StatusOK {
		t.Fatalf("first: %d", a.status)
	}
	r.clk.Advance(4 * time.Minute) // past exp, within the leeway
	id := r.add(t, "alice", "sid-2")
	if a := r.postRaw(t, raw); a.status != http.StatusBadRequest || a.body["error_description"] != "logout token replayed" {
		t.Fatalf("replay within the leeway: %d %v", a.status, a.body)
	}
	if !r.alive(t, id) {
		t.Fatal("a replayed token ended a session")
	}
}

// TestContentTypeAndLengthChecked: a form body under another content type
// is refused, and an announced oversized body is refused before it is read.
func TestContentTypeAndLengthChecked(t *testing.T) {
	r := newReceiver(t, nil, nil, nil)
	id := r.add(t, "alice", "sid-1")
	raw, _ := r.p.LogoutToken(oidctest.LogoutTokenOptions{SID: "sid-1"})
	req, _ := http.NewRequestWithContext(t.Context(), "POST", r.uri, strings.NewReader("logout_token="+raw))
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if a := read(t, resp); a.status != http.StatusBadRequest || !r.alive(t, id) {
		t.Fatalf("text/plain body: %d", a.status)
	}

	// Announce a huge body but send nothing: the answer must come from the
	// Content-Length alone, without waiting for the body.
	conn, err := net.Dial("tcp", strings.TrimPrefix(strings.TrimSuffix(r.uri, "/backchannel-logout"), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /backchannel-logout HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000000\r\n\r\n")
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.Contains(line, "413") {
		t.Fatalf("oversized announcement: %q %v", line, err)
	}
}

// TestDefaultLogger: a zero Config.Logger writes through slog.Default(),
// so that an application sees refused logouts without wiring a logger; the
// line names the rule, not the token.
func TestDefaultLogger(t *testing.T) {
	var logs strings.Builder
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	r := newReceiver(t, nil, nil, nil)
	foreign := rsaKey(t)
	r.p.SetTokenHook(oidctest.LogoutToken, func(m *oidctest.Mint) { m.Key = foreign })
	raw, err := r.p.LogoutToken(oidctest.LogoutTokenOptions{SID: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if a := r.postRaw(t, raw); a.status != http.StatusBadRequest {
		t.Fatalf("forged token: %d", a.status)
	}
	out := logs.String()
	if !strings.Contains(out, "back-channel logout refused") || !strings.Contains(out, "invalid token signature") {
		t.Fatalf("slog.Default() got %q", out)
	}
	if strings.Contains(out, raw) || strings.Contains(out, strings.Split(raw, ".")[2]) {
		t.Fatal("the log holds the token")
	}
}
