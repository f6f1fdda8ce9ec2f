package rp

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/rpkit/rpkit/event"
	"golang.org/x/oauth2"
)

// Metadata is the part of the provider's discovery document (OpenID Connect
// Discovery 1.0, RFC 8414 and the logout specifications) that rp uses, after
// Config.Endpoints were applied.
type Metadata struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	UserInfoEndpoint      string `json:"userinfo_endpoint"`
	JWKSURI               string `json:"jwks_uri"`
	EndSessionEndpoint    string `json:"end_session_endpoint"`
	RevocationEndpoint    string `json:"revocation_endpoint"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`

	TokenEndpointAuthMethods []string `json:"token_endpoint_auth_methods_supported"`
	IDTokenSigningAlgs       []string `json:"id_token_signing_alg_values_supported"`
	CodeChallengeMethods     []string `json:"code_challenge_methods_supported"`
	ResponseModes            []string `json:"response_modes_supported"`
	ScopesSupported          []string `json:"scopes_supported"`

	BackchannelLogoutSupported         bool `json:"backchannel_logout_supported"`
	BackchannelLogoutSessionSupported  bool `json:"backchannel_logout_session_supported"`
	FrontchannelLogoutSupported        bool `json:"frontchannel_logout_supported"`
	FrontchannelLogoutSessionSupported bool `json:"frontchannel_logout_session_supported"`
	// AuthorizationResponseIssParameterSupported (RFC 9207): when true,
	// every authorization response must carry an "iss" parameter equal to
	// the issuer, which [Client.Callback] then requires.
	AuthorizationResponseIssParameterSupported bool `json:"authorization_response_iss_parameter_supported"`
}

// Client talks to one OpenID Provider on behalf of one registered client. It
// holds no per-user state and is safe for concurrent use. Build it with [New].
type Client struct {
	cfg Config // defaults applied
	// http bounds each request by cfg.ProviderTimeout and reports it
	// (deadlineTransport): discovery, userinfo, the JWKS.
	http *http.Client
	// d holds what discovery settled, published at once when it is done
	// (in New, or later with Config.LazyDiscovery). A pointer, so that the
	// copies the value-receiver Format methods make share it.
	d *discovery
}

// New builds a Client: it validates cfg, fetches the discovery document
// (unless cfg.SkipDiscovery) and settles the algorithm allow-list and the
// client authentication method. A bad issuer URL, an unreachable provider
// or a malformed document is an error here, never later — unless
// cfg.LazyDiscovery defers discovery, in which case New checks only what
// needs no network, returns at once and discovers in the background.
//
// Without LazyDiscovery, ctx bounds the discovery request only. With it,
// ctx bounds the background attempts: they stop when ctx is done (see
// Config.LazyDiscovery).
func New(ctx context.Context, cfg Config) (*Client, error) {
	if err := checkIssuer(cfg.Issuer, cfg.AllowHTTPIssuer); err != nil {
		return nil, err
	}
	if cfg.ClientID == "" {
		return nil, fmt.Errorf("%w: ClientID is empty", ErrConfig)
	}
	applyProfile(&cfg)
	for _, name := range cfg.KeepAuthorizationParams {
		switch name {
		case "", "code", "state", "iss", "error", "error_description", "error_uri":
			// A kept code would be a credential stored with the session.
			return nil, fmt.Errorf("%w: KeepAuthorizationParams: %q cannot be kept", ErrConfig, name)
		}
	}
	cfg.KeepAuthorizationParams = slices.Clone(cfg.KeepAuthorizationParams)
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: defaultHTTPTimeout}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	switch {
	case cfg.ClockSkew == 0:
		cfg.ClockSkew = defaultClockSkew
	case cfg.ClockSkew < 0:
		cfg.ClockSkew = 0
	}
	if cfg.LoginTimeout <= 0 {
		cfg.LoginTimeout = defaultLoginTimeout
	}
	if cfg.LogoutTokenMaxAge <= 0 {
		cfg.LogoutTokenMaxAge = defaultLogoutMaxAge
	}
	if cfg.JWKSRefetchInterval == 0 {
		cfg.JWKSRefetchInterval = defaultRefetchInterval
	}
	switch {
	case cfg.ProviderTimeout == 0:
		cfg.ProviderTimeout = defaultHTTPTimeout
	case cfg.ProviderTimeout < 0:
		return nil, fmt.Errorf("%w: ProviderTimeout is negative", ErrConfig)
	}
	switch {
	case cfg.JWKSMaxAge == 0:
		cfg.JWKSMaxAge = defaultJWKSMaxAge
	case cfg.JWKSMaxAge < 0:
		return nil, fmt.Errorf("%w: JWKSMaxAge is negative", ErrConfig)
	}
	if err := checkOffline(cfg); err != nil {
		return nil, err
	}

	c := &Client{cfg: cfg, d: newDiscovery()}
	c.http = withTransport(cfg.HTTPClient, c.bounded)
	switch {
	case cfg.SkipDiscovery:
		p, err := c.settle(Metadata{})
		if err != nil {
			return nil, err
		}
		c.d.publish(p)
	case cfg.LazyDiscovery:
		c.d.background(ctx, c)
	default:
		p, err := c.discover(ctx)
		if err != nil {
			return nil, err
		}
		c.d.publish(p)
	}
	return c, nil
}

