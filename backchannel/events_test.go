package backchannel_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/rpkit/rpkit/backchannel"
	ev "github.com/rpkit/rpkit/event"
	"github.com/rpkit/rpkit/internal/eventtest"
	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
	"github.com/rpkit/rpkit/session"
)

// TestEvents: each logout carried out, token refused and replay refused is
// reported once; a 503 (the provider retries) refuses nothing. The
// handler reports to the client's observer when it has none of its own.
func TestEvents(t *testing.T) {
	tests := []struct {
		name    string
		own     bool // Config.Observer, rather than rp.Config.Observer
		act     func(t *testing.T, r *receiver)
		want    []ev.Kind
		count   int   // of the SessionEnded event
		wantErr error // of the last event
	}{
		{name: "logout ends two sessions", act: func(t *testing.T, r *receiver) {
			r.add(t, "alice", "sid-1")
			r.add(t, "alice", "sid-1")
			r.post(t, oidctest.LogoutTokenOptions{Subject: "alice", SID: "sid-1"})
		}, want: []ev.Kind{ev.SessionEnded}, count: 2},
		{name: "logout of no local session", own: true, act: func(t *testing.T, r *receiver) {
			r.post(t, oidctest.LogoutTokenOptions{SID: "sid-9"})
		}, want: []ev.Kind{ev.SessionEnded}},
		{name: "replay", act: func(t *testing.T, r *receiver) {
			raw, err := r.p.LogoutToken(oidctest.LogoutTokenOptions{Subject: "alice"})
			if err != nil {
				t.Fatal(err)
			}
			r.postRaw(t, raw)
			r.postRaw(t, raw)
		}, want: []ev.Kind{ev.SessionEnded, ev.ReplayRefused}, wantErr: backchannel.ErrReplay},
		{name: "wrong audience", own: true, act: func(t *testing.T, r *receiver) {
			r.p.SetTokenHook(oidctest.LogoutToken, func(m *oidctest.Mint) { m.Claims["aud"] = "other" })
			r.post(t, oidctest.LogoutTokenOptions{Subject: "alice"})
		}, want: []ev.Kind{ev.LogoutTokenRefused}, wantErr: rp.ErrAudience},
		{name: "not a form", act: func(t *testing.T, r *receiver) {
			resp, err := http.Post(r.uri, "application/json", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}, want: []ev.Kind{ev.LogoutTokenRefused}, wantErr: backchannel.ErrRequest},
		{name: "store down: 503, nothing refused", own: true, act: func(t *testing.T, r *receiver) {
			r.store.(*downStore).down = true
			if a := r.post(t, oidctest.LogoutTokenOptions{Subject: "alice"}); a.status != http.StatusServiceUnavailable {
				t.Fatalf("store down: %d", a.status)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &eventtest.Recorder{}
			store := &downStore{MemoryStore: session.NewMemoryStore(session.MemoryConfig{})}
			cfg, rcfg := func(c *backchannel.Config) { c.Observer = rec }, func(*rp.Config) {}
			if !tc.own {
				cfg, rcfg = nil, func(c *rp.Config) { c.Observer = rec }
			}
			r := newReceiver(t, store, cfg, rcfg)
			tc.act(t, r)
			got := rec.Kinds(ev.ProviderCall, ev.JWKSFetched)
			if len(got) != len(tc.want) {
				t.Fatalf("events %v, want %v", got, tc.want)
			}
			for i, k := range tc.want {
				if got[i] != k {
					t.Fatalf("events %v, want %v", got, tc.want)
				}
			}
			all := rec.Events()
			for _, e := range all {
				if e.Kind == ev.SessionEnded && (e.Count != tc.count || e.Reason != ev.ReasonBackChannel || e.Issuer != r.p.Issuer()) {
					t.Errorf("session_ended: %+v, want count %d, reason back_channel", e, tc.count)
				}
			}
			if tc.wantErr != nil {
				last := rec.Of(tc.want[len(tc.want)-1])
				if !errors.Is(last[len(last)-1].Err, tc.wantErr) {
					t.Fatalf("error %v, want %v", last[len(last)-1].Err, tc.wantErr)
				}
			}
		})
	}
}

// downStore is a memory store whose Logout fails while down is set.
type downStore struct {
	*session.MemoryStore
	down bool
}

func (d *downStore) Logout(ctx context.Context, l session.Logout) (int, error) {
	if d.down {
		return 0, errors.New("store down")
	}
	return d.MemoryStore.Logout(ctx, l)
}
