package rp

import (
	"crypto"
	"net/http"
	"time"

	"github.com/rpkit/rpkit/event"
)

// Config configures a [Client]. The zero value of every optional field is a
// documented, secure default.
type Config struct {
	// Issuer is the provider's issuer identifier. The discovery document's
	// "issuer" and every token's "iss" must equal it exactly. It must be an
	// https URL; http is accepted for loopback hosts (127.0.0.1, ::1,
	// localhost) and, with AllowHTTPIssuer, for any host.
	Issuer string
	// ClientID is the client identifier registered at the provider.
	ClientID string
	// ClientSecret is the client secret. Empty with no PrivateKey: a public
	// client, which authenticates with its client_id and PKCE only.
	ClientSecret Secret
	// PrivateKey signs private_key_jwt assertions (an *rsa.PrivateKey signs
	// RS256, an *ecdsa.PrivateKey on P-256 signs ES256). When set and
	// AuthMethod is zero, private_key_jwt is used.
	PrivateKey crypto.Signer
	// PrivateKeyID is the "kid" header of private_key_jwt assertions.
	PrivateKeyID string
	// AuthMethod is the token endpoint authentication method. Zero: picked
	// from the provider's token_endpoint_auth_methods_supported: with a
	// PrivateKey private_key_jwt; with a secret client_secret_basic (the
	// OAuth default), else client_secret_post, else client_secret_jwt;
	// without either, none.
	AuthMethod AuthMethod
	// AssertionAudience is the "aud" of client_secret_jwt and
	// private_key_jwt assertions. Zero: the URL of the endpoint the request
	// is sent to (RFC 7523; what Okta requires). Set it to the issuer for
	// providers that want that.
	AssertionAudience string

	// KeepAuthorizationParams names authorization-response parameters to
	// keep with the tokens (Tokens.AuthParams), for providers whose
	// end-session endpoint wants them back: Gluu's "session_id",
	// "session_state" (OpenID Connect Session Management; Keycloak, Entra
	// ID). The protocol's own parameters (code, state, iss, error,
	// error_description, error_uri) cannot be kept. Zero: none.
	KeepAuthorizationParams []string

	// Profile is a provider's documented needs (see [Profile] and the
	// Profile* values): it fills the fields of this Config that are left
	// zero. Zero: none.
	Profile Profile
	// MultiTenant configures a multi-tenant issuer, such as Microsoft
	// Entra ID's https://login.microsoftonline.com/common/v2.0 (or
	// /organizations/v2.0) as Issuer: its discovery document states an
	// issuer template with "{tenantid}", and each token's iss names its
	// tenant (its "tid" claim). Zero: a single issuer, matched exactly.
	MultiTenant *MultiTenant
	// IssuerAliases are other values of the "iss" claim that tokens of
	// this provider may carry (Google: "accounts.google.com" besides
	// "https://accounts.google.com"). Verified claims report the
	// configured Issuer, so that sessions and logouts name one issuer.
	// Discovery's "issuer" must still be exactly Issuer. Zero: none.
	IssuerAliases []string
	// LogoutHintClaim names an ID token claim whose value becomes the
	// end-session request's logout_hint when the caller gives none and an
	// id_token_hint is sent (Microsoft Entra ID: "login_hint", so that the
	// user is not asked which account to sign out). Zero: none.
	LogoutHintClaim string
	// EndSessionRedirectParam is the name of the end-session request's
	// post-logout redirect parameter. Zero: post_logout_redirect_uri
	// (RP-Initiated Logout 1.0); Auth0's /v2/logout wants "returnTo",
	// Amazon Cognito's /logout "logout_uri".
	EndSessionRedirectParam string

	// RedirectURL is the callback URL registered at the provider.
	RedirectURL string
	// PostLogoutRedirectURL is the default post_logout_redirect_uri of
	// [Client.EndSessionURL]; it must be registered at the provider.
	PostLogoutRedirectURL string
	// EndSessionRequiresIDTokenHint says that the provider's
	// end_session_endpoint refuses a request without an id_token_hint (Okta,
	// Gluu and Decathlon require one): [Client.EndSessionURL] then returns
	// ErrIDTokenHintRequired when given none, and the caller ends the
	// session locally only. Zero: a request without a hint is sent with
	// client_id and post_logout_redirect_uri, which RP-Initiated Logout 1.0
	// allows (the provider asks the user to confirm the logout).
	EndSessionRequiresIDTokenHint bool
	// Scopes are requested at every login besides "openid", which is always
	// sent first.
	Scopes []string

	// SigningAlgs is the allow-list of JWS algorithms for ID and logout
	// tokens, intersected with the provider's
	// id_token_signing_alg_values_supported. Zero: RS256 only. "none" is
	// never allowed; HS256/HS384/HS512 only when listed here, and then they
	// are verified with ClientSecret.
	SigningAlgs []string
	// ClockSkew is the leeway for exp, iat, nbf and auth_time. Zero: one
	// minute; negative: none.
	ClockSkew time.Duration
	// LoginTimeout bounds the time from [Client.StartLogin] to
	// [Client.Callback]. Zero: 10 minutes.
	LoginTimeout time.Duration
	// JWKSRefetchInterval is the cooldown between two refetches of the
	// provider's JWKS for tokens naming an unknown key ID. The rules:
	//
	//   - A token whose kid is cached (or, without a kid, that fits the
	//     cached keys of its alg) is verified with that key only: a bad
	//     signature is ErrSignature and costs no fetch.
	//   - The first token naming an unknown kid triggers one refetch at
	//     once, shared by all concurrent callers; the initial fetch and
	//     the JWKSMaxAge refreshes do not start the cooldown.
	//   - Within the interval after an unknown-kid refetch, further unknown
	//     kids get a *KeyRetryError wrapping ErrKeyRefetchLimited, carrying
	//     when a refetch becomes possible: anyone can post a JWT to a
	//     back-channel logout endpoint, and forged kids must not make the
	//     application hammer the provider.
	//   - A failed fetch keeps the cached keys serving; the next attempt
	//     may come after a back-off of 1 s, doubling, capped at the
	//     interval.
	//
	// Zero: 10 seconds; negative: no cooldown and no back-off.
	JWKSRefetchInterval time.Duration
	// JWKSMaxAge is how long a fetched JWKS is used before it is refetched,
	// so that a key the provider withdrew (retired, compromised) stops
	// verifying. The refetch happens in the background: no request waits
	// for it, the old set serves until the new one arrives, and keeps
	// serving while the provider cannot be reached. A shorter
	// Cache-Control max-age from the provider is respected (counted as at
	// least one minute), a longer one is not. Zero: 10 minutes; negative is
	// an error.
	JWKSMaxAge time.Duration

	// RequireLogoutTokenExp refuses logout tokens without an "exp" claim
	// ([MissingClaimError] naming exp). Zero: such tokens are accepted, as
	// Back-Channel Logout 1.0 allows and as Ory Hydra (VinID OneID) and
	// oidc-provider 6.x send them; their age is then bounded by "iat" and
	// LogoutTokenMaxAge, and the replay cache holds their jti for as long
	// (LogoutToken.AcceptUntil) — as secure as an exp.
	RequireLogoutTokenExp bool
	// LogoutTokenMaxAge bounds the age (by "iat") of a logout token without
	// "exp". Zero: 2 minutes.
	LogoutTokenMaxAge time.Duration

	// SkipDiscovery, when true, makes New use Endpoints instead of fetching
	// the discovery document; Endpoints.Authorization, Endpoints.Token and
	// Endpoints.JWKS are then required.
	SkipDiscovery bool
	// Endpoints override what discovery found, field by field (for providers
	// with incomplete discovery), or replace discovery with SkipDiscovery.
	Endpoints Endpoints
	// AllowHTTPIssuer accepts an http issuer on a non-loopback host (for
	// development setups only).
	AllowHTTPIssuer bool
	// LazyDiscovery lets an application start while its provider is
	// unreachable. New then checks everything it can without the network
	// (the issuer URL, the client's credentials and algorithms, the
	// endpoint overrides, ...) and returns at once, and the discovery
	// document is fetched in the background: at once, then after each
	// failure with a back-off of 1 s doubling up to 1 minute (on the
	// Now clock), until an attempt succeeds. What discovery settles (the
	// endpoints, the algorithm allow-list, the authentication method, the
	// key set) is then published to every call at once.
	//
	// Until then every call that needs the provider — StartLogin,
	// Callback, Refresh, VerifyLogoutToken, EndSessionURL, EndSessionForm,
	// SignOut, Revoke, Introspect, UserInfo — fails with a
	// [*DiscoveryRetryError], which matches ErrNotDiscovered and
	// ErrProviderUnavailable and says when to retry
	// ([RetryAfterSeconds]). A call that arrives when the back-off allows
	// an attempt starts one at once and waits for it (within its context;
	// ProviderTimeout bounds the attempt), so that the first login after
	// the provider is back succeeds without waiting for the back-off. A
	// call that arrives while the first attempt (the one New starts) is in
	// progress waits for it too, so that the requests right after a start
	// do not fail while the provider answers. Once an attempt has failed,
	// a call that arrives while another is in progress, or within the
	// back-off, fails at once. Metadata and AuthMethod report nothing
	// discovered meanwhile; [Client.Discovered] reports why the last
	// attempt failed, for a health check, and [Client.Ready] waits for
	// discovery.
	//
	// A mistake that only discovery reveals (a document from another
	// issuer, an HTML page at the issuer URL, no signing algorithm in
	// common) is retried like an outage, and shows in Discovered and in
	// each attempt's event.ProviderCall, whose Err carries it.
	//
	// New's ctx is the lifetime of the background attempts: they stop
	// when it is done (an attempt in progress finishes first, within
	// ProviderTimeout), and none is made if it is done already. Calls
	// still start attempts after that. Pass a context that ends when the
	// application shuts down, not a request's or a short timeout.
	//
	// Zero: New discovers the provider itself and fails when it cannot.
	// LazyDiscovery has no effect with SkipDiscovery, which needs no
	// network.
	LazyDiscovery bool

	// HTTPClient makes every request to the provider. Zero: a client with a
	// 10-second timeout (never http.DefaultClient).
	HTTPClient *http.Client
	// ProviderTimeout bounds every request to the provider (discovery, the
	// token endpoint at callback and refresh, userinfo, revocation,
	// introspection, the JWKS), from sending it to reading the whole
	// answer, whatever HTTPClient's own Timeout: a request that runs out
	// fails with an error wrapping ErrProviderUnavailable and
	// context.DeadlineExceeded. A shorter deadline on the caller's context,
	// or a shorter HTTPClient.Timeout, still wins. Zero: 10 seconds;
	// negative is an error.
	ProviderTimeout time.Duration
	// Observer receives the client's lifecycle events (key set fetches and
	// provider calls); the middleware and the back-channel receiver built
	// on this client report theirs to it too unless given their own. Zero:
	// none.
	Observer event.Observer
	// Now is the clock. Zero: time.Now.
	Now func() time.Time
}

