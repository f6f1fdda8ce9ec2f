// Package frontchannel receives OpenID Connect Front-Channel Logout 1.0
// requests: when a user logs out at the provider, the provider's logout page
// loads GET /frontchannel-logout?iss=…&sid=… in a hidden iframe for every
// application of the provider session, and each ends its session.
//
// In that iframe the application is a third party, and browsers usually
// block its cookies there, so the [Handler] finds the session by sid in the
// session store, with no cookie at all. It checks iss, ends the session,
// and answers a tiny page that the provider may frame (Content-Security-Policy
// frame-ancestors naming the provider) and that no cache keeps.
//
// The endpoint is unauthenticated, so the handler bounds what a request can
// make it do: an iss or sid over 4 KiB is refused with 400 before the
// store sees it, every value taken from the request is cut to 64 bytes
// (then "…") in what it logs, and only GET ends sessions (HEAD, which
// link checkers and prefetchers send, is 405 like any other method).
package frontchannel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/rpkit/rpkit/event"
	"github.com/rpkit/rpkit/internal/redact"
	"github.com/rpkit/rpkit/internal/secure"
	"github.com/rpkit/rpkit/session"
)

// Sessions ends sessions; a session.Store is one. Logout ends the sid's
// sessions and refuses new ones of it for a while, so that a login racing
// the logout loses.
type Sessions interface {
	Logout(ctx context.Context, l session.Logout) (int, error)
}

// Deleter is the capability the cookie fallback (Config.SessionID) needs
// besides [Sessions]: deleting one session by its ID. A session.Store has
// it; [New] requires it only when SessionID is set.
type Deleter interface {
	Delete(ctx context.Context, id string) (bool, error)
}

// Config configures a [Handler]. Issuer and Sessions are required.
type Config struct {
	// Issuer is the provider's issuer; the request's iss must equal it.
	Issuer string
	// Sessions ends the sessions.
	Sessions Sessions
	// SIDOptional accepts requests without sid (and without iss), for
	// providers registered with frontchannel_logout_session_required false;
	// the session is then found through SessionID, from the browser's
	// cookie, when the browser sends it — and only in an iframe
	// (Sec-Fetch-Dest: iframe), so that a link on another site cannot log
	// users out through a top-level navigation, which carries SameSite=Lax
	// cookies. Zero: sid is required.
	SIDOptional bool
	// AllowMissingIssuer takes a request without iss as coming from Issuer
	// (Microsoft Entra ID sends sid alone). A present but different iss is
	// still refused. Zero: iss is required.
	AllowMissingIssuer bool
	// FrameAncestors are the origins allowed to frame the answer. Zero: the
	// issuer's origin.
	FrameAncestors []string
	// SessionID returns the session ID of the request's cookie (see
	// middleware.Middleware.SessionID), for the fallback when sid is absent.
	SessionID func(*http.Request) (string, bool)
	// Logger receives ended sessions and refused and failed requests;
	// each value taken from the request is cut to 64 bytes. Zero:
	// slog.Default(); pass a logger with slog.DiscardHandler to silence it.
	Logger *slog.Logger
	// Observer receives the handler's lifecycle events (sessions ended,
	// requests refused; see package event). Zero: none.
	Observer event.Observer
}

// Handler is the front-channel logout endpoint. It is safe for concurrent
// use.
type Handler struct {
	cfg Config
	csp string
}

// ErrRequest reports a front-channel request that names no session of this
// provider: a wrong iss or a missing sid.
var ErrRequest = errors.New("frontchannel: invalid request")

