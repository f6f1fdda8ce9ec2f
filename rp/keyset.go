package rp

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/rpkit/rpkit/event"
)

// keySet is the provider's JWKS as rp uses it. go-oidc's RemoteKeySet
// refetches the set after any failed verification and keeps keys forever;
// with a rate limit under it that turned forged tokens into "try later" and
// locked genuine rotations out. keySet decides per token instead:
//
//   - A token naming a cached key (or, without a kid, fitting exactly the
//     cached keys of its alg) is verified with it, and a bad signature is
//     ErrSignature: no fetch.
//   - A token naming an unknown kid triggers one refetch at once, shared
//     by every concurrent caller. Between two such refetches lies the
//     cooldown (Config.JWKSRefetchInterval): within it an unknown kid gets
//     a [KeyRetryError] wrapping ErrKeyRefetchLimited. Only a successful
//     unknown-kid refetch arms the cooldown; the first fetch and the
//     max-age refreshes do not.
//   - A failed fetch leaves the cached keys serving and allows the next
//     attempt after a back-off of 1 s, doubling up to the cooldown.
//   - The set is refreshed in the background once older than its maximum
//     age (Config.JWKSMaxAge, or a shorter Cache-Control max-age), while the
//     old one keeps serving: withdrawn keys stop verifying, and no request
//     waits.
//
// The token is parsed once, by the caller; keySet verifies the parsed JWS.
//
// It reports event.JWKSFetched or event.JWKSFetchFailed once per fetch
// (however many callers share it), and event.JWKSRefetchLimited once per
// token refused for the cooldown.
type keySet struct {
	url      string
	hc       *http.Client
	now      func() time.Time
	cooldown time.Duration // between unknown-kid refetches; 0: none
	maxAge   time.Duration // of a fetched set
	observer event.Observer
	issuer   string

	cur atomic.Pointer[keyCache] // nil until the first fetch succeeds

	mu          sync.Mutex
	inflight    *keyFetch // the fetch in progress, nil when none
	gen         uint64    // fetches started so far
	lastRefetch time.Time // start of the last successful unknown-kid refetch
	failures    int       // consecutive failed fetches
	retryAt     time.Time // after a failure: no fetch before this instant
	lastErr     error     // the last failure, while failures > 0

	// fetches counts the fetches in progress, so that tests can wait for a
	// background refresh (export_test.go).
	fetches sync.WaitGroup
}

// keyCache is one fetched key set. It is never modified once published.
type keyCache struct {
	keys    []jose.JSONWebKey // public signing keys only
	expires time.Time         // when a background refresh is due
	gen     uint64            // the fetch that produced it
}

// keyFetch is one JWKS request that callers may wait for.
type keyFetch struct {
	done    chan struct{}
	gen     uint64
	err     error     // set before done is closed
	retryAt time.Time // after a failure: when the next fetch is allowed
}

const (
	minKeyBackoff = time.Second
	// minKeyMaxAge bounds a provider's Cache-Control max-age from below, so
	// that "max-age=0" does not make every request start a refresh.
	minKeyMaxAge = time.Minute
)

// newKeySet makes the key set of the JWKS at url, with the settings of
// cfg (defaults applied). hc bounds each fetch (the Client's
// deadlineTransport: Config.ProviderTimeout).
func newKeySet(hc *http.Client, url string, cfg Config) *keySet {
	return &keySet{url: url, hc: hc, now: cfg.Now, cooldown: max(cfg.JWKSRefetchInterval, 0), maxAge: cfg.JWKSMaxAge,
		observer: cfg.Observer, issuer: cfg.Issuer}
}

// KeyRetryError reports that no key of the provider's cached key set
// verifies a token and the key set cannot be fetched again before RetryAt:
// either an unknown key ID arrived within Config.JWKSRefetchInterval of the
// last refetch (Err wraps [ErrKeyRefetchLimited]), or the last fetch failed
// and its back-off has not passed (Err wraps [ErrProviderUnavailable]). The
// token may be genuine (signed by a key rotated in moments ago): answer "try
// again later", after RetryAfter, not "invalid".
type KeyRetryError struct {
	// RetryAt is the instant, on the client's clock, from which a fetch is
	// allowed again.
	RetryAt time.Time
	// RetryAfter is RetryAt minus the client's clock when the error was
	// made: what an HTTP Retry-After tells the sender.
	RetryAfter time.Duration
	// Err is ErrKeyRefetchLimited, or the failed fetch's error.
	Err error
}

