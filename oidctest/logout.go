package oidctest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// backchannelEvent is the events member of a logout token.
const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// endSession serves the RP-Initiated Logout 1.0 endpoint. It records every
// request, ends the session named by a valid id_token_hint (without one,
// the browser's own session, named by its session cookie), and redirects
// only to a post_logout_redirect_uri registered for the client.
func (p *Provider) endSession(w http.ResponseWriter, r *http.Request) {
	q, oe := parseForm(r, false)
	p.mu.Lock()
	p.endSessions = append(p.endSessions, EndSessionRequest{Method: r.Method, Params: cloneValues(r.Form)})
	p.mu.Unlock()
	if oe != nil {
		p.writeError(w, "end_session", oe)
		return
	}
	sid, redirect, oe := p.checkEndSession(q)
	if oe != nil {
		p.writeError(w, "end_session", oe)
		return
	}
	browser := p.browserOf(r)
	p.mu.Lock()
	if sid == "" {
		sid = p.browsers[browser]
	}
	if s, ok := p.sessions[sid]; ok && s.browser == browser {
		http.SetCookie(w, &http.Cookie{Name: p.sessionCookieName(), Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
	if sid != "" {
		p.endSessionLocked(sid)
	}
	p.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	if redirect == "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!DOCTYPE html>\n<html><head><title>Logged out</title></head><body><p>You are logged out.</p></body></html>\n")
		return
	}
	out := url.Values{}
	if state := q.Get("state"); state != "" {
		out.Set("state", state)
	}
	loc, err := addQuery(redirect, out)
	if err != nil {
		p.writeError(w, "end_session", badRequest("post_logout_redirect_uri: %v", err))
		return
	}
	http.Redirect(w, r, loc, http.StatusFound)
}

// checkEndSession validates a logout request and returns the sid of the
// id_token_hint (if any) and the post_logout_redirect_uri (if any).
func (p *Provider) checkEndSession(q url.Values) (sid, redirect string, oe *oauthError) {
	clientID := q.Get("client_id")
	if hint := q.Get("id_token_hint"); hint != "" {
		aud, hintSID, err := p.verifyHint(hint)
		switch {
		case err != nil:
			return "", "", badRequest("invalid id_token_hint: %v", err)
		case clientID != "" && !aud.Contains(clientID):
			return "", "", badRequest("client_id is not an audience of id_token_hint")
		case clientID == "" && len(aud) == 1:
			clientID = aud[0]
		}
		sid = hintSID
	}
	redirect = q.Get("post_logout_redirect_uri")
	if clientID == "" {
		if redirect != "" {
			return "", "", badRequest("post_logout_redirect_uri needs client_id or id_token_hint")
		}
		return sid, "", nil
	}
	c, ok := p.lookupClient(clientID)
	switch {
	case !ok:
		return "", "", badRequest("unknown client_id %q", clientID)
	case redirect != "" && !uriAllowed(c.PostLogoutRedirectURIs, redirect):
		return "", "", badRequest("post_logout_redirect_uri %q is not registered for client %q", redirect, clientID)
	}
	return sid, redirect, nil
}

// verifyHint verifies the signature and issuer of an ID token issued by
// this provider (with any published key), ignoring its expiry, and returns
// its audience and sid.
func (p *Provider) verifyHint(raw string) (jwt.Audience, string, error) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{
		jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512, jose.ES256})
	if err != nil {
		return nil, "", err
	}
	kid := tok.Headers[0].KeyID
	var std jwt.Claims
	var extra struct {
		SID string `json:"sid"`
	}
	err = errors.New("no published key matches")
	for _, k := range p.jwks().Keys {
		if kid == "" || k.KeyID == kid {
			if err = tok.Claims(k.Key, &std, &extra); err == nil {
				break
			}
		}
	}
	if err != nil {
		return nil, "", err
	}
	if std.Issuer != p.issuer {
		return nil, "", fmt.Errorf("iss %q is not this provider", std.Issuer)
	}
	return std.Audience, extra.SID, nil
}

// LogoutTokenOptions describes a logout token for [Provider.LogoutToken].
type LogoutTokenOptions struct {
	ClientID string // "aud"; zero: DefaultClientID
	Subject  string // "sub"; empty: omitted
	SID      string // "sid"; empty: omitted
}

