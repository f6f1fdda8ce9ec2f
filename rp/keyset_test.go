package rp_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
)

// keyEnv is a provider and a client whose key set is warm: one login
// fetched the JWKS, and its tokens serve the Refresh path.
type keyEnv struct {
	*env
	tok *rp.Tokens
	// oldKey and oldKid are the provider's RSA signing key at the warm
	// login, kept to sign tokens with it after a rotation.
	oldKey any
	oldKid string
}

func warmKeys(t *testing.T, cc func(*rp.Config)) *keyEnv {
	t.Helper()
	e := &keyEnv{env: setup(t, nil, cc)}
	e.p.SetTokenHook(oidctest.IDToken, func(m *oidctest.Mint) { e.oldKey, e.oldKid = m.Key, m.Header["kid"].(string) })
	e.tok = e.mustLogin(t)
	e.p.SetTokenHook(oidctest.IDToken, nil)
	e.wantFetches(t, 1)
	return e
}

func (e *keyEnv) wantFetches(t *testing.T, n int) {
	t.Helper()
	if got := e.p.Count("jwks"); got != n {
		t.Fatalf("JWKS fetched %d times, want %d", got, n)
	}
}

// keyPath is one call that verifies a provider's token with its keys.
type keyPath struct {
	name string
	kind oidctest.TokenKind
	// verify has the provider issue one token on this path (through the
	// token hook of kind) and returns the client's verdict.
	verify func(t *testing.T, e *keyEnv) error
}

var keyPaths = []keyPath{
	{"Callback", oidctest.IDToken, func(t *testing.T, e *keyEnv) error {
		_, err := e.login(t)
		return err
	}},
	{"Refresh", oidctest.IDToken, func(t *testing.T, e *keyEnv) error {
		_, err := e.c.Refresh(t.Context(), e.tok)
		return err
	}},
	{"VerifyLogoutToken", oidctest.LogoutToken, func(t *testing.T, e *keyEnv) error {
		raw, err := e.p.LogoutToken(oidctest.LogoutTokenOptions{SID: "sid-1"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.c.VerifyLogoutToken(t.Context(), raw)
		return err
	}},
}

// sign makes the provider sign the path's tokens with key under kid ("":
// the provider's own kid; "-": no kid). nil key: the provider's own.
func (e *keyEnv) sign(path keyPath, key any, kid string) {
	e.p.SetTokenHook(path.kind, func(m *oidctest.Mint) {
		if key != nil {
			m.Key = key
		}
		switch kid {
		case "":
		case "-":
			delete(m.Header, "kid")
		default:
			m.Header["kid"] = kid
		}
	})
}

// retryError returns the *rp.KeyRetryError err wraps.
func retryError(t *testing.T, err, want error) *rp.KeyRetryError {
	t.Helper()
	wantErr(t, err, want)
	var re *rp.KeyRetryError
	if !errors.As(err, &re) {
		t.Fatalf("error = %v, want a *rp.KeyRetryError", err)
	}
	return re
}

// TestKeyKnownBadSignature (rule 1): a token naming a cached key, or
// without a kid while one cached key fits its alg, that the key does not
// verify is ErrSignature at once — never "try later", and no JWKS request.
// Such tokens do not delay a genuine rotation either.
func TestKeyKnownBadSignature(t *testing.T) {
	t.Parallel()
	foreign := rsaKey(t)
	for _, path := range keyPaths {
		for _, kid := range []string{"", "-"} {
			t.Run(fmt.Sprintf("%s/kid=%q", path.name, kid), func(t *testing.T) {
				t.Parallel()
				e := warmKeys(t, nil)
				e.sign(path, foreign, kid)
				for range 5 {
					err := path.verify(t, e)
					wantErr(t, err, rp.ErrSignature)
					if errors.Is(err, rp.ErrKeyRefetchLimited) || errors.Is(err, rp.ErrProviderUnavailable) {
						t.Fatalf("a bad signature reported as retryable: %v", err)
					}
				}
				e.wantFetches(t, 1)

				// The same key selection accepts the provider's own
				// signature.
				e.sign(path, nil, kid)
				wantErr(t, path.verify(t, e), nil)

				// A key rotated in right after the forgeries verifies:
				// they spent no refetch window.
				e.p.SetTokenHook(path.kind, nil)
				e.p.RotateKeys(true)
				wantErr(t, path.verify(t, e), nil)
				e.wantFetches(t, 2)
			})
		}
	}
}

// TestKeyUnknownKidFetchedAtOnce (rule 2): the first token of a key rotated
// in right after the initial fetch verifies at once: the initial fetch did
// not start a cooldown.
func TestKeyUnknownKidFetchedAtOnce(t *testing.T) {
	t.Parallel()
	for _, path := range keyPaths {
		t.Run(path.name, func(t *testing.T) {
			t.Parallel()
			e := warmKeys(t, nil)
			e.p.RotateKeys(false)
			wantErr(t, path.verify(t, e), nil)
			e.wantFetches(t, 2)
			wantErr(t, path.verify(t, e), nil)
			e.wantFetches(t, 2)
		})
	}
}

// TestKeyRotationConcurrent (rule 2): concurrent verifications of tokens
// of a just-rotated key share one JWKS request, and every one succeeds.
func TestKeyRotationConcurrent(t *testing.T) {
	t.Parallel()
	for _, path := range keyPaths {
		n := 1000
		if path.kind == oidctest.IDToken {
			n = 50 // each is a whole code exchange or refresh over HTTP
		}
		t.Run(fmt.Sprintf("%s/%d", path.name, n), func(t *testing.T) {
			t.Parallel()
			e := warmKeys(t, nil)
			e.p.RotateKeys(false)
			// A slow JWKS answer, so that the callers pile up behind the
			// one fetch.
			e.p.SetResponseHook("jwks", func(*oidctest.Response) { time.Sleep(50 * time.Millisecond) })
			verify := func() error { return path.verify(t, e) }
			if path.kind == oidctest.LogoutToken {
				raw, err := e.p.LogoutToken(oidctest.LogoutTokenOptions{SID: "sid-1"})
				if err != nil {
					t.Fatal(err)
				}
				verify = func() error { _, err := e.c.VerifyLogoutToken(t.Context(), raw); return err }
			}
			var wg sync.WaitGroup
			var failed atomic.Int64
			var firstErr atomic.Value
			for range n {
				wg.Go(func() {
					if err := verify(); err != nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err)
					}
				})
			}
			wg.Wait()
			if f := failed.Load(); f != 0 {
				t.Fatalf("%d of %d genuine verifications failed, the first: %v", f, n, firstErr.Load())
			}
			e.wantFetches(t, 2)
		})
	}
}

