package oidctest

import (
	"cmp"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"
)

// Well-known defaults used when [Config] leaves clients or users empty.
const (
	// DefaultClientID is the ID of the client registered when Config.Clients is empty.
	DefaultClientID = "rpkit-test-client"
	// DefaultClientSecret is the secret of the default client (at least 32
	// bytes, so it also keys HS256).
	DefaultClientSecret = "rpkit-test-secret-0123456789abcdef"
	// DefaultSubject is the subject of the user known when Config.Users is empty.
	DefaultSubject = "alice"
)

// Token endpoint authentication methods, as registered in [Client.AuthMethod]
// and advertised in discovery.
const (
	authBasic     = "client_secret_basic"
	authPost      = "client_secret_post"
	authSecretJWT = "client_secret_jwt"
	authKeyJWT    = "private_key_jwt"
	authNone      = "none"
)

var allAuthMethods = []string{authBasic, authPost, authSecretJWT, authKeyJWT, authNone}

// Config configures a [Provider]. Every zero value is a documented default,
// so Config{} gives a working provider with one client and one user.
type Config struct {
	// Clients registered at the provider. Zero: one client {ID:
	// DefaultClientID, Secret: DefaultClientSecret, AuthMethod:
	// "client_secret_basic"} whose RedirectURIs and PostLogoutRedirectURIs are
	// empty, meaning any loopback http URL is accepted.
	Clients []Client
	// Users known to the provider. The authorization endpoint auto-approves
	// the user whose Subject equals login_hint, else the first user. Zero:
	// one user {Subject: DefaultSubject} with the claims name "Alice
	// Example", email "alice@example.com" and email_verified true.
	Users []User
	// Now is the provider's clock (iat, exp, auth_time and every expiry
	// check). Nil means time.Now.
	Now func() time.Time
	// IDTokenTTL and AccessTokenTTL are token lifetimes; zero means one hour
	// each. LogoutTokenTTL is the lifetime of logout tokens; zero means two
	// minutes.
	IDTokenTTL, AccessTokenTTL, LogoutTokenTTL time.Duration
	// RefreshTokenTTL is the lifetime of refresh tokens; zero means they do
	// not expire (and introspection reports no exp for them).
	RefreshTokenTTL time.Duration
	// RotateRefreshTokens: when true, each refresh_token grant returns a new
	// refresh token and invalidates the old one. When false the refresh
	// response carries no refresh_token member and the old one stays valid.
	RotateRefreshTokens bool
	// SigningAlg is the default alg of ID and logout tokens: "RS256" (zero)
	// or "ES256". RS384, RS512, PS256, PS384 and PS512 are accepted too: they
	// sign with the RSA key, which the JWKS then publishes with that alg.
	SigningAlg string
	// NoEndSession, NoRevocation, NoIntrospection and NoUserInfo omit the
	// endpoint from discovery and make its route answer 404.
	NoEndSession, NoRevocation, NoIntrospection, NoUserInfo bool
	// AuthMethods overrides token_endpoint_auth_methods_supported (and the
	// revocation and introspection equivalents) in discovery. Zero: all five
	// of client_secret_basic, client_secret_post, client_secret_jwt,
	// private_key_jwt and none. It does not change what clients may use:
	// each client's own AuthMethod is enforced.
	AuthMethods []string
	// SigningAlgs overrides id_token_signing_alg_values_supported in
	// discovery. Zero: ["RS256", "ES256"].
	SigningAlgs []string
	// AuthorizationResponseIss adds "iss" to every authorization response
	// and advertises authorization_response_iss_parameter_supported (RFC
	// 9207, the mix-up defence). Zero: neither.
	AuthorizationResponseIss bool
	// Addr is the address to listen on; zero means "127.0.0.1:0". The host
	// must be a loopback IP or "localhost".
	Addr string
}

