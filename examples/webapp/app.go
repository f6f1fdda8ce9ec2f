package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rpkit/rpkit/backchannel"
	"github.com/rpkit/rpkit/frontchannel"
	"github.com/rpkit/rpkit/middleware"
	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
	"github.com/rpkit/rpkit/session"
	"github.com/rpkit/rpkit/session/redisstore"
)

// app is the example web application: rpkit's middleware around a few
// pages, optionally with the embedded development provider.
type app struct {
	cfg *config
	log *slog.Logger
	dev *oidctest.Provider // the development provider when this instance serves it
	// devIssuer is the development provider's issuer, whether this
	// instance or another serves it; empty with a real provider.
	devIssuer string
	client    *rp.Client
	mw        *middleware.Middleware
	cookies   *session.CookieCodec // the middleware's, also for the banner cookie
	metrics   *metrics             // every component's event.Observer
	store     session.Store
	replay    backchannel.ReplayCache
	closers   []func()
}

func newApp(ctx context.Context, cfg *config, log *slog.Logger) (*app, error) {
	a := &app{cfg: cfg, log: log, metrics: newMetrics(log)}
	if cfg.Issuer == "" {
		if err := a.startDevProvider(ctx); err != nil {
			return nil, err
		}
	}
	client, err := rp.New(ctx, rp.Config{
		Issuer:                cfg.Issuer,
		ClientID:              cfg.ClientID,
		ClientSecret:          rp.Secret(cfg.ClientSecret),
		RedirectURL:           cfg.url("/callback"),
		PostLogoutRedirectURL: cfg.url("/"),
		Scopes:                slices.DeleteFunc(slices.Clone(cfg.Scopes), func(s string) bool { return s == "openid" }),
		SigningAlgs:           []string{"RS256", "ES256", "PS256"},
		// The middleware and the back-channel receiver report to the
		// client's observer too.
		Observer: a.metrics,
		// Start even while the provider is down: the public pages are
		// served, logins answer 503 with Retry-After until the provider
		// has been discovered (retried in the background).
		LazyDiscovery: true,
	})
	if err != nil {
		a.close()
		return nil, fmt.Errorf("the provider's configuration (OIDC_ISSUER %s): %w", cfg.Issuer, err)
	}
	a.client = client
	a.watchDiscovery(ctx)

	switch cfg.SessionStore {
	case "redis":
		opts, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			a.close()
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		rdb := redis.NewClient(opts)
		a.closers = append(a.closers, func() { rdb.Close() })
		if err := rdb.Ping(ctx).Err(); err != nil {
			a.close()
			return nil, fmt.Errorf("Redis is not reachable at %s (REDIS_URL, for SESSION_STORE=redis): start one with `redis-server`, or set REDIS_URL (%v)", opts.Addr, err)
		}
		rs, err := redisstore.New(ctx, rdb, redisstore.Config{})
		if err != nil {
			a.close()
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		a.store, a.replay = rs, rs // logout-token replays refused across instances
	default:
		a.store = session.NewMemoryStore(session.MemoryConfig{})
		a.replay = backchannel.NewMemoryReplayCache(nil)
	}

	secrets := cfg.CookieSecrets
	if len(secrets) == 0 {
		secret := make([]byte, 32)
		rand.Read(secret)
		secrets = [][]byte{secret}
	}
	cookies, err := session.NewCookieCodec(secrets...)
	if err != nil {
		a.close()
		return nil, err
	}
	a.cookies = cookies
	var loginOpts []rp.LoginOption
	if slices.Contains(cfg.Scopes, "offline_access") {
		// OpenID Connect Core 11: a request for offline access uses
		// prompt=consent (oidc-provider, for one, issues no refresh token
		// without it).
		loginOpts = append(loginOpts, rp.WithPrompt("consent"))
	}
	a.mw, err = middleware.New(middleware.Config{
		Client:          client,
		Store:           a.store,
		Cookies:         cookies,
		DefaultReturnTo: "/me",
		LoginOptions:    loginOpts,
		Logger:          log,
		ErrorHandler:    a.errorPage,
	})
	if err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

func (a *app) close() {
	for _, c := range slices.Backward(a.closers) {
		c()
	}
}

// handler returns the app's routes (the contract in the README).
func (a *app) handler() (http.Handler, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		// 200 as soon as the app serves; the second line says whether
		// logins can start.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		provider := "provider: discovered"
		if a.client.Discovered() != nil {
			provider = "provider: not discovered yet (logins answer 503)"
		}
		w.Write([]byte("ok\n" + provider + "\n"))
	})
	mux.Handle("GET /{$}", a.mw.PostLogoutLanding(a.mw.OptionalAuth(http.HandlerFunc(a.home))))
	mux.Handle("GET /me", a.mw.RequireAuth(http.HandlerFunc(a.me)))
	mux.Handle("GET /profile", a.mw.RequireAuth(http.HandlerFunc(a.profile)))

	bc, err := backchannel.New(backchannel.Config{Verifier: a.client, Sessions: a.store, Replay: a.replay, Logger: a.log})
	if err != nil {
		return nil, err
	}
	fcfg := frontchannel.Config{Issuer: a.cfg.Issuer, Sessions: a.store, Logger: a.log, Observer: a.metrics} // sid required: no cookie fallback
	if a.dev != nil {
		// The demo page that stands in for the provider's logout page is
		// the app's own: let it frame the receiver too.
		fcfg.FrameAncestors = []string{origin(a.cfg.Issuer), origin(a.cfg.AppURL.String())}
		mux.Handle("POST /dev/backchannel-logout", a.mw.RequireAuth(http.HandlerFunc(a.devBackchannel)))
		mux.Handle("GET /dev/frontchannel-logout", a.mw.RequireAuth(http.HandlerFunc(a.devFrontchannel)))
	}
	fc, err := frontchannel.New(fcfg)
	if err != nil {
		return nil, err
	}
	// /login, /callback, /logout, /backchannel-logout, /frontchannel-logout.
	if err := a.mw.Mount(mux, middleware.Receivers{BackChannel: bc, FrontChannel: fc}); err != nil {
		return nil, err
	}
	if a.metricsOn() {
		mux.Handle("GET /debug/metrics", a.metrics)
	}
	return securityHeaders(a.canonicalHost(mux)), nil
}

