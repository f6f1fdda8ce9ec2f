package oidctest_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/rpkit/rpkit/oidctest"
)

func TestCodeFlowIDToken(t *testing.T) {
	clk := newClock()
	p := oidctest.Start(t, oidctest.Config{Now: clk.Now})
	body := loginTokens(t, p, "nonce", "n-123")
	if body["token_type"] != "Bearer" || body["expires_in"] != float64(3600) || body["scope"] != "openid profile" {
		t.Errorf("token response %v", body)
	}
	if _, ok := body["refresh_token"]; ok {
		t.Error("refresh_token without offline_access")
	}
	h, c := verify(t, p, body["id_token"].(string))
	if h.ExtraHeaders["typ"] != "JWT" || h.Algorithm != "RS256" || h.KeyID != p.SigningKeyIDs()[0] {
		t.Errorf("header %+v", h)
	}
	at := body["access_token"].(string)
	sum := sha256.Sum256([]byte(at))
	sessions := p.Sessions()
	if len(sessions) != 1 {
		t.Fatalf("Sessions = %v", sessions)
	}
	now := float64(clk.Now().Unix())
	want := map[string]any{
		"iss": p.Issuer(), "sub": oidctest.DefaultSubject, "aud": oidctest.DefaultClientID,
		"nonce": "n-123", "iat": now, "exp": now + 3600, "auth_time": now, "sid": sessions[0].SID,
		"at_hash": base64.RawURLEncoding.EncodeToString(sum[:16]),
		"name":    "Alice Example", "email": "alice@example.com", "email_verified": true,
	}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("claim %s = %v, want %v", k, c[k], v)
		}
	}
	if _, ok := c["azp"]; ok {
		t.Error("azp present")
	}
	if len(at) < 22 {
		t.Errorf("access token %q too short", at)
	}
}

func TestAtHashFollowsSigningAlg(t *testing.T) {
	for _, alg := range []string{"ES256", "PS384", "RS512"} {
		t.Run(alg, func(t *testing.T) {
			p := oidctest.Start(t, oidctest.Config{SigningAlg: alg})
			body := loginTokens(t, p)
			h, c := verify(t, p, body["id_token"].(string))
			var h2 hash.Hash = sha256.New()
			switch alg[2:] {
			case "384":
				h2 = sha512.New384()
			case "512":
				h2 = sha512.New()
			}
			h2.Write([]byte(body["access_token"].(string)))
			sum := h2.Sum(nil)
			if h.Algorithm != alg || c["at_hash"] != base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]) {
				t.Errorf("alg %s at_hash %v", h.Algorithm, c["at_hash"])
			}
			set := jwks(t, p)
			if k := set.Key(h.KeyID); len(k) != 1 || k[0].Algorithm != alg {
				t.Errorf("JWKS key %+v", k)
			}
		})
	}
}

func TestPKCE(t *testing.T) {
	verifier, s256 := pkce()
	tests := []struct {
		name               string
		challenge, method  string
		verifier           string
		wantStatus         int
		wantErrDescription string
	}{
		{"S256", s256, "S256", verifier, 200, ""},
		{"plain", verifier, "plain", verifier, 200, ""},
		{"plain by default", verifier, "", verifier, 200, ""},
		{"no PKCE", "", "", "", 200, ""},
		{"missing verifier", s256, "S256", "", 400, "code_verifier missing"},
		{"wrong verifier", s256, "S256", verifier[1:] + "x", 400, "code_verifier does not match code_challenge"},
		{"short verifier", "abc", "plain", "abc", 400, "code_verifier is not 43 to 128 unreserved characters (RFC 7636)"},
		{"verifier without challenge", "", "", verifier, 400, "code_verifier sent but the authorization request had no code_challenge"},
	}
	p := oidctest.Start(t, oidctest.Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := authorize(t, p, oidctest.DefaultClientID, "code_challenge", tt.challenge, "code_challenge_method", tt.method)
			status, body := exchange(t, p, got.Get("code"), tt.verifier)
			if status != tt.wantStatus {
				t.Fatalf("status %d %v, want %d", status, body, tt.wantStatus)
			}
			if tt.wantStatus != 200 && (body["error"] != "invalid_grant" || body["error_description"] != tt.wantErrDescription) {
				t.Errorf("error %v", body)
			}
		})
	}
}

