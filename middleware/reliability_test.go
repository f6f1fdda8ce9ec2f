package middleware_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpkit/rpkit/internal/fakeclock"
	"github.com/rpkit/rpkit/middleware"
	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
	"github.com/rpkit/rpkit/session"
)

// logBuffer collects what a *slog.Logger writes, safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// failingTransport fails the requests to the token endpoint while down is
// set, as a network that lost the provider.
type failingTransport struct {
	next http.RoundTripper
	down atomic.Bool
}

func (f *failingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if f.down.Load() && strings.HasSuffix(r.URL.Path, "/token") {
		return nil, errors.New("dial tcp: connection refused")
	}
	return f.next.RoundTrip(r)
}

// TestRefreshTransientKeepsSession: answers of the token endpoint that are
// not a refusal of the grant keep the session. While the access token is
// still valid the request is served with it; once it has expired the
// request gets 503 (with the provider's Retry-After); once the provider is
// back the refresh succeeds. invalid_grant still ends the session.
func TestRefreshTransientKeepsSession(t *testing.T) {
	tests := []struct {
		name       string
		hook       func(*oidctest.Response)
		network    bool // the token endpoint cannot be reached at all
		retryAfter string
		ends       bool
	}{
		{name: "429 slow_down", hook: func(r *oidctest.Response) {
			r.Status, r.Body = http.StatusTooManyRequests, map[string]any{"error": "slow_down"}
			r.Header.Set("Retry-After", "5")
		}, retryAfter: "5"},
		{name: "408", hook: func(r *oidctest.Response) {
			r.Status, r.Raw = http.StatusRequestTimeout, []byte("request timeout")
		}},
		{name: "503 with Retry-After", hook: func(r *oidctest.Response) {
			r.Status, r.Raw = http.StatusServiceUnavailable, []byte("down")
			r.Header.Set("Retry-After", "12")
		}, retryAfter: "12"},
		{name: "200 with an HTML page", hook: func(r *oidctest.Response) {
			r.Header.Set("Content-Type", "text/html; charset=utf-8")
			r.Raw = []byte("<html><body><h1>502 Bad Gateway</h1></body></html>")
		}},
		{name: "other OAuth error", hook: func(r *oidctest.Response) {
			r.Status, r.Body = http.StatusUnauthorized, map[string]any{"error": "invalid_client"}
		}},
		{name: "network error", network: true},
		{name: "invalid_grant", hook: func(r *oidctest.Response) {
			r.Status, r.Body = http.StatusBadRequest, map[string]any{"error": "invalid_grant"}
		}, ends: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs logBuffer
			var tr *failingTransport
			a := newApp(t, options{
				rp: func(c *rp.Config) {
					hc := *c.HTTPClient
					tr = &failingTransport{next: hc.Transport}
					if tr.next == nil {
						tr.next = http.DefaultTransport
					}
					hc.Transport = tr
					c.HTTPClient = &hc
				},
				mw: func(c *middleware.Config) { c.Logger = logs.logger() },
			})
			b := newBrowser(t)
			a.login(t, b, "")
			_, before := a.me(t, b)
			if tc.hook != nil {
				a.p.SetResponseHook("token", tc.hook)
			}
			tr.down.Store(tc.network)

			// Within the refresh leeway: a refresh is tried, the access
			// token still works.
			a.clk.Advance(5*time.Minute - 10*time.Second)
			status, body := a.me(t, b)
			if n := refreshCount(a.p); !tc.network && n != 1 {
				t.Fatalf("%d refreshes, want 1", n)
			}
			if tc.ends {
				if status != http.StatusUnauthorized {
					t.Fatalf("/me after invalid_grant: %d, want 401", status)
				}
				return
			}
			if status != http.StatusOK || body["at"] != before["at"] {
				t.Fatalf("/me with a still valid access token: %d, at changed %v", status, body["at"] != before["at"])
			}

			// Expired: 503, with the provider's Retry-After.
			a.clk.Advance(time.Minute)
			r := do(t, b.single, "GET", a.srv.URL+"/me", jsonAccept)
			if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") != tc.retryAfter {
				t.Fatalf("/me with an expired access token: %d, Retry-After %q, want 503, %q", r.status, r.header.Get("Retry-After"), tc.retryAfter)
			}
			if !strings.Contains(r.body, "temporarily_unavailable") || strings.Contains(r.body, "rp:") {
				t.Fatalf("body %q", r.body)
			}

			// The provider is back: the session was kept and refreshes.
			a.p.SetResponseHook("token", nil)
			tr.down.Store(false)
			status, body = a.me(t, b)
			if status != http.StatusOK || body["at"] == before["at"] {
				t.Fatalf("/me once the provider is back: %d", status)
			}
			if strings.Contains(logs.String(), "ending the session") {
				t.Fatalf("logged as ending the session: %s", logs.String())
			}
		})
	}
}

