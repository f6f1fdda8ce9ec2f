package oidctest_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/rpkit/rpkit/oidctest"
)

func TestTokenHooks(t *testing.T) {
	foreign, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := oidctest.Start(t, oidctest.Config{})
	kids := p.SigningKeyIDs() // RSA, EC

	// claimsWith verifies raw with key and returns its header and claims.
	claimsWith := func(t *testing.T, raw string, key any) (jose.Header, map[string]any) {
		t.Helper()
		tok, err := jwt.ParseSigned(raw, allAlgs)
		if err != nil {
			t.Fatal(err)
		}
		var c map[string]any
		if err := tok.Claims(key, &c); err != nil {
			t.Fatalf("verify: %v", err)
		}
		return tok.Headers[0], c
	}

	tests := []struct {
		name  string
		hook  func(*oidctest.Mint)
		check func(t *testing.T, raw, accessToken string)
	}{
		{"alg none", func(m *oidctest.Mint) { m.Header["alg"] = "none" }, func(t *testing.T, raw, _ string) {
			h, c := unverified(t, raw)
			if !strings.HasSuffix(raw, ".") || h["alg"] != "none" || h["kid"] != kids[0] || h["typ"] != "JWT" || c["sub"] != oidctest.DefaultSubject {
				t.Errorf("%s: header %v claims %v", raw, h, c)
			}
		}},
		{"typ deleted", func(m *oidctest.Mint) { delete(m.Header, "typ") }, func(t *testing.T, raw, _ string) {
			if h, _ := verify(t, p, raw); h.ExtraHeaders["typ"] != nil {
				t.Errorf("typ %v", h.ExtraHeaders["typ"])
			}
		}},
		{"typ nil", func(m *oidctest.Mint) { m.Header["typ"] = nil }, func(t *testing.T, raw, _ string) {
			if h, _ := unverified(t, raw); len(h) != 2 || h["typ"] != nil {
				t.Errorf("header %v", h)
			}
		}},
		{"extra header", func(m *oidctest.Mint) { m.Header["jku"] = "https://evil.example/jwks" }, func(t *testing.T, raw, _ string) {
			if h, _ := unverified(t, raw); h["jku"] != "https://evil.example/jwks" || h["kid"] != kids[0] {
				t.Errorf("header %v", h)
			}
		}},
		{"key not in JWKS", func(m *oidctest.Mint) { m.Key = foreign }, func(t *testing.T, raw, _ string) {
			claimsWith(t, raw, &foreign.PublicKey)
			set := jwks(t, p)
			keys := set.Key(kids[0])
			tok, _ := jwt.ParseSigned(raw, allAlgs)
			var c map[string]any
			if err := tok.Claims(keys[0].Key, &c); err == nil {
				t.Error("verifies with the published key")
			}
		}},
		{"HS256 with the client secret", func(m *oidctest.Mint) { m.Header["alg"] = "HS256" }, func(t *testing.T, raw, _ string) {
			h, _ := claimsWith(t, raw, []byte(oidctest.DefaultClientSecret))
			if h.KeyID != kids[0] {
				t.Errorf("kid %q", h.KeyID)
			}
		}},
		{"ES256 signed with the EC key", func(m *oidctest.Mint) { m.Header["alg"] = "ES256" }, func(t *testing.T, raw, _ string) {
			set := jwks(t, p)
			h, _ := claimsWith(t, raw, set.Key(kids[1])[0].Key)
			if h.Algorithm != "ES256" || h.KeyID != kids[0] {
				t.Errorf("header %+v", h)
			}
		}},
		{"ES256 with its kid", func(m *oidctest.Mint) { m.Header["alg"], m.Header["kid"] = "ES256", kids[1] }, func(t *testing.T, raw, _ string) {
			if h, _ := verify(t, p, raw); h.Algorithm != "ES256" {
				t.Errorf("header %+v", h)
			}
		}},
		{"RS384 keeps the SHA-256 at_hash", func(m *oidctest.Mint) { m.Header["alg"] = "RS384" }, func(t *testing.T, raw, at string) {
			h, c := verify(t, p, raw)
			sum := sha256.Sum256([]byte(at))
			if h.Algorithm != "RS384" || c["at_hash"] != base64.RawURLEncoding.EncodeToString(sum[:16]) {
				t.Errorf("header %+v at_hash %v", h, c["at_hash"])
			}
		}},
		{"claims edited", func(m *oidctest.Mint) {
			if m.Kind != oidctest.IDToken {
				panic("wrong kind")
			}
			delete(m.Claims, "sid")
			m.Claims["aud"] = []string{oidctest.DefaultClientID, "other"}
			m.Claims["azp"] = "other"
		}, func(t *testing.T, raw, _ string) {
			_, c := verify(t, p, raw)
			if _, ok := c["sid"]; ok || c["azp"] != "other" || len(c["aud"].([]any)) != 2 {
				t.Errorf("claims %v", c)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p.SetTokenHook(oidctest.IDToken, tt.hook)
			body := loginTokens(t, p)
			tt.check(t, body["id_token"].(string), body["access_token"].(string))
		})
	}

	p.SetTokenHook(oidctest.IDToken, nil)
	h, c := verify(t, p, loginTokens(t, p)["id_token"].(string))
	if h.Algorithm != "RS256" || c["sid"] == nil {
		t.Errorf("hook not removed: %+v %v", h, c)
	}

	// A LogoutToken hook leaves ID tokens alone.
	p.SetTokenHook(oidctest.LogoutToken, func(m *oidctest.Mint) { m.Claims["nonce"] = "forbidden" })
	lt, err := p.LogoutToken(oidctest.LogoutTokenOptions{SID: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if _, c := verify(t, p, lt); c["nonce"] != "forbidden" {
		t.Errorf("logout token claims %v", c)
	}
	if _, c := verify(t, p, loginTokens(t, p)["id_token"].(string)); c["nonce"] != nil {
		t.Errorf("ID token claims %v", c)
	}

	// A hook that makes signing impossible turns into a server_error.
	p.SetTokenHook(oidctest.IDToken, func(m *oidctest.Mint) { m.Header["alg"] = 42 })
	verifier, challenge := pkce()
	code := authorize(t, p, oidctest.DefaultClientID, "code_challenge", challenge, "code_challenge_method", "S256").Get("code")
	if status, body := exchange(t, p, code, verifier); status != 500 || body["error"] != "server_error" {
		t.Errorf("%d %v", status, body)
	}
}

// raw sends a request and returns the status, headers and body.
func raw(t *testing.T, p *oidctest.Provider, method, path string, form url.Values) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, p.URL(path), strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	basic(req)
	resp, err := p.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestResponseHooks(t *testing.T) {
	p := oidctest.Start(t, oidctest.Config{})
	body := loginTokens(t, p)
	at := body["access_token"].(string)

	tests := []struct {
		endpoint, method, path string
		form                   url.Values
		hook                   func(*oidctest.Response)
		wantStatus             int
		wantBody               string
	}{
		{"discovery", "GET", "/.well-known/openid-configuration", nil,
			func(r *oidctest.Response) { r.Body = map[string]any{"issuer": "https://evil.example"} },
			200, `{"issuer":"https://evil.example"}`},
		{"jwks", "GET", "/jwks", nil,
			func(r *oidctest.Response) { r.Body["keys"] = []any{} }, 200, `{"keys":[]}`},
		{"token", "POST", "/token", url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}},
			func(r *oidctest.Response) {
				if r.Status != 400 || r.Body["error"] != "invalid_grant" {
					panic("hook did not see the error response")
				}
				r.Status, r.Raw = 200, []byte(`{"access_token":`)
			}, 200, `{"access_token":`},
		{"userinfo", "GET", "/userinfo", nil,
			func(r *oidctest.Response) { r.Body["sub"] = 42 }, 401, ""},
		{"introspection", "POST", "/introspect", url.Values{"token": {at}},
			func(r *oidctest.Response) { r.Body["active"] = "yes" }, 200, ""},
		{"revocation", "POST", "/revoke", url.Values{"token": {at}},
			func(r *oidctest.Response) { r.Status = 503; r.Header.Set("Retry-After", "1") }, 503, "{}"},
	}
	for _, tt := range tests {
		t.Run(tt.endpoint, func(t *testing.T) {
			p.SetResponseHook(tt.endpoint, tt.hook)
			status, _, got := raw(t, p, tt.method, tt.path, tt.form)
			if status != tt.wantStatus || (tt.wantBody != "" && got != tt.wantBody) {
				t.Errorf("%d %s, want %d %s", status, got, tt.wantStatus, tt.wantBody)
			}
			p.SetResponseHook(tt.endpoint, nil)
			if status, _, again := raw(t, p, tt.method, tt.path, tt.form); again == got && status == tt.wantStatus && tt.wantBody != "" {
				t.Errorf("hook not removed: %s", again)
			}
		})
	}

	// The userinfo hook applies to successful responses too.
	at = loginTokens(t, p)["access_token"].(string)
	p.SetResponseHook("userinfo", func(r *oidctest.Response) { r.Body["sub"] = 42 })
	if status, _, body := userinfo(t, p, at); status != 200 || body["sub"] != float64(42) {
		t.Errorf("%d %v", status, body)
	}
}
