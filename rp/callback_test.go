package rp_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
)

func TestStartLogin(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	authURL, st, err := e.c.StartLogin(
		rp.WithReturnTo("/me"), rp.WithPrompt("login"), rp.WithMaxAge(5*time.Minute),
		rp.WithLoginHint("alice"), rp.WithACRValues("urn:mfa", "urn:pwd"), rp.WithUILocales("fr-CA", "en"),
		rp.WithScopes("groups", "openid"), rp.WithParam("audience", "api://x"), rp.WithFormPost(),
	)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := u.Scheme+"://"+u.Host+u.Path, e.p.Issuer()+"/authorize"; got != want {
		t.Errorf("endpoint = %s, want %s", got, want)
	}
	q := u.Query()
	want := map[string]string{
		"response_type":         "code",
		"client_id":             oidctest.DefaultClientID,
		"redirect_uri":          redirectURL,
		"scope":                 "openid profile email offline_access groups",
		"state":                 st.State,
		"nonce":                 st.Nonce,
		"code_challenge_method": "S256",
		"prompt":                "login",
		"max_age":               "300",
		"login_hint":            "alice",
		"acr_values":            "urn:mfa urn:pwd",
		"ui_locales":            "fr-CA en",
		"audience":              "api://x",
		"response_mode":         "form_post",
	}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	if q.Get("code_challenge") == "" || q.Get("code_challenge") == string(st.Verifier) {
		t.Errorf("code_challenge = %q: want the S256 hash of the verifier", q.Get("code_challenge"))
	}
	if st.ReturnTo != "/me" || st.MaxAge == nil || *st.MaxAge != 5*time.Minute || !st.Created.Equal(e.clk.Now()) {
		t.Errorf("login state = %+v", st)
	}
	// 256-bit random values: 43 base64url characters, never repeated.
	_, st2, _ := e.c.StartLogin()
	for _, v := range []string{st.State, st.Nonce, string(st.Verifier)} {
		if len(v) < 43 {
			t.Errorf("random value %q is shorter than 256 bits", v)
		}
	}
	if st.State == st2.State || st.Nonce == st2.Nonce || st.Verifier == st2.Verifier {
		t.Error("two logins share a random value")
	}
}

func TestStartLoginRefusesReservedParams(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	for _, p := range []string{"state", "nonce", "redirect_uri", "client_id", "code_challenge", "response_type", "scope", "max_age"} {
		if _, _, err := e.c.StartLogin(rp.WithParam(p, "x")); !errors.Is(err, rp.ErrConfig) {
			t.Errorf("WithParam(%q): err = %v, want ErrConfig", p, err)
		}
	}
}

func TestCallbackFormPost(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	tok := e.mustLogin(t, rp.WithFormPost())
	if tok.Claims.Subject != oidctest.DefaultSubject {
		t.Fatalf("sub = %q", tok.Claims.Subject)
	}
}

func TestCallbackResult(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	tok := e.mustLogin(t)
	c := tok.Claims
	if c.Issuer != e.p.Issuer() || c.Subject != oidctest.DefaultSubject || c.SID == "" ||
		len(c.Audience) != 1 || c.Audience[0] != oidctest.DefaultClientID ||
		c.Expiry.IsZero() || c.IssuedAt.IsZero() || c.AuthTime.IsZero() || c.Nonce == "" {
		t.Fatalf("claims = %+v", c)
	}
	var std rp.StandardClaims
	if err := c.Decode(&std); err != nil || std.Email != "alice@example.com" || !std.EmailVerified {
		t.Fatalf("standard claims = %+v, %v", std, err)
	}
	// expires_in counted on the client's clock, not the wall clock.
	if tok.RefreshToken == "" || tok.TokenType == "" || !tok.Expiry.Equal(e.clk.Now().Add(time.Hour)) {
		t.Fatalf("tokens = %+v", tok)
	}
	if !strings.Contains(string(c.Raw()), `"sub"`) {
		t.Fatalf("raw claims = %s", c.Raw())
	}
}

