package middleware_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/rpkit/rpkit/middleware"
)

// TestLongReturnTo: a return_to that would make the login-state cookie too
// long (HTML-escaped characters grow sixfold) falls back to the default
// instead of failing the login.
func TestLongReturnTo(t *testing.T) {
	a := newApp(t, options{})
	for _, rt := range []string{"/" + strings.Repeat("<", 500), "/?" + strings.Repeat("&", 500), "/" + strings.Repeat("a", 2000)} {
		b := newBrowser(t)
		r := do(t, b.single, "GET", a.srv.URL+"/login?return_to="+url.QueryEscape(rt), nil)
		if r.status != http.StatusFound {
			t.Fatalf("return_to of %d bytes: %d", len(rt), r.status)
		}
		for _, c := range r.header.Values("Set-Cookie") {
			if len(c) > 4000 {
				t.Fatalf("a %d-byte cookie", len(c))
			}
		}
		if r := a.login(t, b, rt); r.status != 200 || r.url.Path != "/me" {
			t.Fatalf("login with a long return_to ended at %s: %d", r.url, r.status)
		}
	}
}

// TestCallbackConsumesLoginState: the callback deletes the login-state
// cookie, and a second use of the same callback fails on the missing login
// state — before the code ever reaches the provider.
func TestCallbackConsumesLoginState(t *testing.T) {
	var mu sync.Mutex
	var errs []error
	a := newApp(t, options{mw: func(c *middleware.Config) {
		c.ErrorHandler = func(w http.ResponseWriter, r *http.Request, status int, err error) {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
			w.WriteHeader(status)
		}
	}})
	b := newBrowser(t)
	r := do(t, b.single, "GET", a.srv.URL+"/login", nil)
	params, err := a.p.Authorize(t.Context(), r.location())
	if err != nil {
		t.Fatal(err)
	}
	r = do(t, b.single, "GET", a.srv.URL+"/callback?"+params.Encode(), nil)
	cleared := false
	for _, c := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "rpkit-login-") && strings.Contains(c, "Max-Age=0") {
			cleared = true
		}
	}
	if !cleared {
		t.Fatalf("the callback did not delete the login-state cookie: %v", r.header.Values("Set-Cookie"))
	}
	tokenRequests := len(a.p.TokenRequests())
	if r := do(t, b.single, "GET", a.srv.URL+"/callback?"+params.Encode(), nil); r.status != http.StatusBadRequest {
		t.Fatalf("replay: %d", r.status)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(errs) != 1 || !errors.Is(errs[0], middleware.ErrNoLoginState) {
		t.Fatalf("errors = %v, want ErrNoLoginState", errs)
	}
	if len(a.p.TokenRequests()) != tokenRequests {
		t.Fatal("the replayed code reached the provider")
	}
}
