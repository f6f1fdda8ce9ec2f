package rp

import (
	"fmt"
	"net/url"
	"strings"
)

// EndSessionParams are the parameters of an RP-Initiated Logout 1.0 request.
type EndSessionParams struct {
	// IDTokenHint is the ID token of the session being ended. An expired ID
	// token is a valid hint (RP-Initiated Logout 1.0, 2); it is not verified
	// here. Some providers (Okta, Gluu, Decathlon) require it: see
	// Config.EndSessionRequiresIDTokenHint.
	IDTokenHint Secret
	// PostLogoutRedirectURL is where the provider sends the browser back.
	// Zero: Config.PostLogoutRedirectURL; it must be registered.
	PostLogoutRedirectURL string
	// State is returned to PostLogoutRedirectURL as the "state" parameter.
	State string
	// LogoutHint is logout_hint (e.g. the user's login name).
	LogoutHint string
	// UILocales is ui_locales, in order of preference.
	UILocales []string
	// Extra are provider-specific parameters, such as Gluu's "session_id".
	// They cannot replace the parameters above or client_id.
	Extra url.Values
}

// EndSessionURL returns the provider's end_session_endpoint with the logout
// request's parameters, for the browser to be redirected to; client_id is
// always sent, so that a request without an id_token_hint still names the
// client whose post_logout_redirect_uri it carries. A query the endpoint
// already has is kept. When the provider advertises no end_session_endpoint
// it returns [ErrNoEndSession], and without a hint to a provider that
// requires one (Config.EndSessionRequiresIDTokenHint) it returns
// [ErrIDTokenHintRequired]: the caller then ends the session locally only.
// EndSessionURL does no I/O, except a discovery attempt as
// [Client.StartLogin] may make.
func (c *Client) EndSessionURL(p EndSessionParams) (string, error) {
	f, err := c.EndSessionForm(p)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(f.Action)
	if err != nil {
		return "", fmt.Errorf("%w: end_session_endpoint: %v", ErrConfig, err)
	}
	q := u.Query()
	for k, vs := range f.Fields {
		q[k] = vs // the request's own value wins over one the endpoint's query has
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// EndSessionForm is an RP-Initiated Logout 1.0 request sent as a form POST
// (section 2 allows GET and POST): the browser submits Fields,
// form-encoded, to Action. It keeps the ID token out of URLs — and so out
// of logs, histories and Referer headers — and has no length limit;
// Decathlon Connect expects it.
type EndSessionForm struct {
	// Action is the end_session_endpoint, with any query it has.
	Action string
	// Fields are the logout request's parameters, as for EndSessionURL.
	Fields url.Values
}

// EndSessionForm returns the logout request of p as a form to POST, with
// the same parameters, checks and errors as [Client.EndSessionURL]. It does
// no I/O.
func (c *Client) EndSessionForm(p EndSessionParams) (*EndSessionForm, error) {
	prov, err := c.providerNow()
	if err != nil {
		return nil, err
	}
	endpoint := prov.meta.EndSessionEndpoint
	if endpoint == "" {
		return nil, ErrNoEndSession
	}
	if p.IDTokenHint == "" && c.cfg.EndSessionRequiresIDTokenHint {
		return nil, ErrIDTokenHintRequired
	}
	if _, err := url.Parse(endpoint); err != nil {
		return nil, fmt.Errorf("%w: end_session_endpoint: %v", ErrConfig, err)
	}
	q := url.Values{}
	for k, vs := range p.Extra {
		switch k {
		case "id_token_hint", "post_logout_redirect_uri", "state", "client_id", "logout_hint", "ui_locales":
			return nil, fmt.Errorf("%w: end-session parameter %q has its own field", ErrConfig, k)
		}
		for _, v := range vs {
			q.Add(k, v)
		}
	}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	redirect := p.PostLogoutRedirectURL
	if redirect == "" {
		redirect = c.cfg.PostLogoutRedirectURL
	}
	set("id_token_hint", string(p.IDTokenHint))
	redirectParam := c.cfg.EndSessionRedirectParam
	if redirectParam == "" {
		redirectParam = "post_logout_redirect_uri"
	}
	set(redirectParam, redirect)
	set("state", p.State)
	set("client_id", c.cfg.ClientID)
	logoutHint := p.LogoutHint
	if logoutHint == "" && c.cfg.LogoutHintClaim != "" && p.IDTokenHint != "" {
		// The hint's claims are read, not verified: this client verified
		// the token at login, and the provider checks it again.
		if cl, err := storedClaims(string(p.IDTokenHint)); err == nil {
			var claims map[string]any
			if cl.Decode(&claims) == nil {
				logoutHint, _ = claims[c.cfg.LogoutHintClaim].(string)
			}
		}
	}
	set("logout_hint", logoutHint)
	set("ui_locales", strings.Join(p.UILocales, " "))
	return &EndSessionForm{Action: endpoint, Fields: q}, nil
}
