package rp_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
)

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestIDTokenChecks has the provider issue, for each rule of the ID token
// checklist, a token that breaks only that rule, and asserts the error that
// names it. The valid cases prove each check is not over-eager.
func TestIDTokenChecks(t *testing.T) {
	t.Parallel()
	foreign := rsaKey(t)
	hour := time.Hour
	tests := []struct {
		name   string
		tamper func(*oidctest.Mint)
		opts   []rp.LoginOption
		cfg    func(*rp.Config)
		op     func(*oidctest.Config)
		want   error
	}{
		{name: "valid"},
		{name: "alg none", tamper: func(m *oidctest.Mint) { m.Header["alg"] = "none" }, want: rp.ErrAlgorithm},
		{name: "HMAC not configured", tamper: func(m *oidctest.Mint) {
			m.Header["alg"] = "HS256"
			m.Key = []byte(oidctest.DefaultClientSecret)
		}, want: rp.ErrAlgorithm},
		{name: "HMAC configured", tamper: func(m *oidctest.Mint) {
			m.Header["alg"] = "HS256"
			m.Key = []byte(oidctest.DefaultClientSecret)
		}, cfg: func(c *rp.Config) { c.SigningAlgs = []string{"RS256", "HS256"} }, op: offerHS256},
		{name: "HMAC with another secret", tamper: func(m *oidctest.Mint) {
			m.Header["alg"] = "HS256"
			m.Key = []byte("not-the-client-secret-0123456789abcdef")
		}, cfg: func(c *rp.Config) { c.SigningAlgs = []string{"RS256", "HS256"} }, op: offerHS256, want: rp.ErrSignature},
		{name: "ES256 outside the default allow-list", op: signES256, want: rp.ErrAlgorithm},
		{name: "ES256 allowed", op: signES256, cfg: func(c *rp.Config) { c.SigningAlgs = []string{"RS256", "ES256"} }},
		{name: "signed by a key not in the JWKS", tamper: func(m *oidctest.Mint) { m.Key = foreign }, want: rp.ErrSignature},
		{name: "unknown kid", tamper: func(m *oidctest.Mint) { m.Key = foreign; m.Header["kid"] = "forged" }, want: rp.ErrSignature},
		{name: "iss", tamper: func(m *oidctest.Mint) { m.Claims["iss"] = "https://evil.example" }, want: rp.ErrIssuer},
		{name: "iss with trailing slash", tamper: func(m *oidctest.Mint) { m.Claims["iss"] = m.Claims["iss"].(string) + "/" }, want: rp.ErrIssuer},
		{name: "aud", tamper: func(m *oidctest.Mint) { m.Claims["aud"] = "other-client" }, want: rp.ErrAudience},
		{name: "aud list with client and azp", tamper: func(m *oidctest.Mint) {
			m.Claims["aud"] = []string{oidctest.DefaultClientID, "api"}
			m.Claims["azp"] = oidctest.DefaultClientID
		}},
		{name: "aud list without azp", tamper: func(m *oidctest.Mint) { m.Claims["aud"] = []string{oidctest.DefaultClientID, "api"} }, want: rp.ErrAZP},
		{name: "azp other client", tamper: func(m *oidctest.Mint) { m.Claims["azp"] = "other-client" }, want: rp.ErrAZP},
		{name: "exp passed", tamper: func(m *oidctest.Mint) { m.Claims["exp"] = unix(m, -2*time.Minute) }, want: rp.ErrExpired},
		{name: "exp passed within skew", tamper: func(m *oidctest.Mint) { m.Claims["exp"] = unix(m, -30*time.Second) }},
		{name: "exp missing", tamper: func(m *oidctest.Mint) { delete(m.Claims, "exp") }, want: rp.ErrExpired},
		{name: "iat in the future", tamper: func(m *oidctest.Mint) { m.Claims["iat"] = unix(m, 5*time.Minute) }, want: rp.ErrIssuedAt},
		{name: "iat missing", tamper: func(m *oidctest.Mint) { delete(m.Claims, "iat") }, want: rp.ErrIssuedAt},
		{name: "nbf in the future", tamper: func(m *oidctest.Mint) { m.Claims["nbf"] = unix(m, 5*time.Minute) }, want: rp.ErrNotYetValid},
		{name: "nonce", tamper: func(m *oidctest.Mint) { m.Claims["nonce"] = "other-nonce" }, want: rp.ErrNonceMismatch},
		{name: "nonce missing", tamper: func(m *oidctest.Mint) { delete(m.Claims, "nonce") }, want: rp.ErrNonceMismatch},
		{name: "auth_time older than max_age", tamper: func(m *oidctest.Mint) { m.Claims["auth_time"] = unix(m, -2*time.Hour) },
			opts: []rp.LoginOption{rp.WithMaxAge(hour)}, want: rp.ErrAuthTime},
		{name: "auth_time within max_age", tamper: func(m *oidctest.Mint) { m.Claims["auth_time"] = unix(m, -30*time.Minute) },
			opts: []rp.LoginOption{rp.WithMaxAge(hour)}},
		{name: "auth_time missing with max_age", tamper: func(m *oidctest.Mint) { delete(m.Claims, "auth_time") },
			opts: []rp.LoginOption{rp.WithMaxAge(hour)}, want: rp.ErrAuthTime},
		{name: "auth_time missing without max_age", tamper: func(m *oidctest.Mint) { delete(m.Claims, "auth_time") }},
		{name: "auth_time in the future", tamper: func(m *oidctest.Mint) { m.Claims["auth_time"] = unix(m, time.Hour) }, want: rp.ErrAuthTime},
		{name: "at_hash", tamper: func(m *oidctest.Mint) { m.Claims["at_hash"] = "AAAAAAAAAAAAAAAAAAAAAA" }, want: rp.ErrAtHash},
		{name: "at_hash absent", tamper: func(m *oidctest.Mint) { delete(m.Claims, "at_hash") }},
		{name: "sub missing", tamper: func(m *oidctest.Mint) { delete(m.Claims, "sub") }, want: rp.ErrMissingSubject},
		{name: "aud of the wrong type", tamper: func(m *oidctest.Mint) { m.Claims["aud"] = 42 }, want: rp.ErrMalformedToken},
		{name: "exp of the wrong type", tamper: func(m *oidctest.Mint) { m.Claims["exp"] = "tomorrow" }, want: rp.ErrMalformedToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, tc.op, tc.cfg)
			if tc.tamper != nil {
				e.p.SetTokenHook(oidctest.IDToken, tc.tamper)
			}
			tok, err := e.login(t, tc.opts...)
			wantErr(t, err, tc.want)
			if tc.want == nil {
				if tok.Claims.Subject != oidctest.DefaultSubject || tok.AccessToken == "" || tok.IDToken == "" {
					t.Fatalf("tokens = %+v, claims = %+v", tok, tok.Claims)
				}
			}
		})
	}
}

