package oidctest

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// maxFormBytes caps request bodies.
const maxFormBytes = 1 << 20

// route is one endpoint of the provider.
type route struct {
	name    string // the Count and SetResponseHook name
	methods []string
	off     bool // disabled by Config: answers 404
	serve   func(http.ResponseWriter, *http.Request)
}

// newRoutes maps each path to its endpoint.
func (p *Provider) newRoutes() map[string]route {
	get, getPost, post := []string{http.MethodGet}, []string{http.MethodGet, http.MethodPost}, []string{http.MethodPost}
	return map[string]route{
		"/.well-known/openid-configuration": {"discovery", get, false, p.discovery},
		"/jwks":                             {"jwks", get, false, p.serveJWKS},
		"/authorize":                        {"authorize", getPost, false, p.authorize},
		"/token":                            {"token", post, false, p.token},
		"/userinfo":                         {"userinfo", getPost, p.cfg.NoUserInfo, p.userinfo},
		"/revoke":                           {"revocation", post, p.cfg.NoRevocation, p.revoke},
		"/introspect":                       {"introspection", post, p.cfg.NoIntrospection, p.introspect},
		"/end_session":                      {"end_session", getPost, p.cfg.NoEndSession, p.endSession},
	}
}

// serveHTTP counts the request and dispatches it to its endpoint.
func (p *Provider) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rt, ok := p.routes[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	p.mu.Lock()
	p.counts[rt.name]++
	p.mu.Unlock()
	if rt.off {
		http.NotFound(w, r)
		return
	}
	if !slices.Contains(rt.methods, r.Method) {
		w.Header().Set("Allow", strings.Join(rt.methods, ", "))
		p.writeError(w, rt.name, &oauthError{http.StatusMethodNotAllowed, "invalid_request", r.Method + " not allowed"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	rt.serve(w, r)
}

// oauthError is an OAuth 2.0 error response (RFC 6749 section 5.2).
type oauthError struct {
	status      int
	code        string
	description string
}

// badRequest, badClient and badGrant build the common errors.
func badRequest(format string, args ...any) *oauthError {
	return &oauthError{http.StatusBadRequest, "invalid_request", fmt.Sprintf(format, args...)}
}

func badClient(format string, args ...any) *oauthError {
	return &oauthError{http.StatusUnauthorized, "invalid_client", fmt.Sprintf(format, args...)}
}

func badGrant(format string, args ...any) *oauthError {
	return &oauthError{http.StatusBadRequest, "invalid_grant", fmt.Sprintf(format, args...)}
}

// writeError writes e as a JSON error response of the endpoint. A 401 gets
// a WWW-Authenticate challenge: Bearer at userinfo, Basic elsewhere.
func (p *Provider) writeError(w http.ResponseWriter, endpoint string, e *oauthError) {
	body := map[string]any{"error": e.code, "error_description": e.description}
	var h http.Header
	if e.status == http.StatusUnauthorized {
		challenge := `Basic realm="oidctest"`
		if endpoint == "userinfo" {
			challenge = fmt.Sprintf(`Bearer realm="oidctest", error=%q, error_description=%q`, e.code, e.description)
		}
		h = http.Header{"Www-Authenticate": {challenge}}
	}
	p.writeJSON(w, endpoint, e.status, body, h)
}

// writeJSON writes body as the JSON response of the endpoint, with extra
// headers, through the endpoint's response hook.
func (p *Provider) writeJSON(w http.ResponseWriter, endpoint string, status int, body map[string]any, extra http.Header) {
	resp := &Response{
		Status: status,
		Header: http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}},
		Body:   body,
	}
	maps.Copy(resp.Header, extra)
	p.mu.Lock()
	hook := p.responseHooks[endpoint]
	p.mu.Unlock()
	if hook != nil {
		hook(resp)
	}
	raw := resp.Raw
	if raw == nil {
		var err error
		if raw, err = json.Marshal(resp.Body); err != nil {
			http.Error(w, "oidctest: encoding response: "+err.Error(), http.StatusInternalServerError)
			return
		}
	}
	maps.Copy(w.Header(), resp.Header)
	if resp.Status < 100 || resp.Status > 999 {
		resp.Status = http.StatusInternalServerError
	}
	w.WriteHeader(resp.Status)
	w.Write(raw)
}

// parseForm parses the request parameters: the body only when bodyOnly,
// else the query and (for POST) the body. A repeated parameter is an error
// (RFC 6749 section 3.1).
func parseForm(r *http.Request, bodyOnly bool) (url.Values, *oauthError) {
	if err := r.ParseForm(); err != nil {
		return nil, badRequest("malformed parameters: %v", err)
	}
	form := r.Form
	if bodyOnly {
		form = r.PostForm
	}
	for k, vs := range form {
		if len(vs) > 1 {
			return nil, badRequest("parameter %q repeated", k)
		}
	}
	return form, nil
}

// discovery serves the OpenID Provider Metadata.
func (p *Provider) discovery(w http.ResponseWriter, _ *http.Request) {
	claims := []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid", "at_hash"}
	for _, u := range p.cfg.Users {
		for k := range u.Claims {
			if !slices.Contains(claims, k) {
				claims = append(claims, k)
			}
		}
	}
	slices.Sort(claims)
	methods := slices.Clone(p.cfg.AuthMethods)
	doc := map[string]any{
		"issuer":                                p.issuer,
		"authorization_endpoint":                p.URL("/authorize"),
		"token_endpoint":                        p.URL("/token"),
		"jwks_uri":                              p.URL("/jwks"),
		"response_types_supported":              []string{"code"},
		"response_modes_supported":              []string{"query", "form_post"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": slices.Clone(p.cfg.SigningAlgs),
		"token_endpoint_auth_methods_supported": methods,
		"token_endpoint_auth_signing_alg_values_supported": []string{
			"HS256", "HS384", "HS512", "RS256", "ES256", "PS256"},
		"code_challenge_methods_supported":      []string{"S256", "plain"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"claims_supported":                      claims,
		"backchannel_logout_supported":          true,
		"backchannel_logout_session_supported":  true,
		"frontchannel_logout_supported":         true,
		"frontchannel_logout_session_supported": true,
	}
	if !p.cfg.NoUserInfo {
		doc["userinfo_endpoint"] = p.URL("/userinfo")
	}
	if p.cfg.AuthorizationResponseIss {
		doc["authorization_response_iss_parameter_supported"] = true
	}
	if !p.cfg.NoEndSession {
		doc["end_session_endpoint"] = p.URL("/end_session")
	}
	if !p.cfg.NoRevocation {
		doc["revocation_endpoint"] = p.URL("/revoke")
		doc["revocation_endpoint_auth_methods_supported"] = slices.Clone(methods)
	}
	if !p.cfg.NoIntrospection {
		doc["introspection_endpoint"] = p.URL("/introspect")
		doc["introspection_endpoint_auth_methods_supported"] = slices.Clone(methods)
	}
	p.writeJSON(w, "discovery", http.StatusOK, doc, nil)
}

// serveJWKS serves the published public keys.
func (p *Provider) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	var body map[string]any
	b, err := json.Marshal(p.jwks())
	if err == nil {
		err = json.Unmarshal(b, &body)
	}
	if err != nil {
		p.writeError(w, "jwks", &oauthError{http.StatusInternalServerError, "server_error", err.Error()})
		return
	}
	p.writeJSON(w, "jwks", http.StatusOK, body, nil)
}

// userinfo serves the claims of the user an access token was issued for.
func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		p.writeError(w, "userinfo", &oauthError{http.StatusUnauthorized, "invalid_token", "bearer access token missing"})
		return
	}
	p.mu.Lock()
	rec, ok := p.tokens[tok]
	ok = ok && !rec.refreshToken && rec.active(p.cfg.Now())
	p.mu.Unlock()
	if !ok {
		p.writeError(w, "userinfo", &oauthError{http.StatusUnauthorized, "invalid_token", "access token unknown, expired or revoked"})
		return
	}
	body := maps.Clone(p.user(rec.subject).Claims)
	if body == nil {
		body = map[string]any{}
	}
	body["sub"] = rec.subject
	p.writeJSON(w, "userinfo", http.StatusOK, body, nil)
}

