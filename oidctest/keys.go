package oidctest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
)

// signingKey is one of the provider's key pairs.
type signingKey struct {
	kid  string
	alg  jose.SignatureAlgorithm // published "alg"
	priv crypto.Signer           // *rsa.PrivateKey or *ecdsa.PrivateKey
}

// keyring holds the current RSA and EC keys and every published key,
// newest first.
type keyring struct {
	rsaAlg    jose.SignatureAlgorithm // published alg of RSA keys
	rsa, ec   *signingKey
	published []*signingKey
}

// newKeyring makes a keyring with fresh current keys. RSA keys are
// published with alg RS256, or with signingAlg when it is an RSA alg.
func newKeyring(signingAlg string) (keyring, error) {
	kr := keyring{rsaAlg: jose.RS256}
	if strings.HasPrefix(signingAlg, "RS") || strings.HasPrefix(signingAlg, "PS") {
		kr.rsaAlg = jose.SignatureAlgorithm(signingAlg)
	}
	return kr, kr.rotate(false)
}

// rotate makes new current keys, keeping the old ones published if keepOld.
func (kr *keyring) rotate(keepOld bool) error {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("oidctest: generating RSA key: %w", err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("oidctest: generating EC key: %w", err)
	}
	kr.rsa = &signingKey{kid: randomID(), alg: kr.rsaAlg, priv: rk}
	kr.ec = &signingKey{kid: randomID(), alg: jose.ES256, priv: ek}
	if !keepOld {
		kr.published = nil
	}
	kr.published = append([]*signingKey{kr.rsa, kr.ec}, kr.published...)
	return nil
}

// RotateKeys makes new current RSA and EC signing keys (with new kids).
// With keepOld, the old public keys stay in the JWKS, so tokens they signed
// still verify; without it they are removed.
func (p *Provider) RotateKeys(keepOld bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.keys.rotate(keepOld); err != nil {
		panic(err) // unreachable: crypto/rand does not fail, and key sizes are valid
	}
}

// SigningKeyIDs returns the kids currently published in the JWKS, in JWKS
// order: the current RSA key, the current EC key, then any older keys
// (newest first).
func (p *Provider) SigningKeyIDs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	kids := make([]string, len(p.keys.published))
	for i, k := range p.keys.published {
		kids[i] = k.kid
	}
	return kids
}

// jwks returns the published public keys.
func (p *Provider) jwks() jose.JSONWebKeySet {
	p.mu.Lock()
	defer p.mu.Unlock()
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, len(p.keys.published))}
	for i, k := range p.keys.published {
		set.Keys[i] = jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"}
	}
	return set
}

// keyFor returns the key that signs alg, and its kid: the current RSA key
// for RS* and PS*, the current EC key for ES*, the client's secret for HS*
// and nil for "none". Other algs are an error.
func (p *Provider) keyFor(alg, clientID string) (key any, kid string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case alg == "none":
		return nil, "", nil
	case strings.HasPrefix(alg, "RS"), strings.HasPrefix(alg, "PS"):
		return p.keys.rsa.priv, p.keys.rsa.kid, nil
	case strings.HasPrefix(alg, "ES"):
		return p.keys.ec.priv, p.keys.ec.kid, nil
	case strings.HasPrefix(alg, "HS"):
		if c, ok := p.clients[clientID]; ok && c.Secret != "" {
			return []byte(c.Secret), "", nil
		}
		return nil, "", fmt.Errorf("oidctest: no client secret to sign %s for client %q", alg, clientID)
	}
	return nil, "", fmt.Errorf("oidctest: no key for alg %q", alg)
}

// sign serializes a compact JWS of claims with header, signed by key using
// header["alg"]. Every header member other than alg is copied as is, so a
// deleted kid or typ is omitted. alg "none" gives an unsigned token.
func sign(header, claims map[string]any, key any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("oidctest: encoding claims: %w", err)
	}
	alg, ok := header["alg"].(string)
	if !ok {
		return "", fmt.Errorf("oidctest: header alg is %T, not a string", header["alg"])
	}
	if alg == "none" {
		h, err := json.Marshal(header)
		if err != nil {
			return "", fmt.Errorf("oidctest: encoding header: %w", err)
		}
		enc := base64.RawURLEncoding
		return enc.EncodeToString(h) + "." + enc.EncodeToString(payload) + ".", nil
	}
	extra := make(map[jose.HeaderKey]any, len(header))
	for k, v := range header {
		if k != "alg" {
			extra[jose.HeaderKey(k)] = v
		}
	}
	switch k := key.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey, []byte, jose.OpaqueSigner:
	case crypto.Signer:
		key = cryptosigner.Opaque(k)
	case nil:
		return "", errors.New("oidctest: no signing key")
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: key},
		&jose.SignerOptions{ExtraHeaders: extra})
	if err != nil {
		return "", fmt.Errorf("oidctest: signing %s: %w", alg, err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("oidctest: signing %s: %w", alg, err)
	}
	return jws.CompactSerialize()
}

// atHash is the at_hash of an access token for a token signed with alg:
// the left half of its SHA-256 (SHA-384 for *384, SHA-512 for *512 and
// EdDSA), base64url without padding.
func atHash(alg, accessToken string) string {
	var h hash.Hash
	switch {
	case strings.HasSuffix(alg, "384"):
		h = sha512.New384()
	case strings.HasSuffix(alg, "512"), alg == "EdDSA":
		h = sha512.New()
	default:
		h = sha256.New()
	}
	h.Write([]byte(accessToken))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

// randomID returns 256 random bits from crypto/rand, base64url encoded
// without padding. It serves for codes, tokens, sids, jtis and kids.
func randomID() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand crashes the program instead)
	return base64.RawURLEncoding.EncodeToString(b)
}