// TestCallbackRequestChecks breaks the authorization response or the login
// state one way at a time.
func TestCallbackRequestChecks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mangle func(e *env, st *rp.LoginState, p url.Values) (*rp.LoginState, url.Values)
		want   error
	}{
		{"state differs", func(_ *env, st *rp.LoginState, p url.Values) (*rp.LoginState, url.Values) {
			p.Set("state", st.State+"x")
			return st, p
		}, rp.ErrStateMismatch},
		{"state missing", func(_ *env, st *rp.LoginState, p url.Values) (*rp.LoginState, url.Values) {
			p.Del("state")
			return st, p
		}, rp.ErrStateMismatch},
		{"no login state", func(_ *env, _ *rp.LoginState, p url.Values) (*rp.LoginState, url.Values) {
			return nil, p
		}, rp.ErrStateMismatch},
		{"state of another login", func(e *env, _ *rp.LoginState, p url.Values) (*rp.LoginState, url.Values) {
			_, other, _ := e.c.StartLogin()
			return other, p
		}, rp.ErrStateMismatch},
		{"login too old", func(e *env, st *rp.LoginState, p url.Values) (*rp.LoginState, url.Values) {
			e.clk.Advance(11 * time.Minute)
			return st, p
		}, rp.ErrLoginExpired},
		{"code missing", func(_ *env, st *rp.LoginState, p url.Values) (*rp.LoginState, url.Values) {
			p.Del("code")
			return st, p
		}, rp.ErrInvalidCallback},
		{"code repeated", func(_ *env, st *rp.LoginState, p url.Values) (*rp.LoginState, url.Values) {
			p.Add("code", "other")
			return st, p
		}, rp.ErrInvalidCallback},
		{"huge parameter", func(_ *env, st *rp.LoginState, p url.Values) (*rp.LoginState, url.Values) {
			p.Set("code", strings.Repeat("A", 1<<20))
			return st, p
		}, rp.ErrInvalidCallback},
		{"binary parameter", func(_ *env, st *rp.LoginState, p url.Values) (*rp.LoginState, url.Values) {
			p.Set("state", "\x00\xff\xfe")
			return st, p
		}, rp.ErrStateMismatch},
		{"iss parameter of another issuer (RFC 9207)", func(_ *env, st *rp.LoginState, p url.Values) (*rp.LoginState, url.Values) {
			p.Set("iss", "https://evil.example")
			return st, p
		}, rp.ErrIssuer},
		{"wrong PKCE verifier", func(_ *env, st *rp.LoginState, p url.Values) (*rp.LoginState, url.Values) {
			st.Verifier = "wrong-verifier-wrong-verifier-wrong-verifier-0123"
			return st, p
		}, nil}, // checked below: invalid_grant
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, nil, nil)
			st, p := e.authorize(t)
			st, p = tc.mangle(e, st, p)
			_, err := e.c.Callback(t.Context(), st, p)
			if tc.want == nil {
				if pe := providerErr(t, err); pe.Code != "invalid_grant" || pe.Endpoint != "token" {
					t.Fatalf("provider error = %+v", pe)
				}
				return
			}
			wantErr(t, err, tc.want)
		})
	}
}

func TestCallbackCodeReplay(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	st, p := e.authorize(t)
	if _, err := e.c.Callback(t.Context(), st, p); err != nil {
		t.Fatal(err)
	}
	_, err := e.c.Callback(t.Context(), st, p)
	if pe := providerErr(t, err); pe.Code != "invalid_grant" {
		t.Fatalf("replayed code: %+v", pe)
	}
}

func TestCallbackErrorResponse(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	st, _ := e.authorize(t)
	p := url.Values{"state": {st.State}, "error": {"access_denied"}, "error_description": {"user said no"}, "error_uri": {"https://op.example/e"}}
	_, err := e.c.Callback(t.Context(), st, p)
	pe := providerErr(t, err)
	if pe.Endpoint != "authorization" || pe.Code != "access_denied" || pe.Description != "user said no" || pe.URI != "https://op.example/e" {
		t.Fatalf("provider error = %+v", pe)
	}
	// An error response with a foreign state is a state mismatch first.
	p.Set("state", "forged")
	_, err = e.c.Callback(t.Context(), st, p)
	wantErr(t, err, rp.ErrStateMismatch)
}

// TestTokenResponseChecks breaks the token endpoint's answer.
func TestTokenResponseChecks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tamper func(*oidctest.Response)
		want   error
	}{
		{"no id_token", func(r *oidctest.Response) { delete(r.Body, "id_token") }, rp.ErrMissingIDToken},
		{"id_token a number", func(r *oidctest.Response) { r.Body["id_token"] = 42 }, rp.ErrTokenResponse},
		{"id_token garbage", func(r *oidctest.Response) { r.Body["id_token"] = "a.b.c" }, rp.ErrMalformedToken},
		{"access_token an object", func(r *oidctest.Response) { r.Body["access_token"] = map[string]any{"x": 1} }, rp.ErrTokenResponse},
		{"no access_token", func(r *oidctest.Response) { delete(r.Body, "access_token") }, rp.ErrTokenResponse},
		{"expires_in a word", func(r *oidctest.Response) { r.Body["expires_in"] = "soon" }, rp.ErrTokenResponse},
		{"not JSON", func(r *oidctest.Response) { r.Raw = []byte("<html>oops</html>") }, rp.ErrTokenResponse},
		{"server error", func(r *oidctest.Response) { r.Status = 503; r.Raw = []byte("down") }, rp.ErrProviderUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, nil, nil)
			e.p.SetResponseHook("token", tc.tamper)
			_, err := e.login(t)
			wantErr(t, err, tc.want)
		})
	}
}