func TestCodeRedemption(t *testing.T) {
	clk := newClock()
	p := oidctest.Start(t, oidctest.Config{Now: clk.Now})

	// Reuse fails and revokes what the code gave.
	got := authorize(t, p, oidctest.DefaultClientID)
	status, body := exchange(t, p, got.Get("code"), "")
	if status != 200 {
		t.Fatalf("first use: %d %v", status, body)
	}
	if status, again := exchange(t, p, got.Get("code"), ""); status != 400 || again["error"] != "invalid_grant" {
		t.Errorf("reuse: %d %v", status, again)
	}
	if active := introspect(t, p, body["access_token"].(string))["active"]; active != false {
		t.Errorf("access token of a replayed code active: %v", active)
	}

	tests := []struct {
		name string
		form func(code string) url.Values
		wait time.Duration
		want string
	}{
		{"redirect_uri mismatch", func(code string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callback + "x"}}
		}, 0, "invalid_grant"},
		{"expired", func(code string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callback}}
		}, 11 * time.Minute, "invalid_grant"},
		{"unknown code", func(string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}, "redirect_uri": {callback}}
		}, 0, "invalid_grant"},
		{"missing code", func(string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "redirect_uri": {callback}}
		}, 0, "invalid_request"},
		{"unknown grant", func(string) url.Values { return url.Values{"grant_type": {"password"}} }, 0, "unsupported_grant_type"},
		{"no grant", func(string) url.Values { return url.Values{} }, 0, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code := authorize(t, p, oidctest.DefaultClientID).Get("code")
			clk.Advance(tt.wait)
			status, _, body := post(t, p, "/token", tt.form(code), basic)
			if status != 400 || body["error"] != tt.want {
				t.Errorf("%d %v, want 400 %s", status, body, tt.want)
			}
		})
	}
}

