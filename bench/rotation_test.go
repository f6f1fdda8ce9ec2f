package bench

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
)

// rotationTokens is the number of concurrent verifications of row 6.
const rotationTokens = 1000

// Row 6: key rotation under load. The provider rotates its signing keys
// under a warm client; rotationTokens ID tokens signed by the new key
// (minted beforehand, none seen by the client) are then verified at once,
// one goroutine each. Metrics per rotation: fetches (JWKS requests the
// provider answered during the verifications; the target is exactly 1)
// and failures (genuine tokens refused; the target is 0), for rpkit's
// VerifyIDToken and for go-oidc's IDTokenVerifier.Verify over a
// RemoteKeySet. Each iteration has a provider and a client of its own, so
// no cooldown of an earlier iteration's refetch is in the way. The tokens
// arrive all at once (arrival=burst), or spread evenly over 20 ms
// (arrival=spread), so that some race the refetch as it lands. ns/op is
// the time the rotationTokens verifications took.
func BenchmarkKeyRotation(b *testing.B) {
	for _, a := range []struct {
		name   string
		spread time.Duration
	}{{"burst", 0}, {"spread", 20 * time.Millisecond}} {
		b.Run("arrival="+a.name, func(b *testing.B) { keyRotation(b, a.spread) })
	}
}

// keyRotation is row 6 with the verifications' starts spread evenly over
// spread (zero: all at once).
func keyRotation(b *testing.B, spread time.Duration) {
	b.Run("impl=rpkit", func(b *testing.B) {
		rotationBench(b, spread, func(b *testing.B, op *oidctest.Provider) (verify func(raw string) error, nonce string) {
			c := newClient(b, op, nil)
			_, nonce = loginTokens(b, c, op) // warms the key set
			return func(raw string) error {
				_, err := c.VerifyIDToken(context.Background(), rp.Secret(raw), nonce)
				return err
			}, nonce
		})
	})
	b.Run("impl=go-oidc", func(b *testing.B) {
		rotationBench(b, spread, func(b *testing.B, op *oidctest.Provider) (func(raw string) error, string) {
			ctx := context.Background()
			keys := oidc.NewRemoteKeySet(oidc.ClientContext(ctx, op.Client()), op.URL("/jwks"))
			v := oidc.NewVerifier(op.Issuer(), keys, &oidc.Config{ClientID: oidctest.DefaultClientID})
			const nonce = "go-oidc-nonce"
			undo := asIDTokens(op, nonce)
			defer undo()
			warm, err := op.LogoutToken(oidctest.LogoutTokenOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := v.Verify(ctx, warm); err != nil { // warms the key set
				b.Fatal(err)
			}
			return func(raw string) error {
				_, err := v.Verify(ctx, raw)
				return err
			}, nonce
		})
	})
}

// rotationBench runs row 6 for the verifier that setup returns.
func rotationBench(b *testing.B, spread time.Duration, setup func(*testing.B, *oidctest.Provider) (func(string) error, string)) {
	var fetches, failures int
	var firstErr error
	for range b.N {
		b.StopTimer()
		op, err := oidctest.NewProvider(oidctest.Config{})
		if err != nil {
			b.Fatal(err)
		}
		verify, nonce := setup(b, op)
		op.RotateKeys(false)
		tokens := mintIDTokens(b, op, nonce, rotationTokens)
		before := op.Count("jwks")

		start := make(chan struct{})
		var wg sync.WaitGroup
		var failed atomic.Int64
		var errOnce sync.Once
		for i, t := range tokens {
			wg.Go(func() {
				<-start
				if spread > 0 {
					time.Sleep(spread * time.Duration(i) / rotationTokens)
				}
				if err := verify(t); err != nil {
					failed.Add(1)
					errOnce.Do(func() { firstErr = err })
				}
			})
		}
		b.StartTimer()
		close(start)
		wg.Wait()
		b.StopTimer()
		fetches += op.Count("jwks") - before
		failures += int(failed.Load())
		op.Close()
		b.StartTimer()
	}
	if firstErr != nil {
		b.Logf("first failure: %v", firstErr)
	}
	b.ReportMetric(float64(fetches)/float64(b.N), "fetches/rotation")
	b.ReportMetric(float64(failures)/float64(b.N), "failures/rotation")
}

// mintIDTokens mints n ID tokens for the default client and subject with
// that nonce, signed by op's current key, on both cores.
func mintIDTokens(b *testing.B, op *oidctest.Provider, nonce string, n int) []string {
	b.Helper()
	undo := asIDTokens(op, nonce)
	defer undo()
	tokens := make([]string, n)
	var wg sync.WaitGroup
	var errs atomic.Int64
	for w := range 2 {
		wg.Go(func() {
			for i := w; i < n; i += 2 {
				t, err := op.LogoutToken(oidctest.LogoutTokenOptions{})
				if err != nil {
					errs.Add(1)
				}
				tokens[i] = t
			}
		})
	}
	wg.Wait()
	if errs.Load() > 0 {
		b.Fatal("minting ID tokens failed")
	}
	return tokens
}