// MultiTenant is the tenant policy of a multi-tenant issuer (see
// Config.MultiTenant). A token is accepted when its iss is the template
// with "{tenantid}" replaced by its "tid" claim, and that tenant is
// allowed. Its verified claims then name Config.Issuer (the tenant stays
// in the raw claims' tid), so that sessions and logouts — Entra's
// front-channel logout carries no iss — agree on one issuer.
type MultiTenant struct {
	// IssuerTemplate is the template, such as
	// "https://login.microsoftonline.com/{tenantid}/v2.0". Zero: the
	// issuer the discovery document states.
	IssuerTemplate string
	// Tenants are the tenant IDs accepted.
	Tenants []string
	// AnyTenant accepts every tenant: any organisation's users may log
	// in. It must be set explicitly; Tenants is then ignored.
	AnyTenant bool
}

// tenantPlaceholder is the tenant in a multi-tenant issuer template.
const tenantPlaceholder = "{tenantid}"

// Endpoints are provider URLs. Any field left empty is taken from discovery.
type Endpoints struct {
	Authorization, Token, UserInfo, JWKS  string
	EndSession, Revocation, Introspection string
}

// AuthMethod is a token endpoint client authentication method (OpenID
// Connect Core 9).
type AuthMethod string

// The client authentication methods rp supports.
const (
	AuthClientSecretBasic AuthMethod = "client_secret_basic"
	AuthClientSecretPost  AuthMethod = "client_secret_post"
	AuthClientSecretJWT   AuthMethod = "client_secret_jwt"
	AuthPrivateKeyJWT     AuthMethod = "private_key_jwt"
	AuthNone              AuthMethod = "none"
)

const (
	defaultClockSkew       = time.Minute
	defaultLoginTimeout    = 10 * time.Minute
	defaultRefetchInterval = 10 * time.Second
	defaultJWKSMaxAge      = 10 * time.Minute
	defaultHTTPTimeout     = 10 * time.Second
	defaultLogoutMaxAge    = 2 * time.Minute
	maxResponseBytes       = 1 << 20
	maxTokenBytes          = 64 << 10
)
