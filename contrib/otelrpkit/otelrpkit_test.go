package otelrpkit_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/rpkit/rpkit/backchannel"
	"github.com/rpkit/rpkit/contrib/otelrpkit"
	"github.com/rpkit/rpkit/event"
	"github.com/rpkit/rpkit/frontchannel"
	"github.com/rpkit/rpkit/middleware"
	"github.com/rpkit/rpkit/rp"
)

const iss = "https://op.example.com"

// TestObserve: each event adds exactly its points, with exactly its
// attributes, and the subject never appears.
func TestObserve(t *testing.T) {
	invalidGrant := &rp.ProviderError{Endpoint: "token", StatusCode: 400, Code: "invalid_grant", Description: "refresh token for alice@example.com revoked"}
	tests := []struct {
		name   string
		events []event.Event
		want   map[string]point
	}{
		{
			name:   "a login",
			events: []event.Event{{Kind: event.LoginSucceeded, Issuer: iss, Subject: "alice"}, {Kind: event.SessionCreated, Issuer: iss, Subject: "alice"}},
			want: map[string]point{
				"rpkit.events{rpkit.event.kind=login_succeeded}": {Value: 1},
				"rpkit.events{rpkit.event.kind=session_created}": {Value: 1},
			},
		},
		{
			name: "refused logins, by sentinel, never by text",
			events: []event.Event{
				{Kind: event.LoginRefused, Issuer: iss, Err: fmt.Errorf("rp: id token: %w: kid %q", rp.ErrSignature, "attacker-kid-1")},
				{Kind: event.LoginRefused, Issuer: iss, Err: fmt.Errorf("rp: id token: %w: kid %q", rp.ErrSignature, "attacker-kid-2")},
				{Kind: event.LoginRefused, Issuer: iss, Err: fmt.Errorf("%w: exp %d", rp.ErrExpired, 1700000000)},
				{Kind: event.LoginRefused, Issuer: iss, Err: &rp.ProviderError{Endpoint: "authorization", Code: "access_denied"}},
				{Kind: event.LoginRefused, Issuer: iss, Err: middleware.ErrNoLoginState},
				{Kind: event.LoginRefused, Issuer: iss, Err: errors.New("something nobody planned for: user 42")},
			},
			want: map[string]point{
				"rpkit.events{error.type=rp.ErrSignature,rpkit.event.kind=login_refused}":            {Value: 2},
				"rpkit.events{error.type=rp.ErrExpired,rpkit.event.kind=login_refused}":              {Value: 1},
				"rpkit.events{error.type=access_denied,rpkit.event.kind=login_refused}":              {Value: 1},
				"rpkit.events{error.type=middleware.ErrNoLoginState,rpkit.event.kind=login_refused}": {Value: 1},
				"rpkit.events{error.type=other,rpkit.event.kind=login_refused}":                      {Value: 1},
			},
		},
		{
			name: "refreshes",
			events: []event.Event{
				{Kind: event.Refreshed, Issuer: iss, Subject: "alice"},
				{Kind: event.Refreshed, Issuer: iss, Subject: "bob"},
				{Kind: event.RefreshFailed, Reason: event.ReasonKept, Issuer: iss, Err: fmt.Errorf("%w: %w", middleware.ErrRefreshUnavailable, rp.ErrProviderUnavailable)},
				{Kind: event.RefreshFailed, Reason: event.ReasonFailedRefresh, Issuer: iss, Err: invalidGrant},
				{Kind: event.SessionEnded, Reason: event.ReasonFailedRefresh, Issuer: iss, Count: 1},
			},
			want: map[string]point{
				"rpkit.events{rpkit.event.kind=refreshed}": {Value: 2},
				"rpkit.events{error.type=rp.ErrProviderUnavailable,rpkit.event.kind=refresh_failed,rpkit.event.reason=kept}": {Value: 1},
				"rpkit.events{error.type=invalid_grant,rpkit.event.kind=refresh_failed,rpkit.event.reason=failed_refresh}":   {Value: 1},
				"rpkit.events{rpkit.event.kind=session_ended,rpkit.event.reason=failed_refresh}":                             {Value: 1},
				"rpkit.session.ended{rpkit.event.reason=failed_refresh}":                                                     {Value: 1},
			},
		},
		{
			name: "sessions ended add their count",
			events: []event.Event{
				{Kind: event.SessionEnded, Reason: event.ReasonBackChannel, Issuer: iss, Subject: "alice", Count: 3},
				{Kind: event.SessionEnded, Reason: event.ReasonBackChannel, Issuer: iss, Subject: "bob", Count: 0},
				{Kind: event.SessionEnded, Reason: event.ReasonBackChannel, Issuer: iss, Subject: "carol", Count: 2},
				{Kind: event.SessionEnded, Reason: event.ReasonRPLogout, Issuer: iss, Count: 1},
				{Kind: event.SessionEnded, Reason: event.ReasonFrontChannel, Issuer: iss, Count: 1},
				{Kind: event.SessionEnded, Reason: event.ReasonExpired, Issuer: iss, Count: 1},
				{Kind: event.SessionEnded, Reason: event.ReasonIdle, Issuer: iss, Count: 1},
				{Kind: event.SessionEnded, Reason: event.ReasonIssuerMismatch, Issuer: "https://other.example.com", Count: 1},
			},
			want: map[string]point{
				"rpkit.events{rpkit.event.kind=session_ended,rpkit.event.reason=back_channel}":    {Value: 3},
				"rpkit.events{rpkit.event.kind=session_ended,rpkit.event.reason=rp_logout}":       {Value: 1},
				"rpkit.events{rpkit.event.kind=session_ended,rpkit.event.reason=front_channel}":   {Value: 1},
				"rpkit.events{rpkit.event.kind=session_ended,rpkit.event.reason=expired}":         {Value: 1},
				"rpkit.events{rpkit.event.kind=session_ended,rpkit.event.reason=idle}":            {Value: 1},
				"rpkit.events{rpkit.event.kind=session_ended,rpkit.event.reason=issuer_mismatch}": {Value: 1},
				"rpkit.session.ended{rpkit.event.reason=back_channel}":                            {Value: 5},
				"rpkit.session.ended{rpkit.event.reason=rp_logout}":                               {Value: 1},
				"rpkit.session.ended{rpkit.event.reason=front_channel}":                           {Value: 1},
				"rpkit.session.ended{rpkit.event.reason=expired}":                                 {Value: 1},
				"rpkit.session.ended{rpkit.event.reason=idle}":                                    {Value: 1},
				"rpkit.session.ended{rpkit.event.reason=issuer_mismatch}":                         {Value: 1},
			},
		},
		{
			name: "the receivers' refusals",
			events: []event.Event{
				{Kind: event.LogoutTokenRefused, Issuer: iss, Err: fmt.Errorf("backchannel: %w", fmt.Errorf("%w: typ %q", rp.ErrLogoutTokenType, "JWT+x"))},
				{Kind: event.LogoutTokenRefused, Issuer: iss, Err: &rp.MissingClaimError{Claim: "jti"}},
				{Kind: event.LogoutTokenRefused, Err: fmt.Errorf("%w: no logout_token", backchannel.ErrRequest)},
				{Kind: event.ReplayRefused, Issuer: iss, Err: fmt.Errorf("%w: jti %q", backchannel.ErrReplay, "jti-1")},
				{Kind: event.FrontChannelRefused, Err: fmt.Errorf("%w: iss %q", frontchannel.ErrRequest, "https://evil.example")},
			},
			want: map[string]point{
				"rpkit.events{error.type=rp.ErrLogoutTokenType,rpkit.event.kind=logout_token_refused}":    {Value: 1},
				"rpkit.events{error.type=rp.ErrMissingClaim,rpkit.event.kind=logout_token_refused}":       {Value: 1},
				"rpkit.events{error.type=backchannel.ErrRequest,rpkit.event.kind=logout_token_refused}":   {Value: 1},
				"rpkit.events{error.type=backchannel.ErrReplay,rpkit.event.kind=replay_refused}":          {Value: 1},
				"rpkit.events{error.type=frontchannel.ErrRequest,rpkit.event.kind=front_channel_refused}": {Value: 1},
			},
		},
		{
			name: "the key set",
			events: []event.Event{
				{Kind: event.JWKSFetched, Issuer: iss, Endpoint: "jwks", Duration: 250 * time.Millisecond},
				{Kind: event.JWKSFetched, Issuer: iss, Endpoint: "jwks", Duration: 500 * time.Millisecond},
				{Kind: event.JWKSFetchFailed, Issuer: iss, Endpoint: "jwks", Err: fmt.Errorf("%w: %w", rp.ErrProviderUnavailable, context.DeadlineExceeded), Duration: 2 * time.Second},
				{Kind: event.JWKSFetchFailed, Issuer: iss, Endpoint: "jwks", Err: fmt.Errorf("rp: jwks: %w", rp.ErrProviderUnavailable)},
				{Kind: event.JWKSRefetchLimited, Issuer: iss, Err: &rp.KeyRetryError{RetryAfter: time.Second, Err: fmt.Errorf("%w: kid %q", rp.ErrKeyRefetchLimited, "k9")}},
			},
			want: map[string]point{
				"rpkit.events{rpkit.event.kind=jwks_fetched}":                                            {Value: 2},
				"rpkit.events{error.type=rp.ErrProviderUnavailable,rpkit.event.kind=jwks_fetch_failed}":  {Value: 2},
				"rpkit.events{error.type=rp.ErrKeyRefetchLimited,rpkit.event.kind=jwks_refetch_limited}": {Value: 1},
				"rpkit.jwks.fetch.duration{}":                                                            {Count: 2, Sum: 0.75},
				"rpkit.jwks.fetch.duration{error.type=rp.ErrProviderUnavailable}":                        {Count: 1, Sum: 2},
			},
		},
		{
			name: "provider calls, by endpoint and status class",
			events: []event.Event{
				{Kind: event.ProviderCall, Issuer: iss, Endpoint: "discovery", Status: 200, Duration: 125 * time.Millisecond},
				{Kind: event.ProviderCall, Issuer: iss, Endpoint: "token", Status: 200, Duration: 250 * time.Millisecond},
				{Kind: event.ProviderCall, Issuer: iss, Endpoint: "token", Status: 201, Duration: 250 * time.Millisecond},
				{Kind: event.ProviderCall, Issuer: iss, Endpoint: "token", Status: 400, Duration: 500 * time.Millisecond, Err: invalidGrant},
				{Kind: event.ProviderCall, Issuer: iss, Endpoint: "token", Status: 503, Duration: time.Second},
				{Kind: event.ProviderCall, Issuer: iss, Endpoint: "userinfo", Duration: 10 * time.Second, Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}},
				{Kind: event.ProviderCall, Issuer: iss, Endpoint: "revocation", Status: 302, Duration: 125 * time.Millisecond},
			},
			want: map[string]point{
				"rpkit.events{rpkit.event.kind=provider_call}":                                                        {Value: 5},
				"rpkit.events{error.type=invalid_grant,rpkit.event.kind=provider_call}":                               {Value: 1},
				"rpkit.events{error.type=other,rpkit.event.kind=provider_call}":                                       {Value: 1},
				"rpkit.provider.request.duration{rpkit.provider.endpoint=discovery,rpkit.provider.status_class=2xx}":  {Count: 1, Sum: 0.125},
				"rpkit.provider.request.duration{rpkit.provider.endpoint=token,rpkit.provider.status_class=2xx}":      {Count: 2, Sum: 0.5},
				"rpkit.provider.request.duration{rpkit.provider.endpoint=token,rpkit.provider.status_class=4xx}":      {Count: 1, Sum: 0.5},
				"rpkit.provider.request.duration{rpkit.provider.endpoint=token,rpkit.provider.status_class=5xx}":      {Count: 1, Sum: 1},
				"rpkit.provider.request.duration{rpkit.provider.endpoint=userinfo,rpkit.provider.status_class=error}": {Count: 1, Sum: 10},
				"rpkit.provider.request.duration{rpkit.provider.endpoint=revocation,rpkit.provider.status_class=3xx}": {Count: 1, Sum: 0.125},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, reader := newObserver(t, otelrpkit.Config{})
			for _, e := range tt.events {
				o.Observe(context.Background(), e)
			}
			checkPoints(t, collect(t, reader), tt.want)
		})
	}
}