func signES256(c *oidctest.Config) { c.SigningAlg = "ES256" }

func offerHS256(c *oidctest.Config) { c.SigningAlgs = []string{"RS256", "HS256"} }

// unix returns the mint's iat shifted by d, as a NumericDate.
func unix(m *oidctest.Mint, d time.Duration) int64 {
	var iat int64
	switch v := m.Claims["iat"].(type) {
	case int64:
		iat = v
	case int:
		iat = int64(v)
	case float64:
		iat = int64(v)
	}
	return iat + int64(d/time.Second)
}

// TestAtHashAlgorithms: at_hash is checked with the hash of the token's
// algorithm (SHA-512 for RS512, SHA-384 for PS384).
func TestAtHashAlgorithms(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"RS512", "PS384"} {
		t.Run(alg, func(t *testing.T) {
			op := func(c *oidctest.Config) { c.SigningAlg = alg; c.SigningAlgs = []string{alg} }
			cfg := func(c *rp.Config) { c.SigningAlgs = []string{alg} }
			e := setup(t, op, cfg)
			e.mustLogin(t)
			e.p.SetTokenHook(oidctest.IDToken, func(m *oidctest.Mint) { m.Claims["at_hash"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" })
			_, err := e.login(t)
			wantErr(t, err, rp.ErrAtHash)
		})
	}
}

func TestSigningAlgConfig(t *testing.T) {
	t.Parallel()
	// The provider offers everything asked for, so each case fails on rp's
	// own rule, not on the intersection.
	p := oidctest.Start(t, oidctest.Config{SigningAlgs: []string{"RS256", "HS256", "HS384", "HS512", "none", "XX999"}})
	clk := newClock()
	for _, tc := range []struct {
		name string
		cfg  func(*rp.Config)
	}{
		{"none", func(c *rp.Config) { c.SigningAlgs = []string{"RS256", "none"} }},
		{"HMAC without secret", func(c *rp.Config) { c.ClientSecret = ""; c.SigningAlgs = []string{"HS256"} }},
		// A secret shorter than the HMAC's hash verifies no token: refused
		// here rather than as a bad signature on every login.
		{"HS256 with a 31-byte secret", func(c *rp.Config) {
			c.ClientSecret = rp.Secret(strings.Repeat("s", 31))
			c.SigningAlgs = []string{"HS256"}
		}},
		{"HS384 with a 47-byte secret", func(c *rp.Config) {
			c.ClientSecret = rp.Secret(strings.Repeat("s", 47))
			c.SigningAlgs = []string{"HS384"}
		}},
		{"HS512 with the 34-byte default secret", func(c *rp.Config) { c.SigningAlgs = []string{"RS256", "HS512"} }},
		{"unknown", func(c *rp.Config) { c.SigningAlgs = []string{"XX999"} }},
		{"not offered by the provider", func(c *rp.Config) { c.SigningAlgs = []string{"PS512"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rp.New(t.Context(), clientConfig(p, clk, tc.cfg))
			wantErr(t, err, rp.ErrConfig)
			if tc.name == "none" && !strings.Contains(err.Error(), "never allowed") {
				t.Fatalf("none refused for another reason: %v", err)
			}
			if strings.Contains(tc.name, "byte") && !strings.Contains(err.Error(), "at least") {
				t.Fatalf("refused for another reason: %v", err)
			}
		})
	}
	// At the least length, accepted.
	for alg, n := range map[string]int{"HS256": 32, "HS384": 48, "HS512": 64} {
		if _, err := rp.New(t.Context(), clientConfig(p, clk, func(c *rp.Config) {
			c.ClientSecret = rp.Secret(strings.Repeat("s", n))
			c.SigningAlgs = []string{alg}
		})); err != nil {
			t.Errorf("%s with a %d-byte secret: %v", alg, n, err)
		}
	}
}

func TestEllipticForeignKey(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, func(c *rp.Config) { c.SigningAlgs = []string{"ES256"} })
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e.p.SetTokenHook(oidctest.IDToken, func(m *oidctest.Mint) { m.Header["alg"] = "ES256"; m.Key = k })
	_, err = e.login(t)
	wantErr(t, err, rp.ErrSignature)
}

// TestJWKSTooLarge: a key set past the response limit is refused, not read
// whole — the same keys with less padding verify. A key set that cannot be
// used is the provider's failure, not the token's.
func TestJWKSTooLarge(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		padding int
		want    error
	}{{1 << 10, nil}, {2 << 20, rp.ErrProviderUnavailable}} {
		e := setup(t, nil, nil)
		e.p.SetResponseHook("jwks", func(r *oidctest.Response) { r.Body["padding"] = strings.Repeat("a", tc.padding) })
		_, err := e.login(t)
		wantErr(t, err, tc.want)
	}
}

// TestJWKSContents: what a JWKS may hold. Members rp cannot use are
// skipped; a set with nothing usable, or no set at all, is the provider's
// failure (retry later), never the token's.
func TestJWKSContents(t *testing.T) {
	t.Parallel()
	unusable := []any{
		map[string]any{"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
		map[string]any{"kty": "XYZ", "kid": "future"},
	}
	for _, tc := range []struct {
		name string
		hook func(*oidctest.Response)
		want error
	}{
		{"unusable members beside the keys", func(r *oidctest.Response) {
			r.Body["keys"] = append(r.Body["keys"].([]any), unusable...)
		}, nil},
		{"only unusable members", func(r *oidctest.Response) { r.Body["keys"] = unusable }, rp.ErrProviderUnavailable},
		{"encryption keys only", func(r *oidctest.Response) {
			for _, k := range r.Body["keys"].([]any) {
				k.(map[string]any)["use"] = "enc"
			}
		}, rp.ErrProviderUnavailable},
		{"not JSON", func(r *oidctest.Response) { r.Raw = []byte("<html>oops</html>") }, rp.ErrProviderUnavailable},
		{"keys not an array", func(r *oidctest.Response) { r.Body["keys"] = "none" }, rp.ErrProviderUnavailable},
		{"HTTP 404", func(r *oidctest.Response) { r.Status = http.StatusNotFound }, rp.ErrProviderUnavailable},
		{"the signing key's alg differs from the token's", func(r *oidctest.Response) {
			for _, k := range r.Body["keys"].([]any) {
				if k.(map[string]any)["kty"] == "RSA" {
					k.(map[string]any)["alg"] = "RS512"
				}
			}
		}, rp.ErrSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, nil, nil)
			e.p.SetResponseHook("jwks", tc.hook)
			_, err := e.login(t)
			wantErr(t, err, tc.want)
		})
	}
}