// tokenCall parses and authenticates a revocation or introspection request
// and returns the client and the token parameters.
func (p *Provider) tokenCall(w http.ResponseWriter, r *http.Request, endpoint string) (c Client, token, hint string, ok bool) {
	form, oe := parseForm(r, true)
	if oe == nil {
		c, _, oe = p.authenticateClient(r, form)
	}
	if oe != nil {
		p.writeError(w, endpoint, oe)
		return c, "", "", false
	}
	return c, form.Get("token"), form.Get("token_type_hint"), true
}

// revoke serves the revocation endpoint (RFC 7009). Tokens of other clients
// are left alone, and unknown tokens are not an error.
func (p *Provider) revoke(w http.ResponseWriter, r *http.Request) {
	c, tok, hint, ok := p.tokenCall(w, r, "revocation")
	if !ok {
		return
	}
	p.mu.Lock()
	p.revocations = append(p.revocations, Revocation{ClientID: c.ID, Token: tok, TokenTypeHint: hint})
	if rec, ok := p.tokens[tok]; ok && rec.clientID == c.ID {
		p.revokeLocked(tok)
	}
	p.mu.Unlock()
	if tok == "" {
		p.writeError(w, "revocation", badRequest("token missing"))
		return
	}
	p.writeJSON(w, "revocation", http.StatusOK, map[string]any{}, nil)
}

// revokeLocked revokes a token and, for a refresh token, the access tokens
// issued with it. p.mu must be held.
func (p *Provider) revokeLocked(tok string) {
	rec, ok := p.tokens[tok]
	if !ok {
		return
	}
	rec.revoked = true
	if rec.refreshToken {
		for _, at := range p.tokens {
			if at.refresh == tok {
				at.revoked = true
			}
		}
	}
}

// introspect serves the introspection endpoint (RFC 7662). Any
// authenticated client may introspect any token.
func (p *Provider) introspect(w http.ResponseWriter, r *http.Request) {
	c, tok, hint, ok := p.tokenCall(w, r, "introspection")
	if !ok {
		return
	}
	p.mu.Lock()
	rec, active := p.tokens[tok]
	active = active && rec.active(p.cfg.Now())
	p.introspections = append(p.introspections, Introspection{ClientID: c.ID, Token: tok, TokenTypeHint: hint, Active: active})
	p.mu.Unlock()
	if tok == "" {
		p.writeError(w, "introspection", badRequest("token missing"))
		return
	}
	body := map[string]any{"active": active}
	if active {
		typ := "Bearer"
		if rec.refreshToken {
			typ = "refresh_token"
		}
		maps.Copy(body, map[string]any{
			"sub": rec.subject, "client_id": rec.clientID, "scope": rec.scope, "iat": rec.iat.Unix(),
			"token_type": typ, "iss": p.issuer, "sid": rec.sid,
		})
		if !rec.exp.IsZero() {
			body["exp"] = rec.exp.Unix()
		}
	}
	p.writeJSON(w, "introspection", http.StatusOK, body, nil)
}
