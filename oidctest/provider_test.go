package oidctest_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/rpkit/rpkit/internal/fakeclock"
	"github.com/rpkit/rpkit/oidctest"
)

// callback is a redirect_uri accepted by the default client (any loopback
// http URL). Nothing listens there: Authorize does not follow redirects.
const callback = "http://127.0.0.1:9/callback"

// newClock returns a settable Config.Now.
func newClock() *fakeclock.Clock { return fakeclock.New(time.Unix(1_700_000_000, 0)) }

// pkce returns a random S256 verifier and its challenge.
func pkce() (verifier, challenge string) {
	verifier = rand.Text() + rand.Text()
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorize runs an authorization request for clientID with the given
// extra parameters (pairs) and returns what reached the redirect_uri.
func authorize(t *testing.T, p *oidctest.Provider, clientID string, pairs ...string) url.Values {
	t.Helper()
	q := url.Values{
		"response_type": {"code"},
		"client_id":     {clientID},
		"redirect_uri":  {callback},
		"scope":         {"openid profile"},
		"state":         {"st-" + rand.Text()},
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			q.Del(pairs[i])
		} else {
			q.Set(pairs[i], pairs[i+1])
		}
	}
	got, err := p.Authorize(context.Background(), p.URL("/authorize?"+q.Encode()))
	if err != nil {
		t.Fatalf("Authorize: %v", err)
	}
	if q.Has("state") && got.Get("state") != q.Get("state") {
		t.Fatalf("state = %q, want %q", got.Get("state"), q.Get("state"))
	}
	return got
}

// post sends form to path, after auth (if not nil) has adjusted the request
// and form, and returns the status, the headers and the decoded JSON body.
func post(t *testing.T, p *oidctest.Provider, path string, form url.Values, auth func(*http.Request)) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.URL(path), strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth != nil {
		auth(req)
	}
	return do(t, p, req)
}

// do sends req with the provider's client and decodes a JSON body.
func do(t *testing.T, p *oidctest.Provider, req *http.Request) (int, http.Header, map[string]any) {
	t.Helper()
	resp, err := p.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if len(b) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatalf("%s: bad JSON %q: %v", req.URL.Path, b, err)
		}
	}
	return resp.StatusCode, resp.Header, body
}

// get fetches path and decodes a JSON body.
func get(t *testing.T, p *oidctest.Provider, path string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, p.URL(path), nil)
	if err != nil {
		t.Fatal(err)
	}
	status, _, body := do(t, p, req)
	return status, body
}

// basic authenticates as the default client with client_secret_basic.
func basic(req *http.Request) {
	req.SetBasicAuth(oidctest.DefaultClientID, oidctest.DefaultClientSecret)
}

// exchange redeems code for the default client.
func exchange(t *testing.T, p *oidctest.Provider, code, verifier string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callback}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	status, _, body := post(t, p, "/token", form, basic)
	return status, body
}

// loginTokens logs the default user in at the default client and returns
// the token response.
func loginTokens(t *testing.T, p *oidctest.Provider, pairs ...string) map[string]any {
	t.Helper()
	verifier, challenge := pkce()
	got := authorize(t, p, oidctest.DefaultClientID, append([]string{"code_challenge", challenge, "code_challenge_method", "S256"}, pairs...)...)
	status, body := exchange(t, p, got.Get("code"), verifier)
	if status != http.StatusOK {
		t.Fatalf("token: %d %v", status, body)
	}
	return body
}

// jwks fetches the provider's JWKS.
func jwks(t *testing.T, p *oidctest.Provider) jose.JSONWebKeySet {
	t.Helper()
	resp, err := p.Client().Get(p.URL("/jwks"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	return set
}

var allAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.HS256, jose.HS384, jose.HS512}

// verify checks raw against the provider's JWKS and returns its header and
// claims.
func verify(t *testing.T, p *oidctest.Provider, raw string) (jose.Header, map[string]any) {
	t.Helper()
	tok, err := jwt.ParseSigned(raw, allAlgs)
	if err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	set := jwks(t, p)
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q: %d keys in JWKS", tok.Headers[0].KeyID, len(keys))
	}
	var claims map[string]any
	if err := tok.Claims(keys[0].Key, &claims); err != nil {
		t.Fatalf("verify: %v", err)
	}
	return tok.Headers[0], claims
}

// unverified decodes the header and claims of a compact JWT without
// checking anything.
func unverified(t *testing.T, raw string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err == nil {
			err = json.Unmarshal(b, dst)
		}
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
	}
	return header, claims
}

