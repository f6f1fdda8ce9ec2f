package rp_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpkit/rpkit/event"
	"github.com/rpkit/rpkit/internal/eventtest"
	"github.com/rpkit/rpkit/internal/fakeclock"
	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
)

// freeAddr returns a loopback address where nothing listens (yet).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// lazyClient builds a client with LazyDiscovery for the issuer at addr,
// and waits at the test's end until its goroutines are gone. With
// background, its background attempts run until the test ends; without,
// only calls make attempts (New's context is done already), so that a
// test can count them.
func lazyClient(t *testing.T, addr string, clk *fakeclock.Clock, rec *eventtest.Recorder, background bool) *rp.Client {
	t.Helper()
	ctx := t.Context()
	if !background {
		c, cancel := context.WithCancel(ctx)
		cancel()
		ctx = c
	}
	c, err := rp.New(ctx, rp.Config{
		Issuer:                "http://" + addr,
		ClientID:              oidctest.DefaultClientID,
		ClientSecret:          oidctest.DefaultClientSecret,
		RedirectURL:           redirectURL,
		PostLogoutRedirectURL: "http://127.0.0.1:9999/",
		Scopes:                []string{"offline_access"},
		HTTPClient:            &http.Client{Timeout: 5 * time.Second},
		Now:                   clk.Now,
		Observer:              rec,
		LazyDiscovery:         true,
	})
	if err != nil {
		t.Fatalf("rp.New: %v", err)
	}
	// t.Context is done before the cleanups run: the background loop ends,
	// and no goroutine outlives the test.
	t.Cleanup(func() { rp.WaitDiscovery(c) })
	return c
}

// eventually polls cond for up to five seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// attempted waits until the client has made n failed discovery attempts
// (one ProviderCall each).
func attempted(t *testing.T, rec *eventtest.Recorder, n int) {
	t.Helper()
	eventually(t, "a discovery attempt failed", func() bool { return len(callsTo(rec, "discovery")) >= n })
}

// notDiscovered fails unless err is a *DiscoveryRetryError saying to retry
// in wantSecs seconds, and returns it.
func notDiscovered(t *testing.T, err error, wantSecs int) *rp.DiscoveryRetryError {
	t.Helper()
	var de *rp.DiscoveryRetryError
	if !errors.As(err, &de) || !errors.Is(err, rp.ErrNotDiscovered) || !errors.Is(err, rp.ErrProviderUnavailable) {
		t.Fatalf("error = %v, want a *rp.DiscoveryRetryError matching ErrNotDiscovered and ErrProviderUnavailable", err)
	}
	if secs, ok := rp.RetryAfterSeconds(err); !ok || secs != wantSecs {
		t.Fatalf("RetryAfterSeconds = %d, %v, want %d", secs, ok, wantSecs)
	}
	return de
}

// providerCalls are the calls that need the provider, made before it is
// discovered.
var providerCalls = []struct {
	name string
	call func(ctx context.Context, c *rp.Client, clk *fakeclock.Clock) error
}{
	{"StartLogin", func(_ context.Context, c *rp.Client, _ *fakeclock.Clock) error {
		_, _, err := c.StartLogin()
		return err
	}},
	{"Callback", func(ctx context.Context, c *rp.Client, clk *fakeclock.Clock) error {
		st := &rp.LoginState{State: "s", Nonce: "n", Verifier: "v", Created: clk.Now()}
		_, err := c.Callback(ctx, st, url.Values{"state": {"s"}, "code": {"c"}})
		return err
	}},
	{"Refresh", func(ctx context.Context, c *rp.Client, _ *fakeclock.Clock) error {
		_, err := c.Refresh(ctx, &rp.Tokens{RefreshToken: "r"})
		return err
	}},
	{"VerifyLogoutToken", func(ctx context.Context, c *rp.Client, _ *fakeclock.Clock) error {
		_, err := c.VerifyLogoutToken(ctx, "a.b.c")
		return err
	}},
	{"EndSessionURL", func(_ context.Context, c *rp.Client, _ *fakeclock.Clock) error {
		_, err := c.EndSessionURL(rp.EndSessionParams{})
		return err
	}},
	{"EndSessionForm", func(_ context.Context, c *rp.Client, _ *fakeclock.Clock) error {
		_, err := c.EndSessionForm(rp.EndSessionParams{})
		return err
	}},
	{"SignOut", func(ctx context.Context, c *rp.Client, _ *fakeclock.Clock) error {
		_, err := c.SignOut(ctx, "r", rp.EndSessionParams{})
		return err
	}},
	{"Revoke", func(ctx context.Context, c *rp.Client, _ *fakeclock.Clock) error {
		return c.Revoke(ctx, "r", rp.HintRefreshToken)
	}},
	{"Introspect", func(ctx context.Context, c *rp.Client, _ *fakeclock.Clock) error {
		_, err := c.Introspect(ctx, "r", rp.HintRefreshToken)
		return err
	}},
	{"UserInfo", func(ctx context.Context, c *rp.Client, _ *fakeclock.Clock) error {
		return c.UserInfo(ctx, &rp.Tokens{AccessToken: "a", Claims: &rp.IDClaims{Subject: "alice"}}, nil)
	}},
}

