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
// EndSessionURL does no I/O.
func (c *Client) EndSessionURL(p EndSessionParams) (string, error) {
	if c.meta.EndSessionEndpoint == "" {
		return "", ErrNoEndSession
	}
	if p.IDTokenHint == "" && c.cfg.EndSessionRequiresIDTokenHint {
		return "", ErrIDTokenHintRequired
	}
	u, err := url.Parse(c.meta.EndSessionEndpoint)
	if err != nil {
		return "", fmt.Errorf("%w: end_session_endpoint: %v", ErrConfig, err)
	}
	q := u.Query()
	for k, vs := range p.Extra {
		switch k {
		case "id_token_hint", "post_logout_redirect_uri", "state", "client_id", "logout_hint", "ui_locales":
			return "", fmt.Errorf("%w: end-session parameter %q has its own field", ErrConfig, k)
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
	set("post_logout_redirect_uri", redirect)
	set("state", p.State)
	set("client_id", c.cfg.ClientID)
	set("logout_hint", p.LogoutHint)
	set("ui_locales", strings.Join(p.UILocales, " "))
	u.RawQuery = q.Encode()
	return u.String(), nil
}
