package main

import (
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
		return map[string]string{"SESSION_STORE": "redis", "REDIS_URL": "redis://127.0.0.1:1/0", "APP_URL": "http://127.0.0.1:0"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newApp(t.Context(), cfg, discard()); err == nil || !strings.Contains(err.Error(), "Redis") {
		t.Fatalf("newApp with Redis down: %v", err)
	}
}
