package middleware

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/rpkit/rpkit/event"
	"github.com/rpkit/rpkit/internal/flight"
	"github.com/rpkit/rpkit/rp"
	"github.com/rpkit/rpkit/session"
)

// Paths are the routes [Middleware.Routes] serves.
type Paths struct {
	// Login starts a login (GET, ?return_to=/path). Zero: "/login".
	Login string
	// Callback receives the authorization response. Zero: the path of the
	// client's RedirectURL. It also accepts POST, but response_mode=form_post
	// does not work with the default cookies: the provider's cross-site POST
	// does not carry the SameSite=Lax login-state cookie. Keep the default
	// query response mode.
	Callback string
	// Logout ends the session (POST; GET too with AllowGETLogout).
	// Zero: "/logout".
	Logout string
	// PostLogout is the local page the browser lands on after a logout (the
	// provider returns there with the state the logout sent; the app serves
	// it wrapped in [Middleware.PostLogoutLanding]). Zero: "/".
	PostLogout string
}

// Config configures a [Middleware]. Client is required; every other zero
// value is a documented default.
type Config struct {
	// Client talks to the provider.
	Client *rp.Client
	// Store keeps the sessions. Zero: an in-memory store (one process).
	Store session.Store
	// Cookies signs and encrypts the cookies. Zero: a codec with a random
	// secret, so sessions do not survive a restart and instances do not
	// share them.
	Cookies *session.CookieCodec
	// CookieName names the session cookie; the login and logout state
	// cookies are named after it. Zero: "__Host-rpkit" on https with no
	// CookieDomain, else "rpkit".
	CookieName string
	// CookieDomain sets the cookies' Domain attribute. Zero: host-only.
	CookieDomain string
	// Paths are the routes. See [Paths] for the defaults.
	Paths Paths
	// DefaultReturnTo is where a login without a valid return_to lands.
	// Zero: "/".
	DefaultReturnTo string
	// LoginOptions are added to every authorization request (for example
	// rp.WithPrompt("consent") where a provider needs it for refresh tokens).
	LoginOptions []rp.LoginOption
	// Lifetime is a session's absolute lifetime. Zero: 12 hours.
	Lifetime time.Duration
	// IdleTimeout ends a session unused for that long. Zero: no idle
	// timeout.
	IdleTimeout time.Duration
	// RefreshLeeway refreshes an access token that expires within it, or
	// within a quarter of its lifetime when that is shorter, so that a
	// provider's short-lived tokens are refreshed once each, not on every
	// request. Zero: 30 seconds.
	RefreshLeeway time.Duration
	// EndSessionParams names authorization-response parameters kept with
	// the session (rp.Config.KeepAuthorizationParams) that the logout
	// route sends back to the provider's end-session endpoint, such as
	// Gluu's "session_id". Zero: none.
	EndSessionParams []string
	// EndSessionFormPost sends the browser to the provider's end-session
	// endpoint with an auto-submitting form POST instead of a redirect
	// (RP-Initiated Logout 1.0 allows both; Decathlon Connect expects
	// POST), so the ID token never appears in a URL. Zero: a redirect, or
	// the form when the URL would be longer than 2000 bytes. A JSON logout
	// then answers {"redirect_url": null, "form": {"method", "action",
	// "fields"}} for the page to submit.
	EndSessionFormPost bool
	// AllowGETLogout also accepts GET on the logout route. Zero: POST only,
	// so that a link or an image on another site cannot log users out.
	AllowGETLogout bool

	// OnLogin runs after the ID token is verified and before the session is
	// stored; an error refuses the login (403) and no session is made.
	OnLogin func(ctx context.Context, s *session.Session) error
	// OnLogout runs after a session was ended by the logout route.
	OnLogout func(ctx context.Context, s *session.Session)
	// ErrorHandler renders errors. Zero: a short text page, or JSON when the
	// request accepts application/json. err is for logs, never for the user.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, status int, err error)
	// Logger receives what has no caller to return to (a failed revocation
	// after a logout, a failed request), never a token, secret, cookie or
	// session ID. Zero: slog.Default(); pass a logger with
	// slog.DiscardHandler to silence it.
	Logger *slog.Logger
	// Observer receives the lifecycle events of the middleware's sessions
	// (login, refresh, each ending; see package event). Zero: the client's
	// (rp.Config.Observer), which may be none.
	Observer event.Observer
	// Now is the clock. Zero: time.Now.
	Now func() time.Time
}

// Middleware is the browser session manager. Build it with [New]. It is safe
// for concurrent use.
type Middleware struct {
	cfg        Config
	secure     bool
	cookieName string
	refreshes  flight.Group[*session.Session]
	routes     http.Handler
}

const (
	defaultLifetime      = 12 * time.Hour
	defaultRefreshLeeway = 30 * time.Second
	loginCookieLimit     = 3                // login attempts kept per browser
	maxFormBytes         = 64 << 10         // callback form_post bodies
	providerTimeout      = 15 * time.Second // a refresh shared by waiters
)

