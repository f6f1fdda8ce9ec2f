package rp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

// ErrNotDiscovered is matched by every [*DiscoveryRetryError]: a client
// built with Config.LazyDiscovery has not discovered its provider yet.
var ErrNotDiscovered = errors.New("rp: the provider has not been discovered yet")

// DiscoveryRetryError is the error of every call that needs the provider,
// made before a client built with Config.LazyDiscovery has discovered it.
// It matches [ErrNotDiscovered] and [ErrProviderUnavailable] (answer "try
// again later": an HTTP adapter answers 503 with a Retry-After of
// [RetryAfterSeconds]), and unwraps to Err, the last attempt's error.
type DiscoveryRetryError struct {
	// RetryAt is the instant, on the client's clock, of the next attempt;
	// a second from now while one is in progress.
	RetryAt time.Time
	// RetryAfter is RetryAt minus the client's clock when the error was
	// made.
	RetryAfter time.Duration
	// Err is the last attempt's error, nil while the first one is in
	// progress: an error wrapping ErrProviderUnavailable for a provider
	// that cannot be reached, or one wrapping ErrIssuerMismatch,
	// ErrDiscovery or ErrConfig for a mistake in the configuration (the
	// issuer URL names something that is not the provider, say), which is
	// retried all the same and only a change of configuration mends.
	Err error
}