// TestLazyDiscoveryProviderDown: with LazyDiscovery, New returns while
// the provider is down; every call that needs it fails with
// ErrProviderUnavailable and a retry time, each failure doubling the
// back-off; once the provider is up, the first call discovers it and a
// whole login works.
func TestLazyDiscoveryProviderDown(t *testing.T) {
	addr := freeAddr(t)
	clk := newClock()
	rec := &eventtest.Recorder{}
	c := lazyClient(t, addr, clk, rec, false)
	if m := c.Metadata(); m.Issuer != "http://"+addr || m.TokenEndpoint != "" || c.AuthMethod() != "" {
		t.Fatalf("before discovery: Metadata %+v, AuthMethod %q", m, c.AuthMethod())
	}
	if de := notDiscovered(t, c.Discovered(), 1); de.Err != nil {
		t.Fatalf("before any attempt: %v", de)
	}
	// The first call makes the first attempt.
	_, _, err := c.StartLogin()
	de := notDiscovered(t, err, 1)
	if !errors.Is(de.Err, rp.ErrProviderUnavailable) || errors.Is(de.Err, rp.ErrNotDiscovered) {
		t.Fatalf("the last attempt's error = %v, want the refused connection", de.Err)
	}
	if err := c.Discovered(); err.Error() != de.Error() {
		t.Fatalf("Discovered = %v, want %v", err, de)
	}

	// Within the back-off, calls fail at once, with no attempt.
	for _, pc := range providerCalls {
		err := pc.call(t.Context(), c, clk)
		de := notDiscovered(t, err, 1)
		if de.Err == nil || !strings.Contains(err.Error(), "next attempt in 1s") {
			t.Fatalf("%s: error %v, want the last attempt's cause and when the next is due", pc.name, err)
		}
	}
	if n := len(callsTo(rec, "discovery")); n != 1 {
		t.Fatalf("%d discovery attempts within the back-off, want 1", n)
	}
	// Once the back-off has passed, a call makes an attempt itself, and
	// reports the next back-off (doubled) when it fails.
	for i, pc := range providerCalls {
		clk.Advance(time.Minute)
		want := min(1<<(i+1), 60)
		notDiscovered(t, pc.call(t.Context(), c, clk), want)
		if n := len(callsTo(rec, "discovery")); n != i+2 {
			t.Fatalf("after %s: %d discovery attempts, want %d", pc.name, n, i+2)
		}
	}
	for _, ev := range callsTo(rec, "discovery") {
		if ev.Status != 0 || ev.Err == nil || ev.Issuer != "http://"+addr {
			t.Fatalf("discovery attempt reported as %+v", ev)
		}
	}

	// The provider appears at the issuer's address: the first login after
	// the back-off discovers it.
	p := oidctest.Start(t, oidctest.Config{Addr: addr, Now: clk.Now})
	clk.Advance(time.Minute)
	e := &env{p: p, c: c, clk: clk}
	tok := e.mustLogin(t)
	if p.Count("discovery") != 1 {
		t.Fatalf("discovery fetched %d times", p.Count("discovery"))
	}
	if err := c.Discovered(); err != nil {
		t.Fatalf("Discovered = %v after a login", err)
	}
	if err := c.Ready(t.Context()); err != nil {
		t.Fatalf("Ready = %v", err)
	}
	if m := c.Metadata(); m.TokenEndpoint != p.URL("/token") || c.AuthMethod() != rp.AuthClientSecretBasic {
		t.Fatalf("after discovery: Metadata %+v, AuthMethod %q", m, c.AuthMethod())
	}
	if _, err := c.Refresh(t.Context(), tok); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if _, err := c.EndSessionURL(rp.EndSessionParams{IDTokenHint: tok.IDToken}); err != nil {
		t.Fatalf("EndSessionURL: %v", err)
	}
	// One event per request: the 11 refused attempts, and those the
	// provider received.
	for _, name := range providerEndpoints {
		want := p.Count(name)
		if name == "discovery" {
			want += 11
		}
		if got := len(callsTo(rec, name)); got != want {
			t.Errorf("%d ProviderCall events for %s, want %d", got, name, want)
		}
	}
}