// Client is a client (relying party) registered at the provider.
type Client struct {
	// ID is the client_id; required.
	ID string
	// Secret is the client secret, required by the client_secret_* methods
	// (at least 32 bytes for client_secret_jwt).
	Secret string
	// AuthMethod is the client's token_endpoint_auth_method, enforced at the
	// token, revocation and introspection endpoints: "client_secret_basic"
	// (zero), "client_secret_post", "client_secret_jwt" (HS256/384/512
	// assertion keyed with Secret), "private_key_jwt" (RS256, ES256 or PS256
	// assertion verified with PublicKey) or "none" (a public client: client_id
	// only, PKCE required).
	AuthMethod string
	// PublicKey verifies private_key_jwt assertions: an *rsa.PublicKey or an
	// *ecdsa.PublicKey (a private key is accepted and its public half used).
	PublicKey crypto.PublicKey
	// RedirectURIs and PostLogoutRedirectURIs are the registered URIs,
	// compared exactly. Empty: any http URL on 127.0.0.1, [::1] or localhost
	// is accepted.
	RedirectURIs, PostLogoutRedirectURIs []string
	// BackchannelLogoutURI receives logout tokens from
	// [Provider.BackchannelLogout]; empty means none are sent.
	BackchannelLogoutURI string
	// FrontchannelLogoutURI is the base of [Provider.FrontchannelLogoutURL].
	FrontchannelLogoutURI string
}

// User is an end-user known to the provider.
type User struct {
	// Subject is the "sub" claim; required and unique.
	Subject string
	// Claims are extra claims put in ID tokens and userinfo responses
	// (name, email, ...). They never override the provider's own claims.
	Claims map[string]any
}

// Provider is a running OpenID Provider on a loopback address. Create it
// with [NewProvider] or [Start] and stop it with [Provider.Close]. All its
// methods are safe for concurrent use.
type Provider struct {
	cfg    Config // normalized; immutable after NewProvider
	issuer string
	srv    *http.Server
	client *http.Client // follows redirects, like httptest.Server.Client
	direct *http.Client // does not follow redirects
	routes map[string]route

	mu             sync.Mutex
	clients        map[string]Client
	keys           keyring
	sessions       map[string]*session // by sid
	browsers       map[string]string   // session cookie value -> sid
	helperBrowsers map[string]string   // subject -> session cookie value of Authorize
	sessionSeq     uint64
	lastSweep      time.Time
	codes          map[string]*authCode
	tokens         map[string]*tokenRecord // access and refresh tokens
	jtis           map[string]time.Time    // client_id + "\x00" + jti -> exp
	counts         map[string]int
	revocations    []Revocation
	introspections []Introspection
	endSessions    []EndSessionRequest
	tokenRequests  []TokenRequest
	tokenHooks     map[TokenKind]func(*Mint)
	responseHooks  map[string]func(*Response)
}

