package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAuthRoutesNoStore: every answer of the auth routes, including
// ServeMux's 405 and CrossOriginProtection's 403, is not to be cached.
func TestAuthRoutesNoStore(t *testing.T) {
	a := newApp(t, options{})
	b := newBrowser(t)
	for _, tc := range []struct {
		method, path string
		header       http.Header
		want         int
	}{
		{"PUT", "/login", nil, http.StatusMethodNotAllowed},
		{"DELETE", "/callback", nil, http.StatusMethodNotAllowed},
		{"GET", "/logout", nil, http.StatusMethodNotAllowed},
		{"POST", "/logout", http.Header{"Sec-Fetch-Site": {"cross-site"}}, http.StatusForbidden},
		{"GET", "/login", nil, http.StatusFound},
		{"GET", "/callback", nil, http.StatusBadRequest},
		{"POST", "/logout", nil, http.StatusFound},
	} {
		r := do(t, b.single, tc.method, a.srv.URL+tc.path, tc.header)
		if r.status != tc.want || r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s: %d, Cache-Control %q; want %d, no-store", tc.method, tc.path, r.status, r.header.Get("Cache-Control"), tc.want)
		}
	}
}

// TestRequireAuthCacheHeaders: a page served to one user is marked
// private, no-store and Vary: Cookie, so that no shared cache serves it to
// another — unless the handler chose its own Cache-Control.
func TestRequireAuthCacheHeaders(t *testing.T) {
	a := newApp(t, options{})
	b := newBrowser(t)
	a.login(t, b, "")
	r := do(t, b.single, "GET", a.srv.URL+"/me", jsonAccept)
	if r.status != http.StatusOK || r.header.Get("Cache-Control") != "private, no-store" || !hasVaryCookie(r.header) {
		t.Fatalf("/me: %d, Cache-Control %q, Vary %q", r.status, r.header.Get("Cache-Control"), r.header.Values("Vary"))
	}

	own := a.m.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private, max-age=60")
		w.Header().Add("Vary", "Accept-Language")
	}))
	req := httptest.NewRequest("GET", a.srv.URL+"/own", nil)
	for _, c := range a.cookies(b) {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	own.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != "private, max-age=60" || !hasVaryCookie(rec.Header()) {
		t.Fatalf("own Cache-Control: %d, %q, Vary %q", rec.Code, rec.Header().Values("Cache-Control"), rec.Header().Values("Vary"))
	}

	// Without a session: the redirect or 401 is not stored either.
	r = do(t, newBrowser(t).single, "GET", a.srv.URL+"/me", nil)
	if r.status != http.StatusFound || r.header.Get("Cache-Control") != "no-store" || !hasVaryCookie(r.header) {
		t.Fatalf("/me without a session: %d, Cache-Control %q, Vary %q", r.status, r.header.Get("Cache-Control"), r.header.Values("Vary"))
	}
}

func hasVaryCookie(h http.Header) bool {
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), "Cookie") {
				return true
			}
		}
	}
	return false
}
