package middleware_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rpkit/rpkit/internal/fakeclock"
	"github.com/rpkit/rpkit/middleware"
	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
)

// TestLoginProviderDown: an app whose client has rp.Config.LazyDiscovery
// starts while its provider is down; its login route answers 503 with a
// Retry-After until the provider appears, then 302 to the provider's
// authorization endpoint, and the login completes.
func TestLoginProviderDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there until the provider starts

	clk := fakeclock.New(time.Now().Truncate(time.Second))
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	// New's context is done already: no background attempts, only those
	// the logins make (and wait for), so that no goroutine outlives the
	// test and the back-off runs on the fake clock alone.
	stopped, stop := context.WithCancel(t.Context())
	stop()
	client, err := rp.New(stopped, rp.Config{
		Issuer:        "http://" + addr,
		ClientID:      oidctest.DefaultClientID,
		ClientSecret:  oidctest.DefaultClientSecret,
		RedirectURL:   srv.URL + "/callback",
		HTTPClient:    &http.Client{Timeout: 5 * time.Second},
		Now:           clk.Now,
		LazyDiscovery: true,
	})
	if err != nil {
		t.Fatalf("rp.New with the provider down: %v", err)
	}
	m, err := middleware.New(middleware.Config{Client: client, Now: clk.Now, DefaultReturnTo: "/me",
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/login", m.Routes())
	mux.Handle("/callback", m.Routes())
	mux.Handle("GET /me", m.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := middleware.SessionFromContext(r.Context())
		fmt.Fprint(w, "hello "+s.Subject)
	})))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "public page") })
	h = mux

	b := newBrowser(t)
	if r := do(t, b.single, "GET", srv.URL+"/", nil); r.status != http.StatusOK {
		t.Fatalf("public page: %d", r.status)
	}
	for i := range 3 {
		r := do(t, b.single, "GET", srv.URL+"/login", nil)
		secs, err := strconv.Atoi(r.header.Get("Retry-After"))
		if r.status != http.StatusServiceUnavailable || err != nil || secs != 1<<i {
			t.Fatalf("login %d with the provider down: %d, Retry-After %q, want 503 with Retry-After %d (the back-off doubles)",
				i, r.status, r.header.Get("Retry-After"), 1<<i)
		}
		if strings.Contains(r.body, "rp:") || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("login %d: body %q, Cache-Control %q", i, r.body, r.header.Get("Cache-Control"))
		}
		clk.Advance(time.Minute) // past the back-off: the next login tries again
	}
	r := do(t, b.single, "GET", srv.URL+"/login", jsonAccept)
	var body map[string]string
	if json.Unmarshal([]byte(r.body), &body); r.status != http.StatusServiceUnavailable ||
		body["error"] != "temporarily_unavailable" || r.header.Get("Retry-After") == "" {
		t.Fatalf("JSON login with the provider down: %d %q, Retry-After %q", r.status, r.body, r.header.Get("Retry-After"))
	}

	// The provider comes up at the issuer's address: the next login
	// (past the back-off) discovers it and redirects there.
	p := oidctest.Start(t, oidctest.Config{Addr: addr, Now: clk.Now})
	clk.Advance(time.Minute)
	r = do(t, b.single, "GET", srv.URL+"/login", nil)
	if r.status != http.StatusFound || !strings.HasPrefix(r.location(), p.URL("/authorize?")) {
		t.Fatalf("login with the provider up: %d, Location %q, want 302 to its authorization endpoint", r.status, r.location())
	}
	if r = do(t, b.follow, "GET", srv.URL+"/login", nil); r.status != http.StatusOK || r.body != "hello "+oidctest.DefaultSubject {
		t.Fatalf("whole login: %d %q", r.status, r.body)
	}
	if err := client.Discovered(); err != nil {
		t.Fatal(err)
	}
}
