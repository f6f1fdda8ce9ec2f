// Package middleware is the net/http glue that owns a browser session's life
// for an application: it mounts the login, callback and logout routes,
// wraps handlers with [Middleware.RequireAuth] or [Middleware.OptionalAuth],
// refreshes expired access tokens before the handler runs, and puts the
// session in the request context.
//
// It is the only rpkit component that writes cookies:
//
//   - the session cookie holds only the session ID, signed and encrypted
//     (session.CookieCodec); everything else lives in the session.Store;
//   - one short-lived login-state cookie per login attempt (state, nonce,
//     PKCE verifier, return_to), named after the attempt's state so that
//     logins started in two tabs both complete, and deleted at the callback
//     so that a replayed callback fails;
//   - a logout-state cookie that lets the post-logout landing page check the
//     state it sent to the provider.
//
// A new session ID is made at every login (no fixation); return_to only
// ever names a same-origin relative path. Logout deletes the local session
// first, revokes the refresh token, then sends the browser to the provider's
// end_session_endpoint (or answers JSON for single-page apps), even when the
// local session is already gone. A refresh that fails for any reason but
// the provider's invalid_grant or a Core 12.2 failure keeps the session for
// a later try. Errors reach the browser as short 4xx/5xx pages or JSON,
// never as error text; the full error goes to Config.ErrorHandler and
// Config.Logger.
//
// Each step of a session's life is reported, once, to Config.Observer (see
// package event): a login made or refused, a refresh done or failed, and
// every ending with its reason — the logout route, the idle timeout, the
// lifetime, a refused refresh, a session of another issuer. The files
// follow those steps: login.go and callback.go, auth.go (RequireAuth),
// refresh.go, expiry.go, logout.go, mount.go.
package middleware
