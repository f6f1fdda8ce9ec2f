package frontchannel_test

import (
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/rpkit/rpkit/event"
	"github.com/rpkit/rpkit/frontchannel"
	"github.com/rpkit/rpkit/internal/eventtest"
)

// TestEvents: each logout carried out is reported once with the sessions
// it ended (none for a repeat), each refused request (a foreign iss, a
// HEAD) once with why.
func TestEvents(t *testing.T) {
	rec := &eventtest.Recorder{}
	e := setup(t, func(c *frontchannel.Config) { c.Observer = rec })
	e.add(t, "sid-1")
	e.add(t, "sid-1")
	q := func(v url.Values) string { return e.srv.URL + "/frontchannel-logout?" + v.Encode() }
	get(t, q(url.Values{"iss": {e.p.Issuer()}, "sid": {"sid-1"}}))
	get(t, q(url.Values{"iss": {e.p.Issuer()}, "sid": {"sid-1"}})) // again: ends none
	get(t, q(url.Values{"iss": {"https://evil.example"}, "sid": {"sid-1"}}))
	if resp, err := http.Head(q(url.Values{"iss": {e.p.Issuer()}, "sid": {"sid-1"}})); err == nil {
		resp.Body.Close()
	}

	got := rec.Events()
	want := []struct {
		kind  event.Kind
		count int
	}{{event.SessionEnded, 2}, {event.SessionEnded, 0}, {event.FrontChannelRefused, 0}, {event.FrontChannelRefused, 0}}
	if len(got) != len(want) {
		t.Fatalf("events %v, want %v", rec.Kinds(), want)
	}
	for i, w := range want {
		if got[i].Kind != w.kind || got[i].Count != w.count || got[i].Issuer != e.p.Issuer() {
			t.Fatalf("event %d: %+v, want %s count %d", i, got[i], w.kind, w.count)
		}
		if w.kind == event.SessionEnded && got[i].Reason != event.ReasonFrontChannel {
			t.Fatalf("event %d: reason %q", i, got[i].Reason)
		}
		if w.kind == event.FrontChannelRefused && !errors.Is(got[i].Err, frontchannel.ErrRequest) {
			t.Fatalf("event %d: error %v, want ErrRequest", i, got[i].Err)
		}
	}
}
