package oidctest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// grant is what a code or a token was issued for.
type grant struct {
	clientID, subject, sid, scope string
	authTime                      time.Time
}

// authCode is an authorization code.
type authCode struct {
	grant
	redirectURI, nonce, challenge, method string
	expires                               time.Time
	used                                  bool
	issued                                []string // tokens issued with it, revoked if it is replayed
}

// tokenRecord is an access token or a refresh token.
type tokenRecord struct {
	grant
	refreshToken bool
	iat, exp     time.Time // zero exp: never expires
	refresh      string    // access tokens: the refresh token they were issued with
	revoked      bool
}

// active reports whether the token can still be used at now.
func (t *tokenRecord) active(now time.Time) bool {
	return !t.revoked && (t.exp.IsZero() || now.Before(t.exp))
}

// token serves the token endpoint.
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	body, err := p.tokenGrant(r)
	if err != nil {
		p.writeError(w, "token", err)
		return
	}
	p.writeJSON(w, "token", http.StatusOK, body, http.Header{"Pragma": {"no-cache"}})
}

// tokenGrant authenticates the client and runs the grant.
func (p *Provider) tokenGrant(r *http.Request) (map[string]any, *oauthError) {
	form, oe := parseForm(r, true)
	if oe != nil {
		return nil, oe
	}
	c, method, oe := p.authenticateClient(r, form)
	if oe != nil {
		return nil, oe
	}
	gt := form.Get("grant_type")
	p.mu.Lock()
	p.tokenRequests = append(p.tokenRequests, TokenRequest{GrantType: gt, ClientID: c.ID, AuthMethod: method, Form: cloneValues(form)})
	p.mu.Unlock()
	switch gt {
	case "authorization_code":
		return p.codeGrant(c, form)
	case "refresh_token":
		return p.refreshGrant(c, form)
	case "":
		return nil, badRequest("grant_type missing")
	}
	return nil, &oauthError{http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("grant_type %q not supported", gt)}
}

// codeGrant redeems an authorization code.
func (p *Provider) codeGrant(c Client, form url.Values) (map[string]any, *oauthError) {
	code := form.Get("code")
	if code == "" {
		return nil, badRequest("code missing")
	}
	p.mu.Lock()
	ac, oe := p.checkCode(c, code, form)
	p.mu.Unlock()
	if oe != nil {
		return nil, oe
	}
	body, issued, err := p.issueTokens(ac.grant, ac.nonce, hasScope(ac.scope, "offline_access"), "")
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	ac.issued = issued
	p.mu.Unlock()
	return body, nil
}

// checkCode validates and consumes a code. p.mu must be held.
func (p *Provider) checkCode(c Client, code string, form url.Values) (*authCode, *oauthError) {
	ac, ok := p.codes[code]
	switch {
	case !ok:
		return nil, badGrant("unknown code")
	case ac.clientID != c.ID:
		return nil, badGrant("code was issued to another client")
	case ac.used:
		for _, t := range ac.issued {
			p.revokeLocked(t)
		}
		return nil, badGrant("code already used")
	}
	ac.used = true
	if !p.cfg.Now().Before(ac.expires) {
		return nil, badGrant("code expired")
	}
	if form.Get("redirect_uri") != ac.redirectURI {
		return nil, badGrant("redirect_uri does not match the authorization request")
	}
	verifier := form.Get("code_verifier")
	switch {
	case ac.challenge == "" && verifier != "":
		return nil, badGrant("code_verifier sent but the authorization request had no code_challenge")
	case ac.challenge == "" && c.AuthMethod == authNone:
		return nil, badGrant("public clients must use PKCE")
	case ac.challenge == "":
		return ac, nil
	case verifier == "":
		return nil, badGrant("code_verifier missing")
	case !validVerifier(verifier):
		return nil, badGrant("code_verifier is not 43 to 128 unreserved characters (RFC 7636)")
	}
	computed := verifier
	if ac.method == "S256" {
		sum := sha256.Sum256([]byte(verifier))
		computed = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if subtle.ConstantTimeCompare([]byte(computed), []byte(ac.challenge)) != 1 {
		return nil, badGrant("code_verifier does not match code_challenge")
	}
	return ac, nil
}

// validVerifier reports whether v is a syntactically valid PKCE verifier.
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for _, r := range v {
		if !('A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || strings.ContainsRune("-._~", r)) {
			return false
		}
	}
	return true
}

// refreshGrant redeems a refresh token.
func (p *Provider) refreshGrant(c Client, form url.Values) (map[string]any, *oauthError) {
	rt := form.Get("refresh_token")
	if rt == "" {
		return nil, badRequest("refresh_token missing")
	}
	p.mu.Lock()
	rec, ok := p.tokens[rt]
	var oe *oauthError
	switch {
	case !ok || !rec.refreshToken:
		oe = badGrant("unknown refresh token")
	case rec.clientID != c.ID:
		oe = badGrant("refresh token was issued to another client")
	case !rec.active(p.cfg.Now()):
		oe = badGrant("refresh token revoked, rotated or expired")
	case p.cfg.RotateRefreshTokens:
		rec.revoked = true
	}
	p.mu.Unlock()
	if oe != nil {
		return nil, oe
	}
	link := rt
	if p.cfg.RotateRefreshTokens {
		link = ""
	}
	body, _, err := p.issueTokens(rec.grant, "", p.cfg.RotateRefreshTokens, link)
	return body, err
}

// issueTokens mints an access token, an ID token and, if newRefresh, a
// refresh token for g, and returns the token response and the tokens
// stored. The access token is tied to the refresh token issued with it, or
// to link.
func (p *Provider) issueTokens(g grant, nonce string, newRefresh bool, link string) (map[string]any, []string, *oauthError) {
	now := p.cfg.Now()
	at := randomID()
	body := map[string]any{
		"access_token": at,
		"token_type":   "Bearer",
		"expires_in":   int64(p.cfg.AccessTokenTTL / time.Second),
		"scope":        g.scope,
	}
	issued := []string{at}
	p.mu.Lock()
	if newRefresh {
		link = randomID()
		rec := &tokenRecord{grant: g, refreshToken: true, iat: now}
		if p.cfg.RefreshTokenTTL > 0 {
			rec.exp = now.Add(p.cfg.RefreshTokenTTL)
		}
		p.tokens[link] = rec
		body["refresh_token"] = link
		issued = append(issued, link)
	}
	p.tokens[at] = &tokenRecord{grant: g, iat: now, exp: now.Add(p.cfg.AccessTokenTTL), refresh: link}
	p.mu.Unlock()

	claims := maps.Clone(p.user(g.subject).Claims)
	if claims == nil {
		claims = map[string]any{}
	}
	maps.Copy(claims, map[string]any{
		"iss":       p.issuer,
		"sub":       g.subject,
		"aud":       g.clientID,
		"iat":       now.Unix(),
		"exp":       now.Add(p.cfg.IDTokenTTL).Unix(),
		"auth_time": g.authTime.Unix(),
		"sid":       g.sid,
	})
	if nonce != "" {
		claims["nonce"] = nonce
	}
	idt, err := p.mint(IDToken, g.clientID, claims, at)
	if err != nil {
		return nil, nil, &oauthError{http.StatusInternalServerError, "server_error", err.Error()}
	}
	body["id_token"] = idt
	return body, issued, nil
}

// hasScope reports whether the space-separated scope contains s.
func hasScope(scope, s string) bool {
	return slices.Contains(strings.Fields(scope), s)
}
