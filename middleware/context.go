package middleware

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/rpkit/rpkit/session"
)

// The request context keys of the middleware, and the accessors of what
// they carry.
type contextKey struct{ name string }

var (
	sessionKey   = &contextKey{"session"}
	loggedOutKey = &contextKey{"logged-out"} // PostLogoutLanding's mark
)

// SessionFromContext returns the session that RequireAuth or OptionalAuth
// put in the request context. The value is the handler's own copy.
func SessionFromContext(ctx context.Context) (*session.Session, bool) {
	s, ok := ctx.Value(sessionKey).(*session.Session)
	return s, ok
}

// ClaimsFromContext decodes the session's ID token claims into dst (for
// example a *rp.StandardClaims or a *map[string]any). It reports false when
// the request has no session.
func ClaimsFromContext(ctx context.Context, dst any) (bool, error) {
	s, ok := SessionFromContext(ctx)
	if !ok {
		return false, nil
	}
	if err := json.Unmarshal(s.Claims, dst); err != nil {
		return true, fmt.Errorf("middleware: decoding claims: %w", err)
	}
	return true, nil
}
