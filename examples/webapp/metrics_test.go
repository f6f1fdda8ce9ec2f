package main

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpkit/rpkit/oidctest"
)

// lockedWriter collects log lines written from the server's goroutines.
type lockedWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// counter reads one series off a Prometheus text page; -1 when absent.
func counter(page, series string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(page)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// TestMetrics: a login, a refresh and each kind of logout move the
// counters at /debug/metrics, and each is one Info line that names the
// subject and no token, secret, cookie or session ID.
func TestMetrics(t *testing.T) {
	var logs lockedWriter
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	// A one-second access token: the middleware refreshes it once three
	// quarters of its life have passed (its leeway is capped at a quarter
	// of the token's lifetime).
	a, base := startAppLog(t, map[string]string{"DEV_ACCESS_TOKEN_TTL": "1s"}, log)
	b := newBrowser(t)
	metricsPage := func() string {
		t.Helper()
		r := get(t, b.single, "GET", base+"/debug/metrics", nil)
		if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain; version=0.0.4") {
			t.Fatalf("/debug/metrics: %d %s", r.status, r.header.Get("Content-Type"))
		}
		return r.body
	}
	before := metricsPage()
	for _, s := range []string{`rpkit_events_total{kind="session_created"}`, `rpkit_events_total{kind="session_ended",reason="rp_logout"}`,
		`rpkit_sessions_ended_total{reason="back_channel"}`} {
		if counter(before, s) != 0 {
			t.Errorf("before any login, %s = %v, want 0:\n%s", s, counter(before, s), before)
		}
	}

	// Login, refresh, RP logout.
	get(t, b.follow, "GET", base+"/login", nil)
	time.Sleep(800 * time.Millisecond)
	if r := get(t, b.single, "GET", base+"/me", asJSON); r.status != 200 {
		t.Fatalf("/me: %d", r.status)
	}
	r := get(t, b.single, "POST", base+"/logout", nil)
	get(t, b.follow, "GET", r.header.Get("Location"), nil)
	// Login, back-channel logout.
	get(t, b.follow, "GET", base+"/login", nil)
	get(t, b.single, "POST", base+"/dev/backchannel-logout", nil)

	after := metricsPage()
	for s, want := range map[string]float64{
		`rpkit_events_total{kind="login_succeeded"}`:                       2,
		`rpkit_events_total{kind="session_created"}`:                       2,
		`rpkit_events_total{kind="session_ended",reason="rp_logout"}`:      1,
		`rpkit_events_total{kind="session_ended",reason="back_channel"}`:   1,
		`rpkit_sessions_ended_total{reason="rp_logout"}`:                   1,
		`rpkit_sessions_ended_total{reason="back_channel"}`:                1,
		`rpkit_provider_call_duration_seconds_count{endpoint="discovery"}`: 1,
	} {
		if got := counter(after, s); got != want {
			t.Errorf("%s = %v, want %v", s, got, want)
		}
	}
	if counter(after, `rpkit_events_total{kind="refreshed"}`) < 1 {
		t.Errorf("no refresh counted")
	}
	if t.Failed() {
		t.Logf("/debug/metrics:\n%s", after)
	}

	out := logs.String()
	for _, want := range []string{`msg=login sub=alice`, `msg="session refreshed" sub=alice`,
		`msg=logout reason=rp_logout sessions=1`, `msg=logout reason=back_channel sessions=1`} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
	// No secret in the log: the client secret, the codes and refresh
	// tokens the provider received, the cookies the browser holds, the
	// provider's sids.
	secrets := []string{a.cfg.ClientSecret}
	for _, tr := range a.dev.TokenRequests() {
		for _, k := range []string{"code", "refresh_token", "code_verifier"} {
			secrets = append(secrets, tr.Form.Get(k))
		}
	}
	u, _ := url.Parse(base)
	for _, c := range b.single.Jar.Cookies(u) {
		secrets = append(secrets, c.Value)
	}
	for _, s := range a.dev.Sessions() {
		secrets = append(secrets, s.SID)
	}
	for _, s := range secrets {
		if len(s) >= 8 && strings.Contains(out, s) {
			t.Errorf("the log contains a secret %.6s…", s)
		}
	}
}

// TestMetricsOnlyInDevelopment: with a real provider, /debug/metrics is
// served only with DEBUG_METRICS=1.
func TestMetricsOnlyInDevelopment(t *testing.T) {
	op := oidctest.Start(t, oidctest.Config{})
	for flag, want := range map[string]int{"": http.StatusNotFound, "1": http.StatusOK} {
		_, base := startApp(t, map[string]string{"OIDC_ISSUER": op.Issuer(), "OIDC_CLIENT_ID": oidctest.DefaultClientID,
			"OIDC_CLIENT_SECRET": oidctest.DefaultClientSecret, "DEBUG_METRICS": flag})
		if r := get(t, newBrowser(t).single, "GET", base+"/debug/metrics", nil); r.status != want {
			t.Errorf("DEBUG_METRICS=%q: /debug/metrics %d, want %d", flag, r.status, want)
		}
	}
}
