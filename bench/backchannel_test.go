package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/rpkit/rpkit/backchannel"
	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/session"
)

// logoutPool is the number of distinct logout tokens minted (once per
// process: an RSA-2048 signature each) for row 4.
const logoutPool = 2048

// Row 4: back-channel logout on both cores (RunParallel): a valid, fresh
// logout token POSTed through backchannel.Handler (httptest recorder,
// memory store holding the session the token names, memory replay cache)
// against go-oidc's IDTokenVerifier.VerifyLogout of the same tokens on a
// warm RemoteKeySet, and the raw RSA-2048 verification they contain. The
// rates are ns/op under RunParallel: lower is faster, and a ratio of two of
// them is the inverse ratio of the rates.
//
// Every request carries a token its handler has not seen: the tokens are
// used in passes of logoutPool, each pass through a handler of its own
// (its own store, with one session per token's sid, and its own replay
// cache), all built before the timer starts.
func BenchmarkBackchannelLogout(b *testing.B) {
	ctx := context.Background()
	clk := newClock()
	op := newProvider(b, oidctest.Config{Now: clk.Now})
	c := newClient(b, op, clk.Now)
	loginTokens(b, c, op) // warms rpkit's key set
	tokens := mintLogoutTokens(b, op)

	keys := oidc.NewRemoteKeySet(oidc.ClientContext(ctx, op.Client()), op.URL("/jwks"))
	v := oidc.NewVerifier(op.Issuer(), keys, &oidc.Config{ClientID: oidctest.DefaultClientID, Now: clk.Now})
	if _, err := v.VerifyLogout(ctx, tokens[0]); err != nil { // warms go-oidc's key set
		b.Fatal(err)
	}
	pub, signed, sig := rawRSA(b, op, tokens[0])

	bodies := make([]string, len(tokens))
	for i, t := range tokens {
		bodies[i] = url.Values{"logout_token": {t}}.Encode()
	}

	b.Run("impl=rpkit", func(b *testing.B) {
		passes := make([]http.Handler, b.N/logoutPool+1)
		for p := range passes {
			store := session.NewMemoryStore(session.MemoryConfig{Now: clk.Now})
			for i := range logoutPool {
				err := store.Create(ctx, &session.Session{Issuer: op.Issuer(), Subject: oidctest.DefaultSubject,
					SID: logoutSID(i), Expiry: clk.Now().Add(time.Hour)})
				if err != nil {
					b.Fatal(err)
				}
			}
			h, err := backchannel.New(backchannel.Config{Verifier: c, Sessions: store,
				Replay: backchannel.NewMemoryReplayCache(clk.Now), Logger: discard})
			if err != nil {
				b.Fatal(err)
			}
			passes[p] = h
		}
		var next atomic.Int64
		var failed sync.Once
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := int(next.Add(1) - 1)
				r, rec := formPost("/backchannel-logout", bodies[i%logoutPool]), newRecorder()
				passes[i/logoutPool].ServeHTTP(rec, r)
				if rec.Code != http.StatusOK {
					failed.Do(func() { b.Errorf("status %d: %s", rec.Code, rec.Body) })
				}
			}
		})
	})
	b.Run("impl=go-oidc", func(b *testing.B) {
		var next atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := int(next.Add(1) - 1)
				if _, err := v.VerifyLogout(ctx, tokens[i%logoutPool]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("impl=rsa", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := verifyRSA(pub, signed, sig); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func logoutSID(i int) string { return fmt.Sprintf("sid-%06d", i) }

// mintLogoutTokens returns logoutPool logout tokens of op, each naming the
// default subject and a sid of its own, minted on both cores.
func mintLogoutTokens(b *testing.B, op *oidctest.Provider) []string {
	b.Helper()
	tokens := make([]string, logoutPool)
	var wg sync.WaitGroup
	var errs atomic.Int64
	for w := range 2 {
		wg.Go(func() {
			for i := w; i < logoutPool; i += 2 {
				t, err := op.LogoutToken(oidctest.LogoutTokenOptions{Subject: oidctest.DefaultSubject, SID: logoutSID(i)})
				if err != nil {
					errs.Add(1)
				}
				tokens[i] = t
			}
		})
	}
	wg.Wait()
	if errs.Load() > 0 {
		b.Fatal("minting logout tokens failed")
	}
	return tokens
}