// bounded wraps base in the transport every request to the provider goes
// through: a deadline, whatever the HTTPClient's own Timeout (none, in a
// custom client, is common), so that a provider that accepts the
// connection and never answers holds no callback, refresh or key fetch
// forever; and an event.ProviderCall per request.
func (c *Client) bounded(base http.RoundTripper) http.RoundTripper {
	return &deadlineTransport{base: base, timeout: c.cfg.ProviderTimeout,
		observer: c.cfg.Observer, issuer: c.cfg.Issuer, name: c.endpointName}
}

// checkOffline checks what of cfg can be checked without the provider's
// metadata, so that a client with LazyDiscovery fails in New for every
// mistake it can: the configured algorithms, authentication method and
// key, the multi-tenant policy, the endpoint overrides.
func checkOffline(cfg Config) error {
	if _, err := allowedAlgs(cfg.SigningAlgs, nil, len(cfg.ClientSecret)); err != nil {
		return err
	}
	method, err := pickAuthMethod(cfg, nil)
	if err != nil {
		return err
	}
	if _, err := newClientAuth(cfg, method); err != nil {
		return err
	}
	if mt := cfg.MultiTenant; mt != nil {
		if mt.IssuerTemplate != "" && !strings.Contains(mt.IssuerTemplate, tenantPlaceholder) {
			return fmt.Errorf("%w: MultiTenant: issuer template %q has no %s", ErrConfig, mt.IssuerTemplate, tenantPlaceholder)
		}
		if len(mt.Tenants) == 0 && !mt.AnyTenant {
			return fmt.Errorf("%w: MultiTenant: list the Tenants to accept, or set AnyTenant", ErrConfig)
		}
	}
	e := cfg.Endpoints
	for _, v := range []struct{ name, value string }{
		{"Authorization", e.Authorization}, {"Token", e.Token}, {"UserInfo", e.UserInfo}, {"JWKS", e.JWKS},
		{"EndSession", e.EndSession}, {"Revocation", e.Revocation}, {"Introspection", e.Introspection},
	} {
		if v.value == "" {
			continue
		}
		u, err := url.Parse(v.value)
		if err == nil {
			err = checkURL("Endpoints."+v.name, u, cfg.AllowHTTPIssuer)
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrDiscovery, err)
		}
	}
	return nil
}

