package otelrpkit_test

import (
	"context"
	"fmt"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/rpkit/rpkit/contrib/otelrpkit"
)

// newObserver returns an observer recording to a fresh SDK meter provider
// and the reader that collects from it.
func newObserver(t *testing.T, cfg otelrpkit.Config) (*otelrpkit.Observer, *sdkmetric.ManualReader) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	cfg.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	o, err := otelrpkit.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return o, reader
}

// point is one data point: a counter's value, or a histogram's count and
// sum.
type point struct {
	Value int64
	Count uint64
	Sum   float64
}

// collect flattens what reader holds into "name{k=v,…}" → point, checking
// each instrument's scope, unit and temporality on the way.
func collect(t *testing.T, reader *sdkmetric.ManualReader) map[string]point {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	units := map[string]string{
		otelrpkit.EventsMetric:                  "{event}",
		otelrpkit.SessionsEndedMetric:           "{session}",
		otelrpkit.ProviderRequestDurationMetric: "s",
		otelrpkit.JWKSFetchDurationMetric:       "s",
	}
	got := map[string]point{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otelrpkit.ScopeName {
			t.Errorf("scope %q, want %q", sm.Scope.Name, otelrpkit.ScopeName)
		}
		for _, m := range sm.Metrics {
			if want, ok := units[m.Name]; !ok || m.Unit != want {
				t.Errorf("metric %q has unit %q, want %q", m.Name, m.Unit, want)
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				if !d.IsMonotonic || d.Temporality != metricdata.CumulativeTemporality {
					t.Errorf("%s: not a monotonic cumulative sum", m.Name)
				}
				for _, dp := range d.DataPoints {
					got[key(m.Name, dp.Attributes)] = point{Value: dp.Value}
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					got[key(m.Name, dp.Attributes)] = point{Count: dp.Count, Sum: dp.Sum}
				}
			default:
				t.Errorf("%s: unexpected data %T", m.Name, m.Data)
			}
		}
	}
	return got
}

func key(name string, attrs attribute.Set) string {
	return fmt.Sprintf("%s{%s}", name, attrs.Encoded(attribute.DefaultEncoder()))
}
