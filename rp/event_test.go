package rp_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpkit/rpkit/event"
	"github.com/rpkit/rpkit/internal/eventtest"
	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
)

// observed returns a client adjustment that reports to a new recorder.
func observed(rec *eventtest.Recorder, more ...func(*rp.Config)) func(*rp.Config) {
	return func(c *rp.Config) {
		c.Observer = rec
		for _, f := range more {
			f(c)
		}
	}
}

// callsTo returns the recorded ProviderCall events of endpoint.
func callsTo(rec *eventtest.Recorder, endpoint string) []event.Event {
	var out []event.Event
	for _, e := range rec.Of(event.ProviderCall) {
		if e.Endpoint == endpoint {
			out = append(out, e)
		}
	}
	return out
}

// providerEndpoints are the endpoints rp calls, by the names both the
// events and oidctest's counters use.
var providerEndpoints = []string{"discovery", "jwks", "token", "userinfo", "revocation", "introspection"}

// wantOneCallPerRequest fails unless the recorder holds exactly one
// ProviderCall per request the provider received, endpoint by endpoint,
// and none for anything else.
func wantOneCallPerRequest(t *testing.T, rec *eventtest.Recorder, p *oidctest.Provider) {
	t.Helper()
	total := 0
	for _, name := range providerEndpoints {
		got, want := len(callsTo(rec, name)), p.Count(name)
		if got != want {
			t.Errorf("%d ProviderCall events for %s, the provider received %d requests", got, name, want)
		}
		total += got
	}
	if all := len(rec.Of(event.ProviderCall)); all != total {
		t.Errorf("%d ProviderCall events, %d of them for no endpoint rp calls", all, all-total)
	}
}

// wantNoSecrets fails if any recorded event, printed in full, contains one
// of secrets.
func wantNoSecrets(t *testing.T, rec *eventtest.Recorder, secrets ...string) {
	t.Helper()
	for _, e := range rec.Events() {
		out := fmt.Sprintf("%+v %v", e, e.LogValue())
		if e.Err != nil {
			out += " " + e.Err.Error()
		}
		for _, s := range secrets {
			if s != "" && strings.Contains(out, s) {
				t.Fatalf("event %s carries a secret: %s", e.Kind, out)
			}
		}
	}
}