// failingUpdates fails the next n Updates with a store error, as a Redis
// that went away for a moment, and counts the Updates tried.
type failingUpdates struct {
	session.Store
	n     atomic.Int32
	tries atomic.Int32
}

func (f *failingUpdates) Update(ctx context.Context, s *session.Session) error {
	f.tries.Add(1)
	if f.n.Add(-1) >= 0 {
		return errDown
	}
	return f.Store.Update(ctx, s)
}

// TestRefreshWriteRetried: the store fails the write of a rotating
// refresh's tokens. The write is retried; when it still fails, the new
// refresh token (which no one will ever present) is revoked and the
// request gets 503.
func TestRefreshWriteRetried(t *testing.T) {
	tests := []struct {
		name    string
		rotate  bool
		failing int32
		status  int
		revoked bool
	}{
		{"transient failure", true, 2, http.StatusOK, false},
		{"lasting failure, rotated", true, 1 << 20, http.StatusServiceUnavailable, true},
		{"lasting failure, not rotated", false, 1 << 20, http.StatusServiceUnavailable, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk, mem := memStore()
			store := &failingUpdates{Store: mem}
			a := newApp(t, options{clock: clk, store: store, op: func(c *oidctest.Config) { c.RotateRefreshTokens = tc.rotate }})
			b := newBrowser(t)
			a.login(t, b, "")
			a.clk.Advance(6 * time.Minute)
			var newRT string
			a.p.SetResponseHook("token", func(r *oidctest.Response) { newRT, _ = r.Body["refresh_token"].(string) })
			store.n.Store(tc.failing)
			start := time.Now()
			if status, _ := a.me(t, b); status != tc.status {
				t.Fatalf("/me: %d, want %d", status, tc.status)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Fatalf("the retries took %s", took)
			}
			if n := store.tries.Load(); n < 2 {
				t.Fatalf("%d Updates tried, want retries", n)
			}
			revoked := false
			for _, r := range a.p.Revocations() {
				revoked = revoked || (r.Token == newRT && newRT != "")
			}
			if revoked != tc.revoked {
				t.Fatalf("new refresh token revoked: %v, want %v (%+v)", revoked, tc.revoked, a.p.Revocations())
			}
			store.n.Store(0)
			if tc.status == http.StatusOK {
				// The rotated token was stored: the next refresh uses it.
				a.clk.Advance(6 * time.Minute)
				if status, _ := a.me(t, b); status != http.StatusOK {
					t.Fatalf("/me at the next refresh: %d", status)
				}
				if n := refreshCount(a.p); n != 2 {
					t.Fatalf("%d refreshes", n)
				}
			}
		})
	}
}

