package rp_test

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/rpkit/rpkit/internal/fakeclock"
	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
)

// newClock returns a clock for the provider and the client to share.
func newClock() *fakeclock.Clock { return fakeclock.New(time.Now().Truncate(time.Second)) }

// env is one provider and one client talking to it.
type env struct {
	p   *oidctest.Provider
	c   *rp.Client
	clk *fakeclock.Clock
}

const redirectURL = "http://127.0.0.1:9999/callback"

// setup starts a provider and a client. pc and cc, when not nil, adjust
// their configurations.
func setup(t *testing.T, pc func(*oidctest.Config), cc func(*rp.Config)) *env {
	t.Helper()
	clk := newClock()
	pcfg := oidctest.Config{Now: clk.Now}
	if pc != nil {
		pc(&pcfg)
	}
	p := oidctest.Start(t, pcfg)
	c, err := rp.New(t.Context(), clientConfig(p, clk, cc))
	if err != nil {
		t.Fatalf("rp.New: %v", err)
	}
	return &env{p: p, c: c, clk: clk}
}

func clientConfig(p *oidctest.Provider, clk *fakeclock.Clock, cc func(*rp.Config)) rp.Config {
	cfg := rp.Config{
		Issuer:                p.Issuer(),
		ClientID:              oidctest.DefaultClientID,
		ClientSecret:          oidctest.DefaultClientSecret,
		RedirectURL:           redirectURL,
		PostLogoutRedirectURL: "http://127.0.0.1:9999/",
		Scopes:                []string{"profile", "email", "offline_access"},
		HTTPClient:            p.Client(),
		Now:                   clk.Now,
	}
	if cc != nil {
		cc(&cfg)
	}
	return cfg
}

// authorize runs StartLogin and the provider's authorization step, and
// returns the login state and the callback parameters.
func (e *env) authorize(t *testing.T, opts ...rp.LoginOption) (*rp.LoginState, url.Values) {
	t.Helper()
	authURL, st, err := e.c.StartLogin(opts...)
	if err != nil {
		t.Fatalf("StartLogin: %v", err)
	}
	params, err := e.p.Authorize(t.Context(), authURL)
	if err != nil {
		t.Fatalf("Authorize: %v", err)
	}
	return st, params
}

// login performs a whole login and returns Callback's result.
func (e *env) login(t *testing.T, opts ...rp.LoginOption) (*rp.Tokens, error) {
	t.Helper()
	st, params := e.authorize(t, opts...)
	return e.c.Callback(t.Context(), st, params)
}

func (e *env) mustLogin(t *testing.T, opts ...rp.LoginOption) *rp.Tokens {
	t.Helper()
	tok, err := e.login(t, opts...)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	return tok
}

// wantErr fails unless err matches want (nil: no error).
func wantErr(t *testing.T, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("error = %v, want %v", err, want)
	}
}

func providerErr(t *testing.T, err error) *rp.ProviderError {
	t.Helper()
	var pe *rp.ProviderError
	if !errors.As(err, &pe) {
		t.Fatalf("error = %v, want a *rp.ProviderError", err)
	}
	return pe
}

// noRedirect returns a client for p that does not follow redirects.
func noRedirect(p *oidctest.Provider) *http.Client {
	c := *p.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}
