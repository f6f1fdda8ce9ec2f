package otelrpkit

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/rpkit/rpkit/event"
)

// ScopeName is the instrumentation scope of the meter the instruments are
// created with.
const ScopeName = "github.com/rpkit/rpkit/contrib/otelrpkit"

// The instruments' names.
const (
	// EventsMetric counts events ({event}) by kind, reason and error type.
	EventsMetric = "rpkit.events"
	// SessionsEndedMetric counts ended sessions ({session}) by reason.
	SessionsEndedMetric = "rpkit.session.ended"
	// ProviderRequestDurationMetric is the latency (s) of requests to the
	// provider by endpoint and status class.
	ProviderRequestDurationMetric = "rpkit.provider.request.duration"
	// JWKSFetchDurationMetric is the latency (s) of key-set fetches.
	JWKSFetchDurationMetric = "rpkit.jwks.fetch.duration"
)

// The attributes' keys.
const (
	// KindKey is the event's [event.Kind].
	KindKey = attribute.Key("rpkit.event.kind")
	// ReasonKey is the event's [event.Reason], when it has one.
	ReasonKey = attribute.Key("rpkit.event.reason")
	// ErrorTypeKey is [ErrorType] of the event's error, when it has one
	// (the semantic conventions' error.type).
	ErrorTypeKey = attribute.Key("error.type")
	// EndpointKey names the provider endpoint of a request.
	EndpointKey = attribute.Key("rpkit.provider.endpoint")
	// StatusClassKey is the class of a request's HTTP status: "1xx" to
	// "5xx", "error" when no answer came, "other" for a status outside
	// 100–599.
	StatusClassKey = attribute.Key("rpkit.provider.status_class")
	// IssuerKey is the event's issuer, recorded only with Config.Issuer.
	IssuerKey = attribute.Key("rpkit.issuer")
)

// durationBuckets are the semantic conventions' advice for
// http.client.request.duration, in seconds.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// Config configures [New]. The zero Config is ready to use.
type Config struct {
	// MeterProvider creates the meter. Zero: otel.GetMeterProvider(), the
	// global provider (which forwards to the one set later with
	// otel.SetMeterProvider).
	MeterProvider metric.MeterProvider
	// Issuer adds the event's issuer as the attribute rpkit.issuer to
	// every instrument. Leave it false when the issuer is a multi-tenant
	// template (one issuer per tenant) unless the tenants are few. The
	// subject is never recorded.
	Issuer bool
}

// Observer records events as metrics. It is an [event.Observer], safe for
// concurrent use; the zero value is not usable: call [New].
type Observer struct {
	issuer bool

	events   metric.Int64Counter
	ended    metric.Int64Counter
	requests metric.Float64Histogram
	jwks     metric.Float64Histogram

	eventOpts   cache[eventKey]
	endedOpts   cache[endedKey]
	requestOpts cache[requestKey]
	jwksOpts    cache[jwksKey]
}

var _ event.Observer = (*Observer)(nil)

type eventKey struct{ kind, reason, errType, issuer string }
type endedKey struct{ reason, issuer string }
type requestKey struct{ endpoint, class, issuer string }
type jwksKey struct{ errType, issuer string }