// discover fetches the discovery document and settles what it decides. The
// request's event.ProviderCall carries the error that made the answer
// unusable, if any, even when the provider answered 200: an HTML page,
// another issuer or no algorithm in common is a configuration mistake
// that an operator must see.
func (c *Client) discover(ctx context.Context) (p *provider, err error) {
	ctx, held := holdCalls(ctx)
	defer func() { held.release(err) }()
	m, err := fetchMetadata(ctx, c.http, c.cfg.Issuer, c.cfg.MultiTenant != nil)
	if err != nil {
		return nil, err
	}
	return c.settle(*m)
}

// settle makes the provider state of meta, the discovery document (zero
// with SkipDiscovery): Config.Endpoints applied, the algorithm allow-list,
// the authentication method, the key set, the x/oauth2 configuration.
func (c *Client) settle(meta Metadata) (*provider, error) {
	cfg := c.cfg
	var tenantIssuer string // the template of a multi-tenant issuer
	if mt := cfg.MultiTenant; mt != nil {
		tenantIssuer = cmp.Or(mt.IssuerTemplate, meta.Issuer)
		if !strings.Contains(tenantIssuer, tenantPlaceholder) {
			return nil, fmt.Errorf("%w: MultiTenant: issuer template %q has no %s", ErrConfig, tenantIssuer, tenantPlaceholder)
		}
	}
	meta.Issuer = cfg.Issuer
	override(&meta.AuthorizationEndpoint, cfg.Endpoints.Authorization)
	override(&meta.TokenEndpoint, cfg.Endpoints.Token)
	override(&meta.UserInfoEndpoint, cfg.Endpoints.UserInfo)
	override(&meta.JWKSURI, cfg.Endpoints.JWKS)
	override(&meta.EndSessionEndpoint, cfg.Endpoints.EndSession)
	if meta.EndSessionEndpoint == "" && cfg.Profile.EndSessionPath != "" {
		meta.EndSessionEndpoint = strings.TrimSuffix(cfg.Issuer, "/") + cfg.Profile.EndSessionPath
	}
	override(&meta.RevocationEndpoint, cfg.Endpoints.Revocation)
	override(&meta.IntrospectionEndpoint, cfg.Endpoints.Introspection)
	if err := checkEndpoints(&meta, cfg.AllowHTTPIssuer); err != nil {
		return nil, err
	}

	p := &provider{meta: meta, tenantIssuer: tenantIssuer, names: endpointList(cfg.Issuer, &meta)}
	var err error
	if p.algs, err = allowedAlgs(cfg.SigningAlgs, meta.IDTokenSigningAlgs, len(cfg.ClientSecret)); err != nil {
		return nil, err
	}
	if p.method, err = pickAuthMethod(cfg, meta.TokenEndpointAuthMethods); err != nil {
		return nil, err
	}
	auth, err := newClientAuth(cfg, p.method)
	if err != nil {
		return nil, err
	}
	p.token = withTransport(cfg.HTTPClient, func(base http.RoundTripper) http.RoundTripper {
		return c.bounded(&authTransport{base: base, auth: auth})
	})
	// Credentials are added per hop by the transport: never follow a
	// redirect with them; a 3xx is the provider's answer.
	p.token.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	p.keys = newKeySet(c.http, meta.JWKSURI, cfg)

	scopes := []string{oidc.ScopeOpenID}
	for _, s := range cfg.Scopes {
		if s != "" && !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	p.oauth2 = oauth2.Config{
		ClientID:    cfg.ClientID,
		RedirectURL: cfg.RedirectURL,
		Scopes:      scopes,
		// Client authentication is added by p.token's transport, for every
		// method alike; x/oauth2 only sends client_id in the body.
		Endpoint: oauth2.Endpoint{
			AuthURL:   meta.AuthorizationEndpoint,
			TokenURL:  meta.TokenEndpoint,
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
	return p, nil
}

// Metadata returns the provider metadata the client uses. Before a client
// with Config.LazyDiscovery has discovered its provider, only Issuer is
// set ([Client.Discovered] says why).
func (c *Client) Metadata() Metadata {
	p := c.d.current()
	if p == nil {
		return Metadata{Issuer: c.cfg.Issuer}
	}
	m := p.meta
	m.TokenEndpointAuthMethods = slices.Clone(m.TokenEndpointAuthMethods)
	m.IDTokenSigningAlgs = slices.Clone(m.IDTokenSigningAlgs)
	m.CodeChallengeMethods = slices.Clone(m.CodeChallengeMethods)
	m.ResponseModes = slices.Clone(m.ResponseModes)
	m.ScopesSupported = slices.Clone(m.ScopesSupported)
	return m
}

// AuthMethod returns the client authentication method in use: "" before a
// client with Config.LazyDiscovery has discovered its provider (the
// choice may depend on what the provider supports).
func (c *Client) AuthMethod() AuthMethod {
	if p := c.d.current(); p != nil {
		return p.method
	}
	return ""
}

// Observer returns Config.Observer (nil when none was set).
func (c *Client) Observer() event.Observer { return c.cfg.Observer }

// Issuer returns the configured issuer.
func (c *Client) Issuer() string { return c.cfg.Issuer }

// ClientID returns the configured client ID.
func (c *Client) ClientID() string { return c.cfg.ClientID }

// RedirectURL returns the configured redirect (callback) URL.
func (c *Client) RedirectURL() string { return c.cfg.RedirectURL }

// LoginTimeout returns how long a [LoginState] stays usable.
func (c *Client) LoginTimeout() time.Duration { return c.cfg.LoginTimeout }

func override(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

// endpointName names the endpoint of a request to the provider, for its
// event.ProviderCall.
func (c *Client) endpointName(u *url.URL) string {
	if p := c.d.current(); p != nil {
		return nameOf(p.names, u)
	}
	return nameOf(endpointList(c.cfg.Issuer, nil), u)
}

// wellKnownURL is the issuer's discovery document URL.
func wellKnownURL(issuer string) string {
	return strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
}

// fetchMetadata fetches and checks the discovery document.
func fetchMetadata(ctx context.Context, hc *http.Client, issuer string, multiTenant bool) (m *Metadata, err error) {
	wellKnown := wellKnownURL(issuer)
	resp, err := get(ctx, hc, wellKnown, "application/json", nil)
	if err != nil {
		return nil, err
	}
	if resp.status != http.StatusOK {
		return nil, fmt.Errorf("%w: %s answered HTTP %d", ErrDiscovery, wellKnown, resp.status)
	}
	m = new(Metadata)
	if err := json.Unmarshal(resp.body, m); err != nil {
		if ct := resp.header.Get("Content-Type"); strings.HasPrefix(ct, "text/html") ||
			bytes.HasPrefix(bytes.TrimSpace(resp.body), []byte("<")) {
			// A login page, a proxy's or a web server's page: the issuer
			// names something that is not the provider.
			return nil, fmt.Errorf("%w: %s answered an HTML page, not a discovery document: the issuer URL is probably wrong", ErrDiscovery, wellKnown)
		}
		return nil, fmt.Errorf("%w: malformed document: %v", ErrDiscovery, err)
	}
	if m.Issuer != issuer && !(multiTenant && strings.Contains(m.Issuer, tenantPlaceholder)) {
		return nil, fmt.Errorf("%w: configured %q, document says %q", ErrIssuerMismatch, issuer, m.Issuer)
	}
	return m, nil
}

// response is a provider's answer, read whole (at most maxResponseBytes).
type response struct {
	status int
	header http.Header
	body   []byte
}

// get performs a GET. A transport failure or a 5xx answer wraps
// ErrProviderUnavailable.
func get(ctx context.Context, hc *http.Client, u, accept string, header http.Header) (*response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", accept)
	return do(hc, req)
}

// do sends req and reads the answer. A transport failure or a 5xx answer
// wraps ErrProviderUnavailable. When hc is one of the Client's, its
// ProviderTimeout bounds the whole call: every redirect hop and the
// reading of the body.
func do(hc *http.Client, req *http.Request) (*response, error) {
	if dt, ok := hc.Transport.(*deadlineTransport); ok {
		ctx, cancel := dt.bound(req.Context())
		defer cancel()
		req = req.WithContext(ctx)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, unavailable(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, unavailable(err)
	}
	if len(body) > maxResponseBytes {
		return nil, fmt.Errorf("rp: response from %s exceeds %d bytes", safeURL(req.URL), maxResponseBytes)
	}
	if resp.StatusCode >= 500 {
		return nil, fmt.Errorf("%w: %s answered HTTP %d", ErrProviderUnavailable, safeURL(req.URL), resp.StatusCode)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// unavailable wraps a transport error. The cause (a timeout, a refused
// connection, a cancelled context) stays reachable with errors.Is/As; the
// URL of a *url.Error loses its query and user info (safeURL).
func unavailable(err error) error {
	if ue, ok := err.(*url.Error); ok {
		if u, perr := url.Parse(ue.URL); perr == nil {
			err = &url.Error{Op: ue.Op, URL: safeURL(u), Err: ue.Err}
		}
	}
	return fmt.Errorf("%w: %w", ErrProviderUnavailable, err)
}

// safeURL is u for an error message: without user info, query or fragment,
// which may carry credentials (an API key in a JWKS URL's query, say).
func safeURL(u *url.URL) string {
	v := *u
	v.User, v.RawQuery, v.ForceQuery, v.Fragment, v.RawFragment = nil, "", false, "", ""
	return v.String()
}

func checkIssuer(issuer string, allowHTTP bool) error {
	if issuer == "" {
		return fmt.Errorf("%w: Issuer is empty", ErrConfig)
	}
	u, err := url.Parse(issuer)
	if err != nil {
		return fmt.Errorf("%w: Issuer: %v", ErrConfig, err)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%w: Issuer %q must have no query, fragment or user info", ErrConfig, issuer)
	}
	return checkURL("Issuer", u, allowHTTP)
}

func checkURL(what string, u *url.URL, allowHTTP bool) error {
	if u.Host == "" {
		return fmt.Errorf("%w: %s %q is not an absolute URL", ErrConfig, what, u.Redacted())
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if allowHTTP || isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%w: %s %q uses http on a non-loopback host (set AllowHTTPIssuer for development)", ErrConfig, what, u.Redacted())
	}
	return fmt.Errorf("%w: %s %q must be an https URL", ErrConfig, what, u.Redacted())
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func checkEndpoints(m *Metadata, allowHTTP bool) error {
	endpoints := []struct {
		name, value string
		required    bool
	}{
		{"authorization_endpoint", m.AuthorizationEndpoint, true},
		{"token_endpoint", m.TokenEndpoint, true},
		{"jwks_uri", m.JWKSURI, true},
		{"userinfo_endpoint", m.UserInfoEndpoint, false},
		{"end_session_endpoint", m.EndSessionEndpoint, false},
		{"revocation_endpoint", m.RevocationEndpoint, false},
		{"introspection_endpoint", m.IntrospectionEndpoint, false},
	}
	for _, e := range endpoints {
		if e.value == "" {
			if e.required {
				return fmt.Errorf("%w: no %s (set Config.Endpoints)", ErrDiscovery, e.name)
			}
			continue
		}
		u, err := url.Parse(e.value)
		if err == nil {
			err = checkURL(e.name, u, allowHTTP)
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrDiscovery, err)
		}
	}
	return nil
}

// allowedAlgs intersects the configured allow-list (default RS256) with the
// provider's advertised algorithms (when it advertises any). "none" is
// refused outright; HMAC needs a client secret at least as long as its
// hash (RFC 7518 3.2): a shorter one could verify no token.
func allowedAlgs(configured, advertised []string, secretLen int) ([]jose.SignatureAlgorithm, error) {
	haveSecret := secretLen > 0
	if len(configured) == 0 {
		configured = []string{string(jose.RS256)}
	}
	var algs []jose.SignatureAlgorithm
	for _, a := range configured {
		switch {
		case strings.EqualFold(a, "none"):
			return nil, fmt.Errorf("%w: signing algorithm \"none\" is never allowed", ErrConfig)
		case isHMAC(a) && !haveSecret:
			return nil, fmt.Errorf("%w: %s needs a ClientSecret", ErrConfig, a)
		case isHMAC(a) && secretLen < hmacKeyBytes(a):
			return nil, fmt.Errorf("%w: %s needs a ClientSecret of at least %d bytes (it has %d)", ErrConfig, a, hmacKeyBytes(a), secretLen)
		case !slices.Contains(supportedAlgs, jose.SignatureAlgorithm(a)):
			return nil, fmt.Errorf("%w: unsupported signing algorithm %q", ErrConfig, a)
		}
		if len(advertised) == 0 || slices.Contains(advertised, a) {
			algs = append(algs, jose.SignatureAlgorithm(a))
		}
	}
	if len(algs) == 0 {
		return nil, fmt.Errorf("%w: no signing algorithm in both SigningAlgs %q and the provider's %q", ErrConfig, configured, advertised)
	}
	return algs, nil
}

var supportedAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
	jose.HS256, jose.HS384, jose.HS512,
}

func isHMAC(alg string) bool { return strings.HasPrefix(alg, "HS") }

// hmacKeyBytes is the least key size of an HMAC algorithm: its hash's
// output size (RFC 7518 3.2), which go-jose enforces when signing and
// verifying.
func hmacKeyBytes(alg string) int {
	switch alg {
	case "HS384":
		return 48
	case "HS512":
		return 64
	}
	return 32
}

func pickAuthMethod(cfg Config, advertised []string) (AuthMethod, error) {
	m := cfg.AuthMethod
	if m == "" {
		switch {
		case cfg.PrivateKey != nil:
			m = AuthPrivateKeyJWT
		case cfg.ClientSecret == "":
			m = AuthNone
		case len(advertised) == 0 || slices.Contains(advertised, string(AuthClientSecretBasic)):
			m = AuthClientSecretBasic
		case slices.Contains(advertised, string(AuthClientSecretPost)):
			m = AuthClientSecretPost
		case slices.Contains(advertised, string(AuthClientSecretJWT)):
			m = AuthClientSecretJWT
		default:
			return "", fmt.Errorf("%w: the provider supports none of the client secret methods (it lists %q)", ErrConfig, advertised)
		}
	}
	switch m {
	case AuthClientSecretBasic, AuthClientSecretPost, AuthClientSecretJWT:
		if cfg.ClientSecret == "" {
			return "", fmt.Errorf("%w: %s needs a ClientSecret", ErrConfig, m)
		}
		if m == AuthClientSecretJWT && len(cfg.ClientSecret) < hmacKeyBytes("HS256") {
			// Its assertions are HS256, keyed with the secret: a shorter
			// one would fail every token request, as if the provider were
			// down.
			return "", fmt.Errorf("%w: client_secret_jwt signs HS256 assertions, which need a ClientSecret of at least %d bytes (it has %d)",
				ErrConfig, hmacKeyBytes("HS256"), len(cfg.ClientSecret))
		}
	case AuthPrivateKeyJWT:
		if cfg.PrivateKey == nil {
			return "", fmt.Errorf("%w: private_key_jwt needs a PrivateKey", ErrConfig)
		}
	case AuthNone:
	default:
		return "", fmt.Errorf("%w: unknown AuthMethod %q", ErrConfig, m)
	}
	return m, nil
}

// withTransport returns a copy of hc whose transport is wrap(hc's transport).
func withTransport(hc *http.Client, wrap func(base http.RoundTripper) http.RoundTripper) *http.Client {
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c := *hc
	c.Transport = wrap(base)
	return &c
}
