package otelrpkit_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rpkit/rpkit/contrib/otelrpkit"
	"github.com/rpkit/rpkit/event"
	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
)

// TestClient: a real rp.Client against oidctest's provider, the observer
// as its rp.Config.Observer. A login's discovery, token request and key-set
// fetch appear in the metrics, and the subject nowhere.
func TestClient(t *testing.T) {
	op := oidctest.Start(t, oidctest.Config{})
	obs, reader := newObserver(t, otelrpkit.Config{})
	var calls atomic.Int64
	counted := event.Func(func(_ context.Context, e event.Event) {
		if e.Kind == event.ProviderCall {
			calls.Add(1)
		}
	})

	ctx := context.Background()
	client, err := rp.New(ctx, rp.Config{
		Issuer:       op.Issuer(),
		ClientID:     oidctest.DefaultClientID,
		ClientSecret: oidctest.DefaultClientSecret,
		RedirectURL:  "http://127.0.0.1:8080/callback",
		Observer:     event.Multi(obs, counted),
	})
	if err != nil {
		t.Fatal(err)
	}
	authURL, st, err := client.StartLogin()
	if err != nil {
		t.Fatal(err)
	}
	params, err := op.Authorize(ctx, authURL)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := client.Callback(ctx, st, params)
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() == 0 {
		t.Fatal("the client reported no event.ProviderCall")
	}

	got := collect(t, reader)
	for _, want := range []string{
		otelrpkit.ProviderRequestDurationMetric + "{rpkit.provider.endpoint=discovery,rpkit.provider.status_class=2xx}",
		otelrpkit.ProviderRequestDurationMetric + "{rpkit.provider.endpoint=token,rpkit.provider.status_class=2xx}",
		otelrpkit.ProviderRequestDurationMetric + "{rpkit.provider.endpoint=jwks,rpkit.provider.status_class=2xx}",
		otelrpkit.JWKSFetchDurationMetric + "{}",
	} {
		if p := got[want]; p.Count != 1 || p.Sum <= 0 {
			t.Errorf("%s = %+v, want one positive duration", want, p)
		}
	}
	if p := got[otelrpkit.EventsMetric+"{rpkit.event.kind=jwks_fetched}"]; p.Value != 1 {
		t.Errorf("jwks_fetched counted %d times, want 1", p.Value)
	}
	var n int64
	for k, p := range got {
		if strings.HasPrefix(k, otelrpkit.EventsMetric+"{rpkit.event.kind=provider_call") {
			n += p.Value
		}
		if strings.Contains(k, tokens.Claims.Subject) || strings.Contains(k, op.Issuer()) {
			t.Errorf("%s names the subject or the issuer", k)
		}
	}
	if n != calls.Load() {
		t.Errorf("counted %d provider calls, the client reported %d", n, calls.Load())
	}
}
