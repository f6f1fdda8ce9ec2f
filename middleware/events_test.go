package middleware_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rpkit/rpkit/event"
	"github.com/rpkit/rpkit/internal/eventtest"
	"github.com/rpkit/rpkit/internal/fakeclock"
	"github.com/rpkit/rpkit/middleware"
	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
	"github.com/rpkit/rpkit/session"
)

// TestEvents: every lifecycle occurrence in the middleware is reported
// once, with its reason, however many requests meet it at once.
func TestEvents(t *testing.T) {
	type step func(t *testing.T, a *app, b *browser)
	many := func(n int, f func(t *testing.T, a *app, b *browser)) step {
		return func(t *testing.T, a *app, b *browser) {
			var wg sync.WaitGroup
			for range n {
				wg.Go(func() { f(t, a, b) })
			}
			wg.Wait()
		}
	}
	me := func(t *testing.T, a *app, b *browser) { a.me(t, b) }
	ended := func(r event.Reason) event.Event { return event.Event{Kind: event.SessionEnded, Reason: r, Count: 1} }
	login := []event.Event{{Kind: event.SessionCreated}, {Kind: event.LoginSucceeded}}

	tests := []struct {
		name    string
		mw      func(*middleware.Config)
		store   func(clk *fakeclock.Clock) session.Store
		act     step
		want    []event.Event
		wantErr error // of the last event
	}{
		{name: "login", act: func(*testing.T, *app, *browser) {}, want: login},
		{name: "RP logout", act: func(t *testing.T, a *app, b *browser) {
			do(t, b.single, "POST", a.srv.URL+"/logout", nil)
		}, want: append(login, ended(event.ReasonRPLogout))},
		{name: "refresh, 20 requests at once", act: func(t *testing.T, a *app, b *browser) {
			a.clk.Advance(6 * time.Minute)
			many(20, me)(t, a, b)
		}, want: append(login, event.Event{Kind: event.Refreshed})},
		{name: "refresh refused", act: func(t *testing.T, a *app, b *browser) {
			a.clk.Advance(6 * time.Minute)
			a.p.SetResponseHook("token", func(r *oidctest.Response) {
				r.Status, r.Body = http.StatusBadRequest, map[string]any{"error": "invalid_grant"}
			})
			many(10, me)(t, a, b)
		}, want: append(login, event.Event{Kind: event.RefreshFailed, Reason: event.ReasonFailedRefresh}, ended(event.ReasonFailedRefresh))},
		{name: "refresh unavailable", act: func(t *testing.T, a *app, b *browser) {
			a.clk.Advance(6 * time.Minute)
			a.p.SetResponseHook("token", func(r *oidctest.Response) { r.Status, r.Raw = 503, []byte("down") })
			me(t, a, b)
		}, want: append(login, event.Event{Kind: event.RefreshFailed, Reason: event.ReasonKept})},
		{name: "idle, 10 requests at once",
			mw:    func(c *middleware.Config) { c.IdleTimeout = 10 * time.Minute },
			store: func(clk *fakeclock.Clock) session.Store { return newBarrierStore(clk.Now) },
			act: func(t *testing.T, a *app, b *browser) {
				a.clk.Advance(11 * time.Minute)
				a.store.(*barrierStore).arm(10)
				many(10, me)(t, a, b)
			}, want: append(login, ended(event.ReasonIdle))},
		{name: "expired, met by 10 requests at once in a store whose clock is behind",
			mw:    func(c *middleware.Config) { c.Lifetime = time.Hour },
			store: func(*fakeclock.Clock) session.Store { return newBarrierStore(time.Now) },
			act: func(t *testing.T, a *app, b *browser) {
				a.clk.Advance(61 * time.Minute)
				a.store.(*barrierStore).arm(10)
				many(10, me)(t, a, b)
			}, want: append(login, ended(event.ReasonExpired))},
		{name: "OnLogin refuses",
			mw: func(c *middleware.Config) {
				c.OnLogin = func(_ context.Context, _ *session.Session) error { return errNotAllowed }
			},
			act: func(*testing.T, *app, *browser) {}, want: []event.Event{{Kind: event.LoginRefused}}, wantErr: middleware.ErrLoginRefused},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &eventtest.Recorder{}
			clk := fakeclock.New(time.Now().Truncate(time.Second))
			o := options{clock: clk, mw: func(c *middleware.Config) {
				c.Observer = rec
				if tc.mw != nil {
					tc.mw(c)
				}
			}}
			if tc.store != nil {
				o.store = tc.store(clk)
			}
			a := newApp(t, o)
			b := newBrowser(t)
			a.login(t, b, "")
			tc.act(t, a, b)
			got := rec.Events()
			if len(got) != len(tc.want) {
				t.Fatalf("events %v, want %v", kinds(got), kinds(tc.want))
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Kind != w.Kind || g.Reason != w.Reason || g.Count != w.Count {
					t.Fatalf("event %d: %s/%s/%d, want %s/%s/%d", i, g.Kind, g.Reason, g.Count, w.Kind, w.Reason, w.Count)
				}
				if g.Issuer != a.p.Issuer() {
					t.Errorf("event %d: issuer %q", i, g.Issuer)
				}
				if g.Kind != event.LoginRefused && g.Subject != "alice" {
					t.Errorf("event %d: subject %q", i, g.Subject)
				}
				if fails := g.Kind == event.LoginRefused || g.Kind == event.RefreshFailed; fails != (g.Err != nil) {
					t.Errorf("event %d (%s): error %v", i, g.Kind, g.Err)
				}
			}
			if tc.wantErr != nil && !errors.Is(got[len(got)-1].Err, tc.wantErr) {
				t.Fatalf("error %v, want %v", got[len(got)-1].Err, tc.wantErr)
			}
		})
	}
}

