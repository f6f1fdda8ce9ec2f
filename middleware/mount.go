package middleware

import (
	"cmp"
	"fmt"
	"net/http"
)

// Receivers are the logout receivers [Middleware.Mount] serves beside the
// middleware's routes. Their handlers are any http.Handler — a
// *backchannel.Handler and a *frontchannel.Handler — so this package does
// not depend on theirs.
type Receivers struct {
	// BackChannel is the back-channel logout endpoint. Nil: none.
	BackChannel http.Handler
	// BackChannelPath is where BackChannel is served. Zero:
	// "/backchannel-logout".
	BackChannelPath string
	// FrontChannel is the front-channel logout endpoint. Nil: none.
	FrontChannel http.Handler
	// FrontChannelPath is where FrontChannel is served. Zero:
	// "/frontchannel-logout".
	FrontChannelPath string
}

// Mount registers on mux the login, callback and logout routes at the
// middleware's Paths, and the receivers at theirs, so that the paths
// registered are always the paths in use. Each is registered for every
// method: the routes and the receivers answer the methods they do not
// serve with a 405 of their own (with Allow and no-store).
//
// The post-logout page (Paths.PostLogout) is the application's: wrap it
// in [Middleware.PostLogoutLanding]. A path that conflicts with a pattern
// already on mux is an error (the routes registered before it stay):
// mount first, on a fresh mux, at startup.
func (m *Middleware) Mount(mux *http.ServeMux, r Receivers) (err error) {
	p := m.cfg.Paths
	type route struct {
		path string
		h    http.Handler
	}
	routes := []route{{p.Login, m.routes}, {p.Callback, m.routes}, {p.Logout, m.routes}}
	if r.BackChannel != nil {
		routes = append(routes, route{cmp.Or(r.BackChannelPath, "/backchannel-logout"), r.BackChannel})
	}
	if r.FrontChannel != nil {
		routes = append(routes, route{cmp.Or(r.FrontChannelPath, "/frontchannel-logout"), r.FrontChannel})
	}
	seen := map[string]bool{}
	for _, rt := range routes {
		if seen[rt.path] {
			return fmt.Errorf("middleware: Mount: two routes at %q", rt.path)
		}
		seen[rt.path] = true
		if !safeReturnTo(rt.path) {
			return fmt.Errorf("middleware: Mount: path %q must be an absolute path", rt.path)
		}
	}
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("middleware: Mount: %v", v)
		}
	}()
	for _, rt := range routes {
		mux.Handle(rt.path, rt.h)
	}
	return nil
}