func TestAuthorizeRequests(t *testing.T) {
	p := oidctest.Start(t, oidctest.Config{Clients: []oidctest.Client{
		{ID: oidctest.DefaultClientID, Secret: oidctest.DefaultClientSecret},
		{ID: "strict", Secret: oidctest.DefaultClientSecret, RedirectURIs: []string{"https://rp.example/cb?tenant=1"}},
	}})
	refused := []struct {
		name   string
		client string
		pairs  []string
	}{
		{"unknown client", "nope", nil},
		{"unregistered redirect", "strict", []string{"redirect_uri", "https://rp.example/other"}},
		{"non-loopback redirect", oidctest.DefaultClientID, []string{"redirect_uri", "http://evil.example/cb"}},
		{"https loopback redirect", oidctest.DefaultClientID, []string{"redirect_uri", "https://127.0.0.1/cb"}},
		{"no redirect", oidctest.DefaultClientID, []string{"redirect_uri", ""}},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{"response_type": {"code"}, "client_id": {tt.client}, "redirect_uri": {callback}, "scope": {"openid"}}
			for i := 0; i < len(tt.pairs); i += 2 {
				q.Set(tt.pairs[i], tt.pairs[i+1])
			}
			resp, err := p.Client().Get(p.URL("/authorize?" + q.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Errorf("%d Location %q, want 400 without redirect", resp.StatusCode, resp.Header.Get("Location"))
			}
			if _, err := p.Authorize(context.Background(), p.URL("/authorize?"+q.Encode())); err == nil {
				t.Error("Authorize: no error")
			}
		})
	}

	redirected := []struct {
		name      string
		pairs     []string
		wantError string
	}{
		{"response_type token", []string{"response_type", "token"}, "unsupported_response_type"},
		{"no openid", []string{"scope", "profile"}, "invalid_scope"},
		{"bad challenge method", []string{"code_challenge", "x", "code_challenge_method", "S512"}, "invalid_request"},
		{"bad max_age", []string{"max_age", "-1"}, "invalid_request"},
		{"bad response_mode", []string{"response_mode", "fragment"}, "invalid_request"},
	}
	for _, tt := range redirected {
		t.Run(tt.name, func(t *testing.T) {
			got := authorize(t, p, oidctest.DefaultClientID, tt.pairs...)
			if got.Get("error") != tt.wantError || got.Get("error_description") == "" || got.Has("code") {
				t.Errorf("got %v, want error %s", got, tt.wantError)
			}
		})
	}

	t.Run("registered redirect keeps its query", func(t *testing.T) {
		q := url.Values{"response_type": {"code"}, "client_id": {"strict"}, "redirect_uri": {"https://rp.example/cb?tenant=1"},
			"scope": {"openid"}, "state": {"s1"}}
		req, _ := http.NewRequest(http.MethodGet, p.URL("/authorize?"+q.Encode()), nil)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusFound || loc.Host != "rp.example" || loc.Query().Get("tenant") != "1" ||
			loc.Query().Get("state") != "s1" || loc.Query().Get("code") == "" {
			t.Errorf("%d %s", resp.StatusCode, loc)
		}
	})

	t.Run("form_post", func(t *testing.T) {
		q := url.Values{"response_type": {"code"}, "client_id": {oidctest.DefaultClientID}, "redirect_uri": {callback},
			"scope": {"openid"}, "state": {"a&b<c>\"d"}, "response_mode": {"form_post"}}
		resp, err := p.Client().Get(p.URL("/authorize?" + q.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(page), `<form method="post" action="`+callback+`">`) {
			t.Errorf("%d %s", resp.StatusCode, page)
		}
		got := authorize(t, p, oidctest.DefaultClientID, "response_mode", "form_post", "state", "a&b<c>\"d")
		if got.Get("code") == "" {
			t.Errorf("form_post gave %v", got)
		}
		if got := authorize(t, p, oidctest.DefaultClientID, "response_mode", "form_post", "scope", "email"); got.Get("error") != "invalid_scope" {
			t.Errorf("form_post error gave %v", got)
		}
	})

	t.Run("POST", func(t *testing.T) {
		form := url.Values{"response_type": {"code"}, "client_id": {oidctest.DefaultClientID}, "redirect_uri": {callback}, "scope": {"openid"}}
		req, _ := http.NewRequest(http.MethodPost, p.URL("/authorize"), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc, _ := resp.Location(); resp.StatusCode != http.StatusFound || loc == nil || loc.Query().Get("code") == "" {
			t.Errorf("%d %v", resp.StatusCode, loc)
		}
	})
}

func TestSessionsAndLoginHint(t *testing.T) {
	clk := newClock()
	p := oidctest.Start(t, oidctest.Config{
		Now:     clk.Now,
		Clients: []oidctest.Client{{ID: "a", AuthMethod: "none"}, {ID: "b", AuthMethod: "none"}},
		Users:   []oidctest.User{{Subject: "alice"}, {Subject: "bob", Claims: map[string]any{"name": "Bob"}}},
	})
	authorize(t, p, "a")
	clk.Advance(time.Minute)
	authorize(t, p, "b")
	s := p.Sessions()
	if len(s) != 1 || s[0].Subject != "alice" || len(s[0].ClientIDs) != 2 || s[0].ClientIDs[1] != "b" || !s[0].AuthTime.Equal(clk.Now().Add(-time.Minute)) {
		t.Fatalf("Sessions = %+v", s)
	}
	sid := s[0].SID

	for _, pairs := range [][]string{{"prompt", "login"}, {"max_age", "0"}, {"max_age", "30"}} {
		clk.Advance(time.Minute)
		authorize(t, p, "a", pairs...)
		if s := p.Sessions(); s[0].SID != sid || !s[0].AuthTime.Equal(clk.Now()) {
			t.Errorf("%v: session %+v, want same sid, auth_time now", pairs, s[0])
		}
	}
	clk.Advance(time.Minute)
	authorize(t, p, "a", "max_age", "3600")
	if s := p.Sessions(); !s[0].AuthTime.Equal(clk.Now().Add(-time.Minute)) {
		t.Errorf("max_age 3600 re-authenticated: %+v", s[0])
	}

	authorize(t, p, "a", "login_hint", "bob")
	s = p.Sessions()
	if len(s) != 2 || s[1].Subject != "bob" || s[1].SID == sid {
		t.Fatalf("Sessions = %+v", s)
	}
	if !p.EndSession(sid) || p.EndSession(sid) {
		t.Error("EndSession results")
	}
	authorize(t, p, "a")
	if s := p.Sessions(); len(s) != 2 || s[1].SID == sid || s[1].Subject != "alice" {
		t.Errorf("new session after EndSession: %+v", s)
	}
}

// assertion signs a client assertion for clientID with key and alg.
func assertion(t *testing.T, key any, alg jose.SignatureAlgorithm, c jwt.Claims) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(signer).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestClientAuthentication(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherEC, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	const secret = "a-secret-of-at-least-32-bytes-long-for-hs256+/%:"
	clk := newClock()
	p := oidctest.Start(t, oidctest.Config{Now: clk.Now, Clients: []oidctest.Client{
		{ID: "basic:client/é", Secret: secret},
		{ID: "post", Secret: secret, AuthMethod: "client_secret_post"},
		{ID: "hs", Secret: secret, AuthMethod: "client_secret_jwt"},
		{ID: "rsa", AuthMethod: "private_key_jwt", PublicKey: &rsaKey.PublicKey},
		{ID: "ec", AuthMethod: "private_key_jwt", PublicKey: &ecKey.PublicKey},
		{ID: "public", AuthMethod: "none"},
	}})

	claims := func(id string, edit func(*jwt.Claims)) jwt.Claims {
		c := jwt.Claims{Issuer: id, Subject: id, Audience: jwt.Audience{p.Issuer()}, ID: rand.Text(),
			Expiry: jwt.NewNumericDate(clk.Now().Add(time.Minute))}
		if edit != nil {
			edit(&c)
		}
		return c
	}
	withAssertion := func(tok string) func(*http.Request, url.Values) {
		return func(_ *http.Request, f url.Values) {
			f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
			f.Set("client_assertion", tok)
		}
	}
	replayed := assertion(t, rsaKey, jose.RS256, claims("rsa", nil))

	tests := []struct {
		name, client, method string
		auth                 func(*http.Request, url.Values)
		ok                   bool
	}{
		{"basic", "basic:client/é", "client_secret_basic", func(r *http.Request, _ url.Values) {
			r.SetBasicAuth(url.QueryEscape("basic:client/é"), url.QueryEscape(secret))
		}, true},
		{"post", "post", "client_secret_post", func(_ *http.Request, f url.Values) {
			f.Set("client_id", "post")
			f.Set("client_secret", secret)
		}, true},
		{"client_secret_jwt HS256", "hs", "client_secret_jwt", withAssertion(assertion(t, []byte(secret), jose.HS256, claims("hs", nil))), true},
		{"private_key_jwt RS256 aud token endpoint", "rsa", "private_key_jwt", withAssertion(assertion(t, rsaKey, jose.RS256, claims("rsa", func(c *jwt.Claims) {
			c.Audience = jwt.Audience{p.URL("/token")}
		}))), true},
		{"private_key_jwt PS256", "rsa", "private_key_jwt", withAssertion(assertion(t, rsaKey, jose.PS256, claims("rsa", nil))), true},
		{"private_key_jwt ES256", "ec", "private_key_jwt", withAssertion(assertion(t, ecKey, jose.ES256, claims("ec", nil))), true},
		{"replay first use", "rsa", "private_key_jwt", withAssertion(replayed), true},
		{"none", "public", "none", func(_ *http.Request, f url.Values) { f.Set("client_id", "public") }, true},

		{"basic wrong secret", "basic:client/é", "", func(r *http.Request, _ url.Values) {
			r.SetBasicAuth(url.QueryEscape("basic:client/é"), "wrong")
		}, false},
		{"basic not form-encoded", "basic:client/é", "", func(r *http.Request, _ url.Values) {
			r.SetBasicAuth("basic:client/é", secret)
		}, false},
		{"post wrong secret", "post", "", func(_ *http.Request, f url.Values) {
			f.Set("client_id", "post")
			f.Set("client_secret", "wrong")
		}, false},
		{"method not registered", "post", "", func(r *http.Request, _ url.Values) { r.SetBasicAuth("post", secret) }, false},
		{"unknown client", "nope", "", func(r *http.Request, _ url.Values) { r.SetBasicAuth("nope", secret) }, false},
		{"no authentication", "", "", func(*http.Request, url.Values) {}, false},
		{"public client as confidential", "rsa", "", func(_ *http.Request, f url.Values) { f.Set("client_id", "rsa") }, false},
		{"HS wrong secret", "hs", "", withAssertion(assertion(t, []byte(strings.Repeat("x", 32)), jose.HS256, claims("hs", nil))), false},
		{"RS wrong key", "ec", "", withAssertion(assertion(t, otherEC, jose.ES256, claims("ec", nil))), false},
		{"replay", "rsa", "", withAssertion(replayed), false},
		{"wrong aud", "rsa", "", withAssertion(assertion(t, rsaKey, jose.RS256, claims("rsa", func(c *jwt.Claims) {
			c.Audience = jwt.Audience{"https://other.example"}
		}))), false},
		{"expired", "rsa", "", withAssertion(assertion(t, rsaKey, jose.RS256, claims("rsa", func(c *jwt.Claims) {
			c.Expiry = jwt.NewNumericDate(clk.Now().Add(-time.Second))
		}))), false},
		{"exp too far", "rsa", "", withAssertion(assertion(t, rsaKey, jose.RS256, claims("rsa", func(c *jwt.Claims) {
			c.Expiry = jwt.NewNumericDate(clk.Now().Add(2 * time.Hour))
		}))), false},
		{"no jti", "rsa", "", withAssertion(assertion(t, rsaKey, jose.RS256, claims("rsa", func(c *jwt.Claims) { c.ID = "" }))), false},
		{"iss not client", "rsa", "", withAssertion(assertion(t, rsaKey, jose.RS256, claims("rsa", func(c *jwt.Claims) { c.Issuer = "x" }))), false},
		{"secret jwt as private_key_jwt", "rsa", "", withAssertion(assertion(t, []byte(secret), jose.HS256, claims("rsa", nil))), false},
		{"bad assertion type", "rsa", "", func(r *http.Request, f url.Values) {
			withAssertion(replayed)(r, f)
			f.Set("client_assertion_type", "jwt")
		}, false},
		{"garbage assertion", "rsa", "", withAssertion("not.a.jwt"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			verifier, challenge := pkce()
			code := "x"
			if tt.client != "nope" && tt.client != "" {
				code = authorize(t, p, tt.client, "code_challenge", challenge, "code_challenge_method", "S256").Get("code")
			}
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callback}, "code_verifier": {verifier}}
			before := len(p.TokenRequests())
			status, h, body := post(t, p, "/token", form, func(r *http.Request) {
				tt.auth(r, form)
				r.Body = io.NopCloser(strings.NewReader(form.Encode()))
				r.ContentLength = int64(len(form.Encode()))
			})
			if !tt.ok {
				if status != http.StatusUnauthorized || body["error"] != "invalid_client" || h.Get("WWW-Authenticate") == "" {
					t.Errorf("%d %v %v, want 401 invalid_client", status, h, body)
				}
				return
			}
			if status != 200 {
				t.Fatalf("%d %v", status, body)
			}
			reqs := p.TokenRequests()
			last := reqs[len(reqs)-1]
			if len(reqs) != before+1 || last.ClientID != tt.client || last.AuthMethod != tt.method || last.GrantType != "authorization_code" ||
				last.Form.Get("code") != code {
				t.Errorf("TokenRequest %+v", last)
			}
		})
	}

	t.Run("two methods", func(t *testing.T) {
		form := url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "client_id": {"post"}, "client_secret": {secret}}
		status, _, body := post(t, p, "/token", form, func(r *http.Request) { r.SetBasicAuth("post", secret) })
		if status != 400 || body["error"] != "invalid_request" {
			t.Errorf("%d %v", status, body)
		}
	})

	t.Run("public client needs PKCE", func(t *testing.T) {
		code := authorize(t, p, "public").Get("code")
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callback}, "client_id": {"public"}}
		if status, _, body := post(t, p, "/token", form, nil); status != 400 || body["error"] != "invalid_grant" {
			t.Errorf("%d %v", status, body)
		}
	})

	t.Run("code of another client", func(t *testing.T) {
		code := authorize(t, p, "public").Get("code")
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callback}, "client_id": {"post"}, "client_secret": {secret}}
		if status, _, body := post(t, p, "/token", form, nil); status != 400 || body["error"] != "invalid_grant" {
			t.Errorf("%d %v", status, body)
		}
	})

	t.Run("assertion at revocation endpoint", func(t *testing.T) {
		tok := assertion(t, ecKey, jose.ES256, claims("ec", func(c *jwt.Claims) { c.Audience = jwt.Audience{p.URL("/revoke")} }))
		form := url.Values{"token": {"x"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {tok}}
		if status, _, body := post(t, p, "/revoke", form, nil); status != 200 {
			t.Errorf("%d %v", status, body)
		}
	})

	t.Run("AddClient", func(t *testing.T) {
		if err := p.AddClient(oidctest.Client{ID: "late", AuthMethod: "private_key_jwt"}); err == nil {
			t.Error("invalid client accepted")
		}
		if err := p.AddClient(oidctest.Client{ID: "post", Secret: "new-secret"}); err != nil {
			t.Fatal(err)
		}
		form := url.Values{"token": {"x"}}
		if status, _, _ := post(t, p, "/revoke", form, func(r *http.Request) { r.SetBasicAuth("post", "new-secret") }); status != 200 {
			t.Errorf("replaced client: %d", status)
		}
	})
}

