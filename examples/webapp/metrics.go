package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rpkit/rpkit/event"
)

// metrics is the example's event.Observer: it counts rpkit's lifecycle
// events by kind and reason, the sessions they ended and the provider
// calls' latency, serves them as Prometheus text (GET /debug/metrics, with
// the development provider or DEBUG_METRICS=1), and logs each login,
// refresh and logout at Info. Like every event, its log lines carry the
// subject and the issuer, never a token, a secret, a cookie or a session
// ID. It is safe for concurrent use, and quick: a map update under a
// mutex, and one log line.
type metrics struct {
	log *slog.Logger

	mu     sync.Mutex
	events map[eventKey]uint64
	ended  map[event.Reason]uint64 // sessions ended (the events' Count)
	calls  map[string]*callStats   // provider calls by endpoint
}

type eventKey struct {
	kind   event.Kind
	reason event.Reason
}

type callStats struct {
	count uint64
	sum   time.Duration
}

func newMetrics(log *slog.Logger) *metrics {
	m := &metrics{log: log, events: map[eventKey]uint64{}, ended: map[event.Reason]uint64{}, calls: map[string]*callStats{}}
	// The counters the demo's buttons move show from the start, at 0.
	for _, k := range []event.Kind{event.LoginSucceeded, event.LoginRefused, event.SessionCreated, event.Refreshed} {
		m.events[eventKey{k, ""}] = 0
	}
	for _, r := range []event.Reason{event.ReasonRPLogout, event.ReasonBackChannel, event.ReasonFrontChannel} {
		m.events[eventKey{event.SessionEnded, r}] = 0
		m.ended[r] = 0
	}
	return m
}

// Observe counts e and logs the logins, refreshes and logouts.
func (m *metrics) Observe(ctx context.Context, e event.Event) {
	m.mu.Lock()
	m.events[eventKey{e.Kind, e.Reason}]++
	switch e.Kind {
	case event.SessionEnded:
		m.ended[e.Reason] += uint64(max(e.Count, 0))
	case event.ProviderCall:
		c := m.calls[e.Endpoint]
		if c == nil {
			c = &callStats{}
			m.calls[e.Endpoint] = c
		}
		c.count++
		c.sum += e.Duration
	}
	m.mu.Unlock()

	switch e.Kind {
	case event.SessionCreated:
		m.log.LogAttrs(ctx, slog.LevelInfo, "login", slog.String("sub", e.Subject), slog.String("iss", e.Issuer))
	case event.Refreshed:
		m.log.LogAttrs(ctx, slog.LevelInfo, "session refreshed", slog.String("sub", e.Subject), slog.String("iss", e.Issuer))
	case event.SessionEnded:
		attrs := []slog.Attr{slog.String("reason", string(e.Reason)), slog.Int("sessions", e.Count), slog.String("iss", e.Issuer)}
		if e.Subject != "" {
			attrs = append(attrs, slog.String("sub", e.Subject))
		}
		m.log.LogAttrs(ctx, slog.LevelInfo, "logout", attrs...)
	}
}

// ServeHTTP writes the counters in the Prometheus text format.
func (m *metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	m.mu.Lock()
	events := make([]eventKey, 0, len(m.events))
	for k := range m.events {
		events = append(events, k)
	}
	slices.SortFunc(events, func(x, y eventKey) int { return cmp.Or(cmp.Compare(x.kind, y.kind), cmp.Compare(x.reason, y.reason)) })
	b.WriteString("# HELP rpkit_events_total rpkit's lifecycle events (package event), by kind and reason.\n# TYPE rpkit_events_total counter\n")
	for _, k := range events {
		fmt.Fprintf(&b, "%s %d\n", series("rpkit_events_total", "kind", string(k.kind), "reason", string(k.reason)), m.events[k])
	}
	b.WriteString("# HELP rpkit_sessions_ended_total Sessions ended, by reason.\n# TYPE rpkit_sessions_ended_total counter\n")
	for _, r := range slices.Sorted(maps.Keys(m.ended)) {
		fmt.Fprintf(&b, "%s %d\n", series("rpkit_sessions_ended_total", "reason", string(r)), m.ended[r])
	}
	b.WriteString("# HELP rpkit_provider_call_duration_seconds Requests to the provider, by endpoint.\n# TYPE rpkit_provider_call_duration_seconds summary\n")
	for _, ep := range slices.Sorted(maps.Keys(m.calls)) {
		c := m.calls[ep]
		fmt.Fprintf(&b, "%s %g\n", series("rpkit_provider_call_duration_seconds_sum", "endpoint", ep), c.sum.Seconds())
		fmt.Fprintf(&b, "%s %d\n", series("rpkit_provider_call_duration_seconds_count", "endpoint", ep), c.count)
	}
	m.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte(b.String()))
}

// series renders a metric name with its name="value" label pairs,
// escaped, leaving out empty values (which Prometheus reads as an absent
// label anyway).
func series(name string, pairs ...string) string {
	var out []string
	esc := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			out = append(out, pairs[i]+`="`+esc.Replace(pairs[i+1])+`"`)
		}
	}
	if len(out) == 0 {
		return name
	}
	return name + "{" + strings.Join(out, ",") + "}"
}