// LogoutToken mints a signed Back-Channel Logout 1.0 logout token: header
// typ "logout+jwt"; claims iss, aud, iat, exp (iat + LogoutTokenTTL), a
// random jti, events {"http://schemas.openid.net/event/backchannel-logout":
// {}}, and sub and sid when set. It goes through the [LogoutToken] hook, so
// a test can produce any invalid variant. It does NOT end any session.
func (p *Provider) LogoutToken(o LogoutTokenOptions) (string, error) {
	clientID := cmp.Or(o.ClientID, DefaultClientID)
	now := p.cfg.Now()
	claims := map[string]any{
		"iss":    p.issuer,
		"aud":    clientID,
		"iat":    now.Unix(),
		"exp":    now.Add(p.cfg.LogoutTokenTTL).Unix(),
		"jti":    randomID(),
		"events": map[string]any{backchannelEvent: map[string]any{}},
	}
	if o.Subject != "" {
		claims["sub"] = o.Subject
	}
	if o.SID != "" {
		claims["sid"] = o.SID
	}
	return p.mint(LogoutToken, clientID, claims, "")
}

// PostLogoutToken POSTs logout_token=token (application/x-www-form-urlencoded)
// to uri, without following redirects, and returns the response; the
// caller closes its body. Only http and https URIs on loopback hosts are
// allowed.
func (p *Provider) PostLogoutToken(ctx context.Context, uri, token string) (*http.Response, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return nil, fmt.Errorf("oidctest: logout URI: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || !isLoopbackHost(u.Hostname()) {
		return nil, fmt.Errorf("oidctest: logout URI %q is not an http(s) loopback URL", uri)
	}
	body := url.Values{"logout_token": {token}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri, strings.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("oidctest: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.direct.Do(req)
	if err != nil {
		return nil, fmt.Errorf("oidctest: posting logout token: %w", err)
	}
	return resp, nil
}

// BackchannelResult is the outcome of one logout token POST made by
// [Provider.BackchannelLogout].
type BackchannelResult struct {
	ClientID, URI string
	Status        int   // HTTP status of the answer; 0 when Err is set
	Err           error // minting or transport error
}

// BackchannelLogout ends provider session sid and, for every client that
// took part in it and has a BackchannelLogoutURI, mints a logout token
// (with sub and sid) and POSTs it there. It returns one result per client
// notified, in order of their first login, and an error only if sid is not
// a live session.
func (p *Provider) BackchannelLogout(ctx context.Context, sid string) ([]BackchannelResult, error) {
	p.mu.Lock()
	s, ok := p.endSessionLocked(sid)
	p.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("oidctest: no provider session %q", sid)
	}
	var results []BackchannelResult
	for _, id := range s.ClientIDs {
		c, ok := p.lookupClient(id)
		if !ok || c.BackchannelLogoutURI == "" {
			continue
		}
		res := BackchannelResult{ClientID: id, URI: c.BackchannelLogoutURI}
		tok, err := p.LogoutToken(LogoutTokenOptions{ClientID: id, Subject: s.Subject, SID: sid})
		if err == nil {
			var resp *http.Response
			if resp, err = p.PostLogoutToken(ctx, res.URI, tok); err == nil {
				res.Status = resp.StatusCode
				io.Copy(io.Discard, io.LimitReader(resp.Body, maxFormBytes))
				resp.Body.Close()
			}
		}
		res.Err = err
		results = append(results, res)
	}
	return results, nil
}

// FrontchannelLogoutURL returns the client's FrontchannelLogoutURI with iss
// and sid (when not empty) added to its query, keeping the query it has. It
// returns an error if the client is unknown or has no
// FrontchannelLogoutURI.
func (p *Provider) FrontchannelLogoutURL(clientID, sid string) (string, error) {
	c, ok := p.lookupClient(clientID)
	if !ok || c.FrontchannelLogoutURI == "" {
		return "", fmt.Errorf("oidctest: client %q is unknown or has no FrontchannelLogoutURI", clientID)
	}
	params := url.Values{"iss": {p.issuer}}
	if sid != "" {
		params.Set("sid", sid)
	}
	u, err := addQuery(c.FrontchannelLogoutURI, params)
	if err != nil {
		return "", fmt.Errorf("oidctest: FrontchannelLogoutURI: %w", err)
	}
	return u, nil
}