// refresh runs a refresh_token grant for the default client.
func refresh(t *testing.T, p *oidctest.Provider, rt string) (int, map[string]any) {
	t.Helper()
	status, _, body := post(t, p, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, basic)
	return status, body
}

func TestRefresh(t *testing.T) {
	for _, rotate := range []bool{false, true} {
		t.Run(map[bool]string{false: "no rotation", true: "rotation"}[rotate], func(t *testing.T) {
			clk := newClock()
			p := oidctest.Start(t, oidctest.Config{Now: clk.Now, RotateRefreshTokens: rotate})
			first := loginTokens(t, p, "scope", "openid offline_access", "nonce", "n1")
			rt, ok := first["refresh_token"].(string)
			if !ok {
				t.Fatalf("no refresh_token: %v", first)
			}
			_, c1 := verify(t, p, first["id_token"].(string))
			clk.Advance(time.Minute)

			status, second := refresh(t, p, rt)
			if status != 200 {
				t.Fatalf("refresh: %d %v", status, second)
			}
			newRT, has := second["refresh_token"].(string)
			if has != rotate || (rotate && newRT == rt) {
				t.Errorf("refresh_token in response: %v (rotate %v)", second["refresh_token"], rotate)
			}
			if second["access_token"] == first["access_token"] {
				t.Error("same access token")
			}
			_, c2 := verify(t, p, second["id_token"].(string))
			for _, k := range []string{"sub", "sid", "auth_time", "aud", "iss"} {
				if c1[k] != c2[k] {
					t.Errorf("%s changed: %v -> %v", k, c1[k], c2[k])
				}
			}
			if _, ok := c2["nonce"]; ok || c2["iat"] != c1["iat"].(float64)+60 {
				t.Errorf("refreshed claims %v", c2)
			}

			status, third := refresh(t, p, rt)
			if rotate {
				if status != 400 || third["error"] != "invalid_grant" {
					t.Errorf("old refresh token after rotation: %d %v", status, third)
				}
				rt = newRT
				status, third = refresh(t, p, rt)
			}
			if status != 200 {
				t.Errorf("refresh again: %d %v", status, third)
			}
			if status, body := refresh(t, p, "unknown"); status != 400 || body["error"] != "invalid_grant" {
				t.Errorf("unknown refresh token: %d %v", status, body)
			}
			if status, body := refresh(t, p, first["access_token"].(string)); status != 400 || body["error"] != "invalid_grant" {
				t.Errorf("access token as refresh token: %d %v", status, body)
			}
		})
	}
}