// TestKeyRefetchCooldown (rule 3): after an unknown-kid refetch, unknown
// kids within JWKSRefetchInterval get ErrKeyRefetchLimited with the instant
// a refetch becomes possible; after it, one refetch decides.
func TestKeyRefetchCooldown(t *testing.T) {
	t.Parallel()
	foreign := rsaKey(t)
	for _, path := range keyPaths {
		t.Run(path.name, func(t *testing.T) {
			t.Parallel()
			e := warmKeys(t, nil)
			e.p.RotateKeys(true)
			t0 := e.clk.Now()
			wantErr(t, path.verify(t, e), nil) // unknown kid: refetch, cooldown until t0+10s
			e.wantFetches(t, 2)

			e.sign(path, foreign, "unknown-1")
			re := retryError(t, path.verify(t, e), rp.ErrKeyRefetchLimited)
			if !re.RetryAt.Equal(t0.Add(10*time.Second)) || re.RetryAfter != 10*time.Second {
				t.Fatalf("retry at %s (in %s), want %s (in 10s)", re.RetryAt, re.RetryAfter, t0.Add(10*time.Second))
			}
			if s, _ := rp.RetryAfterSeconds(re); s != 10 {
				t.Fatalf("RetryAfterSeconds = %d, want 10", s)
			}
			e.clk.Advance(6500 * time.Millisecond)
			re = retryError(t, path.verify(t, e), rp.ErrKeyRefetchLimited)
			if s, _ := rp.RetryAfterSeconds(re); re.RetryAfter != 3500*time.Millisecond || s != 4 {
				t.Fatalf("retry in %s (%d s), want 3.5s (4 s)", re.RetryAfter, s)
			}
			e.wantFetches(t, 2)

			e.clk.Advance(3500 * time.Millisecond)
			err := path.verify(t, e) // the window has passed: refetch, and the kid is not there
			wantErr(t, err, rp.ErrSignature)
			e.wantFetches(t, 3)
			retryError(t, path.verify(t, e), rp.ErrKeyRefetchLimited)
			e.wantFetches(t, 3)
		})
	}
}

