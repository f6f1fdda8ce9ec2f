package rp_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
)

func TestDiscoveryMetadata(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	m := e.c.Metadata()
	iss := e.p.Issuer()
	if m.Issuer != iss || m.TokenEndpoint != iss+"/token" || m.EndSessionEndpoint != iss+"/end_session" ||
		m.RevocationEndpoint != iss+"/revoke" || m.IntrospectionEndpoint != iss+"/introspect" ||
		m.UserInfoEndpoint != iss+"/userinfo" || m.JWKSURI != iss+"/jwks" ||
		len(m.TokenEndpointAuthMethods) == 0 || len(m.IDTokenSigningAlgs) == 0 || len(m.CodeChallengeMethods) == 0 ||
		!m.BackchannelLogoutSupported || !m.BackchannelLogoutSessionSupported ||
		!m.FrontchannelLogoutSupported || !m.FrontchannelLogoutSessionSupported {
		t.Fatalf("metadata = %+v", m)
	}
}

func TestDiscoveryErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tamper func(*oidctest.Response)
		want   error
	}{
		{"issuer differs", func(r *oidctest.Response) { r.Body["issuer"] = "https://evil.example" }, rp.ErrIssuerMismatch},
		{"issuer with trailing slash", func(r *oidctest.Response) { r.Body["issuer"] = r.Body["issuer"].(string) + "/" }, rp.ErrIssuerMismatch},
		{"malformed JSON", func(r *oidctest.Response) { r.Raw = []byte(`{"issuer":`) }, rp.ErrDiscovery},
		{"member of the wrong type", func(r *oidctest.Response) { r.Body["token_endpoint"] = 42 }, rp.ErrDiscovery},
		{"no jwks_uri", func(r *oidctest.Response) { delete(r.Body, "jwks_uri") }, rp.ErrDiscovery},
		{"endpoint not a URL", func(r *oidctest.Response) { r.Body["token_endpoint"] = "/token" }, rp.ErrDiscovery},
		{"endpoint on plain http elsewhere", func(r *oidctest.Response) { r.Body["token_endpoint"] = "http://op.example/token" }, rp.ErrDiscovery},
		{"not found", func(r *oidctest.Response) { r.Status = 404 }, rp.ErrDiscovery},
		{"server error", func(r *oidctest.Response) { r.Status = 502 }, rp.ErrProviderUnavailable},
		{"an HTML page", func(r *oidctest.Response) {
			r.Header.Set("Content-Type", "text/html; charset=utf-8")
			r.Raw = []byte("<!DOCTYPE html><title>Sign in</title>")
		}, rp.ErrDiscovery},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := oidctest.Start(t, oidctest.Config{})
			p.SetResponseHook("discovery", tc.tamper)
			_, err := rp.New(t.Context(), clientConfig(p, newClock(), nil))
			wantErr(t, err, tc.want)
			// An HTML answer says what is probably wrong; malformed JSON
			// does not claim so.
			if hint := err != nil && strings.Contains(err.Error(), "issuer URL is probably wrong"); hint != (tc.name == "an HTML page") {
				t.Fatalf("error %v", err)
			}
		})
	}
}

func TestProviderUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = rp.New(t.Context(), rp.Config{Issuer: "http://" + addr, ClientID: "x"})
	wantErr(t, err, rp.ErrProviderUnavailable)
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for _, cfg := range []rp.Config{
		{ClientID: "x"},
		{Issuer: "://bad", ClientID: "x"},
		{Issuer: "op.example", ClientID: "x"},
		{Issuer: "ftp://op.example", ClientID: "x"},
		{Issuer: "http://op.example", ClientID: "x"},
		{Issuer: "https://op.example?x=1", ClientID: "x"},
		{Issuer: "https://op.example#f", ClientID: "x"},
		{Issuer: "https://op.example"},
		{Issuer: "https://op.example", ClientID: "x", AuthMethod: "magic", SkipDiscovery: true,
			Endpoints: rp.Endpoints{Authorization: "https://op.example/a", Token: "https://op.example/t", JWKS: "https://op.example/k"}},
	} {
		_, err := rp.New(t.Context(), cfg)
		if !errors.Is(err, rp.ErrConfig) {
			t.Errorf("New(%+v): err = %v, want ErrConfig", cfg, err)
		}
	}
}

// TestStaticEndpoints: a provider without discovery, configured by hand.
func TestStaticEndpoints(t *testing.T) {
	t.Parallel()
	clk := newClock()
	p := oidctest.Start(t, oidctest.Config{Now: clk.Now})
	iss := p.Issuer()
	c, err := rp.New(t.Context(), clientConfig(p, clk, func(c *rp.Config) {
		c.SkipDiscovery = true
		c.Endpoints = rp.Endpoints{Authorization: iss + "/authorize", Token: iss + "/token", JWKS: iss + "/jwks"}
	}))
	if err != nil {
		t.Fatal(err)
	}
	if n := p.Count("discovery"); n != 0 {
		t.Fatalf("discovery fetched %d times", n)
	}
	e := &env{p: p, c: c, clk: clk}
	e.mustLogin(t)
	_, err = c.EndSessionURL(rp.EndSessionParams{})
	wantErr(t, err, rp.ErrNoEndSession)

	_, err = rp.New(t.Context(), clientConfig(p, clk, func(c *rp.Config) {
		c.SkipDiscovery = true
		c.Endpoints = rp.Endpoints{Authorization: iss + "/authorize", Token: iss + "/token"}
	}))
	wantErr(t, err, rp.ErrDiscovery)
}