// New validates cfg once and returns the middleware.
func New(cfg Config) (*Middleware, error) {
	if cfg.Client == nil {
		return nil, errors.New("middleware: Config.Client is nil")
	}
	redirect, err := url.Parse(cfg.Client.RedirectURL())
	if err != nil || redirect.Path == "" || !redirect.IsAbs() {
		return nil, fmt.Errorf("middleware: the client's RedirectURL %q is not an absolute URL", cfg.Client.RedirectURL())
	}
	if cfg.Store == nil {
		cfg.Store = session.NewMemoryStore(session.MemoryConfig{Now: cfg.Now})
	}
	if cfg.Cookies == nil {
		secret := make([]byte, 32)
		rand.Read(secret)
		if cfg.Cookies, err = session.NewCookieCodec(secret); err != nil {
			return nil, fmt.Errorf("middleware: %w", err)
		}
	}
	p := &cfg.Paths
	p.Login = orDefault(p.Login, "/login")
	p.Callback = orDefault(p.Callback, redirect.Path)
	p.Logout = orDefault(p.Logout, "/logout")
	p.PostLogout = orDefault(p.PostLogout, "/")
	for _, path := range []string{p.Login, p.Callback, p.Logout, p.PostLogout} {
		if !safeReturnTo(path) {
			return nil, fmt.Errorf("middleware: path %q must be an absolute path", path)
		}
	}
	cfg.DefaultReturnTo = orDefault(cfg.DefaultReturnTo, "/")
	if !safeReturnTo(cfg.DefaultReturnTo) {
		return nil, fmt.Errorf("middleware: DefaultReturnTo %q must be a relative path", cfg.DefaultReturnTo)
	}
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = defaultLifetime
	}
	if cfg.RefreshLeeway <= 0 {
		cfg.RefreshLeeway = defaultRefreshLeeway
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Observer == nil {
		cfg.Observer = cfg.Client.Observer()
	}
	m := &Middleware{cfg: cfg, secure: redirect.Scheme == "https"}
	m.cookieName = cfg.CookieName
	if m.cookieName == "" {
		m.cookieName = "rpkit"
		if m.secure && cfg.CookieDomain == "" {
			m.cookieName = "__Host-rpkit"
		}
	}
	if cfg.ErrorHandler == nil {
		m.cfg.ErrorHandler = defaultErrorHandler
	}
	if m.routes, err = m.newRoutes(); err != nil {
		return nil, err
	}
	return m, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// Routes returns the handler of the login, callback and logout routes.
// Mount it so that those paths reach it, for example with mux.Handle for
// each path or as the fallback of the application's mux.
func (m *Middleware) Routes() http.Handler { return m.routes }

// newRoutes builds the routes once, turning ServeMux's panics on a bad or
// conflicting pattern into an error from New.
func (m *Middleware) newRoutes() (h http.Handler, err error) {
	p := m.cfg.Paths
	if p.Login == p.Callback || p.Login == p.Logout || p.Callback == p.Logout {
		return nil, fmt.Errorf("middleware: the login, callback and logout paths must differ (%q, %q, %q)", p.Login, p.Callback, p.Logout)
	}
	defer func() {
		if r := recover(); r != nil {
			h, err = nil, fmt.Errorf("middleware: bad path in Config.Paths: %v", r)
		}
	}()
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+p.Login, m.login)
	mux.HandleFunc("GET "+p.Callback, m.callback)
	mux.HandleFunc("POST "+p.Callback, m.callback)
	// The app's own logout button needs no token; cross-origin POSTs are
	// refused (Sec-Fetch-Site / Origin).
	mux.Handle("POST "+p.Logout, http.NewCrossOriginProtection().Handler(http.HandlerFunc(m.logout)))
	if m.cfg.AllowGETLogout {
		mux.HandleFunc("GET "+p.Logout, m.logout)
	}
	// Every answer of these routes is for one browser at one moment,
	// including ServeMux's 405 and CrossOriginProtection's 403, which set no
	// Cache-Control of their own.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		mux.ServeHTTP(w, r)
	}), nil
}

// Paths returns the routes in use, defaults applied.
func (m *Middleware) Paths() Paths { return m.cfg.Paths }

// fail logs err, once, and renders status through the ErrorHandler.
func (m *Middleware) fail(w http.ResponseWriter, r *http.Request, status int, err error) {
	msg := "rpkit: request failed"
	if errors.Is(err, session.ErrInvalidRecord) {
		// Most likely a record written by a newer version of the
		// application during a rolling deploy: say so, for the operator.
		msg = "rpkit: request failed: the stored session record cannot be decoded (written by another version of the application?); failing closed"
	}
	m.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, msg,
		slog.String("path", r.URL.Path), slog.Int("status", status), slog.String("error", err.Error()))
	w.Header().Set("Cache-Control", "no-store")
	if secs, ok := retryAfter(err); ok && status >= 500 {
		// The provider's keys cannot be fetched, or its token endpoint
		// asked not to be called, before then.
		w.Header().Set("Retry-After", secs)
	}
	m.cfg.ErrorHandler(w, r, status, err)
}