// watchDiscovery logs, in the background, whether the provider could be
// discovered: a warning with why while it cannot (an unreachable provider,
// an issuer URL that names something else), then one line once it is.
func (a *app) watchDiscovery(ctx context.Context) {
	ctx, stop := context.WithCancel(ctx)
	a.closers = append(a.closers, stop)
	go func() {
		wait, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := a.client.Ready(wait)
		cancel()
		if err == nil {
			return // discovered at once: nothing to say
		}
		a.log.Warn("the provider cannot be discovered yet: logins answer 503 until it can (retried in the background)",
			"issuer", a.cfg.Issuer, "error", err)
		if err := a.client.Ready(ctx); err == nil {
			a.log.Info("the provider is discovered: logins can start", "issuer", a.cfg.Issuer)
		}
	}()
}

// metricsOn reports whether GET /debug/metrics is served: with the
// development provider, or with DEBUG_METRICS=1. The counters name no user,
// but they tell anyone how the app is used: a development page.
func (a *app) metricsOn() bool { return a.devIssuer != "" || a.cfg.DebugMetrics }

// canonicalHost redirects a browser's GET or HEAD that arrived under
// another host than APP_URL's (http://localhost:8080 for
// http://127.0.0.1:8080) to the same path under APP_URL. Otherwise the
// login cookie is set for one host and the provider returns the browser
// to the other, and the login fails with no hint why. Receivers the
// provider calls, and /healthz, are left alone.
func (a *app) canonicalHost(next http.Handler) http.Handler {
	want := a.cfg.AppURL.Host
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.EqualFold(r.Host, want), r.Method != http.MethodGet && r.Method != http.MethodHead,
			r.URL.Path == "/healthz", r.URL.Path == "/frontchannel-logout", r.URL.Path == "/backchannel-logout":
			next.ServeHTTP(w, r)
			return
		}
		target := *a.cfg.AppURL
		target.Path, target.RawQuery = r.URL.Path, r.URL.RawQuery
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, target.String(), http.StatusFound)
	})
}

// devBackchannel makes the development provider end the current provider
// session and send the app a back-channel logout, as a real provider does
// when the user logs out elsewhere.
func (a *app) devBackchannel(w http.ResponseWriter, r *http.Request) {
	s, _ := middleware.SessionFromContext(r.Context())
	res, err := a.dev.BackchannelLogout(r.Context(), s.SID)
	if err != nil || len(res) == 0 || res[0].Status != http.StatusOK {
		a.log.Error("development back-channel logout", "error", err, "results", len(res))
		http.Error(w, "The development provider could not deliver the logout.", http.StatusBadGateway)
		return
	}
	a.markEnded(w, "backchannel")
	http.Redirect(w, r, "/?ended=backchannel", http.StatusSeeOther)
}

// devFrontchannel shows what a provider's logout page does for front-channel
// logout: it loads the app's receiver in an iframe.
func (a *app) devFrontchannel(w http.ResponseWriter, r *http.Request) {
	s, _ := middleware.SessionFromContext(r.Context())
	u, err := a.dev.FrontchannelLogoutURL(a.cfg.ClientID, s.SID)
	if err != nil {
		http.Error(w, "The development provider has no front-channel URL for this app.", http.StatusBadGateway)
		return
	}
	a.dev.EndSession(s.SID)
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'; frame-ancestors 'none'")
	a.markEnded(w, "frontchannel")
	d := a.data(r)
	d.Frame = u
	a.renderData(w, r, "frontchannel", d)
}

// origin returns the scheme://host of a URL.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Scheme + "://" + u.Host
}

// me is GET /me: the session's subject, sid and ID token claims as JSON.
func (a *app) me(w http.ResponseWriter, r *http.Request) {
	s, _ := middleware.SessionFromContext(r.Context())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(struct {
		Sub    string          `json:"sub"`
		SID    string          `json:"sid"`
		Claims json.RawMessage `json:"claims"`
	}{s.Subject, s.SID, s.Claims})
}

// securityHeaders sets the headers every page of the app carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// Handlers that need another policy (the front-channel receiver, the
		// demo page framing it) replace this one.
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
		next.ServeHTTP(w, r)
	})
}