func TestRefreshTokenOfAnotherClient(t *testing.T) {
	p := oidctest.Start(t, oidctest.Config{RefreshTokenTTL: time.Hour, Clients: []oidctest.Client{
		{ID: oidctest.DefaultClientID, Secret: oidctest.DefaultClientSecret},
		{ID: "other", Secret: oidctest.DefaultClientSecret},
	}})
	rt := loginTokens(t, p, "scope", "openid offline_access")["refresh_token"].(string)
	status, _, body := post(t, p, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}},
		func(r *http.Request) { r.SetBasicAuth("other", oidctest.DefaultClientSecret) })
	if status != 400 || body["error"] != "invalid_grant" {
		t.Errorf("%d %v", status, body)
	}
	if got := introspect(t, p, rt); got["exp"] == nil || got["token_type"] != "refresh_token" {
		t.Errorf("introspection of refresh token with TTL: %v", got)
	}
}

// introspect introspects tok as the default client.
func introspect(t *testing.T, p *oidctest.Provider, tok string) map[string]any {
	t.Helper()
	status, _, body := post(t, p, "/introspect", url.Values{"token": {tok}}, basic)
	if status != 200 {
		t.Fatalf("introspect: %d %v", status, body)
	}
	return body
}

// userinfo calls the userinfo endpoint with a bearer token.
func userinfo(t *testing.T, p *oidctest.Provider, tok string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, p.URL("/userinfo"), nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return do(t, p, req)
}