func TestDiscovery(t *testing.T) {
	tests := []struct {
		name    string
		cfg     oidctest.Config
		absent  []string
		methods []string
		algs    []string
	}{
		{name: "defaults",
			methods: []string{"client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"},
			algs:    []string{"RS256", "ES256"}},
		{name: "endpoints off",
			cfg:     oidctest.Config{NoEndSession: true, NoRevocation: true, NoIntrospection: true, NoUserInfo: true},
			absent:  []string{"end_session_endpoint", "revocation_endpoint", "introspection_endpoint", "userinfo_endpoint"},
			methods: []string{"client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"},
			algs:    []string{"RS256", "ES256"}},
		{name: "overrides",
			cfg:     oidctest.Config{AuthMethods: []string{"private_key_jwt"}, SigningAlgs: []string{"ES256"}},
			methods: []string{"private_key_jwt"},
			algs:    []string{"ES256"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := oidctest.Start(t, tt.cfg)
			status, doc := get(t, p, "/.well-known/openid-configuration")
			if status != http.StatusOK {
				t.Fatalf("status %d", status)
			}
			want := map[string]string{
				"issuer":                 p.Issuer(),
				"authorization_endpoint": p.URL("/authorize"),
				"token_endpoint":         p.URL("/token"),
				"jwks_uri":               p.URL("/jwks"),
				"userinfo_endpoint":      p.URL("/userinfo"),
				"end_session_endpoint":   p.URL("/end_session"),
				"revocation_endpoint":    p.URL("/revoke"),
				"introspection_endpoint": p.URL("/introspect"),
			}
			for k, v := range want {
				if slices.Contains(tt.absent, k) {
					if _, ok := doc[k]; ok {
						t.Errorf("%s present", k)
					}
					path := strings.TrimPrefix(v, p.Issuer())
					if status, _ := get(t, p, path); status != http.StatusNotFound {
						t.Errorf("GET %s: %d, want 404", path, status)
					}
					continue
				}
				if doc[k] != v {
					t.Errorf("%s = %v, want %s", k, doc[k], v)
				}
			}
			lists := map[string][]string{
				"response_types_supported":              {"code"},
				"response_modes_supported":              {"query", "form_post"},
				"grant_types_supported":                 {"authorization_code", "refresh_token"},
				"subject_types_supported":               {"public"},
				"code_challenge_methods_supported":      {"S256", "plain"},
				"scopes_supported":                      {"openid", "profile", "email", "offline_access"},
				"id_token_signing_alg_values_supported": tt.algs,
				"token_endpoint_auth_methods_supported": tt.methods,
			}
			if !slices.Contains(tt.absent, "revocation_endpoint") {
				lists["revocation_endpoint_auth_methods_supported"] = tt.methods
				lists["introspection_endpoint_auth_methods_supported"] = tt.methods
			}
			for k, v := range lists {
				if got := strs(doc[k]); !slices.Equal(got, v) {
					t.Errorf("%s = %v, want %v", k, got, v)
				}
			}
			for _, k := range []string{"backchannel_logout_supported", "backchannel_logout_session_supported",
				"frontchannel_logout_supported", "frontchannel_logout_session_supported"} {
				if doc[k] != true {
					t.Errorf("%s = %v", k, doc[k])
				}
			}
			if claims := strs(doc["claims_supported"]); !slices.Contains(claims, "email") || !slices.Contains(claims, "sid") {
				t.Errorf("claims_supported = %v", claims)
			}
			if got := p.Count("discovery"); got != 1 {
				t.Errorf("Count(discovery) = %d", got)
			}
		})
	}
}

// strs converts a decoded JSON array of strings.
func strs(v any) []string {
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))
	for _, s := range arr {
		str, _ := s.(string)
		out = append(out, str)
	}
	return out
}

func TestJWKSAndRotation(t *testing.T) {
	p := oidctest.Start(t, oidctest.Config{})
	check := func(wantKids []string) {
		t.Helper()
		set := jwks(t, p)
		var kids []string
		for _, k := range set.Keys {
			kids = append(kids, k.KeyID)
			if k.Use != "sig" || !k.IsPublic() || k.KeyID == "" {
				t.Errorf("key %+v", k)
			}
		}
		if !slices.Equal(kids, wantKids) {
			t.Errorf("JWKS kids %v, want %v", kids, wantKids)
		}
	}
	first := p.SigningKeyIDs()
	if len(first) != 2 {
		t.Fatalf("SigningKeyIDs = %v", first)
	}
	check(first)
	set := jwks(t, p)
	if set.Keys[0].Algorithm != "RS256" || set.Keys[1].Algorithm != "ES256" {
		t.Errorf("algs %s %s", set.Keys[0].Algorithm, set.Keys[1].Algorithm)
	}

	old := loginTokens(t, p)["id_token"].(string)
	p.RotateKeys(true)
	kept := p.SigningKeyIDs()
	if len(kept) != 4 || !slices.Equal(kept[2:], first) {
		t.Fatalf("after RotateKeys(true): %v", kept)
	}
	check(kept)
	verify(t, p, old) // old key still published
	h, _ := verify(t, p, loginTokens(t, p)["id_token"].(string))
	if h.KeyID != kept[0] {
		t.Errorf("new token kid %s, want %s", h.KeyID, kept[0])
	}

	p.RotateKeys(false)
	now := p.SigningKeyIDs()
	if len(now) != 2 || slices.Contains(kept, now[0]) || slices.Contains(kept, now[1]) {
		t.Fatalf("after RotateKeys(false): %v (before %v)", now, kept)
	}
	check(now)
	if got := p.Count("jwks"); got < 5 {
		t.Errorf("Count(jwks) = %d", got)
	}
}

