// Package rp is the relying-party side of OpenID Connect: everything rpkit
// says to an OpenID Provider, and nothing about HTTP handlers or session
// storage.
//
// A [Client] is built once per provider with [New], which performs discovery
// (or takes static endpoints) and settles the policies every later call uses:
// the signing-algorithm allow-list, the clock skew and the client
// authentication method. It is safe for concurrent use. With
// Config.LazyDiscovery, New returns before the provider is reached and
// discovers it in the background with a back-off: until then the calls
// that need the provider fail with a [*DiscoveryRetryError] (matching
// [ErrProviderUnavailable]) saying when to retry, and [Client.Discovered]
// says why the last attempt failed.
//
// The calls follow one session's life:
//
//   - [Client.StartLogin] returns the authorization URL and a [LoginState]
//     (state, nonce, PKCE verifier) the caller keeps until the callback.
//   - [Client.Callback] checks the authorization response against that
//     state, exchanges the code and verifies the ID token against the whole
//     OpenID Connect Core 3.1.3.7 checklist.
//   - [Client.Refresh] uses the refresh token and holds a new ID token to
//     Core 12.2 (same issuer and subject).
//   - [Client.UserInfo], [Client.Revoke] (RFC 7009) and [Client.Introspect]
//     (RFC 7662) talk to the provider's other endpoints.
//   - [Client.EndSessionURL] builds the RP-Initiated Logout 1.0 redirect.
//   - [Client.VerifyLogoutToken] checks a Back-Channel Logout 1.0 logout
//     token with the same key set and algorithm policy as ID tokens.
//
// Every failed check returns an error that wraps a sentinel naming the check
// (for example [ErrNonceMismatch] or [ErrAudience]), so callers branch with
// [errors.Is]; errors reported by the provider are a [*ProviderError], found
// with [errors.As]. When the provider cannot be reached the error wraps
// [ErrProviderUnavailable].
//
// rp stands on golang.org/x/oauth2 for the authorization URL, the code
// exchange and refresh, and on go-jose for JWS and JWK parsing and
// verification. The provider's key set is rp's own, on go-jose, because
// go-oidc's RemoteKeySet refetches on any failed verification and never
// lets a key expire: see Config.JWKSRefetchInterval and Config.JWKSMaxAge
// for its rules, and [KeyRetryError] for what "try again later" carries.
// Secrets and tokens are of type [Secret], which never prints its value.
//
// Config.Observer receives rp's lifecycle events (package event): one
// event.ProviderCall per request to the provider (its endpoint's name,
// status and latency, never a URL or a token), and the key set's
// event.JWKSFetched, event.JWKSFetchFailed and event.JWKSRefetchLimited.
package rp
