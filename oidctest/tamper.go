package oidctest

import (
	"net/http"
)

// TokenKind names the kind of token a [Mint] is.
type TokenKind string

// Kinds of tokens that pass through token hooks.
const (
	IDToken     TokenKind = "id_token"     // issued by /token (code and refresh grants)
	LogoutToken TokenKind = "logout_token" // minted by Provider.LogoutToken and Provider.BackchannelLogout
)

// Mint is one token about to be signed. A token hook may change anything in
// it.
type Mint struct {
	// Kind is the kind of token.
	Kind TokenKind
	// Header holds "alg", "kid", "typ" and any other header member. Deleting
	// a member (or, for typ, setting it to nil) omits it.
	Header map[string]any
	// Claims are the claims; delete a key to omit the claim.
	Claims map[string]any
	// Key signs the token: a crypto.Signer (*rsa.PrivateKey,
	// *ecdsa.PrivateKey, ...) or a []byte for HS256/384/512. The provider sets
	// it to its current key for Header["alg"]; a hook may replace it, for
	// example with a key that is not in the JWKS. Header["alg"] == "none"
	// produces an unsigned token.
	Key any
}

// SetTokenHook installs f for every token of that kind until it is
// replaced; nil removes it. f runs after the provider has filled Header,
// Claims and Key and before signing.
//
// If f changes Header["alg"] but leaves Key alone, the provider signs with
// its key for the new alg: the RSA key for RS* and PS*, the EC key for
// ES256, the client's secret for HS* (the client is the token's audience).
// Nothing else follows the alg: kid and at_hash stay as the hook left them
// (kids are listed by [Provider.SigningKeyIDs]).
func (p *Provider) SetTokenHook(kind TokenKind, f func(*Mint)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	setOrDelete(p.tokenHooks, kind, f)
}

// Response is one JSON response about to be written by an endpoint.
type Response struct {
	// Status is the HTTP status code.
	Status int
	// Header holds the response headers, including Content-Type.
	Header http.Header
	// Body is the JSON object to send; a hook may set members of the wrong
	// type, delete members, and so on.
	Body map[string]any
	// Raw, if non-nil after the hook, is sent verbatim instead of Body (to
	// test malformed JSON).
	Raw []byte
}

// SetResponseHook installs f for every JSON response of the endpoint
// ("discovery", "jwks", "token", "userinfo", "introspection" or
// "revocation"), error responses included, until it is replaced; nil
// removes it.
func (p *Provider) SetResponseHook(endpoint string, f func(*Response)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	setOrDelete(p.responseHooks, endpoint, f)
}

// setOrDelete sets m[k] = f, or deletes k when f is nil.
func setOrDelete[K comparable, F any](m map[K]func(F), k K, f func(F)) {
	if f == nil {
		delete(m, k)
	} else {
		m[k] = f
	}
}

// mint signs a token of that kind for clientID through its token hook. The
// header gets the provider's SigningAlg, the kid of its current key and the
// typ of the kind. When accessToken is not empty, claims get its at_hash.
func (p *Provider) mint(kind TokenKind, clientID string, claims map[string]any, accessToken string) (string, error) {
	alg := p.cfg.SigningAlg
	key, kid, err := p.keyFor(alg, clientID)
	if err != nil {
		return "", err
	}
	typ := "JWT"
	if kind == LogoutToken {
		typ = "logout+jwt"
	}
	if accessToken != "" {
		claims["at_hash"] = atHash(alg, accessToken)
	}
	m := &Mint{Kind: kind, Header: map[string]any{"alg": alg, "kid": kid, "typ": typ}, Claims: claims, Key: key}

	p.mu.Lock()
	hook := p.tokenHooks[kind]
	p.mu.Unlock()
	if hook != nil {
		hook(m)
		// The provider's key is a pointer, so this comparison cannot panic
		// whatever the hook stored.
		if newAlg, ok := m.Header["alg"].(string); ok && newAlg != alg && m.Key == key {
			if m.Key, _, err = p.keyFor(newAlg, clientID); err != nil {
				return "", err
			}
		}
	}
	if m.Header["typ"] == nil {
		delete(m.Header, "typ")
	}
	return sign(m.Header, m.Claims, m.Key)
}
