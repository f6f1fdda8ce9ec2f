package oidctest

import (
	"context"
	"fmt"
	"html"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// codeTTL is the lifetime of authorization codes.
const codeTTL = 10 * time.Minute

// formPostPage is the OAuth 2.0 Form Post Response Mode page.
var formPostPage = template.Must(template.New("form_post").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Submit this form</title></head>
<body onload="document.forms[0].submit()">
<form method="post" action="{{.Action}}">
{{range $k, $v := .Params}}<input type="hidden" name="{{$k}}" value="{{index $v 0}}">
{{end}}<noscript><button type="submit">Continue</button></noscript>
</form>
</body></html>
`))

// hiddenInput matches the inputs of formPostPage.
var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)

// authorize serves the authorization endpoint. It auto-approves every valid
// request. Without a known client_id and an allowed redirect_uri it answers
// 400 and does not redirect; other errors go to the redirect_uri.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q, oe := parseForm(r, false)
	if oe != nil {
		p.writeError(w, "authorize", oe)
		return
	}
	c, ok := p.lookupClient(q.Get("client_id"))
	if !ok {
		p.writeError(w, "authorize", badRequest("unknown client_id %q", q.Get("client_id")))
		return
	}
	redirectURI := q.Get("redirect_uri")
	if !uriAllowed(c.RedirectURIs, redirectURI) {
		p.writeError(w, "authorize", badRequest("redirect_uri %q is not registered for client %q", redirectURI, c.ID))
		return
	}
	out := url.Values{}
	if code, browser, oe := p.issueCode(c, redirectURI, q, p.browserOf(r)); oe != nil {
		out.Set("error", oe.code)
		out.Set("error_description", oe.description)
	} else {
		out.Set("code", code)
		http.SetCookie(w, p.sessionCookie(browser))
	}
	if state := q.Get("state"); state != "" {
		out.Set("state", state)
	}
	if p.cfg.AuthorizationResponseIss {
		out.Set("iss", p.issuer)
	}
	w.Header().Set("Cache-Control", "no-store")
	if q.Get("response_mode") == "form_post" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		formPostPage.Execute(w, struct {
			Action template.URL // a registered or loopback URI
			Params url.Values
		}{template.URL(redirectURI), out})
		return
	}
	loc, err := addQuery(redirectURI, out)
	if err != nil {
		p.writeError(w, "authorize", badRequest("redirect_uri: %v", err))
		return
	}
	http.Redirect(w, r, loc, http.StatusFound)
}

// issueCode validates an authorization request whose client and
// redirect_uri are valid, logs its user in in the browser's provider
// session (browser: its session cookie's value) and returns a code and the
// browser's session cookie value.
func (p *Provider) issueCode(c Client, redirectURI string, q url.Values, browser string) (code, sessionCookie string, oe *oauthError) {
	if m := q.Get("response_mode"); m != "" && m != "query" && m != "form_post" {
		return "", "", badRequest("response_mode %q not supported", m)
	}
	if rt := q.Get("response_type"); rt != "code" {
		return "", "", &oauthError{http.StatusBadRequest, "unsupported_response_type", fmt.Sprintf("response_type %q not supported", rt)}
	}
	scopes := strings.Fields(q.Get("scope"))
	if !slices.Contains(scopes, "openid") {
		return "", "", &oauthError{http.StatusBadRequest, "invalid_scope", "scope must contain openid"}
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		return "", "", badRequest("code_challenge_method without code_challenge")
	case challenge != "" && method == "":
		method = "plain"
	case challenge != "" && method != "S256" && method != "plain":
		return "", "", badRequest("code_challenge_method %q not supported", method)
	}
	maxAge := -1
	if q.Has("max_age") {
		n, err := strconv.Atoi(q.Get("max_age"))
		if err != nil || n < 0 {
			return "", "", badRequest("max_age must be a non-negative integer")
		}
		maxAge = n
	}

	prompt := strings.Fields(q.Get("prompt"))
	s, browser := p.login(browser, p.user(q.Get("login_hint")).Subject, c.ID, func(authTime time.Time) bool {
		return slices.Contains(prompt, "login") || maxAge == 0 ||
			maxAge > 0 && p.cfg.Now().Sub(authTime) > time.Duration(maxAge)*time.Second
	})
	code = randomID()
	p.mu.Lock()
	p.sweepLocked()
	p.codes[code] = &authCode{
		grant:       grant{clientID: c.ID, subject: s.Subject, sid: s.SID, scope: strings.Join(scopes, " "), authTime: s.AuthTime},
		redirectURI: redirectURI,
		nonce:       q.Get("nonce"),
		challenge:   challenge,
		method:      method,
		expires:     p.cfg.Now().Add(codeTTL),
	}
	p.mu.Unlock()
	return code, browser, nil
}

// Authorize performs the authorization request at authURL as a browser
// would, without following the redirect to the client, and returns the
// parameters delivered to the redirect_uri: the Location query for
// response_mode query (error responses included), or the fields of the
// auto-submitting form for form_post. It returns an error if the provider
// answered anything else (such as a 400 for an unregistered redirect_uri).
//
// Authorize plays one browser per user: the logins of a user (login_hint,
// else the first user) share one provider session, whichever client they
// are for, until it ends.
func (p *Provider) Authorize(ctx context.Context, authURL string) (url.Values, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		return nil, fmt.Errorf("oidctest: authorize: %w", err)
	}
	subject := p.user(req.URL.Query().Get("login_hint")).Subject
	p.mu.Lock()
	browser := p.helperBrowsers[subject]
	p.mu.Unlock()
	if browser != "" {
		req.AddCookie(p.sessionCookie(browser))
	}
	resp, err := p.direct.Do(req)
	if err != nil {
		return nil, fmt.Errorf("oidctest: authorize: %w", err)
	}
	defer resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == p.sessionCookieName() {
			p.mu.Lock()
			p.helperBrowsers[subject] = c.Value
			p.mu.Unlock()
		}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxFormBytes))
	if err != nil {
		return nil, fmt.Errorf("oidctest: authorize: %w", err)
	}
	switch resp.StatusCode {
	case http.StatusFound, http.StatusSeeOther:
		loc, err := resp.Location()
		if err != nil {
			return nil, fmt.Errorf("oidctest: authorize: %w", err)
		}
		return loc.Query(), nil
	case http.StatusOK:
		if inputs := hiddenInput.FindAllSubmatch(body, -1); len(inputs) > 0 {
			v := url.Values{}
			for _, m := range inputs {
				v.Add(html.UnescapeString(string(m[1])), html.UnescapeString(string(m[2])))
			}
			return v, nil
		}
	}
	return nil, fmt.Errorf("oidctest: authorize answered %s: %.300s", resp.Status, strings.TrimSpace(string(body)))
}

// uriAllowed reports whether uri is one of the registered URIs or, when
// none are registered, an http URL on a loopback host.
func uriAllowed(registered []string, uri string) bool {
	if len(registered) > 0 {
		return slices.Contains(registered, uri)
	}
	u, err := url.Parse(uri)
	return err == nil && u.Scheme == "http" && u.User == nil && u.Fragment == "" && isLoopbackHost(u.Hostname())
}

// isLoopbackHost reports whether host is "localhost" or a loopback IP.
func isLoopbackHost(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

// addQuery returns raw with params added to its query, keeping the query it
// has.
func addQuery(raw string, params url.Values) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}