func TestUserInfo(t *testing.T) {
	clk := newClock()
	p := oidctest.Start(t, oidctest.Config{Now: clk.Now})
	at := loginTokens(t, p)["access_token"].(string)
	status, _, body := userinfo(t, p, at)
	if status != 200 || body["sub"] != oidctest.DefaultSubject || body["email"] != "alice@example.com" {
		t.Errorf("%d %v", status, body)
	}
	for name, tok := range map[string]string{"missing": "", "unknown": "nope"} {
		status, h, body := userinfo(t, p, tok)
		if status != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") || body["error"] != "invalid_token" {
			t.Errorf("%s token: %d %v %v", name, status, h, body)
		}
	}
	clk.Advance(time.Hour)
	if status, _, _ := userinfo(t, p, at); status != 401 {
		t.Errorf("expired token: %d", status)
	}
}

func TestRevocationAndIntrospection(t *testing.T) {
	clk := newClock()
	p := oidctest.Start(t, oidctest.Config{Now: clk.Now})
	body := loginTokens(t, p, "scope", "openid offline_access")
	at, rt := body["access_token"].(string), body["refresh_token"].(string)
	sid := p.Sessions()[0].SID

	got := introspect(t, p, at)
	want := map[string]any{"active": true, "sub": oidctest.DefaultSubject, "client_id": oidctest.DefaultClientID,
		"scope": "openid offline_access", "token_type": "Bearer", "iss": p.Issuer(), "sid": sid,
		"iat": float64(clk.Now().Unix()), "exp": float64(clk.Now().Add(time.Hour).Unix())}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("introspection %s = %v, want %v", k, got[k], v)
		}
	}
	if got := introspect(t, p, rt); got["active"] != true || got["token_type"] != "refresh_token" {
		t.Errorf("refresh token introspection %v", got)
	}
	if got := introspect(t, p, "unknown"); len(got) != 1 || got["active"] != false {
		t.Errorf("unknown token introspection %v", got)
	}

	for _, tok := range []string{"unknown", rt} {
		status, _, body := post(t, p, "/revoke", url.Values{"token": {tok}, "token_type_hint": {"refresh_token"}}, basic)
		if status != 200 {
			t.Errorf("revoke %s: %d %v", tok, status, body)
		}
	}
	if status, _, body := post(t, p, "/revoke", url.Values{"token": {rt}}, nil); status != 401 || body["error"] != "invalid_client" {
		t.Errorf("unauthenticated revoke: %d %v", status, body)
	}
	for _, tok := range []string{at, rt} {
		if got := introspect(t, p, tok); got["active"] != false {
			t.Errorf("after revoking the refresh token, %v", got)
		}
	}
	if status, _, _ := userinfo(t, p, at); status != 401 {
		t.Errorf("userinfo with revoked token: %d", status)
	}
	if status, body := refresh(t, p, rt); status != 400 || body["error"] != "invalid_grant" {
		t.Errorf("refresh with revoked token: %d %v", status, body)
	}

	revs := p.Revocations()
	wantRevs := []oidctest.Revocation{
		{ClientID: oidctest.DefaultClientID, Token: "unknown", TokenTypeHint: "refresh_token"},
		{ClientID: oidctest.DefaultClientID, Token: rt, TokenTypeHint: "refresh_token"},
	}
	if len(revs) != len(wantRevs) || revs[0] != wantRevs[0] || revs[1] != wantRevs[1] {
		t.Errorf("Revocations = %+v", revs)
	}
	ins := p.Introspections()
	if len(ins) != 5 || ins[0] != (oidctest.Introspection{ClientID: oidctest.DefaultClientID, Token: at, Active: true}) || ins[4].Active {
		t.Errorf("Introspections = %+v", ins)
	}
	if p.Count("revocation") != 3 || p.Count("introspection") != 5 {
		t.Errorf("counts %d %d", p.Count("revocation"), p.Count("introspection"))
	}

	// Revoking just an access token.
	at2 := loginTokens(t, p)["access_token"].(string)
	post(t, p, "/revoke", url.Values{"token": {at2}}, basic)
	if got := introspect(t, p, at2); got["active"] != false {
		t.Errorf("revoked access token %v", got)
	}
}

func TestConcurrentLogins(t *testing.T) {
	p := oidctest.Start(t, oidctest.Config{RotateRefreshTokens: true})
	t.Run("group", func(t *testing.T) {
		for i := range 16 {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				body := loginTokens(t, p, "scope", "openid offline_access")
				if status, _ := refresh(t, p, body["refresh_token"].(string)); status != 200 {
					t.Errorf("refresh: %d", status)
				}
				userinfo(t, p, body["access_token"].(string))
				introspect(t, p, body["access_token"].(string))
				p.Sessions()
				p.TokenRequests()
			})
		}
		t.Run("rotate", func(t *testing.T) {
			t.Parallel()
			p.RotateKeys(true)
		})
	})
	if got := p.Count("token"); got != 32 {
		t.Errorf("Count(token) = %d", got)
	}
}
