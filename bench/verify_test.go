package bench

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
)

// Row 1: ID-token verification, RS256, warm keys, rpkit's whole checklist
// ((*rp.Client).VerifyIDToken: signature, iss, aud, azp, exp, iat, nbf,
// sub, auth_time, nonce) vs go-oidc's IDTokenVerifier.Verify on a warm
// RemoteKeySet (signature, iss, aud, exp) vs the raw RSA-2048 PKCS#1 v1.5
// check both contain. Same token, same provider key.
func BenchmarkVerifyIDToken(b *testing.B) {
	ctx := context.Background()
	op := newProvider(b, oidctest.Config{})
	c := newClient(b, op, nil)
	tok, nonce := loginTokens(b, c, op) // warms rpkit's key set
	raw := string(tok.IDToken)

	keys := oidc.NewRemoteKeySet(oidc.ClientContext(ctx, op.Client()), op.URL("/jwks"))
	v := oidc.NewVerifier(op.Issuer(), keys, &oidc.Config{ClientID: oidctest.DefaultClientID})
	if _, err := v.Verify(ctx, raw); err != nil { // warms go-oidc's key set
		b.Fatal(err)
	}
	pub, signed, sig := rawRSA(b, op, raw)

	b.Run("impl=rpkit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.VerifyIDToken(ctx, rp.Secret(raw), nonce); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=go-oidc", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(ctx, raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=rsa", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := verifyRSA(pub, signed, sig); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// rawRSA returns what the raw check of an RS256 token needs: the
// provider's public key that its kid names (read from the JWKS), the
// signing input and the signature.
func rawRSA(b *testing.B, op *oidctest.Provider, raw string) (*rsa.PublicKey, string, []byte) {
	b.Helper()
	dot := strings.LastIndexByte(raw, '.')
	sig, err := base64.RawURLEncoding.DecodeString(raw[dot+1:])
	if err != nil {
		b.Fatal(err)
	}
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		b.Fatal(err)
	}
	resp, err := op.Client().Get(op.URL("/jwks"))
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("jwks: status %d", resp.StatusCode)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		b.Fatal(err)
	}
	for _, k := range set.Key(jws.Signatures[0].Protected.KeyID) {
		if pub, ok := k.Key.(*rsa.PublicKey); ok {
			return pub, raw[:dot], sig
		}
	}
	b.Fatal("the token's key is not in the JWKS")
	return nil, "", nil
}

// verifyRSA is the raw RS256 check: SHA-256 of the signing input and one
// RSA PKCS#1 v1.5 verification.
func verifyRSA(pub *rsa.PublicKey, signed string, sig []byte) error {
	sum := sha256.Sum256([]byte(signed))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig)
}
