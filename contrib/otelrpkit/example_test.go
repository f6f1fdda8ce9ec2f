package otelrpkit_test

import (
	"context"
	"fmt"
	"log"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/rpkit/rpkit/contrib/otelrpkit"
	"github.com/rpkit/rpkit/event"
	"github.com/rpkit/rpkit/rp"
)

// An observer recording to a meter provider, fed the events a logout
// button and a back-channel logout would report, and the number of ended
// sessions read back from the provider's reader.
func Example() {
	reader := sdkmetric.NewManualReader() // in an application: a Prometheus or OTLP exporter
	obs, err := otelrpkit.New(otelrpkit.Config{
		MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
	})
	if err != nil {
		log.Fatal(err)
	}
	// In an application: rp.Config{Observer: obs, …}; the middleware and
	// the receivers report these.
	ctx := context.Background()
	obs.Observe(ctx, event.Event{Kind: event.SessionEnded, Reason: event.ReasonRPLogout, Count: 1})
	obs.Observe(ctx, event.Event{Kind: event.SessionEnded, Reason: event.ReasonBackChannel, Count: 2})
	obs.Observe(ctx, event.Event{Kind: event.LogoutTokenRefused, Err: fmt.Errorf("%w: kid %q", rp.ErrSignature, "k1")})

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		log.Fatal(err)
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		switch m.Name {
		case otelrpkit.SessionsEndedMetric:
			var total int64
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				total += dp.Value
			}
			fmt.Println(m.Name, total, m.Unit)
		case otelrpkit.EventsMetric:
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				if kind, _ := dp.Attributes.Value(otelrpkit.KindKey); kind.AsString() == string(event.LogoutTokenRefused) {
					errType, _ := dp.Attributes.Value(otelrpkit.ErrorTypeKey)
					fmt.Println(m.Name, kind.AsString(), errType.AsString(), dp.Value)
				}
			}
		}
	}
	// Unordered output:
	// rpkit.session.ended 3 {session}
	// rpkit.events logout_token_refused rp.ErrSignature 1
}