// TestLazyDiscoveryBackground: without any call, the background attempts
// discover the provider once it is up and the back-off has passed.
func TestLazyDiscoveryBackground(t *testing.T) {
	addr := freeAddr(t)
	clk := newClock()
	rec := &eventtest.Recorder{}
	c := lazyClient(t, addr, clk, rec, true)
	attempted(t, rec, 1)
	p := oidctest.Start(t, oidctest.Config{Addr: addr, Now: clk.Now})
	clk.Advance(time.Second)
	eventually(t, "the background discovered the provider", func() bool { return c.Discovered() == nil })
	rp.WaitDiscovery(c) // the loop has ended
	if n := p.Count("discovery"); n != 1 {
		t.Fatalf("discovery fetched %d times", n)
	}
	if _, _, err := c.StartLogin(); err != nil {
		t.Fatal(err)
	}
}

// TestLazyDiscoveryConfigMistake: a discovery answer that reveals a
// mistake in the configuration (another issuer, an HTML page) is retried
// like an outage, and says what is wrong: in every call's error, in
// Discovered, and in each attempt's ProviderCall event.
func TestLazyDiscoveryConfigMistake(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tamper func(*oidctest.Response)
		want   error
		says   string
	}{
		{"another issuer", func(r *oidctest.Response) { r.Body["issuer"] = "https://op.example" }, rp.ErrIssuerMismatch, `document says "https://op.example"`},
		{"an HTML page", func(r *oidctest.Response) {
			r.Header.Set("Content-Type", "text/html")
			r.Raw = []byte("<!DOCTYPE html><title>Sign in</title>")
		}, rp.ErrDiscovery, "the issuer URL is probably wrong"},
		{"no algorithm in common", func(r *oidctest.Response) {
			r.Body["id_token_signing_alg_values_supported"] = []string{"ES512"}
		}, rp.ErrConfig, "no signing algorithm"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			p := oidctest.Start(t, oidctest.Config{Now: clk.Now})
			p.SetResponseHook("discovery", tc.tamper)
			rec := &eventtest.Recorder{}
			c := lazyClient(t, strings.TrimPrefix(p.Issuer(), "http://"), clk, rec, false)
			for i := range 3 {
				_, _, err := c.StartLogin()
				if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
					t.Fatalf("StartLogin: %v, want %v saying %q", err, tc.want, tc.says)
				}
				notDiscovered(t, err, 1<<i) // the back-off doubles
				clk.Advance(time.Minute)    // the next call tries again
			}
			de := notDiscovered(t, c.Discovered(), 1)
			if !errors.Is(de.Err, tc.want) {
				t.Fatalf("Discovered: %v", de)
			}
			calls := callsTo(rec, "discovery")
			if len(calls) != 3 || p.Count("discovery") != 3 {
				t.Fatalf("%d attempts reported, %d received, want 3 of each", len(calls), p.Count("discovery"))
			}
			for _, ev := range calls {
				if ev.Status != http.StatusOK || !errors.Is(ev.Err, tc.want) {
					t.Fatalf("attempt reported as %+v, want status 200 and the mistake", ev)
				}
			}

			// The configuration is mended (here, the provider): the next
			// call succeeds.
			p.SetResponseHook("discovery", nil)
			if _, _, err := c.StartLogin(); err != nil {
				t.Fatalf("StartLogin after the fix: %v", err)
			}
		})
	}
}

