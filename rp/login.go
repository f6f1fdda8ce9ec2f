package rp

import (
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/rpkit/rpkit/internal/randid"
)

// LoginState is what one login attempt must keep between [Client.StartLogin]
// and [Client.Callback]: typically in a short-lived encrypted cookie. It is
// safe to marshal as JSON; it redacts itself in logs.
type LoginState struct {
	// State and Nonce are random (256 bits from crypto/rand) per attempt.
	State string `json:"state"`
	Nonce string `json:"nonce"`
	// Verifier is the PKCE code verifier (S256 challenge sent).
	Verifier Secret `json:"verifier"`
	// ReturnTo is where the application wants to go after the login; rp
	// stores it and does not interpret it.
	ReturnTo string `json:"return_to,omitempty"`
	// MaxAge is the max_age requested, nil when none was.
	MaxAge *time.Duration `json:"max_age,omitempty"`
	// Created is when the attempt started; Callback refuses it after
	// Config.LoginTimeout.
	Created time.Time `json:"created"`
}

// LogValue keeps state, nonce and verifier out of logs.
func (s LoginState) LogValue() slog.Value {
	return slog.GroupValue(slog.String("return_to", s.ReturnTo), slog.Time("created", s.Created))
}

// LoginOption changes one authorization request. Build them with the With…
// functions of this package.
type LoginOption struct {
	apply func(*loginRequest) error
}

type loginRequest struct {
	params   map[string]string
	scopes   []string
	returnTo string
	maxAge   *time.Duration
}

// WithScopes requests scopes beyond Config.Scopes for this login.
func WithScopes(scopes ...string) LoginOption {
	return LoginOption{func(r *loginRequest) error { r.scopes = append(r.scopes, scopes...); return nil }}
}

// WithPrompt sets prompt (e.g. "login", "consent", "none",
// "select_account"; several separated by spaces).
func WithPrompt(prompt string) LoginOption { return WithParam("prompt", prompt) }

// WithMaxAge sets max_age: the provider must have authenticated the user no
// longer ago than d, and [Client.Callback] then checks auth_time.
// Zero forces a new authentication.
func WithMaxAge(d time.Duration) LoginOption {
	return LoginOption{func(r *loginRequest) error {
		if d < 0 {
			return fmt.Errorf("%w: negative max_age", ErrConfig)
		}
		d = d.Truncate(time.Second)
		r.maxAge = &d
		r.params["max_age"] = strconv.FormatInt(int64(d/time.Second), 10)
		return nil
	}}
}

// WithLoginHint sets login_hint.
func WithLoginHint(hint string) LoginOption { return WithParam("login_hint", hint) }

// WithACRValues sets acr_values.
func WithACRValues(acr ...string) LoginOption { return WithParam("acr_values", strings.Join(acr, " ")) }

// WithUILocales sets ui_locales (BCP47 tags in order of preference).
func WithUILocales(locales ...string) LoginOption {
	return WithParam("ui_locales", strings.Join(locales, " "))
}

// WithFormPost asks for response_mode=form_post: the provider POSTs the
// response to the redirect URL instead of putting it in the query.
func WithFormPost() LoginOption { return WithParam("response_mode", "form_post") }

// WithReturnTo stores where to go after the login in the [LoginState].
func WithReturnTo(path string) LoginOption {
	return LoginOption{func(r *loginRequest) error { r.returnTo = path; return nil }}
}

// WithParam adds any other authorization request parameter (for example a
// provider's own). The parameters rp sets itself (response_type, client_id,
// redirect_uri, scope, state, nonce, code_challenge, code_challenge_method)
// cannot be replaced: StartLogin returns an ErrConfig error.
func WithParam(name, value string) LoginOption {
	return LoginOption{func(r *loginRequest) error {
		switch name {
		case "response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
			"code_challenge", "code_challenge_method":
			return fmt.Errorf("%w: parameter %q is set by rp", ErrConfig, name)
		case "max_age":
			return fmt.Errorf("%w: use WithMaxAge for max_age", ErrConfig)
		}
		r.params[name] = value
		return nil
	}}
}

// StartLogin begins one authorization code flow with PKCE: it returns the
// URL to send the browser to and the [LoginState] to keep until
// [Client.Callback]. It does no I/O — except, with Config.LazyDiscovery
// before the provider is discovered, one discovery attempt when the
// back-off allows it (bounded by Config.ProviderTimeout); without the
// provider it fails with a [*DiscoveryRetryError].
func (c *Client) StartLogin(opts ...LoginOption) (authURL string, st *LoginState, err error) {
	req := loginRequest{params: map[string]string{}}
	for _, o := range opts {
		if o.apply == nil {
			continue
		}
		if err := o.apply(&req); err != nil {
			return "", nil, err
		}
	}
	p, err := c.providerNow()
	if err != nil {
		return "", nil, err
	}
	st = &LoginState{
		Verifier: Secret(oauth2.GenerateVerifier()), // 256 bits from crypto/rand
		ReturnTo: req.returnTo,
		MaxAge:   req.maxAge,
		Created:  c.cfg.Now(),
	}
	st.State, st.Nonce = randid.New(), randid.New()
	authOpts := []oauth2.AuthCodeOption{
		oauth2.S256ChallengeOption(string(st.Verifier)),
		oauth2.SetAuthURLParam("nonce", st.Nonce),
	}
	if len(req.scopes) > 0 {
		scopes := slices.Clone(p.oauth2.Scopes)
		for _, s := range req.scopes {
			if s != "" && !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
		authOpts = append(authOpts, oauth2.SetAuthURLParam("scope", strings.Join(scopes, " ")))
	}
	for k, v := range req.params {
		authOpts = append(authOpts, oauth2.SetAuthURLParam(k, v))
	}
	return p.oauth2.AuthCodeURL(st.State, authOpts...), st, nil
}