// TestEndpointOverride fills in what discovery leaves out.
func TestEndpointOverride(t *testing.T) {
	t.Parallel()
	clk := newClock()
	p := oidctest.Start(t, oidctest.Config{Now: clk.Now, NoEndSession: true})
	c, err := rp.New(t.Context(), clientConfig(p, clk, func(c *rp.Config) {
		c.Endpoints.EndSession = "https://op.example/logout"
	}))
	if err != nil {
		t.Fatal(err)
	}
	u, err := c.EndSessionURL(rp.EndSessionParams{})
	if err != nil || !strings.HasPrefix(u, "https://op.example/logout?") {
		t.Fatalf("EndSessionURL = %q, %v", u, err)
	}
}

func TestEndSessionURL(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	tok := e.mustLogin(t)
	e.clk.Advance(48 * time.Hour) // an expired ID token is still a valid hint
	u, err := e.c.EndSessionURL(rp.EndSessionParams{
		IDTokenHint:           tok.IDToken,
		PostLogoutRedirectURL: "http://127.0.0.1:9999/bye?from=app&x=a b",
		State:                 "st&=?ate",
		LogoutHint:            "alice@example.com",
		UILocales:             []string{"vi", "en"},
		Extra:                 url.Values{"session_id": {"gluu session/1"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	if got := parsed.Scheme + "://" + parsed.Host + parsed.Path; got != e.p.Issuer()+"/end_session" {
		t.Fatalf("endpoint = %s", got)
	}
	q := parsed.Query()
	for k, want := range map[string]string{
		"id_token_hint":            string(tok.IDToken),
		"post_logout_redirect_uri": "http://127.0.0.1:9999/bye?from=app&x=a b",
		"state":                    "st&=?ate",
		"client_id":                oidctest.DefaultClientID,
		"logout_hint":              "alice@example.com",
		"ui_locales":               "vi en",
		"session_id":               "gluu session/1",
	} {
		if got := q[k]; len(got) != 1 || got[0] != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}

	// The provider accepts it (expired hint included), records it and
	// redirects back with the state.
	resp, err := noRedirect(e.p).Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != 302 || loc.Query().Get("state") != "st&=?ate" || loc.Query().Get("from") != "app" {
		t.Fatalf("end_session answered %d, Location %q", resp.StatusCode, loc)
	}
	if reqs := e.p.EndSessionRequests(); len(reqs) != 1 || reqs[0].Params.Get("session_id") != "gluu session/1" {
		t.Fatalf("provider saw %+v", reqs)
	}
}

func TestEndSessionURLDefaults(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	u, err := e.c.EndSessionURL(rp.EndSessionParams{})
	if err != nil {
		t.Fatal(err)
	}
	q, _ := url.Parse(u)
	if got := q.Query(); len(got) != 2 || got.Get("post_logout_redirect_uri") != "http://127.0.0.1:9999/" || got.Get("client_id") != oidctest.DefaultClientID {
		t.Fatalf("query = %v", got)
	}
	_, err = e.c.EndSessionURL(rp.EndSessionParams{Extra: url.Values{"state": {"x"}}})
	wantErr(t, err, rp.ErrConfig)

	// An endpoint's own query is kept (e.g. a policy parameter).
	e = setup(t, nil, func(c *rp.Config) { c.Endpoints.EndSession = "https://op.example/logout?p=B2C_1_signin" })
	u, err = e.c.EndSessionURL(rp.EndSessionParams{State: "s"})
	if err != nil || !strings.Contains(u, "p=B2C_1_signin") || !strings.Contains(u, "state=s") {
		t.Fatalf("EndSessionURL = %q, %v", u, err)
	}
}

func TestNoEndSession(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *oidctest.Config) { c.NoEndSession = true }, nil)
	_, err := e.c.EndSessionURL(rp.EndSessionParams{State: "s"})
	if !errors.Is(err, rp.ErrNoEndSession) || !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("err = %v, want ErrNoEndSession wrapping errors.ErrUnsupported", err)
	}
}

// TestSecretsRedacted: no token or secret reaches fmt or slog output.
func TestSecretsRedacted(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	tok := e.mustLogin(t)
	_, st, _ := e.c.StartLogin()
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("x", "tokens", tok, "state", st, "secret", rp.Secret("hunter2"))
	log.Info("by value", "tokens", *tok, "state", *st)
	fmt.Fprintf(&buf, "%v %s %+v %#v %q %v", tok.AccessToken, tok.RefreshToken, tok.IDToken, tok.AccessToken, tok.RefreshToken, *tok)
	out := buf.String()
	for _, s := range []string{string(tok.AccessToken), string(tok.RefreshToken), string(tok.IDToken), "hunter2", st.State, st.Nonce, string(st.Verifier)} {
		if strings.Contains(out, s) {
			t.Fatalf("output leaks a secret: %s", out)
		}
	}
	if !strings.Contains(out, "[redacted]") {
		t.Fatalf("output = %s", out)
	}
}