// TestLogoutWithoutLocalSession: a logout whose local session has expired,
// was ended or never existed still sends the browser to the provider's
// end_session_endpoint, without a hint, unless the provider requires one.
func TestLogoutWithoutLocalSession(t *testing.T) {
	tests := []struct {
		name         string
		before       func(t *testing.T, a *app, b *browser)
		requiresHint bool
		noEndSession bool
		wantProvider bool
	}{
		{"no cookie", nil, false, false, true},
		{"session expired", func(t *testing.T, a *app, b *browser) {
			a.login(t, b, "")
			a.clk.Advance(13 * time.Hour)
		}, false, false, true},
		{"session ended elsewhere", func(t *testing.T, a *app, b *browser) {
			a.login(t, b, "")
			if _, err := a.store.DeleteBySubject(t.Context(), a.p.Issuer(), oidctest.DefaultSubject); err != nil {
				t.Fatal(err)
			}
		}, false, false, true},
		{"provider requires a hint", func(t *testing.T, a *app, b *browser) {
			a.login(t, b, "")
			a.clk.Advance(13 * time.Hour)
		}, true, false, false},
		{"no end_session_endpoint", nil, false, true, false},
	}
	for _, tc := range tests {
		for _, asJSON := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/json=%v", tc.name, asJSON), func(t *testing.T) {
				a := newApp(t, options{
					op: func(c *oidctest.Config) { c.NoEndSession = tc.noEndSession },
					rp: func(c *rp.Config) { c.EndSessionRequiresIDTokenHint = tc.requiresHint },
				})
				b := newBrowser(t)
				if tc.before != nil {
					tc.before(t, a, b)
				}
				var header http.Header
				if asJSON {
					header = jsonAccept
				}
				r := do(t, b.single, "POST", a.srv.URL+"/logout", header)
				target := r.location()
				if asJSON {
					var body struct {
						RedirectURL *string `json:"redirect_url"`
					}
					if r.status != http.StatusOK || decodeJSON(r.body, &body) != nil {
						t.Fatalf("JSON logout: %d %s", r.status, r.body)
					}
					if (body.RedirectURL != nil) != tc.wantProvider {
						t.Fatalf("JSON logout: %s", r.body)
					}
					if body.RedirectURL == nil {
						return
					}
					target = *body.RedirectURL
				} else if r.status != http.StatusFound {
					t.Fatalf("logout: %d", r.status)
				}
				if !tc.wantProvider {
					if !strings.HasPrefix(target, "/?state=") {
						t.Fatalf("logout went to %q, want the local page", target)
					}
					return
				}
				u, err := url.Parse(target)
				if err != nil {
					t.Fatal(err)
				}
				q := u.Query()
				if u.Scheme+"://"+u.Host+u.Path != a.p.Issuer()+"/end_session" || q.Has("id_token_hint") ||
					q.Get("client_id") != oidctest.DefaultClientID || q.Get("post_logout_redirect_uri") != a.srv.URL+"/" || q.Get("state") == "" {
					t.Fatalf("logout went to %s", target)
				}
				// The provider accepts it and sends the browser back
				// with the state, which the landing page recognises.
				if r := do(t, b.follow, "GET", target, nil); r.status != http.StatusOK || r.body != "logged out" {
					t.Fatalf("landing: %d %q", r.status, r.body)
				}
			})
		}
	}
}