// TestKeyRefetchFlood (rule 3): 10 000 tokens with random unknown kids,
// spread over three refetch windows, cost at most one JWKS request per
// window, and none is accepted.
func TestKeyRefetchFlood(t *testing.T) {
	t.Parallel()
	e := warmKeys(t, nil)
	genuine, err := e.p.LogoutToken(oidctest.LogoutTokenOptions{SID: "sid-1"})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(genuine, ".")
	const n, step = 10000, 3 * time.Millisecond // 30 s of the fake clock
	tokens := make(chan string, n)
	for range n {
		kid := make([]byte, 12)
		rand.Read(kid)
		hdr, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "logout+jwt", "kid": base64.RawURLEncoding.EncodeToString(kid)})
		tokens <- base64.RawURLEncoding.EncodeToString(hdr) + "." + parts[1] + "." + parts[2]
	}
	close(tokens)
	var wg sync.WaitGroup
	var unexpected atomic.Value
	for range 8 {
		wg.Go(func() {
			for raw := range tokens {
				_, err := e.c.VerifyLogoutToken(t.Context(), raw)
				if !errors.Is(err, rp.ErrSignature) && !errors.Is(err, rp.ErrKeyRefetchLimited) {
					unexpected.CompareAndSwap(nil, fmt.Sprint(err))
				}
				e.clk.Advance(step)
			}
		})
	}
	wg.Wait()
	if u := unexpected.Load(); u != nil {
		t.Fatalf("a forged token got: %v", u)
	}
	// One warm fetch, then at most one refetch per started 10 s window.
	if got := e.p.Count("jwks") - 1; got > 4 || got < 1 {
		t.Fatalf("%d refetches for %d forged kids over 30 s, want 1 to 4", got, n)
	}
}

// failJWKS makes the provider's JWKS answer 500 to its next n requests.
func failJWKS(p *oidctest.Provider, n int) {
	var left atomic.Int64
	left.Store(int64(n))
	p.SetResponseHook("jwks", func(r *oidctest.Response) {
		if left.Add(-1) >= 0 {
			r.Status, r.Body = http.StatusInternalServerError, map[string]any{"error": "server_error"}
		}
	})
}

// TestKeyInitialFetchFails (rule 4): one failed first fetch (a provider
// blip at startup) refuses only what arrives within a second; the next
// login, 1–2 s later, succeeds.
func TestKeyInitialFetchFails(t *testing.T) {
	t.Parallel()
	for _, path := range keyPaths {
		if path.name == "Refresh" {
			continue // a refresh needs a login, which fetched the keys
		}
		t.Run(path.name, func(t *testing.T) {
			t.Parallel()
			e := &keyEnv{env: setup(t, nil, nil)}
			failJWKS(e.p, 1)
			re := retryError(t, path.verify(t, e), rp.ErrProviderUnavailable)
			if re.RetryAfter != time.Second {
				t.Fatalf("retry in %s, want 1s", re.RetryAfter)
			}
			e.clk.Advance(500 * time.Millisecond)
			retryError(t, path.verify(t, e), rp.ErrProviderUnavailable) // within the back-off: no request
			e.wantFetches(t, 1)
			e.clk.Advance(time.Second)
			wantErr(t, path.verify(t, e), nil)
			e.wantFetches(t, 2)
			e.clk.Advance(time.Second) // no cooldown was armed: a rotation is fetched at once
			e.p.RotateKeys(false)
			wantErr(t, path.verify(t, e), nil)
			e.wantFetches(t, 3)
		})
	}
}

// TestKeyFetchFailsDuringRotation (rule 4): while the JWKS endpoint fails,
// cached keys keep verifying; a new kid waits for a back-off of 1 s,
// doubling, capped at the refetch interval; and it verifies as soon as the
// provider has recovered and the back-off has passed.
func TestKeyFetchFailsDuringRotation(t *testing.T) {
	t.Parallel()
	for _, path := range keyPaths {
		t.Run(path.name, func(t *testing.T) {
			t.Parallel()
			e := warmKeys(t, nil)
			e.p.RotateKeys(true)
			failJWKS(e.p, 6)
			for i, want := range []time.Duration{1, 2, 4, 8, 10, 10} {
				re := retryError(t, path.verify(t, e), rp.ErrProviderUnavailable)
				if re.RetryAfter != want*time.Second {
					t.Fatalf("failure %d: retry in %s, want %ds", i+1, re.RetryAfter, want)
				}
				e.wantFetches(t, 2+i)
				// The key cached before the outage still verifies, and
				// costs no request.
				e.sign(path, e.oldKey, e.oldKid)
				wantErr(t, path.verify(t, e), nil)
				e.p.SetTokenHook(path.kind, nil)
				e.wantFetches(t, 2+i)
				e.clk.Advance(want * time.Second)
			}
			wantErr(t, path.verify(t, e), nil)
			e.wantFetches(t, 8)
		})
	}
}

