package bench

import (
	"testing"
	"time"

	"github.com/rpkit/rpkit/middleware"
	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/session"
)

// Row 6b: refresh load on the provider. The provider's access tokens live
// 3 s (as at a real Hydra), shorter than the middleware's RefreshLeeway
// (30 s, the default); one session makes a request every 100 ms of a
// simulated minute (fake clock for provider, client, middleware and
// store), each through RequireAuth. Metrics per session: refreshes (token
// endpoint requests) in the minute, and refreshes per access-token
// lifetime (the minute holds 20 of them; the target is at most one each).
// ns/op is the minute's wall time.
func BenchmarkRefreshLoad(b *testing.B) {
	const (
		tokenTTL = 3 * time.Second
		leeway   = 30 * time.Second
		window   = time.Minute
		every    = 100 * time.Millisecond
	)
	var refreshes, requests int
	for range b.N {
		b.StopTimer()
		clk := newClock()
		cfg := providerConfig()
		cfg.Now, cfg.AccessTokenTTL = clk.Now, tokenTTL
		op, err := oidctest.NewProvider(cfg)
		if err != nil {
			b.Fatal(err)
		}
		c := newClient(b, op, clk.Now)
		m := newMiddleware(b, c, session.NewMemoryStore(session.MemoryConfig{Now: clk.Now}), clk.Now,
			middleware.Config{RefreshLeeway: leeway})
		cookie := login(b, m, op)
		h, req := m.RequireAuth(ok), request("/", cookie)
		before := op.Count("token")
		b.StartTimer()
		for t := time.Duration(0); t < window; t += every {
			clk.Advance(every)
			serve(b, h, req)
			requests++
		}
		b.StopTimer()
		refreshes += op.Count("token") - before
		op.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(refreshes)/float64(b.N), "refreshes/session-minute")
	b.ReportMetric(float64(refreshes)/float64(b.N)/float64(window/tokenTTL), "refreshes/token-lifetime")
	b.ReportMetric(float64(requests)/float64(b.N), "requests/session-minute")
}
