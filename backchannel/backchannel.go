package backchannel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rpkit/rpkit/event"
	"github.com/rpkit/rpkit/internal/httpx"
	"github.com/rpkit/rpkit/rp"
	"github.com/rpkit/rpkit/session"
)

// Verifier verifies logout tokens; *rp.Client is one.
type Verifier interface {
	VerifyLogoutToken(ctx context.Context, raw string) (*rp.LogoutToken, error)
}

// Sessions ends the sessions a logout names, and keeps refusing new ones
// of the logged-out provider session for a while (tombstones, so that a
// login whose code exchange raced the logout loses); a session.Store is
// one.
type Sessions interface {
	Logout(ctx context.Context, l session.Logout) (int, error)
}

// ReplayCache remembers the logout tokens that were acted on, by issuer
// and jti. Seen reports whether Done recorded key and its until has not
// passed. The handler calls Seen before ending sessions and Done after:
// nothing is recorded for a logout that did not complete, so the
// provider's retry of it is never refused as a replay — not after a
// failure between the two, nor when a client library retries a command
// whose first reply was lost. Both must be safe to retry. The Redis
// store's Seen and Done satisfy it, so replays are refused across
// instances.
type ReplayCache interface {
	Seen(ctx context.Context, key string) (bool, error)
	Done(ctx context.Context, key string, until time.Time) error
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
	// session tables. An error answers 503 so that the provider retries:
	// it may then be called again for the same token, so it must be
	// idempotent.
	OnLogout func(ctx context.Context, t *rp.LogoutToken) error
	// Replay refuses a token acted on before. Zero: a [MemoryReplayCache]
	// (one process; use the Redis store across instances).
	Replay ReplayCache
	// MaxBodyBytes caps the request body. Zero: 64 KiB.
	MaxBodyBytes int64
	// Logger receives ended sessions (Debug) and refused and failed
	// requests (Warn), never a token. Zero: slog.Default(); pass a logger
	// with slog.DiscardHandler to silence it.
	Logger *slog.Logger
	// Observer receives the handler's lifecycle events (sessions ended,
	// tokens refused, replays; see package event). Zero: the Verifier's
	// when it has an Observer method (an *rp.Client: rp.Config.Observer),
	// else none.
	Observer event.Observer
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
		cfg.Logger = slog.Default()
	}
	if o, ok := cfg.Verifier.(interface{ Observer() event.Observer }); ok && cfg.Observer == nil {
		cfg.Observer = o.Observer()
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
	seen, err := h.cfg.Replay.Seen(ctx, key)
	switch {
	case err != nil:
		h.refuse(w, r, http.StatusServiceUnavailable, fmt.Errorf("backchannel: replay cache: %w", err))
		return
	case seen:
		h.refuse(w, r, http.StatusBadRequest, fmt.Errorf("%w: jti %q", ErrReplay, t.JTI))
		return
	}
	// Ending sessions is idempotent: a replay that slips in before Done
	// (two deliveries at once, or a Done that failed) only ends again what
	// this logout ends, and the tombstones refuse the rest.
	n, err := h.end(ctx, t)
	if err != nil {
		// Nothing or not everything was ended, and nothing was recorded:
		// the provider's retry of the same token runs it all again.
		h.refuse(w, r, http.StatusServiceUnavailable, err)
		return
	}
	// Held for as long as the verifier would accept the token.
	if err := h.cfg.Replay.Done(context.WithoutCancel(ctx), key, t.AcceptUntil); err != nil {
		// The sessions have ended: answer 200. A replay before the jti is
		// recorded elsewhere would only end them again.
		h.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "rpkit: back-channel logout: recording the jti failed",
			slog.Any("token", t), slog.String("error", err.Error()))
	}
	attrs := []slog.Attr{slog.Any("token", t)}
	if h.cfg.Sessions != nil {
		attrs = append(attrs, slog.Int("sessions_ended", n))
	}
	h.cfg.Logger.LogAttrs(ctx, slog.LevelDebug, "rpkit: back-channel logout", attrs...)
	event.Emit(ctx, h.cfg.Observer, event.Event{Kind: event.SessionEnded, Reason: event.ReasonBackChannel, Issuer: t.Issuer, Subject: t.Subject, Count: n})
	w.WriteHeader(http.StatusOK)
}

// issuer is the verifier's issuer, when it says (an *rp.Client does).
func (h *Handler) issuer() string {
	if v, ok := h.cfg.Verifier.(interface{ Issuer() string }); ok {
		return v.Issuer()
	}
	return ""
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

// end ends the sessions the token names and reports how many: those of
// its sid — and, when it names a subject too, the subject's sessions
// without a sid — or, without a sid, every session of its subject.
func (h *Handler) end(ctx context.Context, t *rp.LogoutToken) (int, error) {
	n := 0
	if h.cfg.Sessions != nil {
		var err error
		n, err = h.cfg.Sessions.Logout(ctx, session.Logout{Issuer: t.Issuer, Subject: t.Subject, SID: t.SID, IssuedAt: t.IssuedAt})
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
	if status < 500 {
		// A 503 refuses nothing: the provider retries (the key set and the
		// store report their own trouble).
		kind := event.LogoutTokenRefused
		if errors.Is(err, ErrReplay) {
			kind = event.ReplayRefused
		}
		event.Emit(r.Context(), h.cfg.Observer, event.Event{Kind: kind, Issuer: h.issuer(), Err: err})
	}
	code := "invalid_request"
	if status >= 500 {
		code = "temporarily_unavailable"
	}
	httpx.WriteError(w, status, code, describe(err))
}

// describe names the rule err broke, for the sender: the claim a token
// lacks, or the text of the sentinel error at the root of err's chain (an
// rp or backchannel sentinel, whose text is fixed), less its package
// prefix. So every check rp adds has its phrase without a list kept here;
// anything else (a store's error) is "logout failed". It repeats nothing
// from the request.
func describe(err error) string {
	var mc *rp.MissingClaimError
	if errors.As(err, &mc) {
		return "logout token has no " + mc.Claim + " claim"
	}
	if s := rootSentinel(err); s != "" {
		return s
	}
	return "logout failed"
}

// rootSentinel returns the text of the first error at the root of err's
// chain (an error that wraps nothing) that is one of rp's or this
// package's, without its "rp: " or "backchannel: " prefix; "" when there
// is none. rp's missing capabilities (ErrNoEndSession…) wrap
// errors.ErrUnsupported: for those, the error that wraps it is the root.
func rootSentinel(err error) string {
	return rootOf(err, nil)
}

func rootOf(err, parent error) string {
	for err != nil {
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if s := rootOf(e, err); s != "" {
					return s
				}
			}
			return ""
		case interface{ Unwrap() error }:
			parent, err = err, u.Unwrap()
			continue
		}
		if err == errors.ErrUnsupported && parent != nil {
			err = parent
		}
		msg := err.Error()
		for _, prefix := range []string{"rp: ", "backchannel: "} {
			if rest, ok := strings.CutPrefix(msg, prefix); ok {
				return rest
			}
		}
		return ""
	}
	return ""
}
