package middleware_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rpkit/rpkit/middleware"
)

// TestMount: the routes land at the middleware's own paths and the
// receivers at theirs, each answering its wrong methods itself; conflicts
// are errors, not panics.
func TestMount(t *testing.T) {
	a := newApp(t, options{mw: func(c *middleware.Config) {
		c.Paths = middleware.Paths{Login: "/auth/login", Logout: "/auth/logout"}
	}})
	recv := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, name) })
	}
	mux := http.NewServeMux()
	if err := a.m.Mount(mux, middleware.Receivers{BackChannel: recv("back"), FrontChannel: recv("front"), FrontChannelPath: "/fc"}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c := newBrowser(t).single
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/auth/login", http.StatusFound, ""},
		{"GET", "/login", http.StatusNotFound, ""},
		{"GET", "/auth/logout", http.StatusMethodNotAllowed, ""},
		{"GET", "/callback", http.StatusBadRequest, ""}, // no login state
		{"POST", "/backchannel-logout", http.StatusOK, "back"},
		{"GET", "/fc", http.StatusOK, "front"},
		{"GET", "/frontchannel-logout", http.StatusNotFound, ""},
	} {
		r := do(t, c, tc.method, srv.URL+tc.path, nil)
		if r.status != tc.status || !strings.Contains(r.body, tc.body) {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, r.status, r.body, tc.status, tc.body)
		}
	}

	for name, tc := range map[string]struct {
		mux *http.ServeMux
		r   middleware.Receivers
	}{
		"a receiver at a route's path": {http.NewServeMux(), middleware.Receivers{BackChannel: recv("b"), BackChannelPath: "/auth/login"}},
		"a relative path":              {http.NewServeMux(), middleware.Receivers{FrontChannel: recv("f"), FrontChannelPath: "fc"}},
		"a pattern already on the mux": {func() *http.ServeMux { m := http.NewServeMux(); m.Handle("/callback", recv("x")); return m }(), middleware.Receivers{}},
	} {
		if err := a.m.Mount(tc.mux, tc.r); err == nil {
			t.Errorf("%s: Mount succeeded", name)
		}
	}
}