func checkPoints(t *testing.T, got map[string]point, want map[string]point) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("missing %s", k)
			continue
		}
		if g != w {
			t.Errorf("%s = %+v, want %+v", k, g, w)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected %s = %+v", k, got[k])
		}
		for _, secret := range []string{"alice", "bob", "carol", "attacker", "42", "jti-1", "evil", "k9"} {
			if strings.Contains(k, secret) {
				t.Errorf("%s records %q", k, secret)
			}
		}
	}
}

// TestIssuerOptIn: with Config.Issuer every instrument carries
// rpkit.issuer; the subject never appears.
func TestIssuerOptIn(t *testing.T) {
	const other = "https://login.example.org/tenant-b/v2.0"
	o, reader := newObserver(t, otelrpkit.Config{Issuer: true})
	ctx := context.Background()
	o.Observe(ctx, event.Event{Kind: event.LoginSucceeded, Issuer: iss, Subject: "alice"})
	o.Observe(ctx, event.Event{Kind: event.LoginSucceeded, Issuer: other, Subject: "alice"})
	o.Observe(ctx, event.Event{Kind: event.LoginRefused, Issuer: iss, Err: rp.ErrNonceMismatch})
	o.Observe(ctx, event.Event{Kind: event.SessionEnded, Reason: event.ReasonIdle, Issuer: iss, Subject: "alice", Count: 2})
	o.Observe(ctx, event.Event{Kind: event.ProviderCall, Issuer: iss, Endpoint: "token", Status: 200, Duration: 250 * time.Millisecond})
	o.Observe(ctx, event.Event{Kind: event.JWKSFetched, Issuer: other, Endpoint: "jwks", Duration: 500 * time.Millisecond})
	checkPoints(t, collect(t, reader), map[string]point{
		"rpkit.events{rpkit.event.kind=login_succeeded,rpkit.issuer=" + iss + "}":                                                 {Value: 1},
		"rpkit.events{rpkit.event.kind=login_succeeded,rpkit.issuer=" + other + "}":                                               {Value: 1},
		"rpkit.events{error.type=rp.ErrNonceMismatch,rpkit.event.kind=login_refused,rpkit.issuer=" + iss + "}":                    {Value: 1},
		"rpkit.events{rpkit.event.kind=session_ended,rpkit.event.reason=idle,rpkit.issuer=" + iss + "}":                           {Value: 1},
		"rpkit.events{rpkit.event.kind=provider_call,rpkit.issuer=" + iss + "}":                                                   {Value: 1},
		"rpkit.events{rpkit.event.kind=jwks_fetched,rpkit.issuer=" + other + "}":                                                  {Value: 1},
		"rpkit.session.ended{rpkit.event.reason=idle,rpkit.issuer=" + iss + "}":                                                   {Value: 2},
		"rpkit.provider.request.duration{rpkit.issuer=" + iss + ",rpkit.provider.endpoint=token,rpkit.provider.status_class=2xx}": {Count: 1, Sum: 0.25},
		"rpkit.jwks.fetch.duration{rpkit.issuer=" + other + "}":                                                                   {Count: 1, Sum: 0.5},
	})
}

