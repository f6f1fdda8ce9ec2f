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
package frontchannel

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
)

// Sessions ends sessions; a session.Store is one. Delete is used only for
// the cookie fallback (Config.SessionID).
type Sessions interface {
	DeleteBySID(ctx context.Context, issuer, sid string) (int, error)
	Delete(ctx context.Context, id string) error
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
	// Logger receives refused and failed requests. Zero: discard.
	Logger *slog.Logger
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
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Handler{cfg: cfg, csp: "default-src 'none'; frame-ancestors " + strings.Join(ancestors, " ")}, nil
}

// ServeHTTP handles GET ?iss=…&sid=….
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-cache, no-store")
	hdr.Set("Pragma", "no-cache")
	hdr.Set("Content-Security-Policy", h.csp)
	hdr.Del("X-Frame-Options")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		h.answer(w, r, http.StatusMethodNotAllowed, fmt.Errorf("%w: method %s", ErrRequest, r.Method))
		return
	}
	q := r.URL.Query()
	iss, sid := q.Get("iss"), q.Get("sid")
	if len(q["iss"]) > 1 || len(q["sid"]) > 1 {
		h.answer(w, r, http.StatusBadRequest, fmt.Errorf("%w: repeated parameter", ErrRequest))
		return
	}
	_, hasIss := q["iss"]
	switch {
	case hasIss && subtle.ConstantTimeCompare([]byte(iss), []byte(h.cfg.Issuer)) != 1:
		h.answer(w, r, http.StatusBadRequest, fmt.Errorf("%w: iss %q is not the issuer", ErrRequest, iss))
		return
	case !hasIss && sid != "" && !h.cfg.AllowMissingIssuer:
		h.answer(w, r, http.StatusBadRequest, fmt.Errorf("%w: sid without iss", ErrRequest))
		return
	}
	ctx := r.Context()
	if sid != "" {
		n, err := h.cfg.Sessions.DeleteBySID(ctx, h.cfg.Issuer, sid)
		if err != nil {
			h.answer(w, r, http.StatusServiceUnavailable, fmt.Errorf("frontchannel: ending sessions: %w", err))
			return
		}
		h.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "rpkit: front-channel logout", slog.String("sid", sid), slog.Int("sessions_ended", n))
		h.answer(w, r, http.StatusOK, nil)
		return
	}
	if !h.cfg.SIDOptional {
		h.answer(w, r, http.StatusBadRequest, fmt.Errorf("%w: no sid", ErrRequest))
		return
	}
	if h.cfg.SessionID != nil && r.Header.Get("Sec-Fetch-Dest") == "iframe" {
		if id, ok := h.cfg.SessionID(r); ok {
			if err := h.cfg.Sessions.Delete(ctx, id); err != nil {
				h.answer(w, r, http.StatusServiceUnavailable, fmt.Errorf("frontchannel: ending the session: %w", err))
				return
			}
			h.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "rpkit: front-channel logout by cookie")
		}
	}
	h.answer(w, r, http.StatusOK, nil)
}

// answer writes the tiny page.
func (h *Handler) answer(w http.ResponseWriter, r *http.Request, status int, err error) {
	msg := "Logged out."
	if err != nil {
		h.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "rpkit: front-channel logout refused",
			slog.Int("status", status), slog.String("error", err.Error()))
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
