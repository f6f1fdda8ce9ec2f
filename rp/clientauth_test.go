package rp_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
)

// TestClientAuthMethods runs a login, a refresh, a revocation and an
// introspection with each client authentication method against oidctest,
// which enforces the client's registered method.
func TestClientAuthMethods(t *testing.T) {
	t.Parallel()
	rsaPriv := rsaKey(t)
	ecPriv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method rp.AuthMethod
		secret rp.Secret
		key    crypto.Signer
		pub    crypto.PublicKey
	}{
		{rp.AuthClientSecretBasic, "s3cret:with/odd+chars&=", nil, nil},
		{rp.AuthClientSecretPost, "post-secret-0123456789abcdef0123", nil, nil},
		{rp.AuthClientSecretJWT, "jwt-secret-0123456789abcdef012345", nil, nil},
		{rp.AuthPrivateKeyJWT + " RS256", "", rsaPriv, &rsaPriv.PublicKey},
		{rp.AuthPrivateKeyJWT + " ES256", "", ecPriv, &ecPriv.PublicKey},
		{rp.AuthNone, "", nil, nil},
	}
	for _, tc := range tests {
		method := rp.AuthMethod(firstWord(string(tc.method)))
		t.Run(string(tc.method), func(t *testing.T) {
			client := oidctest.Client{ID: "app", Secret: string(tc.secret), AuthMethod: string(method), PublicKey: tc.pub}
			e := setup(t, func(c *oidctest.Config) { c.Clients = []oidctest.Client{client} }, func(c *rp.Config) {
				c.ClientID, c.ClientSecret, c.PrivateKey, c.PrivateKeyID = "app", tc.secret, tc.key, "key-1"
				c.AuthMethod = method
			})
			if got := e.c.AuthMethod(); got != method {
				t.Fatalf("picked %s, want %s", got, method)
			}
			tok := e.mustLogin(t)
			if _, err := e.c.Refresh(t.Context(), tok); err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if _, err := e.c.Introspect(t.Context(), tok.AccessToken, ""); err != nil {
				t.Fatalf("introspect: %v", err)
			}
			if err := e.c.Revoke(t.Context(), tok.RefreshToken, rp.HintRefreshToken); err != nil {
				t.Fatalf("revoke: %v", err)
			}
			for _, r := range e.p.TokenRequests() {
				if r.AuthMethod != string(method) || r.ClientID != "app" {
					t.Fatalf("provider saw %+v", r)
				}
			}
		})
	}
}

func firstWord(s string) string {
	for i, r := range s {
		if r == ' ' {
			return s[:i]
		}
	}
	return s
}

// TestClientAuthRejected: the provider refuses a wrong secret or an
// assertion signed with the wrong key, and rp reports invalid_client.
func TestClientAuthRejected(t *testing.T) {
	t.Parallel()
	registered := rsaKey(t)
	other := rsaKey(t)
	tests := []struct {
		name   string
		client oidctest.Client
		cfg    func(*rp.Config)
	}{
		{"basic, wrong secret", oidctest.Client{ID: "app", Secret: "right-secret", AuthMethod: "client_secret_basic"},
			func(c *rp.Config) { c.ClientSecret = "wrong-secret" }},
		{"post, wrong secret", oidctest.Client{ID: "app", Secret: "right-secret", AuthMethod: "client_secret_post"},
			func(c *rp.Config) { c.ClientSecret = "wrong-secret"; c.AuthMethod = rp.AuthClientSecretPost }},
		{"client_secret_jwt, wrong secret", oidctest.Client{ID: "app", Secret: "right-secret-0123456789abcdef0123", AuthMethod: "client_secret_jwt"},
			func(c *rp.Config) {
				c.ClientSecret = "wrong-secret-0123456789abcdef0123"
				c.AuthMethod = rp.AuthClientSecretJWT
			}},
		{"private_key_jwt, wrong key", oidctest.Client{ID: "app", AuthMethod: "private_key_jwt", PublicKey: &registered.PublicKey},
			func(c *rp.Config) { c.ClientSecret = ""; c.PrivateKey = other }},
		{"method not registered", oidctest.Client{ID: "app", Secret: "right-secret-0123456789abcdef0123", AuthMethod: "client_secret_jwt"},
			func(c *rp.Config) {
				c.ClientSecret = "right-secret-0123456789abcdef0123"
				c.AuthMethod = rp.AuthClientSecretPost
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, func(c *oidctest.Config) { c.Clients = []oidctest.Client{tc.client} }, func(c *rp.Config) {
				c.ClientID = "app"
				tc.cfg(c)
			})
			_, err := e.login(t)
			if pe := providerErr(t, err); pe.Code != "invalid_client" || pe.StatusCode != 401 {
				t.Fatalf("provider error = %+v", pe)
			}
		})
	}
}

func TestAuthMethodDefault(t *testing.T) {
	t.Parallel()
	tests := []struct {
		advertised []string
		secret     rp.Secret
		want       rp.AuthMethod
	}{
		{[]string{"client_secret_post", "client_secret_basic"}, "s", rp.AuthClientSecretBasic},
		{[]string{"client_secret_post"}, "s", rp.AuthClientSecretPost},
		{[]string{"private_key_jwt", "client_secret_jwt"}, "jwt-secret-0123456789abcdef012345", rp.AuthClientSecretJWT},
		{[]string{"client_secret_basic", "none"}, "", rp.AuthNone},
	}
	for _, tc := range tests {
		p := oidctest.Start(t, oidctest.Config{AuthMethods: tc.advertised})
		c, err := rp.New(t.Context(), clientConfig(p, newClock(), func(c *rp.Config) { c.ClientSecret = tc.secret }))
		if err != nil {
			t.Fatal(err)
		}
		if c.AuthMethod() != tc.want {
			t.Errorf("advertised %q: picked %s, want %s", tc.advertised, c.AuthMethod(), tc.want)
		}
	}
	p := oidctest.Start(t, oidctest.Config{AuthMethods: []string{"private_key_jwt"}})
	_, err := rp.New(t.Context(), clientConfig(p, newClock(), nil))
	wantErr(t, err, rp.ErrConfig)
	// client_secret_jwt signs HS256 with the secret: one shorter than 32
	// bytes would fail every token request, reported as the provider being
	// down. Refused at New, chosen or picked.
	p = oidctest.Start(t, oidctest.Config{AuthMethods: []string{"client_secret_jwt"}})
	for _, method := range []rp.AuthMethod{rp.AuthClientSecretJWT, ""} {
		_, err = rp.New(t.Context(), clientConfig(p, newClock(), func(c *rp.Config) {
			c.AuthMethod, c.ClientSecret = method, rp.Secret(strings.Repeat("s", 31))
		}))
		wantErr(t, err, rp.ErrConfig)
		if err != nil && !strings.Contains(err.Error(), "at least 32 bytes") {
			t.Errorf("refused for another reason: %v", err)
		}
	}
	_, err = rp.New(t.Context(), clientConfig(p, newClock(), func(c *rp.Config) { c.AuthMethod = rp.AuthPrivateKeyJWT }))
	wantErr(t, err, rp.ErrConfig)
}
