package rp

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/rpkit/rpkit/internal/randid"
)

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionLifetime is the validity of a client assertion: long enough for
// one request, short enough to be useless if captured.
const assertionLifetime = time.Minute

// clientAuth authenticates the client on one request to the token,
// revocation or introspection endpoint, by the method chosen in New.
type clientAuth struct {
	method   AuthMethod
	clientID string
	secret   string
	audience string // fixed assertion audience; empty: the request URL
	signer   jose.Signer
	now      func() time.Time
}

func newClientAuth(cfg Config, method AuthMethod) (*clientAuth, error) {
	a := &clientAuth{
		method:   method,
		clientID: cfg.ClientID,
		secret:   string(cfg.ClientSecret),
		audience: cfg.AssertionAudience,
		now:      cfg.Now,
	}
	var key jose.SigningKey
	switch a.method {
	case AuthClientSecretJWT:
		key = jose.SigningKey{Algorithm: jose.HS256, Key: []byte(a.secret)}
	case AuthPrivateKeyJWT:
		alg, err := assertionAlg(cfg.PrivateKey)
		if err != nil {
			return nil, err
		}
		key = jose.SigningKey{Algorithm: alg, Key: cryptosigner.Opaque(cfg.PrivateKey)}
	default:
		return a, nil
	}
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if cfg.PrivateKeyID != "" && a.method == AuthPrivateKeyJWT {
		opts = opts.WithHeader(jose.HeaderKey("kid"), cfg.PrivateKeyID)
	}
	signer, err := jose.NewSigner(key, opts)
	if err != nil {
		return nil, fmt.Errorf("%w: client assertion signer: %v", ErrConfig, err)
	}
	a.signer = signer
	return a, nil
}

func assertionAlg(k crypto.Signer) (jose.SignatureAlgorithm, error) {
	switch pub := k.Public().(type) {
	case *rsa.PublicKey:
		return jose.RS256, nil
	case *ecdsa.PublicKey:
		if pub.Curve == elliptic.P256() {
			return jose.ES256, nil
		}
	}
	return "", fmt.Errorf("%w: PrivateKey must be RSA or ECDSA P-256", ErrConfig)
}

// apply adds the client's credentials to r and its form.
func (a *clientAuth) apply(r *http.Request, form url.Values) error {
	form.Del("client_secret")
	switch a.method {
	case AuthClientSecretBasic:
		// RFC 6749 2.3.1: id and secret are form-encoded before Basic.
		form.Del("client_id")
		r.SetBasicAuth(url.QueryEscape(a.clientID), url.QueryEscape(a.secret))
		return nil
	case AuthClientSecretPost:
		form.Set("client_id", a.clientID)
		form.Set("client_secret", a.secret)
		return nil
	case AuthNone:
		form.Set("client_id", a.clientID)
		return nil
	}
	aud := a.audience
	if aud == "" {
		u := *r.URL
		u.RawQuery, u.Fragment = "", ""
		aud = u.String()
	}
	jti := randid.New()
	now := a.now()
	assertion, err := jwt.Signed(a.signer).Claims(jwt.Claims{
		Issuer:   a.clientID,
		Subject:  a.clientID,
		Audience: jwt.Audience{aud},
		ID:       jti,
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(assertionLifetime)),
	}).Serialize()
	if err != nil {
		return fmt.Errorf("rp: signing client assertion: %w", err)
	}
	form.Set("client_id", a.clientID)
	form.Set("client_assertion_type", assertionType)
	form.Set("client_assertion", assertion)
	return nil
}

// authTransport adds client authentication to every form POST it carries.
// x/oauth2 builds the token requests (code exchange, refresh) and rp builds
// the revocation and introspection ones; all of them get their credentials
// here, in one place, whatever the method.
type authTransport struct {
	base http.RoundTripper
	auth *clientAuth
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body == nil {
		return nil, fmt.Errorf("rp: client authentication needs a form body")
	}
	raw, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(raw))
	if err != nil {
		return nil, fmt.Errorf("rp: client authentication: %w", err)
	}
	r := req.Clone(req.Context())
	if err := t.auth.apply(r, form); err != nil {
		return nil, err
	}
	body := form.Encode()
	r.Body = io.NopCloser(strings.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }
	r.ContentLength = int64(len(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return t.base.RoundTrip(r)
}
