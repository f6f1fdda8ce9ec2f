package rp_test

import (
	"cmp"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
)

// slowDiscovery delays the discovery document's answer.
type slowDiscovery struct {
	base  http.RoundTripper
	delay time.Duration
}

func (s slowDiscovery) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == "/.well-known/openid-configuration" {
		time.Sleep(s.delay)
	}
	return s.base.RoundTrip(r)
}

// TestLazyDiscoveryFirstAttemptWaited: the logins that arrive while the
// first discovery attempt (the one New starts) is still running wait for
// it, rather than fail with ErrNotDiscovered while the provider answers.
func TestLazyDiscoveryFirstAttemptWaited(t *testing.T) {
	t.Parallel()
	p := oidctest.Start(t, oidctest.Config{})
	hc := *p.Client()
	hc.Transport = slowDiscovery{cmp.Or[http.RoundTripper](hc.Transport, http.DefaultTransport), 300 * time.Millisecond}
	c, err := rp.New(t.Context(), rp.Config{
		Issuer: p.Issuer(), ClientID: oidctest.DefaultClientID, ClientSecret: oidctest.DefaultClientSecret,
		RedirectURL: redirectURL, HTTPClient: &hc, LazyDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if _, _, err := c.StartLogin(); err != nil {
				t.Errorf("StartLogin during the first discovery attempt: %v", err)
			}
		})
	}
	wg.Wait()
	if n := p.Count("discovery"); n != 1 {
		t.Fatalf("%d discovery requests, want 1", n)
	}
}