func decodeJSON(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// memStore returns a clock and a memory store on it, for a store wrapper
// to wrap before newApp.
func memStore() (*fakeclock.Clock, session.Store) {
	clk := fakeclock.New(time.Now().Truncate(time.Second))
	return clk, session.NewMemoryStore(session.MemoryConfig{Now: clk.Now})
}

// undecodableStore answers Get for a stored session with an error wrapping
// session.ErrInvalidRecord while broken is set, as a store reading a record
// written by a newer version, and records the Deletes.
type undecodableStore struct {
	session.Store
	broken  atomic.Bool
	mu      sync.Mutex
	deleted []string
}

func (u *undecodableStore) Get(ctx context.Context, id string) (*session.Session, error) {
	s, err := u.Store.Get(ctx, id)
	if err == nil && u.broken.Load() {
		return nil, fmt.Errorf("store: %w: unknown version 9", session.ErrInvalidRecord)
	}
	return s, err
}

func (u *undecodableStore) Delete(ctx context.Context, id string) (bool, error) {
	u.mu.Lock()
	u.deleted = append(u.deleted, id)
	u.mu.Unlock()
	return u.Store.Delete(ctx, id)
}

// TestUndecodableRecord: a record that cannot be decoded fails requests
// closed (503, logged once per request), and a logout deletes it and
// proceeds to the provider without a hint.
func TestUndecodableRecord(t *testing.T) {
	var logs logBuffer
	clk, mem := memStore()
	store := &undecodableStore{Store: mem}
	a := newApp(t, options{clock: clk, store: store, mw: func(c *middleware.Config) { c.Logger = logs.logger() }})
	b := newBrowser(t)
	a.login(t, b, "")
	store.broken.Store(true)

	if status, _ := a.me(t, b); status != http.StatusServiceUnavailable {
		t.Fatalf("/me with an undecodable record: %d, want 503", status)
	}
	if n := strings.Count(logs.String(), "cannot be decoded"); n != 1 {
		t.Fatalf("logged %d times, want once: %s", n, logs.String())
	}
	if n := strings.Count(logs.String(), "\n"); n != 1 {
		t.Fatalf("%d log lines for one request: %s", n, logs.String())
	}

	r := do(t, b.single, "POST", a.srv.URL+"/logout", nil)
	u, _ := url.Parse(r.location())
	if r.status != http.StatusFound || u.Path != "/end_session" || u.Query().Has("id_token_hint") || u.Query().Get("client_id") != oidctest.DefaultClientID {
		t.Fatalf("logout: %d %s", r.status, r.location())
	}
	store.mu.Lock()
	deleted := len(store.deleted)
	store.mu.Unlock()
	if deleted != 1 {
		t.Fatalf("%d Deletes, want 1", deleted)
	}
	if a.cookie(b, "rpkit") != nil {
		t.Fatal("the session cookie survived the logout")
	}
	// The record is gone, whoever reads it.
	store.broken.Store(false)
	if n, _ := a.store.DeleteBySubject(t.Context(), a.p.Issuer(), oidctest.DefaultSubject); n != 0 {
		t.Fatal("the undecodable record is still stored")
	}
}

// panickingStore panics in Update while armed, and remembers the ID of the
// session it was given.
type panickingStore struct {
	session.Store
	armed atomic.Bool
	id    atomic.Value
}

func (p *panickingStore) Update(ctx context.Context, s *session.Session) error {
	if p.armed.Load() {
		p.id.Store(s.ID)
		panic("store: corrupted connection pool")
	}
	return p.Store.Update(ctx, s)
}

// TestRefreshPanic: a panic inside the refresh answers 500, and neither
// the log nor the response holds the session ID; the next request works.
func TestRefreshPanic(t *testing.T) {
	var logs logBuffer
	clk, mem := memStore()
	store := &panickingStore{Store: mem}
	a := newApp(t, options{clock: clk, store: store, mw: func(c *middleware.Config) { c.Logger = logs.logger() }})
	b := newBrowser(t)
	a.login(t, b, "")
	a.clk.Advance(6 * time.Minute)
	store.armed.Store(true)
	r := do(t, b.single, "GET", a.srv.URL+"/me", jsonAccept)
	if r.status != http.StatusInternalServerError {
		t.Fatalf("/me with a panicking refresh: %d, want 500", r.status)
	}
	id, _ := store.id.Load().(string)
	if id == "" {
		t.Fatal("the store did not panic")
	}
	out := logs.String()
	if strings.Contains(out, id) {
		t.Fatalf("the log holds the session ID: %s", out)
	}
	if !strings.Contains(out, "corrupted connection pool") || !strings.Contains(out, "goroutine") {
		t.Fatalf("the log lacks the panic or its stack: %s", out)
	}
	if strings.Contains(r.body, "corrupted") || strings.Contains(r.body, "goroutine") {
		t.Fatalf("the panic reached the client: %q", r.body)
	}
	store.armed.Store(false)
	if status, _ := a.me(t, b); status != http.StatusOK {
		t.Fatalf("/me after the panic: %d", status)
	}
}