// NewProvider starts a provider listening on cfg.Addr (zero:
// 127.0.0.1:0). It returns an error for an invalid configuration, such as
// a private_key_jwt client without PublicKey or a non-loopback Addr.
func NewProvider(cfg Config) (*Provider, error) {
	cfg, clients, err := normalize(cfg)
	if err != nil {
		return nil, err
	}
	keys, err := newKeyring(cfg.SigningAlg)
	if err != nil {
		return nil, err
	}
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("oidctest: Addr %q: %w", cfg.Addr, err)
	}
	if !isLoopbackHost(host) {
		return nil, fmt.Errorf("oidctest: Addr %q is not a loopback address", cfg.Addr)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("oidctest: %w", err)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	p := &Provider{
		cfg:            cfg,
		issuer:         "http://" + ln.Addr().String(),
		client:         &http.Client{Transport: transport, Timeout: 10 * time.Second},
		clients:        clients,
		keys:           keys,
		sessions:       map[string]*session{},
		browsers:       map[string]string{},
		helperBrowsers: map[string]string{},
		codes:          map[string]*authCode{},
		tokens:         map[string]*tokenRecord{},
		jtis:           map[string]time.Time{},
		counts:         map[string]int{},
		tokenHooks:     map[TokenKind]func(*Mint){},
		responseHooks:  map[string]func(*Response){},
	}
	p.direct = &http.Client{
		Transport: transport,
		Timeout:   p.client.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	p.routes = p.newRoutes()
	p.srv = &http.Server{Handler: http.HandlerFunc(p.serveHTTP), ReadHeaderTimeout: 10 * time.Second}
	go p.srv.Serve(ln) // returns http.ErrServerClosed after Close
	return p, nil
}

// normalize fills the defaults of cfg, validates it and returns the clients
// by ID.
func normalize(cfg Config) (Config, map[string]Client, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.IDTokenTTL = cmp.Or(cfg.IDTokenTTL, time.Hour)
	cfg.AccessTokenTTL = cmp.Or(cfg.AccessTokenTTL, time.Hour)
	cfg.LogoutTokenTTL = cmp.Or(cfg.LogoutTokenTTL, 2*time.Minute)
	cfg.SigningAlg = cmp.Or(cfg.SigningAlg, "RS256")
	cfg.Addr = cmp.Or(cfg.Addr, "127.0.0.1:0")
	if len(cfg.AuthMethods) == 0 {
		cfg.AuthMethods = allAuthMethods
	}
	if len(cfg.SigningAlgs) == 0 {
		cfg.SigningAlgs = []string{"RS256", "ES256"}
	}
	cfg.AuthMethods = slices.Clone(cfg.AuthMethods)
	cfg.SigningAlgs = slices.Clone(cfg.SigningAlgs)
	switch cfg.SigningAlg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256":
	default:
		return cfg, nil, fmt.Errorf("oidctest: unsupported SigningAlg %q", cfg.SigningAlg)
	}
	if cfg.IDTokenTTL < 0 || cfg.AccessTokenTTL < 0 || cfg.LogoutTokenTTL < 0 || cfg.RefreshTokenTTL < 0 {
		return cfg, nil, errors.New("oidctest: negative token lifetime")
	}

	if len(cfg.Clients) == 0 {
		cfg.Clients = []Client{{ID: DefaultClientID, Secret: DefaultClientSecret}}
	}
	clients := make(map[string]Client, len(cfg.Clients))
	for _, c := range cfg.Clients {
		c, err := checkClient(c)
		if err != nil {
			return cfg, nil, err
		}
		if _, dup := clients[c.ID]; dup {
			return cfg, nil, fmt.Errorf("oidctest: client %q registered twice", c.ID)
		}
		clients[c.ID] = c
	}
	cfg.Clients = nil // the live registry is Provider.clients

	if len(cfg.Users) == 0 {
		cfg.Users = []User{{Subject: DefaultSubject, Claims: map[string]any{
			"name": "Alice Example", "email": "alice@example.com", "email_verified": true,
		}}}
	}
	users := make([]User, len(cfg.Users))
	seen := map[string]bool{}
	for i, u := range cfg.Users {
		if u.Subject == "" || seen[u.Subject] {
			return cfg, nil, fmt.Errorf("oidctest: user %d: empty or duplicate Subject %q", i, u.Subject)
		}
		seen[u.Subject] = true
		users[i] = User{Subject: u.Subject, Claims: maps.Clone(u.Claims)}
	}
	cfg.Users = users
	return cfg, clients, nil
}

// checkClient validates c and returns a copy with AuthMethod filled in and
// the slices cloned.
func checkClient(c Client) (Client, error) {
	if c.ID == "" {
		return c, errors.New("oidctest: client with empty ID")
	}
	c.AuthMethod = cmp.Or(c.AuthMethod, authBasic)
	switch c.AuthMethod {
	case authBasic, authPost:
		if c.Secret == "" {
			return c, fmt.Errorf("oidctest: client %q: %s needs a Secret", c.ID, c.AuthMethod)
		}
	case authSecretJWT:
		if len(c.Secret) < 32 {
			return c, fmt.Errorf("oidctest: client %q: client_secret_jwt needs a Secret of at least 32 bytes", c.ID)
		}
	case authKeyJWT:
		if pk, ok := c.PublicKey.(interface{ Public() crypto.PublicKey }); ok {
			c.PublicKey = pk.Public()
		}
		switch c.PublicKey.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey:
		default:
			return c, fmt.Errorf("oidctest: client %q: private_key_jwt needs an RSA or ECDSA PublicKey, got %T", c.ID, c.PublicKey)
		}
	case authNone:
	default:
		return c, fmt.Errorf("oidctest: client %q: unknown AuthMethod %q", c.ID, c.AuthMethod)
	}
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	c.PostLogoutRedirectURIs = slices.Clone(c.PostLogoutRedirectURIs)
	return c, nil
}

// TB is the part of testing.TB that [Start] uses, so that this package need
// not import testing.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Start is [NewProvider] for tests: it calls t.Fatalf on error and registers
// [Provider.Close] with t.Cleanup.
func Start(t TB, cfg Config) *Provider {
	t.Helper()
	p, err := NewProvider(cfg)
	if err != nil {
		t.Fatalf("%v", err)
		return nil
	}
	t.Cleanup(p.Close)
	return p
}

