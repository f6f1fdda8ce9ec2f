package backchannel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rpkit/rpkit/rp"
)

// Verifier verifies logout tokens; *rp.Client is one.
type Verifier interface {
	VerifyLogoutToken(ctx context.Context, raw string) (*rp.LogoutToken, error)
}

// Sessions ends sessions by the logout token's names; a session.Store is
// one.
type Sessions interface {
	DeleteBySID(ctx context.Context, issuer, sid string) (int, error)
	DeleteBySubject(ctx context.Context, issuer, subject string) (int, error)
}

// ReplayCache remembers logout token IDs. Claim reports fresh=true the first
// time it sees key before until, false after that. The Redis store's Claim
// method satisfies it, so replays are refused across instances.
type ReplayCache interface {
	Claim(ctx context.Context, key string, until time.Time) (fresh bool, err error)
}

// Releaser is an optional capability of a [ReplayCache]: Release forgets a
// key, so that a token whose sessions could not be ended (the store was
// down) is accepted again when the provider retries.
type Releaser interface {
	Release(ctx context.Context, key string) error
}

// Config configures a [Handler]. Verifier and at least one of Sessions and
// OnLogout are required.
type Config struct {
	// Verifier checks the logout token (an *rp.Client).
	Verifier Verifier
	// Sessions, when set, ends the sessions the token names.
	Sessions Sessions
	// OnLogout, when set, is called with every verified token (after
	// Sessions, if both are set), for applications that keep their own
	// session tables. An error answers 503 so that the provider retries.
	OnLogout func(ctx context.Context, t *rp.LogoutToken) error
	// Replay refuses a token ID seen before. Zero: a [MemoryReplayCache]
	// (one process; use the Redis store's Claim across instances).
	Replay ReplayCache
	// MaxBodyBytes caps the request body. Zero: 64 KiB.
	MaxBodyBytes int64
	// Logger receives refused and failed requests. Zero: discard.
	Logger *slog.Logger
}

// Handler is the back-channel logout endpoint, an http.Handler. It is safe
// for concurrent use.
type Handler struct {
	cfg Config
}

// Errors the handler reports in logs (and, reduced to a phrase, to the
// sender).
var (
	// ErrReplay reports a logout token whose jti was already used.
	ErrReplay = errors.New("backchannel: logout token replayed")
	// ErrRequest reports a request that is not a form POST with exactly
	// one logout_token.
	ErrRequest = errors.New("backchannel: invalid request")
)

const defaultMaxBody = 64 << 10

// New validates cfg and returns the handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Verifier == nil {
		return nil, errors.New("backchannel: Config.Verifier is nil")
	}
	if cfg.Sessions == nil && cfg.OnLogout == nil {
		return nil, errors.New("backchannel: set Config.Sessions, Config.OnLogout or both")
	}
	if cfg.Replay == nil {
		cfg.Replay = NewMemoryReplayCache(nil)
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = defaultMaxBody
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Handler{cfg: cfg}, nil
}

// ServeHTTP handles one logout request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.refuse(w, r, http.StatusMethodNotAllowed, fmt.Errorf("%w: method %s", ErrRequest, r.Method))
		return
	}
	raw, status, err := h.readToken(w, r)
	if err != nil {
		h.refuse(w, r, status, err)
		return
	}
	ctx := r.Context()
	t, err := h.cfg.Verifier.VerifyLogoutToken(ctx, raw)
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, rp.ErrKeyRefetchLimited) || errors.Is(err, rp.ErrProviderUnavailable) || ctx.Err() != nil {
			// The keys could not be fetched (now): maybe a token signed by
			// a key rotated in moments ago. The provider retries, after
			// the instant the verifier gives when it gives one.
			if secs, ok := rp.RetryAfterSeconds(err); ok {
				w.Header().Set("Retry-After", strconv.Itoa(secs))
			}
			status = http.StatusServiceUnavailable
		}
		h.refuse(w, r, status, err)
		return
	}
	key := "logout-jti:" + t.Issuer + "|" + t.JTI
	// Held for as long as the verifier would accept the token.
	fresh, err := h.cfg.Replay.Claim(ctx, key, t.AcceptUntil)
	switch {
	case err != nil:
		h.refuse(w, r, http.StatusServiceUnavailable, fmt.Errorf("backchannel: replay cache: %w", err))
		return
	case !fresh:
		h.refuse(w, r, http.StatusBadRequest, fmt.Errorf("%w: jti %q", ErrReplay, t.JTI))
		return
	}
	n, err := h.end(ctx, t)
	if err != nil {
		// Nothing or not everything was ended: let the provider retry with
		// the same token.
		if rel, ok := h.cfg.Replay.(Releaser); ok {
			if rerr := rel.Release(context.WithoutCancel(ctx), key); rerr != nil {
				err = errors.Join(err, rerr)
			}
		}
		h.refuse(w, r, http.StatusServiceUnavailable, err)
		return
	}
	attrs := []slog.Attr{slog.Any("token", t)}
	if h.cfg.Sessions != nil {
		attrs = append(attrs, slog.Int("sessions_ended", n))
	}
	h.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "rpkit: back-channel logout", attrs...)
	w.WriteHeader(http.StatusOK)
}