// TestProviderCallEvents: every request to the provider is reported once,
// by endpoint, with its status and latency, and without a token, a secret
// or a URL query.
func TestProviderCallEvents(t *testing.T) {
	t.Parallel()
	rec := &eventtest.Recorder{}
	e := setup(t, nil, observed(rec))
	tok := e.mustLogin(t)
	tok2, err := e.c.Refresh(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := e.c.UserInfo(t.Context(), tok2, &claims); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Introspect(t.Context(), tok2.AccessToken, rp.HintAccessToken); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Revoke(t.Context(), tok2.RefreshToken, rp.HintRefreshToken); err != nil {
		t.Fatal(err)
	}
	// Refused requests are reported too, with their status.
	_, err = e.c.Refresh(t.Context(), tok2)
	if pe := providerErr(t, err); pe.Code != "invalid_grant" {
		t.Fatalf("refresh after revocation: %v", err)
	}
	err = e.c.UserInfo(t.Context(), &rp.Tokens{AccessToken: "not-a-token", Claims: tok.Claims}, nil)
	wantErr(t, err, rp.ErrInvalidToken)

	wantOneCallPerRequest(t, rec, e.p)
	for _, ev := range rec.Of(event.ProviderCall) {
		if ev.Issuer != e.p.Issuer() || ev.Duration <= 0 || ev.Err != nil || ev.Status == 0 {
			t.Errorf("event %+v", ev)
		}
	}
	statuses := func(endpoint string) (s []int) {
		for _, ev := range callsTo(rec, endpoint) {
			s = append(s, ev.Status)
		}
		return s
	}
	if got := fmt.Sprint(statuses("token")); got != "[200 200 400]" {
		t.Errorf("token statuses %s, want [200 200 400]", got)
	}
	if got := fmt.Sprint(statuses("userinfo")); got != "[200 401]" {
		t.Errorf("userinfo statuses %s, want [200 401]", got)
	}
	wantNoSecrets(t, rec, string(tok.AccessToken), string(tok.RefreshToken), string(tok.IDToken),
		string(tok2.AccessToken), string(tok2.RefreshToken), oidctest.DefaultClientSecret, "not-a-token")
}

// TestProviderCallEventFailures: a request that got no answer is reported
// once with Status 0 and its error; a discovery document that is not
// usable is reported with the reason, though it came with a 200.
func TestProviderCallEventFailures(t *testing.T) {
	tests := []struct {
		name     string
		run      func(t *testing.T, p *oidctest.Provider, rec *eventtest.Recorder) error
		endpoint string
		status   int
		want     error // the call's error, and the event's
	}{
		{"discovery answers an HTML page", func(t *testing.T, p *oidctest.Provider, rec *eventtest.Recorder) error {
			p.SetResponseHook("discovery", func(r *oidctest.Response) {
				r.Header.Set("Content-Type", "text/html")
				r.Raw = []byte("<html>")
			})
			_, err := rp.New(t.Context(), clientConfig(p, newClock(), observed(rec)))
			return err
		}, "discovery", 200, rp.ErrDiscovery},
		{"discovery names another issuer", func(t *testing.T, p *oidctest.Provider, rec *eventtest.Recorder) error {
			p.SetResponseHook("discovery", func(r *oidctest.Response) { r.Body["issuer"] = "https://op.example" })
			_, err := rp.New(t.Context(), clientConfig(p, newClock(), observed(rec)))
			return err
		}, "discovery", 200, rp.ErrIssuerMismatch},
		{"discovery answers 503", func(t *testing.T, p *oidctest.Provider, rec *eventtest.Recorder) error {
			p.SetResponseHook("discovery", func(r *oidctest.Response) { r.Status = 503 })
			_, err := rp.New(t.Context(), clientConfig(p, newClock(), observed(rec)))
			return err
		}, "discovery", 503, rp.ErrProviderUnavailable},
		{"userinfo gives no answer in time", func(t *testing.T, p *oidctest.Provider, rec *eventtest.Recorder) error {
			clk := newClock()
			c, err := rp.New(t.Context(), clientConfig(p, clk, observed(rec, func(c *rp.Config) { c.ProviderTimeout = 100 * time.Millisecond })))
			if err != nil {
				t.Fatal(err)
			}
			tok := (&env{p: p, c: c, clk: clk}).mustLogin(t)
			block(t, p, "userinfo")
			return c.UserInfo(t.Context(), tok, nil)
		}, "userinfo", 0, context.DeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := oidctest.Start(t, oidctest.Config{})
			rec := &eventtest.Recorder{}
			err := tc.run(t, p, rec)
			wantErr(t, err, tc.want)
			calls := callsTo(rec, tc.endpoint)
			if len(calls) != 1 {
				t.Fatalf("%d ProviderCall events for %s, want 1: %+v", len(calls), tc.endpoint, rec.Events())
			}
			ev := calls[0]
			if ev.Status != tc.status || !errors.Is(ev.Err, tc.want) || ev.Issuer != p.Issuer() || ev.Duration <= 0 {
				t.Fatalf("event %+v, want status %d and error %v", ev, tc.status, tc.want)
			}
		})
	}

	t.Run("no provider", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		iss := "http://" + l.Addr().String()
		l.Close()
		rec := &eventtest.Recorder{}
		_, err = rp.New(t.Context(), rp.Config{Issuer: iss, ClientID: "x", Observer: rec})
		wantErr(t, err, rp.ErrProviderUnavailable)
		calls := callsTo(rec, "discovery")
		if len(calls) != 1 || calls[0].Status != 0 || calls[0].Err == nil {
			t.Fatalf("events %+v, want one discovery call with status 0 and an error", rec.Events())
		}
	})
}

