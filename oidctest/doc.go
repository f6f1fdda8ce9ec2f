// Package oidctest provides an in-process OpenID Provider for tests, in the
// way [net/http/httptest] provides an HTTP server.
//
// [NewProvider] (or [Start] inside a test) starts a provider listening on a
// loopback port. It serves discovery, a JWKS, the authorization endpoint, the
// token endpoint (authorization code with PKCE, and refresh token grants),
// userinfo, revocation (RFC 7009), introspection (RFC 7662) and RP-Initiated
// Logout 1.0, and it can send Back-Channel Logout 1.0 logout tokens and build
// Front-Channel Logout 1.0 URLs. [Provider.Close] stops it.
//
// Logins are auto-approved: there is no login page. [Provider.Authorize]
// plays the browser: it sends an authorization request and returns the
// parameters the provider delivers to the client's redirect_uri, so a test
// can drive a whole code flow without a browser.
//
// A provider session (its sid) belongs to a browser, as at a real
// provider: the authorization endpoint sets an HttpOnly session cookie on
// the provider's origin, and a browser that comes back with it logs in to
// the same session for every client, while another browser (or an HTTP
// client without a cookie jar) gets a session of its own. The end-session
// endpoint ends the session its id_token_hint names, else the browser's.
// [Provider.Authorize] acts as one browser per user.
//
// A Provider records what it sees (see [Provider.Count],
// [Provider.TokenRequests], [Provider.Revocations],
// [Provider.Introspections] and [Provider.EndSessionRequests]) and lets a
// test break the rules on purpose: [Provider.SetTokenHook] edits ID tokens
// and logout tokens before they are signed, [Provider.SetResponseHook] edits
// JSON responses before they are written, and [Provider.RotateKeys] rotates
// the signing keys. Each relying-party check can so be proven to reject.
//
// The package imports neither the testing package nor any other rpkit
// package, so a main package can embed it as a development provider. It
// does NOT authenticate users and has no persistent state: never expose it
// beyond loopback, which is the only kind of address it listens on.
//
// All signing, JWKS serialization and client assertion verification is done
// with github.com/go-jose/go-jose/v4. A Provider is safe for concurrent use.
package oidctest
