package oidctest

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// assertionType is the client_assertion_type of JWT client authentication
// (RFC 7523).
const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Algorithms accepted in client assertions, by authentication method.
var (
	secretJWTAlgs = []jose.SignatureAlgorithm{jose.HS256, jose.HS384, jose.HS512}
	keyJWTAlgs    = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.PS256}
)

// authenticateClient authenticates the client of a token, revocation or
// introspection request with the method the client registered. It returns
// the client and the method it used, or a 401 invalid_client error (400
// invalid_request when the request mixes methods).
func (p *Provider) authenticateClient(r *http.Request, form url.Values) (Client, string, *oauthError) {
	user, pass, hasBasic := r.BasicAuth()
	hasSecret := form.Has("client_secret")
	hasAssertion := form.Has("client_assertion") || form.Has("client_assertion_type")
	n := 0
	for _, b := range []bool{hasBasic, hasSecret, hasAssertion} {
		if b {
			n++
		}
	}
	if n > 1 {
		return Client{}, "", badRequest("more than one client authentication method used")
	}

	id, secret, method := form.Get("client_id"), form.Get("client_secret"), authNone
	var tok *jwt.JSONWebToken
	switch {
	case hasBasic:
		method = authBasic
		var err1, err2 error
		id, err1 = url.QueryUnescape(user)
		secret, err2 = url.QueryUnescape(pass)
		if err1 != nil || err2 != nil {
			return Client{}, "", badClient("malformed Basic credentials")
		}
		if form.Has("client_id") && form.Get("client_id") != id {
			return Client{}, "", badClient("client_id does not match the Basic credentials")
		}
	case hasSecret:
		method = authPost
	case hasAssertion:
		if form.Get("client_assertion_type") != assertionType {
			return Client{}, "", badClient("client_assertion_type must be %s", assertionType)
		}
		var err error
		if tok, err = jwt.ParseSigned(form.Get("client_assertion"), append(slices.Clone(secretJWTAlgs), keyJWTAlgs...)); err != nil {
			return Client{}, "", badClient("malformed client_assertion: %v", err)
		}
		if id == "" {
			var cl jwt.Claims
			if err := tok.UnsafeClaimsWithoutVerification(&cl); err != nil {
				return Client{}, "", badClient("malformed client_assertion claims: %v", err)
			}
			id = cl.Subject
		}
		method = authKeyJWT
		if slices.Contains(secretJWTAlgs, jose.SignatureAlgorithm(tok.Headers[0].Algorithm)) {
			method = authSecretJWT
		}
	}
	if id == "" {
		return Client{}, "", badClient("client authentication missing")
	}
	c, ok := p.lookupClient(id)
	switch {
	case !ok:
		return Client{}, "", badClient("unknown client %q", id)
	case method != c.AuthMethod:
		return Client{}, "", badClient("client %q must authenticate with %s, not %s", id, c.AuthMethod, method)
	case method == authBasic || method == authPost:
		if subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) != 1 {
			return Client{}, "", badClient("wrong client secret")
		}
	case tok != nil:
		if oe := p.checkAssertion(c, tok, p.URL(r.URL.Path)); oe != nil {
			return Client{}, "", oe
		}
	}
	return c, method, nil
}

// checkAssertion verifies a client assertion (RFC 7523 section 3) for c,
// received at endpoint, and records its jti.
func (p *Provider) checkAssertion(c Client, tok *jwt.JSONWebToken, endpoint string) *oauthError {
	var key any = c.PublicKey
	if c.AuthMethod == authSecretJWT {
		key = []byte(c.Secret)
	}
	var cl jwt.Claims
	if err := tok.Claims(key, &cl); err != nil {
		return badClient("client_assertion not verified: %v", err)
	}
	now := p.cfg.Now()
	switch {
	case cl.Issuer != c.ID || cl.Subject != c.ID:
		return badClient("client_assertion iss and sub must be the client_id")
	case !cl.Audience.Contains(p.issuer) && !cl.Audience.Contains(p.URL("/token")) && !cl.Audience.Contains(endpoint):
		return badClient("client_assertion aud must contain the issuer or the endpoint URL")
	case cl.Expiry == nil:
		return badClient("client_assertion exp missing")
	case !now.Before(cl.Expiry.Time()):
		return badClient("client_assertion expired")
	case cl.Expiry.Time().After(now.Add(time.Hour)):
		return badClient("client_assertion exp more than one hour ahead")
	case cl.NotBefore != nil && now.Before(cl.NotBefore.Time()):
		return badClient("client_assertion not yet valid (nbf)")
	case cl.ID == "":
		return badClient("client_assertion jti missing")
	}
	jtiKey := c.ID + "\x00" + cl.ID
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, exp := range p.jtis {
		if !now.Before(exp) {
			delete(p.jtis, k) // expired assertions are refused anyway
		}
	}
	if _, seen := p.jtis[jtiKey]; seen {
		return badClient("client_assertion jti already used")
	}
	p.jtis[jtiKey] = cl.Expiry.Time()
	return nil
}