// New validates cfg and returns the handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Issuer == "" || cfg.Sessions == nil {
		return nil, errors.New("frontchannel: Config.Issuer and Config.Sessions are required")
	}
	if _, ok := cfg.Sessions.(Deleter); cfg.SessionID != nil && !ok {
		return nil, errors.New("frontchannel: Config.SessionID needs Config.Sessions to have Delete (a Deleter)")
	}
	ancestors := cfg.FrameAncestors
	if len(ancestors) == 0 {
		u, err := url.Parse(cfg.Issuer)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("frontchannel: Issuer %q is not a URL", cfg.Issuer)
		}
		ancestors = []string{u.Scheme + "://" + u.Host}
	}
	for _, a := range ancestors {
		if a == "" || strings.ContainsAny(a, " ;,'\"") {
			return nil, fmt.Errorf("frontchannel: bad frame ancestor %q", a)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Handler{cfg: cfg, csp: "default-src 'none'; frame-ancestors " + strings.Join(ancestors, " ")}, nil
}

const (
	// maxParamBytes bounds iss and sid: far above any provider's session
	// ID (UUIDs, 32 to 64 random characters), and what rp allows for the
	// parameters of an authorization response.
	maxParamBytes = 4 << 10
	// maxLoggedBytes bounds each value taken from the request in a log
	// line.
	maxLoggedBytes = 64
	// maxLoggedError bounds the error text of a log line, should a store's
	// error repeat what it was given.
	maxLoggedError = 512
)

// clip returns s cut to at most n bytes, on a rune boundary, with "…"
// appended when it was cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// ServeHTTP handles GET ?iss=…&sid=…. Any other method, HEAD included, is
// 405 with Allow: GET and ends nothing: a HEAD comes from a link checker or
// a prefetch, never from the provider's iframe.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-cache, no-store")
	hdr.Set("Pragma", "no-cache")
	hdr.Set("Content-Security-Policy", h.csp)
	hdr.Del("X-Frame-Options")
	if r.Method != http.MethodGet {
		hdr.Set("Allow", http.MethodGet)
		h.answer(w, r, http.StatusMethodNotAllowed, fmt.Errorf("%w: method %q", ErrRequest, clip(r.Method, maxLoggedBytes)))
		return
	}
	q := r.URL.Query()
	iss, sid := q.Get("iss"), q.Get("sid")
	if len(q["iss"]) > 1 || len(q["sid"]) > 1 {
		h.answer(w, r, http.StatusBadRequest, fmt.Errorf("%w: repeated parameter", ErrRequest))
		return
	}
	if len(iss) > maxParamBytes || len(sid) > maxParamBytes {
		h.answer(w, r, http.StatusBadRequest, fmt.Errorf("%w: iss or sid over %d bytes", ErrRequest, maxParamBytes))
		return
	}
	_, hasIss := q["iss"]
	switch {
	case hasIss && !secure.Equal(iss, h.cfg.Issuer):
		h.answer(w, r, http.StatusBadRequest, fmt.Errorf("%w: iss %q is not the issuer", ErrRequest, clip(iss, maxLoggedBytes)))
		return
	case !hasIss && sid != "" && !h.cfg.AllowMissingIssuer:
		h.answer(w, r, http.StatusBadRequest, fmt.Errorf("%w: sid without iss", ErrRequest))
		return
	}
	ctx := r.Context()
	if sid != "" {
		n, err := h.cfg.Sessions.Logout(ctx, session.Logout{Issuer: h.cfg.Issuer, SID: sid})
		if err != nil {
			h.answer(w, r, http.StatusServiceUnavailable, fmt.Errorf("frontchannel: ending sessions: %w", err))
			return
		}
		h.cfg.Logger.LogAttrs(ctx, slog.LevelDebug, "rpkit: front-channel logout", slog.String("sid_hash", redact.Hash(sid)), slog.Int("sessions_ended", n))
		h.ended(ctx, n)
		h.answer(w, r, http.StatusOK, nil)
		return
	}
	if !h.cfg.SIDOptional {
		h.answer(w, r, http.StatusBadRequest, fmt.Errorf("%w: no sid", ErrRequest))
		return
	}
	if h.cfg.SessionID != nil && r.Header.Get("Sec-Fetch-Dest") == "iframe" {
		if id, ok := h.cfg.SessionID(r); ok {
			deleted, err := h.cfg.Sessions.(Deleter).Delete(ctx, id)
			if err != nil {
				h.answer(w, r, http.StatusServiceUnavailable, fmt.Errorf("frontchannel: ending the session: %w", err))
				return
			}
			n := 0
			if deleted {
				n = 1
			}
			h.cfg.Logger.LogAttrs(ctx, slog.LevelDebug, "rpkit: front-channel logout by cookie", slog.Int("sessions_ended", n))
			h.ended(ctx, n)
		}
	}
	h.answer(w, r, http.StatusOK, nil)
}

// ended reports a carried-out logout that ended n sessions.
func (h *Handler) ended(ctx context.Context, n int) {
	event.Emit(ctx, h.cfg.Observer, event.Event{Kind: event.SessionEnded, Reason: event.ReasonFrontChannel, Issuer: h.cfg.Issuer, Count: n})
}

// answer writes the tiny page.
func (h *Handler) answer(w http.ResponseWriter, r *http.Request, status int, err error) {
	msg := "Logged out."
	if err != nil && status < 500 {
		event.Emit(r.Context(), h.cfg.Observer, event.Event{Kind: event.FrontChannelRefused, Issuer: h.cfg.Issuer, Err: err})
	}
	if err != nil {
		h.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "rpkit: front-channel logout refused",
			slog.Int("status", status), slog.String("error", clip(err.Error(), maxLoggedError)))
		msg = "Not logged out."
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		io.WriteString(w, "<!doctype html><title>Logout</title><p>"+msg+"</p>\n")
	}
}

// ClientMetadata is the client registration metadata for front-channel
// logout (Front-Channel Logout 1.0, 2).
type ClientMetadata struct {
	FrontchannelLogoutURI             string `json:"frontchannel_logout_uri"`
	FrontchannelLogoutSessionRequired bool   `json:"frontchannel_logout_session_required"`
}

// Registration returns the metadata for a receiver at uri. It asks the
// provider to send iss and sid, which the handler needs to find the
// session without cookies.
func Registration(uri string) ClientMetadata {
	return ClientMetadata{FrontchannelLogoutURI: uri, FrontchannelLogoutSessionRequired: true}
}