// New creates the instruments with cfg.MeterProvider's meter for
// [ScopeName] and returns the observer that records to them.
func New(cfg Config) (*Observer, error) {
	mp := cfg.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter(ScopeName)
	o := &Observer{issuer: cfg.Issuer}
	var err error
	if o.events, err = m.Int64Counter(EventsMetric,
		metric.WithUnit("{event}"),
		metric.WithDescription("rpkit lifecycle events, by kind, reason and error type.")); err != nil {
		return nil, fmt.Errorf("otelrpkit: %s: %w", EventsMetric, err)
	}
	if o.ended, err = m.Int64Counter(SessionsEndedMetric,
		metric.WithUnit("{session}"),
		metric.WithDescription("Sessions ended, by reason.")); err != nil {
		return nil, fmt.Errorf("otelrpkit: %s: %w", SessionsEndedMetric, err)
	}
	if o.requests, err = m.Float64Histogram(ProviderRequestDurationMetric,
		metric.WithUnit("s"),
		metric.WithDescription("Duration of requests to the OpenID provider, by endpoint and status class."),
		metric.WithExplicitBucketBoundaries(durationBuckets...)); err != nil {
		return nil, fmt.Errorf("otelrpkit: %s: %w", ProviderRequestDurationMetric, err)
	}
	if o.jwks, err = m.Float64Histogram(JWKSFetchDurationMetric,
		metric.WithUnit("s"),
		metric.WithDescription("Duration of fetches of the provider's key set."),
		metric.WithExplicitBucketBoundaries(durationBuckets...)); err != nil {
		return nil, fmt.Errorf("otelrpkit: %s: %w", JWKSFetchDurationMetric, err)
	}
	return o, nil
}

// Observe records e: one on rpkit.events, and on the instrument its kind
// feeds, if any. It never records the subject.
func (o *Observer) Observe(ctx context.Context, e event.Event) {
	var iss, errType string
	if o.issuer {
		iss = e.Issuer
	}
	if e.Err != nil {
		errType = ErrorType(e.Err)
	}
	o.events.Add(ctx, 1, o.eventOpts.get(eventKey{string(e.Kind), string(e.Reason), errType, iss}, eventAttrs).add...)

	switch e.Kind {
	case event.SessionEnded:
		if e.Count > 0 {
			o.ended.Add(ctx, int64(e.Count), o.endedOpts.get(endedKey{string(e.Reason), iss}, endedAttrs).add...)
		}
	case event.ProviderCall:
		o.requests.Record(ctx, e.Duration.Seconds(), o.requestOpts.get(requestKey{e.Endpoint, statusClass(e), iss}, requestAttrs).record...)
	case event.JWKSFetched:
		o.jwks.Record(ctx, e.Duration.Seconds(), o.jwksOpts.get(jwksKey{"", iss}, jwksAttrs).record...)
	case event.JWKSFetchFailed:
		if e.Duration > 0 {
			o.jwks.Record(ctx, e.Duration.Seconds(), o.jwksOpts.get(jwksKey{errType, iss}, jwksAttrs).record...)
		}
	}
}

func eventAttrs(k eventKey) []attribute.KeyValue {
	kv := []attribute.KeyValue{KindKey.String(k.kind)}
	if k.reason != "" {
		kv = append(kv, ReasonKey.String(k.reason))
	}
	if k.errType != "" {
		kv = append(kv, ErrorTypeKey.String(k.errType))
	}
	return withIssuer(kv, k.issuer)
}

func endedAttrs(k endedKey) []attribute.KeyValue {
	return withIssuer([]attribute.KeyValue{ReasonKey.String(k.reason)}, k.issuer)
}

func requestAttrs(k requestKey) []attribute.KeyValue {
	return withIssuer([]attribute.KeyValue{EndpointKey.String(k.endpoint), StatusClassKey.String(k.class)}, k.issuer)
}

func jwksAttrs(k jwksKey) []attribute.KeyValue {
	var kv []attribute.KeyValue
	if k.errType != "" {
		kv = append(kv, ErrorTypeKey.String(k.errType))
	}
	return withIssuer(kv, k.issuer)
}

func withIssuer(kv []attribute.KeyValue, iss string) []attribute.KeyValue {
	if iss != "" {
		kv = append(kv, IssuerKey.String(iss))
	}
	return kv
}

// statusClass is the class of a ProviderCall's status.
func statusClass(e event.Event) string {
	switch s := e.Status; {
	case s == 0:
		return "error"
	case s >= 100 && s < 200:
		return "1xx"
	case s >= 200 && s < 300:
		return "2xx"
	case s >= 300 && s < 400:
		return "3xx"
	case s >= 400 && s < 500:
		return "4xx"
	case s >= 500 && s < 600:
		return "5xx"
	}
	return "other"
}