// TestGlobalMeterProvider: a zero Config records to the global provider,
// including one set after New.
func TestGlobalMeterProvider(t *testing.T) {
	prev := otel.GetMeterProvider()
	t.Cleanup(func() { otel.SetMeterProvider(prev) })
	o, err := otelrpkit.New(otelrpkit.Config{})
	if err != nil {
		t.Fatal(err)
	}
	reader := sdkmetric.NewManualReader()
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	o.Observe(context.Background(), event.Event{Kind: event.Refreshed})
	checkPoints(t, collect(t, reader), map[string]point{"rpkit.events{rpkit.event.kind=refreshed}": {Value: 1}})
}

// TestConcurrentObserve: many goroutines, new and known combinations at
// once; every event is counted (run with -race).
func TestConcurrentObserve(t *testing.T) {
	o, reader := newObserver(t, otelrpkit.Config{Issuer: true})
	const goroutines, each = 8, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				o.Observe(context.Background(), event.Event{
					Kind: event.ProviderCall, Issuer: fmt.Sprintf("https://op%d.example", i%4),
					Endpoint: "token", Status: 200 + g%2*300, Duration: time.Millisecond,
				})
			}
		})
	}
	wg.Wait()
	var events int64
	var calls uint64
	for k, p := range collect(t, reader) {
		switch {
		case strings.HasPrefix(k, otelrpkit.EventsMetric+"{"):
			events += p.Value
		case strings.HasPrefix(k, otelrpkit.ProviderRequestDurationMetric+"{"):
			calls += p.Count
		}
	}
	if events != goroutines*each || calls != goroutines*each {
		t.Errorf("counted %d events and %d calls, want %d", events, calls, goroutines*each)
	}
}