// Error says what could not be fetched and when it can be.
func (e *KeyRetryError) Error() string {
	return fmt.Sprintf("%v (keys can be fetched again in %s)", e.Err, e.RetryAfter.Round(time.Millisecond))
}

// Unwrap returns Err.
func (e *KeyRetryError) Unwrap() error { return e.Err }

// RetryAfterSeconds is the whole seconds an HTTP Retry-After header should
// carry for err: RetryAfter of the [*KeyRetryError] or the
// [*DiscoveryRetryError] err wraps, rounded up, at least 1. ok is false
// when err wraps neither.
func RetryAfterSeconds(err error) (secs int, ok bool) {
	var wait time.Duration
	var ke *KeyRetryError
	var de *DiscoveryRetryError
	switch {
	case errors.As(err, &ke):
		wait = ke.RetryAfter
	case errors.As(err, &de):
		wait = de.RetryAfter
	default:
		return 0, false
	}
	secs = int((wait + time.Second - 1) / time.Second)
	return max(secs, 1), true
}

// verify verifies jws, a parsed compact JWS with an asymmetric algorithm,
// with the provider's keys, and returns its payload.
func (s *keySet) verify(ctx context.Context, jws *jose.JSONWebSignature) ([]byte, error) {
	hdr := jws.Signatures[0].Protected
	cache := s.cur.Load()
	if cache != nil {
		if !s.now().Before(cache.expires) {
			s.refreshInBackground(cache)
		}
		if payload, found, err := cache.verify(jws, hdr); found {
			return payload, err
		}
	}
	return s.verifyUnknown(ctx, jws, hdr, cache)
}

// verifyUnknown handles a token that seen, the cache the caller looked in
// (nil: none yet), has no key for: it waits for a fetch, or starts one, or
// says when one will be possible.
func (s *keySet) verifyUnknown(ctx context.Context, jws *jose.JSONWebSignature, hdr jose.Header, seen *keyCache) ([]byte, error) {
	s.mu.Lock()
	// Fetches numbered above since started after this token was in hand:
	// a set they produced is authoritative for it.
	since := s.gen
	for {
		if cur := s.cur.Load(); cur != seen {
			// A fetch landed since the caller looked: try the new set.
			s.mu.Unlock()
			seen = cur
			if payload, found, err := cur.verify(jws, hdr); found {
				return payload, err
			}
			if cur.gen > since {
				return nil, fmt.Errorf("%w: no key %s in the provider's key set, fetched after the token arrived", ErrSignature, describeKey(hdr))
			}
			s.mu.Lock()
			continue
		}
		if f := s.inflight; f != nil {
			s.mu.Unlock()
			if err := s.wait(ctx, f); err != nil {
				return nil, err
			}
			s.mu.Lock()
			continue
		}
		now := s.now()
		if s.failures > 0 && now.Before(s.retryAt) {
			err := &KeyRetryError{RetryAt: s.retryAt, RetryAfter: s.retryAt.Sub(now), Err: s.lastErr}
			s.mu.Unlock()
			return nil, err
		}
		if seen != nil && s.cooldown > 0 && !s.lastRefetch.IsZero() && now.Before(s.lastRefetch.Add(s.cooldown)) {
			at := s.lastRefetch.Add(s.cooldown)
			s.mu.Unlock()
			err := &KeyRetryError{RetryAt: at, RetryAfter: at.Sub(now), Err: fmt.Errorf("%w: key %s", ErrKeyRefetchLimited, describeKey(hdr))}
			event.Emit(ctx, s.observer, event.Event{Kind: event.JWKSRefetchLimited, Issuer: s.issuer, Endpoint: "jwks", Err: err})
			return nil, err
		}
		// The first fetch (seen == nil) does not arm the cooldown: nothing
		// has been refetched yet. The fetch is shared: it outlives this
		// caller's context.
		f := s.startLocked(context.WithoutCancel(ctx), seen != nil, now)
		s.mu.Unlock()
		if err := s.wait(ctx, f); err != nil {
			return nil, err
		}
		s.mu.Lock()
	}
}