// TestLazyDiscoveryStops: the background attempts stop when New's context
// is done, and calls can still discover the provider afterwards.
func TestLazyDiscoveryStops(t *testing.T) {
	addr := freeAddr(t)
	clk := newClock()
	rec := &eventtest.Recorder{}
	ctx, cancel := context.WithCancel(t.Context())
	c, err := rp.New(ctx, rp.Config{Issuer: "http://" + addr, ClientID: "x", Now: clk.Now, Observer: rec, LazyDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	attempted(t, rec, 1)
	cancel()
	done := make(chan struct{})
	go func() { rp.WaitDiscovery(c); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the background attempts went on after their context was done")
	}
	p := oidctest.Start(t, oidctest.Config{Addr: addr, Now: clk.Now})
	clk.Advance(time.Second)
	if err := c.Ready(t.Context()); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	if p.Count("discovery") != 1 {
		t.Fatalf("discovery fetched %d times", p.Count("discovery"))
	}
}

// TestLazyDiscoveryConcurrent: calls racing with the discovery that
// publishes the provider see it whole or not at all (run with -race).
func TestLazyDiscoveryConcurrent(t *testing.T) {
	addr := freeAddr(t)
	clk := newClock()
	rec := &eventtest.Recorder{}
	c := lazyClient(t, addr, clk, rec, true)
	attempted(t, rec, 1)
	p := oidctest.Start(t, oidctest.Config{Addr: addr, Now: clk.Now})
	p.SetResponseHook("discovery", func(*oidctest.Response) { time.Sleep(20 * time.Millisecond) })
	clk.Advance(time.Second)
	var wg sync.WaitGroup
	var mu sync.Mutex
	succeeded := 0
	for range 50 {
		wg.Go(func() {
			for range 20 {
				u, _, err := c.StartLogin()
				switch {
				case err == nil:
					if !strings.HasPrefix(u, p.URL("/authorize?")) {
						t.Errorf("StartLogin URL %q", u)
					}
					mu.Lock()
					succeeded++
					mu.Unlock()
				case !errors.Is(err, rp.ErrNotDiscovered):
					t.Errorf("StartLogin: %v", err)
				}
				c.Metadata()
				c.AuthMethod()
				_ = c.String()
				time.Sleep(time.Millisecond)
			}
		})
	}
	wg.Wait()
	if succeeded == 0 {
		t.Fatal("no StartLogin succeeded")
	}
	if n := p.Count("discovery"); n != 1 {
		t.Fatalf("discovery fetched %d times by 50 racing callers, want 1", n)
	}
	if n := len(rec.Of(event.ProviderCall)); n != 2 { // the refused attempt and the one that succeeded
		t.Fatalf("%d provider calls, want 2", n)
	}
}

// TestEagerDiscoveryReady: without LazyDiscovery the client is discovered
// from New on.
func TestEagerDiscoveryReady(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	if err := e.c.Discovered(); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Ready(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestLazyDiscoveryConfigChecked: LazyDiscovery still refuses, in New, the
// configuration mistakes that need no network.
func TestLazyDiscoveryConfigChecked(t *testing.T) {
	t.Parallel()
	base := rp.Config{Issuer: "https://op.example", ClientID: "x", LazyDiscovery: true}
	for name, f := range map[string]func(*rp.Config){
		"alg none":          func(c *rp.Config) { c.SigningAlgs = []string{"none"} },
		"HMAC no secret":    func(c *rp.Config) { c.SigningAlgs = []string{"HS256"} },
		"method no secret":  func(c *rp.Config) { c.AuthMethod = rp.AuthClientSecretPost },
		"unknown method":    func(c *rp.Config) { c.AuthMethod = "magic" },
		"short jwt secret":  func(c *rp.Config) { c.AuthMethod, c.ClientSecret = rp.AuthClientSecretJWT, "short" },
		"tenants missing":   func(c *rp.Config) { c.MultiTenant = &rp.MultiTenant{} },
		"template":          func(c *rp.Config) { c.MultiTenant = &rp.MultiTenant{IssuerTemplate: "https://x", AnyTenant: true} },
		"endpoint override": func(c *rp.Config) { c.Endpoints.Token = "http://op.example/token" },
		"http issuer":       func(c *rp.Config) { c.Issuer = "http://op.example" },
		"negative timeout":  func(c *rp.Config) { c.ProviderTimeout = -1 },
	} {
		cfg := base
		f(&cfg)
		if _, err := rp.New(t.Context(), cfg); !errors.Is(err, rp.ErrConfig) {
			t.Errorf("%s: New = %v, want ErrConfig", name, err)
		}
	}
}