// TestObserveAllocations: once a combination of attributes has been seen,
// Observe allocates nothing of its own.
func TestObserveAllocations(t *testing.T) {
	o, err := otelrpkit.New(otelrpkit.Config{MeterProvider: noop.NewMeterProvider(), Issuer: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	events := []event.Event{
		{Kind: event.Refreshed, Issuer: iss, Subject: "alice"},
		{Kind: event.SessionEnded, Reason: event.ReasonBackChannel, Issuer: iss, Count: 2},
		{Kind: event.ProviderCall, Issuer: iss, Endpoint: "token", Status: 200, Duration: time.Millisecond},
		{Kind: event.JWKSFetched, Issuer: iss, Endpoint: "jwks", Duration: time.Millisecond},
		{Kind: event.LoginRefused, Issuer: iss, Err: fmt.Errorf("%w: kid", rp.ErrSignature)},
		{Kind: event.RefreshFailed, Reason: event.ReasonFailedRefresh, Issuer: iss, Err: &rp.ProviderError{Code: "invalid_grant"}},
	}
	for _, e := range events {
		o.Observe(ctx, e)
		if n := testing.AllocsPerRun(100, func() { o.Observe(ctx, e) }); n != 0 {
			t.Errorf("Observe(%s) allocates %v times", e.Kind, n)
		}
	}
}

// BenchmarkObserve records a refresh and a provider call with the SDK.
func BenchmarkObserve(b *testing.B) {
	reader := sdkmetric.NewManualReader()
	o, err := otelrpkit.New(otelrpkit.Config{MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	refreshed := event.Event{Kind: event.Refreshed, Issuer: iss, Subject: "alice"}
	call := event.Event{Kind: event.ProviderCall, Issuer: iss, Endpoint: "token", Status: 200, Duration: 42 * time.Millisecond}
	b.ReportAllocs()
	for b.Loop() {
		o.Observe(ctx, refreshed)
		o.Observe(ctx, call)
	}
}
