package rp

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/rpkit/rpkit/oidctest"
)

// FuzzTokenParsing: no token, however malformed, makes the parsers panic.
func FuzzTokenParsing(f *testing.F) {
	for _, s := range []string{
		"", ".", "..", "a.b.c", "eyJhbGciOiJub25lIn0.e30.",
		"eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOjF9.x",
		"eyJhbGciOiJSUzI1NiJ9.eyJleHAiOiJ4In0.x",
		"eyJhbGciOlsiUlMyNTYiXX0.e30.x",
		"\x00\xff.\xfe.",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		peekAlg(raw)
		storedClaims(raw)
		parseClaims([]byte(raw))
		authParam(raw, "error")
	})
}

// FuzzCallback: no authorization response makes Callback panic; none that
// lacks the login's state gets past the state check.
func FuzzCallback(f *testing.F) {
	op, err := oidctest.NewProvider(oidctest.Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(op.Close)
	c, err := New(context.Background(), Config{Issuer: op.Issuer(), ClientID: oidctest.DefaultClientID,
		ClientSecret: oidctest.DefaultClientSecret, RedirectURL: "http://127.0.0.1/cb", HTTPClient: op.Client()})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("state=x&code=y")
	f.Add("error=access_denied&state=x")
	f.Add("code=%00%ff&state=&state=")
	f.Fuzz(func(t *testing.T, query string) {
		_, st, _ := c.StartLogin()
		params, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		if _, err := c.Callback(t.Context(), st, params); err == nil {
			t.Fatalf("callback %q accepted", query)
		}
	})
}

// BenchmarkVerifyIDToken compares, on the same RS256 token in one run, the
// per-token cost of rp's whole ID token checklist once the key set is warm
// (no JWKS request), go-oidc's IDTokenVerifier.Verify on a warm
// RemoteKeySet (signature, iss, aud, exp: less than rp checks), and the raw
// RSA-2048 PKCS#1 v1.5 verification both contain. Compare the first two
// with benchstat over several runs:
//
//	go test ./rp -run '^$' -bench BenchmarkVerifyIDToken -count 6 | tee bench.txt
//	benchstat -col /impl bench.txt
func BenchmarkVerifyIDToken(b *testing.B) {
	op, err := oidctest.NewProvider(oidctest.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer op.Close()
	ctx := context.Background()
	c, err := New(ctx, Config{Issuer: op.Issuer(), ClientID: oidctest.DefaultClientID,
		ClientSecret: oidctest.DefaultClientSecret, RedirectURL: "http://127.0.0.1/cb", HTTPClient: op.Client()})
	if err != nil {
		b.Fatal(err)
	}
	authURL, st, _ := c.StartLogin()
	params, err := op.Authorize(ctx, authURL)
	if err != nil {
		b.Fatal(err)
	}
	tok, err := c.Callback(ctx, st, params)
	if err != nil {
		b.Fatal(err)
	}
	raw := string(tok.IDToken)
	chk := idCheck{nonce: st.Nonce, accessToken: string(tok.AccessToken)}

	keys := oidc.NewRemoteKeySet(oidc.ClientContext(ctx, op.Client()), op.URL("/jwks"))
	goOIDC := oidc.NewVerifier(op.Issuer(), keys, &oidc.Config{ClientID: oidctest.DefaultClientID})
	if _, err := goOIDC.Verify(ctx, raw); err != nil { // warms its key set
		b.Fatal(err)
	}

	// The raw check: the token's signing input and signature, and the
	// provider's public key it names.
	dot := strings.LastIndexByte(raw, '.')
	sig, err := base64.RawURLEncoding.DecodeString(raw[dot+1:])
	if err != nil {
		b.Fatal(err)
	}
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		b.Fatal(err)
	}
	var pub *rsa.PublicKey
	for _, k := range c.d.current().keys.cur.Load().keys {
		if k.KeyID == jws.Signatures[0].Protected.KeyID {
			pub = k.Key.(*rsa.PublicKey)
		}
	}
	if pub == nil {
		b.Fatal("signing key not cached")
	}

	b.Run("impl=rpkit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.verifyIDToken(ctx, c.d.current(), raw, chk); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=go-oidc", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := goOIDC.Verify(ctx, raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=rsa", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sum := sha256.Sum256([]byte(raw[:dot]))
			if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
				b.Fatal(err)
			}
		}
	})
	if n := op.Count("jwks"); n != 2 { // one for rp, one for go-oidc
		b.Fatalf("JWKS fetched %d times", n)
	}
}