func TestNewProviderErrors(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  oidctest.Config
	}{
		{"private_key_jwt without key", oidctest.Config{Clients: []oidctest.Client{{ID: "c", AuthMethod: "private_key_jwt"}}}},
		{"unknown method", oidctest.Config{Clients: []oidctest.Client{{ID: "c", Secret: "s", AuthMethod: "tls_client_auth"}}}},
		{"basic without secret", oidctest.Config{Clients: []oidctest.Client{{ID: "c"}}}},
		{"short HS secret", oidctest.Config{Clients: []oidctest.Client{{ID: "c", Secret: "short", AuthMethod: "client_secret_jwt"}}}},
		{"empty client ID", oidctest.Config{Clients: []oidctest.Client{{Secret: "s"}}}},
		{"duplicate client", oidctest.Config{Clients: []oidctest.Client{{ID: "c", AuthMethod: "none"}, {ID: "c", AuthMethod: "none"}}}},
		{"duplicate user", oidctest.Config{Users: []oidctest.User{{Subject: "a"}, {Subject: "a"}}}},
		{"bad alg", oidctest.Config{SigningAlg: "HS256"}},
		{"public addr", oidctest.Config{Addr: "0.0.0.0:0"}},
		{"bad addr", oidctest.Config{Addr: "nope"}},
		{"EC key of wrong kind", oidctest.Config{Clients: []oidctest.Client{{ID: "c", AuthMethod: "private_key_jwt", PublicKey: "pem"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := oidctest.NewProvider(tt.cfg)
			if err == nil {
				p.Close()
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), "oidctest: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
	// A private key is accepted for PublicKey.
	p, err := oidctest.NewProvider(oidctest.Config{Clients: []oidctest.Client{{ID: "c", AuthMethod: "private_key_jwt", PublicKey: ec}}})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	p.Close() // idempotent
}

// fakeTB records what Start does with its TB.
type fakeTB struct {
	fatal    string
	cleanups []func()
}

func (f *fakeTB) Helper()                           {}
func (f *fakeTB) Fatalf(format string, args ...any) { f.fatal = format }
func (f *fakeTB) Cleanup(fn func())                 { f.cleanups = append(f.cleanups, fn) }

func TestStart(t *testing.T) {
	var tb fakeTB
	p := oidctest.Start(&tb, oidctest.Config{})
	if p == nil || tb.fatal != "" || len(tb.cleanups) != 1 {
		t.Fatalf("Start: %v %+v", p, tb)
	}
	if !strings.HasPrefix(p.Issuer(), "http://127.0.0.1:") || strings.HasSuffix(p.Issuer(), "/") {
		t.Errorf("Issuer = %q", p.Issuer())
	}
	tb.cleanups[0]()
	if _, err := p.Client().Get(p.URL("/jwks")); err == nil {
		t.Error("provider still serving after cleanup")
	}

	var bad fakeTB
	if p := oidctest.Start(&bad, oidctest.Config{SigningAlg: "nope"}); p != nil || bad.fatal == "" {
		t.Errorf("Start with bad config: %v, fatal %q", p, bad.fatal)
	}
}

func TestRouting(t *testing.T) {
	p := oidctest.Start(t, oidctest.Config{})
	if status, _ := get(t, p, "/nope"); status != http.StatusNotFound {
		t.Errorf("unknown path: %d", status)
	}
	status, body := get(t, p, "/token")
	if status != http.StatusMethodNotAllowed || body["error"] != "invalid_request" {
		t.Errorf("GET /token: %d %v", status, body)
	}
	if got := p.Count("token"); got != 1 {
		t.Errorf("Count(token) = %d", got)
	}
	// Repeated parameters are refused.
	status, _, body = post(t, p, "/token", url.Values{"grant_type": {"a", "b"}}, basic)
	if status != http.StatusBadRequest || body["error"] != "invalid_request" {
		t.Errorf("repeated parameter: %d %v", status, body)
	}
}

// TestSweep: a long-running provider forgets codes and tokens that can no
// longer be used.
func TestSweep(t *testing.T) {
	clk := newClock()
	p := oidctest.Start(t, oidctest.Config{Now: clk.Now, AccessTokenTTL: time.Minute})
	for range 3 {
		authorize(t, p, oidctest.DefaultClientID)
	}
	clk.Advance(2 * time.Hour)
	authorize(t, p, oidctest.DefaultClientID) // sweeps
	if n := oidctest.Pending(p); n != 1 {
		t.Fatalf("%d codes and tokens kept after the sweep, want 1 (the new code)", n)
	}
}