// wait waits for f. It returns f's error, or ctx's if ctx ends first (the
// fetch goes on for the other callers).
func (s *keySet) wait(ctx context.Context, f *keyFetch) error {
	select {
	case <-f.done:
		if f.err != nil {
			wait := max(f.retryAt.Sub(s.now()), 0)
			return &KeyRetryError{RetryAt: f.retryAt, RetryAfter: wait, Err: f.err}
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("rp: waiting for the provider's keys: %w", ctx.Err())
	}
}

// refreshInBackground starts a refresh of an expired cache, unless a fetch
// is in progress, the last one failed less than its back-off ago, or
// another caller refreshed it already.
func (s *keySet) refreshInBackground(expired *keyCache) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.inflight != nil || s.cur.Load() != expired || (s.failures > 0 && now.Before(s.retryAt)) {
		return
	}
	s.startLocked(context.Background(), false, now)
}

// startLocked starts a fetch in its own goroutine and registers it as the
// one in progress; s.mu is held. unknownKid marks a refetch for an unknown
// key ID, started at start, which arms the cooldown if it succeeds.
func (s *keySet) startLocked(ctx context.Context, unknownKid bool, start time.Time) *keyFetch {
	s.gen++
	f := &keyFetch{done: make(chan struct{}), gen: s.gen}
	s.inflight = f
	s.fetches.Add(1)
	go func() {
		defer s.fetches.Done()
		s.fetch(ctx, f, unknownKid, start)
	}()
	return f
}

// fetch performs f, publishes its outcome and reports it: once, before any
// caller waiting for f sees it.
func (s *keySet) fetch(ctx context.Context, f *keyFetch, unknownKid bool, start time.Time) {
	began := time.Now() // the monotonic clock, for the event's Duration
	keys, maxAge, err := s.get(ctx)
	ev := event.Event{Kind: event.JWKSFetched, Issuer: s.issuer, Endpoint: "jwks", Duration: time.Since(began)}
	if err != nil {
		ev = event.Event{Kind: event.JWKSFetchFailed, Issuer: s.issuer, Endpoint: "jwks", Err: err}
	}

	s.mu.Lock()
	now := s.now()
	if err != nil {
		s.failures++
		backoff := minKeyBackoff << min(s.failures-1, 30)
		if backoff > s.cooldown {
			backoff = s.cooldown
		}
		s.retryAt = now.Add(backoff)
		s.lastErr = err
		f.retryAt = s.retryAt
	} else {
		s.failures, s.lastErr = 0, nil
		if unknownKid {
			s.lastRefetch = start
		}
		age := s.maxAge
		if maxAge >= 0 && maxAge < age {
			age = max(maxAge, min(minKeyMaxAge, s.maxAge))
		}
		s.cur.Store(&keyCache{keys: keys, expires: now.Add(age), gen: f.gen})
	}
	s.inflight = nil
	f.err = err
	s.mu.Unlock()
	event.Emit(ctx, s.observer, ev)
	close(f.done)
}

// get fetches and parses the key set. maxAge is the provider's
// Cache-Control max-age less the response's Age, or -1 when it sent none.
func (s *keySet) get(ctx context.Context) (keys []jose.JSONWebKey, maxAge time.Duration, err error) {
	resp, err := get(ctx, s.hc, s.url, "application/json", nil)
	if err != nil {
		if errors.Is(err, ErrProviderUnavailable) {
			return nil, 0, fmt.Errorf("rp: fetching the JWKS: %w", err)
		}
		return nil, 0, fmt.Errorf("%w: JWKS: %w", ErrProviderUnavailable, err)
	}
	if resp.status != http.StatusOK {
		// A key set that cannot be fetched is not the token's fault.
		return nil, 0, fmt.Errorf("%w: JWKS answered HTTP %d", ErrProviderUnavailable, resp.status)
	}
	keys, err = parseKeySet(resp.body)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: JWKS: %w", ErrProviderUnavailable, err)
	}
	return keys, cacheMaxAge(resp.header), nil
}

