package main

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rpkit/rpkit/oidctest"
)

// TestProviderDownAtStart: the app starts while its provider is
// unreachable, serves its public pages, answers a login 503 with
// Retry-After (and says so at /healthz), and logs in once the provider
// appears.
func TestProviderDownAtStart(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there until the provider starts
	_, base := startApp(t, map[string]string{
		"OIDC_ISSUER": "http://" + addr, "OIDC_CLIENT_ID": oidctest.DefaultClientID,
		"OIDC_CLIENT_SECRET": string(oidctest.DefaultClientSecret), "OIDC_SCOPES": "openid profile",
	})
	b := newBrowser(t)
	if r := get(t, b.single, "GET", base+"/", nil); r.status != http.StatusOK {
		t.Fatalf("home with the provider down: %d", r.status)
	}
	if r := get(t, b.single, "GET", base+"/healthz", nil); r.status != http.StatusOK || !strings.Contains(r.body, "not discovered") {
		t.Fatalf("/healthz with the provider down: %d %q", r.status, r.body)
	}
	r := get(t, b.single, "GET", base+"/login", nil)
	if secs, err := strconv.Atoi(r.header.Get("Retry-After")); r.status != http.StatusServiceUnavailable || err != nil || secs < 1 {
		t.Fatalf("login with the provider down: %d, Retry-After %q", r.status, r.header.Get("Retry-After"))
	}

	p := oidctest.Start(t, oidctest.Config{Addr: addr})
	if err := p.AddClient(oidctest.Client{ID: oidctest.DefaultClientID, Secret: oidctest.DefaultClientSecret,
		RedirectURIs: []string{base + "/callback"}, PostLogoutRedirectURIs: []string{base + "/"}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		r = get(t, b.single, "GET", base+"/login", nil)
		if r.status == http.StatusFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("login 20 s after the provider appeared: %d", r.status)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if !strings.HasPrefix(r.header.Get("Location"), p.Issuer()) {
		t.Fatalf("login redirects to %q", r.header.Get("Location"))
	}
	if r := get(t, b.follow, "GET", base+"/me", nil); r.status != http.StatusOK || !strings.Contains(r.body, `"sub":"alice"`) {
		t.Fatalf("/me after the login: %d %q", r.status, r.body)
	}
	if r := get(t, b.single, "GET", base+"/healthz", nil); !strings.Contains(r.body, "provider: discovered") {
		t.Fatalf("/healthz once discovered: %q", r.body)
	}
}
