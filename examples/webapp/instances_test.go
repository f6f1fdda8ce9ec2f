package main

import (
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rpkit/rpkit/internal/redistest"
	"github.com/rpkit/rpkit/oidctest"
)

// TestTwoInstancesOnRedis: two instances with SESSION_STORE=redis and the
// same COOKIE_SECRETS serve one session; a logout through one ends it for
// the other.
func TestTwoInstancesOnRedis(t *testing.T) {
	addr := redistest.Start(t)
	op := oidctest.Start(t, oidctest.Config{})
	env := func() map[string]string {
		return map[string]string{
			"OIDC_ISSUER":        op.Issuer(),
			"OIDC_CLIENT_ID":     oidctest.DefaultClientID,
			"OIDC_CLIENT_SECRET": oidctest.DefaultClientSecret,
			"SESSION_STORE":      "redis",
			"REDIS_URL":          "redis://" + addr + "/0",
			"COOKIE_SECRETS":     strings.Repeat("n", 32) + "," + strings.Repeat("o", 32),
		}
	}
	_, baseA := startApp(t, env())
	_, baseB := startApp(t, env())
	b := newBrowser(t)

	if r := get(t, b.follow, "GET", baseA+"/login", nil); r.status != 200 || r.url.Path != "/me" {
		t.Fatalf("login through A: %d at %s", r.status, r.url)
	}
	// Both instances listen on 127.0.0.1: the browser sends the same cookie
	// to both (cookies are not isolated by port).
	if r := get(t, b.single, "GET", baseB+"/me", asJSON); r.status != 200 || !strings.Contains(r.body, `"sub":"alice"`) {
		t.Fatalf("/me through B: %d %s", r.status, r.body)
	}
	r := get(t, b.single, "POST", baseB+"/logout", nil)
	if loc, _ := url.Parse(r.header.Get("Location")); r.status != http.StatusFound || loc.Query().Get("id_token_hint") == "" {
		t.Fatalf("logout through B: %d %s", r.status, r.header.Get("Location"))
	}
	if r := get(t, b.single, "GET", baseA+"/me", asJSON); r.status != http.StatusUnauthorized {
		t.Fatalf("/me through A after logout through B: %d", r.status)
	}
}

func TestRedisUnreachableAtStart(t *testing.T) {
	cfg, err := configFromEnv(func(k string) string {
		return map[string]string{"SESSION_STORE": "redis", "REDIS_URL": "redis://127.0.0.1:1/0", "APP_URL": "http://127.0.0.1:0", "DEV_PROVIDER_ADDR": "127.0.0.1:0"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newApp(t.Context(), cfg, discard()); err == nil || !strings.Contains(err.Error(), "Redis") {
		t.Fatalf("newApp with Redis down: %v", err)
	}
}

// TestDevProviderShared: the first instance serves the development
// provider on DEV_PROVIDER_ADDR; another with the same COOKIE_SECRETS uses
// it; one with other secrets, or finding something else on that address,
// starts one of its own on a free port.
func TestDevProviderShared(t *testing.T) {
	devAddr := freeLoopbackAddr(t)
	env := func(secret string) map[string]string {
		return map[string]string{"DEV_PROVIDER_ADDR": devAddr, "COOKIE_SECRETS": strings.Repeat(secret, 32)}
	}
	a, _ := startApp(t, env("x"))
	if a.dev == nil || a.cfg.Issuer != "http://"+devAddr {
		t.Fatalf("first instance: dev %v, issuer %s, want its own provider on %s", a.dev != nil, a.cfg.Issuer, devAddr)
	}
	b, _ := startApp(t, env("x"))
	if b.dev != nil || b.cfg.Issuer != a.cfg.Issuer || b.devIssuer != a.cfg.Issuer || b.cfg.ClientSecret != a.cfg.ClientSecret {
		t.Fatalf("second instance: dev %v, issuer %s, want %s served by the first", b.dev != nil, b.cfg.Issuer, a.cfg.Issuer)
	}
	c, _ := startApp(t, env("y"))
	if c.dev == nil || c.cfg.Issuer == a.cfg.Issuer {
		t.Fatalf("instance with other COOKIE_SECRETS: dev %v, issuer %s, want one of its own", c.dev != nil, c.cfg.Issuer)
	}

	// Something that is no OpenID provider on the address.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler()}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	d, _ := startApp(t, map[string]string{"DEV_PROVIDER_ADDR": ln.Addr().String()})
	if d.dev == nil || d.cfg.Issuer == "http://"+ln.Addr().String() {
		t.Fatalf("instance finding a web server on DEV_PROVIDER_ADDR: dev %v, issuer %s", d.dev != nil, d.cfg.Issuer)
	}
}
