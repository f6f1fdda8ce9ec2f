// Package event is the lifecycle event stream of rpkit: one type that every
// component (the middleware, the back- and front-channel receivers, rp's key
// set and its provider calls) reports to one optional [Observer], so that an
// application can count, trace or audit what happens to its sessions
// without parsing log lines.
//
// Events never carry a token, a secret, a cookie or a session ID. They do
// carry the issuer and, where one is known, the subject (the user's
// identifier at the provider), which is what an audit trail needs; an
// observer that exports events elsewhere decides whether to keep it.
//
// An observer is called synchronously, on the goroutine that handles the
// request, once per occurrence: it must be quick and safe for concurrent
// use, and must not block on I/O (queue the event instead).
package event

import (
	"context"
	"log/slog"
	"time"
)

// Kind says what happened.
type Kind string

// The kinds of event. Each is reported exactly once per occurrence.
const (
	// LoginSucceeded: a callback completed: the session is stored and the
	// browser has its cookie. It follows SessionCreated.
	LoginSucceeded Kind = "login_succeeded"
	// LoginRefused: a callback failed and made no session; Err says why
	// (an rp sentinel, the provider's error response, a missing login
	// state, OnLogin's refusal, the store).
	LoginRefused Kind = "login_refused"
	// SessionCreated: the store accepted a new session at a login.
	SessionCreated Kind = "session_created"
	// Refreshed: a session's tokens were refreshed and stored.
	Refreshed Kind = "refreshed"
	// RefreshFailed: a refresh failed. Reason is ReasonKept when the
	// session was kept (a transient failure) and ReasonFailedRefresh when
	// it was ended (a SessionEnded event follows).
	RefreshFailed Kind = "refresh_failed"
	// SessionEnded: sessions ended; Reason says why and Count how many (a
	// back- or front-channel logout may end none, one or several).
	SessionEnded Kind = "session_ended"
	// LogoutTokenRefused: the back-channel receiver refused a logout
	// request or token; Err wraps the failed check's sentinel.
	LogoutTokenRefused Kind = "logout_token_refused"
	// ReplayRefused: the back-channel receiver refused a logout token it
	// had already acted on.
	ReplayRefused Kind = "replay_refused"
	// FrontChannelRefused: the front-channel receiver refused a request
	// (a wrong iss, no sid); Err says why.
	FrontChannelRefused Kind = "front_channel_refused"
	// JWKSFetched: the provider's key set was fetched; Duration is the
	// fetch's.
	JWKSFetched Kind = "jwks_fetched"
	// JWKSFetchFailed: fetching the key set failed; Err says how. The
	// cached keys, if any, keep serving.
	JWKSFetchFailed Kind = "jwks_fetch_failed"
	// JWKSRefetchLimited: a token named an unknown key within the refetch
	// cooldown and was refused for now (Err is an *rp.KeyRetryError).
	JWKSRefetchLimited Kind = "jwks_refetch_limited"
	// ProviderCall: one HTTP request to the provider finished; Endpoint
	// names it, Duration is its latency, Status its HTTP status (0 when
	// no answer came, with Err set).
	ProviderCall Kind = "provider_call"
)

// Reason qualifies an event: why sessions ended, or what a failed refresh
// did to its session.
type Reason string

// The reasons.
const (
	// ReasonRPLogout: the application's logout route.
	ReasonRPLogout Reason = "rp_logout"
	// ReasonBackChannel: a back-channel logout token.
	ReasonBackChannel Reason = "back_channel"
	// ReasonFrontChannel: a front-channel logout request.
	ReasonFrontChannel Reason = "front_channel"
	// ReasonExpired: the session's absolute lifetime passed.
	ReasonExpired Reason = "expired"
	// ReasonIdle: the session was unused for longer than the idle timeout.
	ReasonIdle Reason = "idle"
	// ReasonFailedRefresh: the provider refused the refresh token
	// (invalid_grant) or the refreshed ID token failed its checks.
	ReasonFailedRefresh Reason = "failed_refresh"
	// ReasonIssuerMismatch: the session was made by another issuer than
	// the client's.
	ReasonIssuerMismatch Reason = "issuer_mismatch"
	// ReasonKept: a refresh failed transiently and the session was kept.
	ReasonKept Reason = "kept"
)

// Event is one occurrence. Only the fields its Kind documents are set.
type Event struct {
	// Kind says what happened.
	Kind Kind
	// Reason qualifies SessionEnded and RefreshFailed.
	Reason Reason
	// Err is the error of a refusal or failure. Its text may name claims
	// and endpoints, never a token.
	Err error
	// Issuer is the provider's issuer.
	Issuer string
	// Subject is the user's subject at the provider, when known.
	Subject string
	// Count is the number of sessions a SessionEnded event ended.
	Count int
	// Endpoint names the provider endpoint of ProviderCall and JWKS events
	// ("discovery", "token", "jwks", "userinfo", "revocation",
	// "introspection", or "other" for a URL that is none of them).
	Endpoint string
	// Status is ProviderCall's HTTP status, 0 when no answer came.
	Status int
	// Duration is the latency of ProviderCall and JWKSFetched.
	Duration time.Duration
}

// LogValue renders the event's set fields for slog, without the subject
// (which log lines of rpkit do not carry).
func (e Event) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("kind", string(e.Kind))}
	if e.Reason != "" {
		attrs = append(attrs, slog.String("reason", string(e.Reason)))
	}
	if e.Issuer != "" {
		attrs = append(attrs, slog.String("iss", e.Issuer))
	}
	if e.Kind == SessionEnded {
		attrs = append(attrs, slog.Int("count", e.Count))
	}
	if e.Endpoint != "" {
		attrs = append(attrs, slog.String("endpoint", e.Endpoint))
	}
	if e.Status != 0 {
		attrs = append(attrs, slog.Int("status", e.Status))
	}
	if e.Duration != 0 {
		attrs = append(attrs, slog.Duration("duration", e.Duration))
	}
	if e.Err != nil {
		attrs = append(attrs, slog.String("error", e.Err.Error()))
	}
	return slog.GroupValue(attrs...)
}

// Observer receives events. See the package documentation for how it is
// called.
type Observer interface {
	Observe(ctx context.Context, e Event)
}

// Func adapts a function to an [Observer].
type Func func(ctx context.Context, e Event)

// Observe calls f.
func (f Func) Observe(ctx context.Context, e Event) { f(ctx, e) }

// Multi returns an observer that passes each event to every one of obs, in
// order; nil entries are skipped.
func Multi(obs ...Observer) Observer {
	var list multi
	for _, o := range obs {
		if o != nil {
			list = append(list, o)
		}
	}
	return list
}

type multi []Observer

func (m multi) Observe(ctx context.Context, e Event) {
	for _, o := range m {
		o.Observe(ctx, e)
	}
}

// Emit reports e to o when o is not nil. Components call it so that a zero
// Observer costs one comparison.
func Emit(ctx context.Context, o Observer, e Event) {
	if o != nil {
		o.Observe(ctx, e)
	}
}