// TestKeySetEvents: the key set reports each fetch once, however many
// callers share it, each failed fetch once, and each token refused for
// the refetch cooldown once.
func TestKeySetEvents(t *testing.T) {
	t.Parallel()
	t.Run("fetched once for 1000 callers", func(t *testing.T) {
		rec := &eventtest.Recorder{}
		e := warmKeys(t, observed(rec))
		if n := len(rec.Of(event.JWKSFetched)); n != 1 {
			t.Fatalf("%d JWKSFetched events after the warm login, want 1", n)
		}
		rec.Reset()
		e.p.RotateKeys(false)
		e.p.SetResponseHook("jwks", func(*oidctest.Response) { time.Sleep(50 * time.Millisecond) })
		raw, err := e.p.LogoutToken(oidctest.LogoutTokenOptions{SID: "sid-1"})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 1000)
		for range 1000 {
			wg.Go(func() {
				if _, err := e.c.VerifyLogoutToken(t.Context(), raw); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("a genuine token failed: %v", err)
		}
		e.wantFetches(t, 2)
		fetched := rec.Of(event.JWKSFetched)
		if len(fetched) != 1 || fetched[0].Endpoint != "jwks" || fetched[0].Issuer != e.p.Issuer() || fetched[0].Duration < 50*time.Millisecond {
			t.Fatalf("JWKSFetched events %+v, want one for the shared fetch, of at least 50ms", fetched)
		}
		if got := rec.Kinds(); fmt.Sprint(got) != fmt.Sprint([]event.Kind{event.ProviderCall, event.JWKSFetched}) {
			t.Fatalf("events %v, want one provider call and one JWKSFetched", got)
		}
	})

	t.Run("failed once per fetch", func(t *testing.T) {
		rec := &eventtest.Recorder{}
		e := warmKeys(t, observed(rec))
		rec.Reset()
		e.p.RotateKeys(false)
		failJWKS(e.p, 2)
		path := keyPaths[2] // VerifyLogoutToken
		for range 3 {
			retryError(t, path.verify(t, e), rp.ErrProviderUnavailable) // one fetch, then its back-off
		}
		e.clk.Advance(time.Second)
		for range 3 {
			retryError(t, path.verify(t, e), rp.ErrProviderUnavailable)
		}
		failed := rec.Of(event.JWKSFetchFailed)
		if len(failed) != 2 {
			t.Fatalf("%d JWKSFetchFailed events for 2 failed fetches", len(failed))
		}
		for _, ev := range failed {
			if !errors.Is(ev.Err, rp.ErrProviderUnavailable) || ev.Endpoint != "jwks" || ev.Issuer != e.p.Issuer() {
				t.Fatalf("event %+v", ev)
			}
		}
		e.clk.Advance(2 * time.Second)
		wantErr(t, path.verify(t, e), nil)
		if n := len(rec.Of(event.JWKSFetched)); n != 1 {
			t.Fatalf("%d JWKSFetched events after the recovery, want 1", n)
		}
		var statuses []int
		for _, ev := range callsTo(rec, "jwks") {
			statuses = append(statuses, ev.Status)
		}
		if fmt.Sprint(statuses) != "[500 500 200]" {
			t.Fatalf("JWKS requests reported with statuses %v, want [500 500 200]", statuses)
		}
	})

	t.Run("refetch limited once per token", func(t *testing.T) {
		rec := &eventtest.Recorder{}
		e := warmKeys(t, observed(rec))
		e.p.RotateKeys(true)
		path := keyPaths[2]
		wantErr(t, path.verify(t, e), nil) // the unknown-kid refetch arms the cooldown
		rec.Reset()
		e.sign(path, rsaKey(t), "unknown")
		for range 5 {
			retryError(t, path.verify(t, e), rp.ErrKeyRefetchLimited)
		}
		limited := rec.Of(event.JWKSRefetchLimited)
		if len(limited) != 5 {
			t.Fatalf("%d JWKSRefetchLimited events for 5 refused tokens", len(limited))
		}
		var re *rp.KeyRetryError
		if ev := limited[0]; !errors.As(ev.Err, &re) || !errors.Is(ev.Err, rp.ErrKeyRefetchLimited) || ev.Issuer != e.p.Issuer() {
			t.Fatalf("event %+v, want a *KeyRetryError", ev)
		}
		if n := len(rec.Events()); n != 5 {
			t.Fatalf("%d events, want only the 5 refusals: %v", n, rec.Kinds())
		}
	})
}

// TestProviderCallEventRedirect: a provider answer that redirects is one
// event per request, the redirect's target named "other" when it is none
// of the provider's endpoints.
func TestProviderCallEventRedirect(t *testing.T) {
	t.Parallel()
	p := oidctest.Start(t, oidctest.Config{})
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, p.URL("/.well-known/openid-configuration?moved=secret-query"), http.StatusFound)
	})
	front := &http.Server{Handler: mux}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go front.Serve(l)
	t.Cleanup(func() { front.Close() })
	rec := &eventtest.Recorder{}
	_, err = rp.New(t.Context(), rp.Config{Issuer: "http://" + l.Addr().String(), ClientID: "x", Observer: rec})
	wantErr(t, err, rp.ErrIssuerMismatch) // the document names p's issuer
	calls := rec.Of(event.ProviderCall)
	if len(calls) != 2 || calls[0].Endpoint != "discovery" || calls[0].Status != 302 || calls[0].Err != nil ||
		calls[1].Endpoint != "other" || calls[1].Status != 200 || !errors.Is(calls[1].Err, rp.ErrIssuerMismatch) {
		t.Fatalf("events %+v", calls)
	}
	wantNoSecrets(t, rec, "secret-query")
}
