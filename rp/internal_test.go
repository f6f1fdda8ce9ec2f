package rp

import (
	"context"
	"net/url"
	"testing"

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

// BenchmarkVerifyIDToken measures the per-token cost of the ID token
// checklist once the key set is cached (the steady state: no JWKS request).
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
	chk := idCheck{nonce: st.Nonce, accessToken: string(tok.AccessToken)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.verifyIDToken(ctx, string(tok.IDToken), chk); err != nil {
			b.Fatal(err)
		}
	}
	if n := op.Count("jwks"); n != 1 {
		b.Fatalf("JWKS fetched %d times", n)
	}
}
