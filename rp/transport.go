package rp

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/rpkit/rpkit/event"
)

// deadlineTransport carries every request to the provider: the Client's
// plain and authenticating HTTP clients both end in it. It does two jobs:
//
//   - It gives each request a deadline timeout from now, unless its context
//     carries one of deadlineTransport's already (do sets it for the whole
//     call, redirects included; x/oauth2's token requests get it here, per
//     request, and c.token follows no redirect). The deadline lasts until
//     the response body is closed, so it bounds the reading of the body
//     too.
//   - It reports one event.ProviderCall per request: Endpoint names the
//     endpoint (never the URL), Status the answer's (0 when none came, with
//     Err), Duration the time from sending the request to the end of its
//     body (read to its end, or closed, whichever comes first).
type deadlineTransport struct {
	base    http.RoundTripper
	timeout time.Duration

	observer event.Observer // nil: no events
	issuer   string
	name     func(*url.URL) string // the endpoint a request goes to
}

// boundedKey marks a context that deadlineTransport.bound bounded.
type boundedKey struct{}

// bound returns ctx with the deadline, unless it has it already.
func (t *deadlineTransport) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx.Value(boundedKey{}) != nil {
		return ctx, func() {}
	}
	cause := fmt.Errorf("rp: no answer from the provider within ProviderTimeout (%s): %w", t.timeout, context.DeadlineExceeded)
	ctx, cancel := context.WithTimeoutCause(ctx, t.timeout, cause)
	return context.WithValue(ctx, boundedKey{}, true), cancel
}

// RoundTrip sends req with the deadline, and reports it once its answer
// has been read.
func (t *deadlineTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	call := t.begin(req)
	cancel := context.CancelFunc(func() {})
	if req.Context().Value(boundedKey{}) == nil {
		var ctx context.Context
		ctx, cancel = t.bound(req.Context())
		req = req.WithContext(ctx)
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		cancel()
		call.end(0, err)
		return nil, err
	}
	resp.Body = &callBody{ReadCloser: resp.Body, cancel: cancel, call: call, status: resp.StatusCode}
	return resp, nil
}

// begin starts the report of one request; nil when there is no observer.
func (t *deadlineTransport) begin(req *http.Request) *providerCall {
	if t.observer == nil {
		return nil
	}
	name := "other"
	if t.name != nil {
		name = t.name(req.URL)
	}
	return &providerCall{
		ctx:   req.Context(),
		obs:   t.observer,
		ev:    event.Event{Kind: event.ProviderCall, Issuer: t.issuer, Endpoint: name},
		start: time.Now(),
	}
}

// providerCall is the report of one request, made exactly once.
type providerCall struct {
	ctx   context.Context
	obs   event.Observer
	ev    event.Event
	start time.Time // the monotonic clock: a latency, not a time of day
	once  sync.Once
}

// end reports the request, the first time it is called; a nil call does
// nothing.
func (c *providerCall) end(status int, err error) {
	if c == nil {
		return
	}
	c.once.Do(func() {
		c.ev.Status, c.ev.Err, c.ev.Duration = status, err, time.Since(c.start)
		if h, ok := c.ctx.Value(heldKey{}).(*heldCall); ok {
			h.hold(c.ctx, c.obs, c.ev)
			return
		}
		event.Emit(c.ctx, c.obs, c.ev)
	})
}

// callBody is an answer's body: closing it releases the request's deadline,
// and reading it to its end or closing it ends the request's report.
type callBody struct {
	io.ReadCloser
	cancel context.CancelFunc
	call   *providerCall
	status int
}

func (b *callBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF:
		b.call.end(b.status, nil)
	case err != nil:
		b.call.end(b.status, err)
	}
	return n, err
}

func (b *callBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	b.call.end(b.status, nil)
	return err
}

// heldKey marks a request whose caller reports its event.ProviderCall
// itself (discovery), so that the report can carry what the caller found
// wrong with an answer that HTTP-wise succeeded: an HTML page, another
// issuer.
type heldKey struct{}

// heldCall keeps the report of a request for its caller.
type heldCall struct {
	mu  sync.Mutex
	ctx context.Context
	obs event.Observer
	ev  *event.Event
}

// holdCalls returns ctx marked so that the transport hands its reports to
// the returned heldCall instead of the observer.
func holdCalls(ctx context.Context) (context.Context, *heldCall) {
	h := &heldCall{}
	return context.WithValue(ctx, heldKey{}, h), h
}

// hold keeps ev. A report kept already (a redirect's first hop) is made
// now: only the last request's answer is the one the caller judges.
func (h *heldCall) hold(ctx context.Context, obs event.Observer, ev event.Event) {
	h.mu.Lock()
	prev, prevCtx, prevObs := h.ev, h.ctx, h.obs
	h.ctx, h.obs, h.ev = ctx, obs, &ev
	h.mu.Unlock()
	if prev != nil {
		event.Emit(prevCtx, prevObs, *prev)
	}
}

// release makes the kept report, with err as its Err unless the request
// itself failed.
func (h *heldCall) release(err error) {
	h.mu.Lock()
	ev, ctx, obs := h.ev, h.ctx, h.obs
	h.ev = nil
	h.mu.Unlock()
	if ev == nil {
		return
	}
	if ev.Err == nil {
		ev.Err = err
	}
	event.Emit(ctx, obs, *ev)
}

// namedEndpoint is one provider endpoint that rp calls, for events.
type namedEndpoint struct {
	name, scheme, host, path string
}

// endpointList lists the endpoints rp calls: discovery (at the issuer's
// well-known URL) and, when m is not nil, those m names.
func endpointList(issuer string, m *Metadata) []namedEndpoint {
	var list []namedEndpoint
	add := func(name, raw string) {
		if raw == "" {
			return
		}
		if u, err := url.Parse(raw); err == nil {
			list = append(list, namedEndpoint{name, strings.ToLower(u.Scheme), strings.ToLower(u.Host), u.Path})
		}
	}
	add("discovery", wellKnownURL(issuer))
	if m != nil {
		add("token", m.TokenEndpoint)
		add("jwks", m.JWKSURI)
		add("userinfo", m.UserInfoEndpoint)
		add("revocation", m.RevocationEndpoint)
		add("introspection", m.IntrospectionEndpoint)
	}
	return list
}

// nameOf names the endpoint of u, ignoring its query; "other" when u is
// none of list's (a redirect's target, say).
func nameOf(list []namedEndpoint, u *url.URL) string {
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	for _, e := range list {
		if e.scheme == scheme && e.host == host && e.path == u.Path {
			return e.name
		}
	}
	return "other"
}