var errNotAllowed = errors.New("not in the allow-list")

func kinds(events []event.Event) []string {
	var out []string
	for _, e := range events {
		out = append(out, string(e.Kind)+"/"+string(e.Reason))
	}
	return out
}

// TestEventsLoginRefused: a callback without its login state, or refused
// by the provider, reports LoginRefused with the reason and no session.
func TestEventsLoginRefused(t *testing.T) {
	rec := &eventtest.Recorder{}
	a := newApp(t, options{mw: func(c *middleware.Config) { c.Observer = rec }})
	b := newBrowser(t)
	do(t, b.single, "GET", a.srv.URL+"/callback?state=0123456789abcdef0123&code=x", nil)
	if got := rec.Events(); len(got) != 1 || got[0].Kind != event.LoginRefused || !errors.Is(got[0].Err, middleware.ErrNoLoginState) {
		t.Fatalf("events %v (%v), want one login_refused with ErrNoLoginState", kinds(got), got)
	}
}

// TestEventsIssuerMismatch: a session of another issuer in a shared store
// is ended once, with its reason.
func TestEventsIssuerMismatch(t *testing.T) {
	store := session.NewMemoryStore(session.MemoryConfig{})
	codec, err := session.NewCookieCodec([]byte("shared-cookie-secret-0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	rec := &eventtest.Recorder{}
	a := newApp(t, options{store: store, mw: func(c *middleware.Config) { c.Cookies = codec }})
	other := newApp(t, options{store: store, mw: func(c *middleware.Config) { c.Cookies = codec; c.Observer = rec }})
	br := newBrowser(t)
	a.login(t, br, "")
	u, _ := url.Parse(other.srv.URL)
	br.jar.SetCookies(u, a.cookies(br))
	other.me(t, br)
	other.me(t, br)
	got := rec.Events()
	if len(got) != 1 || got[0].Kind != event.SessionEnded || got[0].Reason != event.ReasonIssuerMismatch || got[0].Issuer != a.p.Issuer() {
		t.Fatalf("events %v, want one session_ended/issuer_mismatch", kinds(got))
	}
}

// TestObserverDefaultsToTheClients: a zero Config.Observer reports to the
// client's (rp.Config.Observer), with the client's own events.
func TestObserverDefaultsToTheClients(t *testing.T) {
	rec := &eventtest.Recorder{}
	a := newApp(t, options{rp: func(c *rp.Config) { c.Observer = rec }})
	a.login(t, newBrowser(t), "")
	if !slices.Contains(rec.Kinds(), event.LoginSucceeded) {
		t.Fatalf("events %v: no login_succeeded through the client's observer", rec.Kinds())
	}
}

// barrierStore is a memory store whose Get, once armed with n, holds each
// caller until n of them have read: n requests then all meet the same
// stored session, as requests on several instances can.
type barrierStore struct {
	*session.MemoryStore
	mu      sync.Mutex
	waiting int
	release chan struct{}
}

func newBarrierStore(now func() time.Time) *barrierStore {
	return &barrierStore{MemoryStore: session.NewMemoryStore(session.MemoryConfig{Now: now})}
}

func (b *barrierStore) arm(n int) {
	b.mu.Lock()
	b.waiting, b.release = n, make(chan struct{})
	b.mu.Unlock()
}

func (b *barrierStore) Get(ctx context.Context, id string) (*session.Session, error) {
	s, err := b.MemoryStore.Get(ctx, id)
	b.mu.Lock()
	release := b.release
	if release != nil {
		if b.waiting--; b.waiting == 0 {
			close(release)
			b.release = nil
		}
	}
	b.mu.Unlock()
	if release != nil {
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
	}
	return s, err
}