// Issuer returns the issuer identifier, "http://127.0.0.1:PORT" with no
// trailing slash. Every endpoint URL starts with it.
func (p *Provider) Issuer() string { return p.issuer }

// URL returns Issuer() + path, for example p.URL("/token").
func (p *Provider) URL(path string) string { return p.issuer + path }

// Client returns an HTTP client for talking to the provider, like
// httptest.Server.Client. It has a timeout and follows redirects. It is
// shared: do not modify it.
func (p *Provider) Client() *http.Client { return p.client }

// Close stops the provider: it stops listening, waits (up to five seconds)
// for requests in progress, and closes idle connections of [Provider.Client].
// Close may be called more than once.
func (p *Provider) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.srv.Shutdown(ctx); err != nil {
		p.srv.Close()
	}
	p.client.CloseIdleConnections()
}

// AddClient registers c after start, replacing any client with the same
// ID. It returns an error if c is invalid (see [Config]).
func (p *Provider) AddClient(c Client) error {
	c, err := checkClient(c)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clients[c.ID] = c
	return nil
}

// lookupClient returns the registered client with that ID.
func (p *Provider) lookupClient(id string) (Client, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.clients[id]
	return c, ok
}

// user returns the user with that subject, or the first user when no user
// has it.
func (p *Provider) user(subject string) User {
	for _, u := range p.cfg.Users {
		if u.Subject == subject {
			return u
		}
	}
	return p.cfg.Users[0]
}

// Revocation is one request received by the revocation endpoint, after
// client authentication.
type Revocation struct {
	ClientID, Token, TokenTypeHint string
}

// Introspection is one request received by the introspection endpoint,
// after client authentication, with the answer given.
type Introspection struct {
	ClientID, Token, TokenTypeHint string
	Active                         bool
}

// EndSessionRequest is one request received by the end_session endpoint,
// valid or not.
type EndSessionRequest struct {
	Method string
	Params url.Values // the query (GET) or the query and form (POST)
}

// TokenRequest is one request received by the token endpoint after client
// authentication succeeded: the grant type, the client and the
// authentication method it used, and the whole form.
type TokenRequest struct {
	GrantType, ClientID, AuthMethod string
	Form                            url.Values
}

// Count reports how many requests an endpoint has received, including
// refused ones. Names: "discovery", "jwks", "authorize", "token",
// "userinfo", "revocation", "introspection", "end_session".
func (p *Provider) Count(endpoint string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[endpoint]
}

// Revocations returns the revocation requests received, in order.
func (p *Provider) Revocations() []Revocation {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.revocations)
}

// Introspections returns the introspection requests received, in order.
func (p *Provider) Introspections() []Introspection {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.introspections)
}

// EndSessionRequests returns the end_session requests received, in order.
func (p *Provider) EndSessionRequests() []EndSessionRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := slices.Clone(p.endSessions)
	for i := range out {
		out[i].Params = cloneValues(out[i].Params)
	}
	return out
}

// TokenRequests returns the token requests received, in order.
func (p *Provider) TokenRequests() []TokenRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := slices.Clone(p.tokenRequests)
	for i := range out {
		out[i].Form = cloneValues(out[i].Form)
	}
	return out
}

// cloneValues deep-copies v.
func cloneValues(v url.Values) url.Values {
	c := make(url.Values, len(v))
	for k, vs := range v {
		c[k] = slices.Clone(vs)
	}
	return c
}

// sweepLocked forgets, at most once a minute, codes, tokens and assertion
// IDs that can no longer be used, so that a long-running provider (the
// embedded development provider of examples/webapp) does not grow without
// bound. Codes are kept for a while after they expire, so that a replay
// still revokes what they issued. p.mu must be held.
func (p *Provider) sweepLocked() {
	now := p.cfg.Now()
	if now.Sub(p.lastSweep) < time.Minute {
		return
	}
	p.lastSweep = now
	for k, ac := range p.codes {
		if now.After(ac.expires.Add(codeTTL)) {
			delete(p.codes, k)
		}
	}
	for k, t := range p.tokens {
		if !t.exp.IsZero() && now.After(t.exp) {
			delete(p.tokens, k)
		}
	}
	for k, exp := range p.jtis {
		if now.After(exp) {
			delete(p.jtis, k)
		}
	}
}
