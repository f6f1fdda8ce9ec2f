// Package otelrpkit turns rpkit's lifecycle events (package
// [github.com/rpkit/rpkit/event]) into OpenTelemetry metrics.
//
// It lives in a module of its own, github.com/rpkit/rpkit/contrib/otelrpkit,
// so that an application that does not export metrics never builds — and
// rpkit's go.mod never lists — OpenTelemetry.
//
// [New] returns an [*Observer], an [event.Observer]: give it to
// rp.Config.Observer (the middleware and the back-channel receiver built on
// that client report to it too) and to frontchannel.Config.Observer, or
// combine it with other observers with [event.Multi]:
//
//	obs, err := otelrpkit.New(otelrpkit.Config{}) // the global MeterProvider
//	if err != nil {
//		return err
//	}
//	client, err := rp.New(ctx, rp.Config{Issuer: issuer, /* … */ Observer: obs})
//
// # Instruments
//
// Names and units follow the OpenTelemetry semantic conventions' style
// (a dotted namespace, UCUM units, durations in seconds):
//
//	rpkit.events                     Int64Counter      {event}    every event
//	rpkit.session.ended              Int64Counter      {session}  sessions ended (Event.Count)
//	rpkit.provider.request.duration  Float64Histogram  s          ProviderCall latency
//	rpkit.jwks.fetch.duration        Float64Histogram  s          key-set fetch latency
//
// rpkit.events counts every event once, with the attributes
// rpkit.event.kind (the [event.Kind]: "login_refused", "session_ended", …),
// rpkit.event.reason (the [event.Reason], when the event has one) and
// error.type (when the event has an error, see below).
//
// rpkit.session.ended adds each SessionEnded event's Count (a back-channel
// logout may end several sessions, or none), with rpkit.event.reason: the
// number of sessions that ended by RP logout, back-channel, front-channel,
// expiry, idleness, a failed refresh or an issuer mismatch.
//
// rpkit.provider.request.duration records each ProviderCall event's
// Duration, with rpkit.provider.endpoint (Event.Endpoint: "discovery",
// "token", "jwks", "userinfo", "revocation", "introspection"; "other" for
// a URL that is none of these) and rpkit.provider.status_class ("1xx" to
// "5xx" from Event.Status; "error" when no answer came). Its advised
// bucket boundaries are those the semantic conventions give
// http.client.request.duration, 5 ms to 10 s.
//
// rpkit.jwks.fetch.duration records each JWKSFetched event's Duration, and
// a JWKSFetchFailed event's when it carries one (then with error.type).
//
// # Bounded attributes
//
// Every attribute takes one of a bounded set of values, so that a metrics
// backend never sees a time series per user or per request:
//
//   - error.type is [ErrorType] of the event's error: the rpkit sentinel it
//     matches (such as "rp.ErrSignature" or "backchannel.ErrReplay"), a
//     registered OAuth 2.0 error code of an [rp.ProviderError] (such as
//     "invalid_grant"), or "other". Never the error's text, which names
//     claims, key IDs and URLs.
//   - The event's Subject is never recorded.
//   - The event's Issuer is recorded, as rpkit.issuer on every instrument,
//     only when [Config.Issuer] says so: an application has one issuer or
//     a few, but a multi-tenant issuer (Entra ID's /common) has one per
//     tenant.
//   - Kinds, reasons and endpoints are rpkit's own constants.
//
// # Cost
//
// Observe is called on the request's goroutine. It classifies an error
// with [errors.Is] against a fixed list, and records with attribute sets
// built once per combination of values and then reused: it allocates
// nothing once each combination has been seen (the meter provider's own
// cost aside).
package otelrpkit