// readToken returns the request's one logout_token.
func (h *Handler) readToken(w http.ResponseWriter, r *http.Request) (string, int, error) {
	if r.ContentLength > h.cfg.MaxBodyBytes {
		return "", http.StatusRequestEntityTooLarge, fmt.Errorf("%w: body of %d bytes", ErrRequest, r.ContentLength)
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		return "", http.StatusBadRequest, fmt.Errorf("%w: Content-Type %q", ErrRequest, r.Header.Get("Content-Type"))
	}
	r.Body = http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return "", http.StatusRequestEntityTooLarge, fmt.Errorf("%w: body over %d bytes", ErrRequest, h.cfg.MaxBodyBytes)
		}
		return "", http.StatusBadRequest, fmt.Errorf("%w: %v", ErrRequest, err)
	}
	tokens := r.PostForm["logout_token"]
	if len(tokens) != 1 || tokens[0] == "" {
		return "", http.StatusBadRequest, fmt.Errorf("%w: %d logout_token values", ErrRequest, len(tokens))
	}
	return tokens[0], 0, nil
}

// end ends the sessions the token names and reports how many.
func (h *Handler) end(ctx context.Context, t *rp.LogoutToken) (int, error) {
	n := 0
	if h.cfg.Sessions != nil {
		var err error
		if t.SID != "" {
			n, err = h.cfg.Sessions.DeleteBySID(ctx, t.Issuer, t.SID)
		} else {
			n, err = h.cfg.Sessions.DeleteBySubject(ctx, t.Issuer, t.Subject)
		}
		if err != nil {
			return n, fmt.Errorf("backchannel: ending sessions: %w", err)
		}
	}
	if h.cfg.OnLogout != nil {
		if err := h.cfg.OnLogout(ctx, t); err != nil {
			return n, fmt.Errorf("backchannel: OnLogout: %w", err)
		}
	}
	return n, nil
}

// refuse logs err and answers status; 400 carries the specification's JSON
// error with a short description that names the failed rule but repeats
// nothing from the request.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, status int, err error) {
	h.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "rpkit: back-channel logout refused",
		slog.Int("status", status), slog.String("error", err.Error()))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	code := "invalid_request"
	if status >= 500 {
		code = "temporarily_unavailable"
	}
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": describe(err)})
}

// describe names the rule err broke, from its sentinel.
func describe(err error) string {
	for _, s := range []error{
		rp.ErrMalformedToken, rp.ErrAlgorithm, rp.ErrSignature, rp.ErrIssuer, rp.ErrAudience,
		rp.ErrExpired, rp.ErrIssuedAt, rp.ErrLogoutTokenType, rp.ErrLogoutEvent, rp.ErrLogoutSubject,
		rp.ErrLogoutNonce, rp.ErrLogoutJTI, ErrReplay, ErrRequest, rp.ErrKeyRefetchLimited, rp.ErrProviderUnavailable,
	} {
		if errors.Is(err, s) {
			_, msg, _ := strings.Cut(s.Error(), ": ")
			return msg
		}
	}
	return "logout failed"
}
