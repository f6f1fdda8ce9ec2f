package rp_test

import (
	"context"
	"testing"
	"time"

	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
)

// block makes the provider's endpoint hang until the test ends.
func block(t *testing.T, p *oidctest.Provider, endpoint string) {
	t.Helper()
	release := make(chan struct{})
	p.SetResponseHook(endpoint, func(*oidctest.Response) { <-release })
	// Runs before the provider's own cleanup, which waits for its handlers.
	t.Cleanup(func() { close(release) })
}

// within runs f and fails the test unless it returns before limit.
func within(t *testing.T, limit time.Duration, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		t.Fatalf("still waiting for the provider after %s", limit)
		return nil
	}
}

// TestProviderTimeout: with an HTTPClient that has no Timeout and a
// provider that never answers, every provider call gives up after
// Config.ProviderTimeout with an error wrapping ErrProviderUnavailable and
// context.DeadlineExceeded, instead of hanging.
func TestProviderTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 200 * time.Millisecond
	noTimeout := func(c *rp.Config) {
		hc := *c.HTTPClient
		hc.Timeout = 0
		c.HTTPClient = &hc
		c.ProviderTimeout = timeout
	}
	tests := []struct {
		name     string
		endpoint string // the one that hangs
		login    bool   // log in before it hangs
		call     func(t *testing.T, e *env, tok *rp.Tokens) error
	}{
		{"discovery", "discovery", false, func(t *testing.T, e *env, _ *rp.Tokens) error {
			_, err := rp.New(context.Background(), clientConfig(e.p, e.clk, noTimeout))
			return err
		}},
		{"callback token", "token", false, func(t *testing.T, e *env, _ *rp.Tokens) error { _, err := e.login(t); return err }},
		{"callback jwks", "jwks", false, func(t *testing.T, e *env, _ *rp.Tokens) error { _, err := e.login(t); return err }},
		{"refresh", "token", true, func(t *testing.T, e *env, tok *rp.Tokens) error {
			_, err := e.c.Refresh(context.Background(), tok)
			return err
		}},
		{"userinfo", "userinfo", true, func(t *testing.T, e *env, tok *rp.Tokens) error {
			var claims map[string]any
			return e.c.UserInfo(context.Background(), tok, &claims)
		}},
		{"revocation", "revocation", true, func(t *testing.T, e *env, tok *rp.Tokens) error {
			return e.c.Revoke(context.Background(), tok.RefreshToken, rp.HintRefreshToken)
		}},
		{"introspection", "introspection", true, func(t *testing.T, e *env, tok *rp.Tokens) error {
			_, err := e.c.Introspect(context.Background(), tok.AccessToken, rp.HintAccessToken)
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, nil, noTimeout)
			var tok *rp.Tokens
			if tc.login {
				tok = e.mustLogin(t)
			}
			block(t, e.p, tc.endpoint)
			start := time.Now()
			err := within(t, 5*time.Second, func() error { return tc.call(t, e, tok) })
			wantErr(t, err, rp.ErrProviderUnavailable)
			wantErr(t, err, context.DeadlineExceeded)
			if d := time.Since(start); d < timeout {
				t.Fatalf("gave up after %s, before the %s ProviderTimeout", d, timeout)
			}
		})
	}
}

// TestProviderTimeoutNegative: a negative ProviderTimeout is a
// configuration error, not "no timeout".
func TestProviderTimeoutNegative(t *testing.T) {
	t.Parallel()
	p := oidctest.Start(t, oidctest.Config{})
	_, err := rp.New(t.Context(), clientConfig(p, newClock(), func(c *rp.Config) { c.ProviderTimeout = -time.Second }))
	wantErr(t, err, rp.ErrConfig)
}