// Error says that the provider is not discovered, when it will be tried
// again, and why the last attempt failed.
func (e *DiscoveryRetryError) Error() string {
	s := fmt.Sprintf("%v (next attempt in %s)", ErrNotDiscovered, e.RetryAfter.Round(time.Millisecond))
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is matches ErrNotDiscovered and ErrProviderUnavailable.
func (e *DiscoveryRetryError) Is(target error) bool {
	return target == ErrNotDiscovered || target == ErrProviderUnavailable
}

// Unwrap returns Err.
func (e *DiscoveryRetryError) Unwrap() error { return e.Err }

// provider is what discovery settles, the provider as the client uses it.
// It is never modified once published.
type provider struct {
	meta   Metadata
	method AuthMethod
	algs   []jose.SignatureAlgorithm // allowed for ID and logout tokens

	// token carries the requests with client authentication; like
	// Client.http, it bounds each by Config.ProviderTimeout.
	token *http.Client
	keys  *keySet // the provider's JWKS (keyset.go)

	tenantIssuer string // with Config.MultiTenant: the iss template
	oauth2       oauth2.Config
	names        []namedEndpoint // the endpoints rp calls, for events
}

// Back-off between discovery attempts (Config.LazyDiscovery).
const (
	minDiscoveryBackoff = time.Second
	maxDiscoveryBackoff = time.Minute
)

// discovery holds the provider once discovered, and the state of lazy
// discovery until then. One attempt runs at a time; after a failed one,
// the next waits for a back-off of 1 s, doubling up to a minute, measured
// on the client's clock. Attempts are started by the background loop
// (New's, and Client.Ready's) and by calls that need the provider.
type discovery struct {
	cur   atomic.Pointer[provider] // nil until discovered
	ready chan struct{}            // closed when cur is set

	mu       sync.Mutex
	attempt  *discoveryAttempt // in progress; nil when none
	failures int               // consecutive failed attempts
	retryAt  time.Time         // no attempt before this instant
	lastErr  error             // the last attempt's error

	// running counts the goroutines of lazy discovery (the background
	// loop, attempts), so that tests can wait for them (export_test.go).
	running sync.WaitGroup
}

// discoveryAttempt is one attempt that callers may wait for.
type discoveryAttempt struct {
	done chan struct{}
}

func newDiscovery() *discovery { return &discovery{ready: make(chan struct{})} }

// current returns the provider, nil before it is discovered.
func (d *discovery) current() *provider { return d.cur.Load() }

// publish makes p the provider, once.
func (d *discovery) publish(p *provider) {
	if d.cur.CompareAndSwap(nil, p) {
		close(d.ready)
	}
}

// background starts the loop of attempts of a lazy client, which ends
// when the provider is discovered or ctx is done.
func (d *discovery) background(ctx context.Context, c *Client) {
	d.running.Add(1)
	go func() {
		defer d.running.Done()
		c.discoverUntil(ctx)
	}()
}

// discoverUntil makes attempts, each as soon as the back-off allows, until
// one succeeds or ctx is done (none when it is done already). An attempt
// in progress goes on after ctx is done (ProviderTimeout bounds it), so
// that its outcome is recorded.
func (c *Client) discoverUntil(ctx context.Context) {
	d := c.d
	for ctx.Err() == nil {
		d.mu.Lock()
		if d.current() != nil {
			d.mu.Unlock()
			return
		}
		a := d.attempt
		var wait time.Duration
		if a == nil {
			if wait = d.retryAt.Sub(c.cfg.Now()); wait <= 0 {
				a = c.startAttemptLocked(context.WithoutCancel(ctx))
			}
		}
		d.mu.Unlock()
		if a != nil {
			select {
			case <-a.done:
			case <-ctx.Done():
				return
			}
			continue
		}
		// The back-off is measured on the client's clock; the timer runs
		// on the real one, at most a maximum back-off at a time, so that a
		// clock that jumps does not stall the loop.
		timer := time.NewTimer(min(wait, maxDiscoveryBackoff))
		select {
		case <-timer.C:
		case <-d.ready:
			timer.Stop()
			return
		case <-ctx.Done():
			timer.Stop()
			return
		}
	}
}

// startAttemptLocked starts an attempt in its own goroutine; d.mu is held.
func (c *Client) startAttemptLocked(ctx context.Context) *discoveryAttempt {
	d := c.d
	a := &discoveryAttempt{done: make(chan struct{})}
	d.attempt = a
	d.running.Add(1)
	go func() {
		defer d.running.Done()
		p, err := c.discover(ctx)
		d.mu.Lock()
		if err == nil {
			d.failures, d.lastErr = 0, nil
			d.publish(p)
		} else {
			d.failures++
			d.lastErr = err
			d.retryAt = c.cfg.Now().Add(min(minDiscoveryBackoff<<min(d.failures-1, 30), maxDiscoveryBackoff))
		}
		d.attempt = nil
		d.mu.Unlock()
		close(a.done)
	}()
	return a
}

// provider returns the discovered provider. Before discovery, a call
// that finds that the back-off allows an attempt starts one and waits for
// it (within ctx; ProviderTimeout bounds the attempt), so that the first
// request after the provider is back succeeds. A call that finds the
// first attempt in progress (the application has just started) waits for
// it too, so that the first requests after a start do not fail while the
// provider answers. Once an attempt has failed, a call that finds an
// attempt in progress, or the back-off running, fails at once, so that an
// unresponsive provider holds one request at a time, not all of them. The
// error is a *DiscoveryRetryError.
func (c *Client) provider(ctx context.Context) (*provider, error) {
	d := c.d
	if p := d.current(); p != nil {
		return p, nil
	}
	d.mu.Lock()
	if p := d.current(); p != nil {
		d.mu.Unlock()
		return p, nil
	}
	var a *discoveryAttempt
	switch {
	case d.attempt == nil && !c.cfg.Now().Before(d.retryAt):
		// The attempt is shared: it outlives the caller's context.
		a = c.startAttemptLocked(context.WithoutCancel(ctx))
	case d.attempt != nil && d.failures == 0:
		a = d.attempt // the first attempt, at startup
	}
	d.mu.Unlock()
	if a != nil {
		select {
		case <-a.done:
			if p := d.current(); p != nil {
				return p, nil
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (%w)", c.notDiscovered(), ctx.Err())
		}
	}
	return nil, c.notDiscovered()
}

// providerNow is provider for the calls that take no context (StartLogin,
// EndSessionURL, EndSessionForm): ProviderTimeout bounds their wait.
func (c *Client) providerNow() (*provider, error) {
	return c.provider(context.Background())
}

// notDiscovered is the error of a call before discovery; nil once the
// provider is discovered.
func (c *Client) notDiscovered() error {
	d := c.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.current() != nil {
		return nil
	}
	now := c.cfg.Now()
	at := d.retryAt
	if d.attempt != nil || !now.Before(at) {
		at = now.Add(minDiscoveryBackoff) // an attempt is in progress, or may start at once
	}
	return &DiscoveryRetryError{RetryAt: at, RetryAfter: at.Sub(now), Err: d.lastErr}
}

// Discovered reports whether the client has discovered its provider: nil
// once it has (from New on, for a client without Config.LazyDiscovery),
// else a [*DiscoveryRetryError] whose Err is why the last attempt failed —
// what an application's health check shows: the provider cannot be reached,
// or the issuer URL names something else (ErrIssuerMismatch, an HTML page)
// — and whose RetryAt is when the next attempt may start. It does no I/O
// and starts no attempt.
func (c *Client) Discovered() error { return c.notDiscovered() }

// Ready waits until the client has discovered its provider or ctx is
// done, making attempts as the back-off allows (one at once if it allows),
// and returns what [Client.Discovered] then reports. For a client without
// Config.LazyDiscovery it returns nil at once.
func (c *Client) Ready(ctx context.Context) error {
	if c.d.current() == nil {
		c.discoverUntil(ctx)
	}
	return c.Discovered()
}