// TestKeyWithdrawn (rule 5): a key the provider stopped publishing stops
// verifying once the cached set is older than JWKSMaxAge. The refresh runs
// in the background: the request that finds the set expired is answered
// from the old set without waiting, even while the JWKS endpoint hangs.
func TestKeyWithdrawn(t *testing.T) {
	t.Parallel()
	for _, path := range keyPaths {
		t.Run(path.name, func(t *testing.T) {
			t.Parallel()
			e := warmKeys(t, nil)
			e.p.RotateKeys(false) // the warm login's key is withdrawn
			e.sign(path, e.oldKey, e.oldKid)
			wantErr(t, path.verify(t, e), nil) // not known to the client yet
			e.wantFetches(t, 1)

			e.clk.Advance(10 * time.Minute)
			release := make(chan struct{})
			e.p.SetResponseHook("jwks", func(*oidctest.Response) {
				select {
				case <-release:
				case <-time.After(10 * time.Second):
				}
			})
			done := make(chan error, 1)
			go func() { done <- path.verify(t, e) }()
			select {
			case err := <-done:
				wantErr(t, err, nil) // served by the old set
			case <-time.After(5 * time.Second):
				t.Fatal("a request waited for the background refresh")
			}
			close(release)
			rp.WaitKeyFetches(e.c)
			e.wantFetches(t, 2)

			err := path.verify(t, e)
			wantErr(t, err, rp.ErrSignature)
			e.p.SetTokenHook(path.kind, nil)
			wantErr(t, path.verify(t, e), nil) // the current key
		})
	}
}

// TestKeyCacheControl (rule 5): a shorter Cache-Control max-age (less Age)
// shortens the cache's life, down to one minute; a longer one does not
// extend it past JWKSMaxAge.
func TestKeyCacheControl(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		header          http.Header
		before, refresh time.Duration // no refresh after before; one after refresh
	}{
		{http.Header{"Cache-Control": {"public, max-age=120"}}, 119 * time.Second, 2 * time.Second},
		{http.Header{"Cache-Control": {"max-age=600"}, "Age": {"400"}}, 199 * time.Second, 2 * time.Second},
		{http.Header{"Cache-Control": {"max-age=0"}}, 59 * time.Second, 2 * time.Second},
		{http.Header{"Cache-Control": {"max-age=86400"}}, 10*time.Minute - time.Second, 2 * time.Second},
		{http.Header{"Cache-Control": {"no-store"}}, 10*time.Minute - time.Second, 2 * time.Second},
	} {
		t.Run(fmt.Sprint(tc.header), func(t *testing.T) {
			t.Parallel()
			e := &keyEnv{env: setup(t, nil, nil)}
			e.p.SetResponseHook("jwks", func(r *oidctest.Response) {
				r.Header.Del("Cache-Control")
				for k, v := range tc.header {
					r.Header[k] = v
				}
			})
			path := keyPaths[2]
			wantErr(t, path.verify(t, e), nil)
			e.clk.Advance(tc.before)
			wantErr(t, path.verify(t, e), nil)
			rp.WaitKeyFetches(e.c)
			e.wantFetches(t, 1)
			e.clk.Advance(tc.refresh)
			wantErr(t, path.verify(t, e), nil)
			rp.WaitKeyFetches(e.c)
			e.wantFetches(t, 2)
		})
	}
}

// TestKeyMaxAgeConfig: JWKSMaxAge sets the cache's life; negative is an
// error.
func TestKeyMaxAgeConfig(t *testing.T) {
	t.Parallel()
	e := &keyEnv{env: setup(t, nil, func(c *rp.Config) { c.JWKSMaxAge = 2 * time.Minute })}
	path := keyPaths[2]
	wantErr(t, path.verify(t, e), nil)
	e.clk.Advance(2 * time.Minute)
	wantErr(t, path.verify(t, e), nil)
	rp.WaitKeyFetches(e.c)
	e.wantFetches(t, 2)

	_, err := rp.New(t.Context(), clientConfig(e.p, e.clk, func(c *rp.Config) { c.JWKSMaxAge = -1 }))
	wantErr(t, err, rp.ErrConfig)
}