// parseKeySet returns the public signing keys of a JWK Set. Members it
// cannot use (an unsupported key type, an encryption key) are skipped, not
// fatal: a provider may publish keys for other purposes beside its own.
func parseKeySet(body []byte) ([]jose.JSONWebKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("not a JWK Set: %v", err)
	}
	keys := make([]jose.JSONWebKey, 0, len(set.Keys))
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		if json.Unmarshal(raw, &k) != nil || !k.Valid() || k.Use == "enc" {
			continue
		}
		switch k.Key.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
			k = k.Public() // a provider's mistake; keep only the public half
		default:
			continue // symmetric keys never verify provider tokens
		}
		keys = append(keys, k)
	}
	if len(set.Keys) > 0 && len(keys) == 0 {
		return nil, fmt.Errorf("none of its %d keys is a usable signing key", len(set.Keys))
	}
	return keys, nil
}

// cacheMaxAge reads max-age from Cache-Control, less Age; -1 when absent.
func cacheMaxAge(h http.Header) time.Duration {
	for _, v := range h.Values("Cache-Control") {
		for _, d := range strings.Split(v, ",") {
			name, val, ok := strings.Cut(strings.TrimSpace(d), "=")
			if !ok || !strings.EqualFold(name, "max-age") {
				continue
			}
			secs, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64)
			if err != nil || secs < 0 {
				continue
			}
			if age, err := strconv.ParseInt(h.Get("Age"), 10, 64); err == nil && age > 0 {
				secs = max(secs-age, 0)
			}
			return time.Duration(min(secs, 1<<31)) * time.Second
		}
	}
	return -1
}

// verify verifies jws with the key it names. found is false when the cache
// has no key for it: its kid is unknown or, without a kid, no key fits its
// alg. With found true, a failure is ErrSignature.
func (c *keyCache) verify(jws *jose.JSONWebSignature, hdr jose.Header) (payload []byte, found bool, err error) {
	alg := hdr.Algorithm
	if hdr.KeyID != "" {
		// Several keys may share a kid (an RSA and an EC key, say): the
		// signature is bad only when none of them verifies it.
		for i := range c.keys {
			k := &c.keys[i]
			if k.KeyID != hdr.KeyID {
				continue
			}
			found = true
			if k.Algorithm != "" && k.Algorithm != alg {
				err = fmt.Errorf("%w: key %s is for %s, the token says %s", ErrSignature, describeKey(hdr), k.Algorithm, alg)
				continue
			}
			if payload, verr := jws.Verify(k); verr == nil {
				return payload, true, nil
			}
			err = fmt.Errorf("%w: key %s does not verify it", ErrSignature, describeKey(hdr))
		}
		return nil, found, err
	}
	// No kid: Core 10.1 requires one when the set has several keys; accept
	// its absence for the keys that fit the alg.
	for i := range c.keys {
		k := &c.keys[i]
		if !fitsAlg(k, alg) {
			continue
		}
		found = true
		if payload, err := jws.Verify(k); err == nil {
			return payload, true, nil
		}
	}
	if found {
		return nil, true, fmt.Errorf("%w: no cached %s key verifies a token without kid", ErrSignature, alg)
	}
	return nil, false, nil
}

// fitsAlg reports whether k can verify alg: its own "alg" if it has one,
// else its key type.
func fitsAlg(k *jose.JSONWebKey, alg string) bool {
	if k.Algorithm != "" {
		return k.Algorithm == alg
	}
	switch k.Key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		return strings.HasPrefix(alg, "ES")
	case ed25519.PublicKey:
		return alg == string(jose.EdDSA)
	}
	return false
}

// describeKey names the key a token asks for, for errors (which are
// logged: an attacker's kid is cut short).
func describeKey(hdr jose.Header) string {
	if hdr.KeyID == "" {
		return fmt.Sprintf("without kid for %s", hdr.Algorithm)
	}
	if kid := hdr.KeyID; len(kid) > 64 {
		return strconv.Quote(kid[:64]) + "…"
	}
	return strconv.Quote(hdr.KeyID)
}