func TestCallbackProviderDown(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	st, p := e.authorize(t)
	e.p.Close()
	_, err := e.c.Callback(t.Context(), st, p)
	wantErr(t, err, rp.ErrProviderUnavailable)
}

// TestProviderErrorKeepsRetrieveError: a token endpoint error is a
// *ProviderError whose message has no response body, and x/oauth2's
// *RetrieveError stays reachable.
func TestProviderErrorKeepsRetrieveError(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	e.p.SetResponseHook("token", func(r *oidctest.Response) {
		r.Status = 400
		r.Body = map[string]any{"error": "invalid_grant", "error_description": "code expired", "secret_debug": "do-not-print"}
	})
	_, err := e.login(t)
	pe := providerErr(t, err)
	if pe.Code != "invalid_grant" || pe.Description != "code expired" || pe.StatusCode != 400 {
		t.Fatalf("provider error = %+v", pe)
	}
	if strings.Contains(err.Error(), "do-not-print") {
		t.Fatalf("error message includes the response body: %v", err)
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("no *oauth2.RetrieveError in %v", err)
	}
	if errors.Is(err, rp.ErrProviderUnavailable) {
		t.Fatal("a 400 must not read as provider unavailable")
	}
}

// TestAuthorizationResponseIss (RFC 9207): when the provider advertises the
// iss parameter, a response without it, or with another, is refused.
func TestAuthorizationResponseIss(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		mangle func(url.Values)
		want   error
	}{
		{"present and right", func(url.Values) {}, nil},
		{"missing", func(p url.Values) { p.Del("iss") }, rp.ErrIssuer},
		{"another issuer", func(p url.Values) { p.Set("iss", "https://evil.example") }, rp.ErrIssuer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, func(c *oidctest.Config) { c.AuthorizationResponseIss = true }, nil)
			st, p := e.authorize(t)
			if p.Get("iss") != e.p.Issuer() {
				t.Fatalf("the provider sent iss %q", p.Get("iss"))
			}
			tc.mangle(p)
			_, err := e.c.Callback(t.Context(), st, p)
			wantErr(t, err, tc.want)
		})
	}
}

// TestIncompleteLoginState: a login state missing its nonce or verifier
// is no login state.
func TestIncompleteLoginState(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	for _, mangle := range []func(*rp.LoginState){
		func(s *rp.LoginState) { s.State = "" },
		func(s *rp.LoginState) { s.Nonce = "" },
		func(s *rp.LoginState) { s.Verifier = "" },
	} {
		st, p := e.authorize(t)
		mangle(st)
		if st.State == "" {
			p.Set("state", "")
		}
		_, err := e.c.Callback(t.Context(), st, p)
		wantErr(t, err, rp.ErrStateMismatch)
	}
}

// TestTokenEndpointRedirectKeepsCredentials: a redirect from the token
// endpoint is not followed, so the client's credentials never reach
// another host.
func TestTokenEndpointRedirectKeepsCredentials(t *testing.T) {
	t.Parallel()
	var leaked atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Add(1)
	}))
	defer elsewhere.Close()
	e := setup(t, nil, nil)
	e.p.SetResponseHook("token", func(r *oidctest.Response) {
		r.Status = http.StatusTemporaryRedirect
		r.Header.Set("Location", elsewhere.URL+"/token")
		r.Raw = []byte{}
	})
	_, err := e.login(t)
	if pe := providerErr(t, err); pe.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("provider error = %+v", pe)
	}
	if leaked.Load() != 0 {
		t.Fatal("the token request was replayed to the redirect target")
	}
}

// TestOversizedIDToken: a token past the size limit is refused before any
// parsing.
func TestOversizedIDToken(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil)
	e.p.SetTokenHook(oidctest.IDToken, func(m *oidctest.Mint) { m.Claims["padding"] = strings.Repeat("a", 70<<10) })
	_, err := e.login(t)
	wantErr(t, err, rp.ErrMalformedToken)
}
