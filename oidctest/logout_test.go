package oidctest_test

import (
	"cmp"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpkit/rpkit/oidctest"
)

// endSession sends a logout request without following redirects.
func endSession(t *testing.T, p *oidctest.Provider, method string, params url.Values) *http.Response {
	t.Helper()
	var req *http.Request
	if method == http.MethodPost {
		req, _ = http.NewRequest(method, p.URL("/end_session"), strings.NewReader(params.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req, _ = http.NewRequest(method, p.URL("/end_session?"+params.Encode()), nil)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestEndSession(t *testing.T) {
	const registered = "http://127.0.0.1:9/bye?keep=1"
	clk := newClock()
	p := oidctest.Start(t, oidctest.Config{Now: clk.Now, Clients: []oidctest.Client{
		{ID: oidctest.DefaultClientID, Secret: oidctest.DefaultClientSecret, PostLogoutRedirectURIs: []string{registered}},
		{ID: "loose", AuthMethod: "none"},
	}})
	hint := loginTokens(t, p)["id_token"].(string)
	sid := p.Sessions()[0].SID

	tests := []struct {
		name     string
		method   string
		params   url.Values
		status   int
		location string
		ends     bool
	}{
		{"unregistered redirect", "GET", url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"http://127.0.0.1:9/other"}, "state": {"s"}}, 400, "", false},
		{"invalid hint", "GET", url.Values{"id_token_hint": {hint[:len(hint)-4] + "AAAA"}, "post_logout_redirect_uri": {registered}}, 400, "", false},
		{"garbage hint", "GET", url.Values{"id_token_hint": {"x.y.z"}}, 400, "", false},
		{"client_id not the hint's audience", "GET", url.Values{"id_token_hint": {hint}, "client_id": {"loose"}}, 400, "", false},
		{"redirect without client", "GET", url.Values{"post_logout_redirect_uri": {registered}}, 400, "", false},
		{"unknown client", "GET", url.Values{"client_id": {"nope"}}, 400, "", false},
		{"no redirect", "GET", url.Values{"client_id": {"loose"}}, 200, "", false},
		{"loopback redirect for a client without registrations", "POST",
			url.Values{"client_id": {"loose"}, "post_logout_redirect_uri": {"http://localhost:9/out"}}, 302, "http://localhost:9/out", false},
		{"expired hint, redirect with state", "GET",
			url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {registered}, "state": {"st 1"}, "ui_locales": {"fr"}, "x-extra": {"1"}},
			302, "http://127.0.0.1:9/bye?keep=1&state=st+1", true},
	}
	clk.Advance(2 * time.Hour) // the hint has expired: still accepted
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := endSession(t, p, tt.method, tt.params)
			if resp.StatusCode != tt.status || resp.Header.Get("Location") != tt.location {
				t.Errorf("%d %q, want %d %q", resp.StatusCode, resp.Header.Get("Location"), tt.status, tt.location)
			}
			if ended := len(p.Sessions()) == 0; ended != tt.ends {
				t.Errorf("session ended: %v, want %v", ended, tt.ends)
			}
			reqs := p.EndSessionRequests()
			if len(reqs) != i+1 || reqs[i].Method != tt.method || reqs[i].Params.Encode() != tt.params.Encode() {
				t.Errorf("EndSessionRequests[%d] = %+v", i, reqs[i])
			}
		})
	}
	if p.EndSession(sid) {
		t.Error("session still live")
	}
	if got := p.Count("end_session"); got != len(tests) {
		t.Errorf("Count(end_session) = %d", got)
	}
}

// receiver is a back-channel logout endpoint recording the tokens posted.
type receiver struct {
	mu     sync.Mutex
	tokens []string
	forms  []url.Values
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	r.ParseForm()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.tokens = append(rc.tokens, r.PostForm.Get("logout_token"))
	rc.forms = append(rc.forms, r.PostForm)
}

func TestBackchannelLogout(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
	}))
	defer failing.Close()

	clk := newClock()
	p := oidctest.Start(t, oidctest.Config{Now: clk.Now, LogoutTokenTTL: 90 * time.Second, Clients: []oidctest.Client{
		{ID: oidctest.DefaultClientID, Secret: oidctest.DefaultClientSecret, BackchannelLogoutURI: srv.URL + "/logout"},
		{ID: "failing", AuthMethod: "none", BackchannelLogoutURI: failing.URL},
		{ID: "silent", AuthMethod: "none"},
		{ID: "unused", AuthMethod: "none", BackchannelLogoutURI: srv.URL},
	}})
	loginTokens(t, p)
	authorize(t, p, "failing")
	authorize(t, p, "silent")
	sid := p.Sessions()[0].SID

	results, err := p.BackchannelLogout(context.Background(), sid)
	if err != nil {
		t.Fatal(err)
	}
	want := []oidctest.BackchannelResult{
		{ClientID: oidctest.DefaultClientID, URI: srv.URL + "/logout", Status: 200},
		{ClientID: "failing", URI: failing.URL, Status: 400},
	}
	if len(results) != len(want) || results[0] != want[0] || results[1] != want[1] {
		t.Errorf("results %+v", results)
	}
	if len(p.Sessions()) != 0 {
		t.Error("session not ended")
	}
	if len(rc.tokens) != 1 || len(rc.forms[0]) != 1 {
		t.Fatalf("received %v", rc.forms)
	}
	h, c := verify(t, p, rc.tokens[0])
	if h.ExtraHeaders["typ"] != "logout+jwt" || h.KeyID != p.SigningKeyIDs()[0] {
		t.Errorf("header %+v", h)
	}
	events, _ := c["events"].(map[string]any)
	event, ok := events["http://schemas.openid.net/event/backchannel-logout"].(map[string]any)
	now := float64(clk.Now().Unix())
	if !ok || len(event) != 0 || len(events) != 1 || c["iss"] != p.Issuer() || c["aud"] != oidctest.DefaultClientID ||
		c["sub"] != oidctest.DefaultSubject || c["sid"] != sid || c["iat"] != now || c["exp"] != now+90 || c["jti"] == "" || c["nonce"] != nil {
		t.Errorf("claims %v", c)
	}

	if _, err := p.BackchannelLogout(context.Background(), sid); err == nil {
		t.Error("second logout of the same session: no error")
	}
	if _, err := p.PostLogoutToken(context.Background(), "http://example.com/logout", "x"); err == nil {
		t.Error("non-loopback URI accepted")
	}
}

func TestLogoutToken(t *testing.T) {
	p := oidctest.Start(t, oidctest.Config{SigningAlg: "ES256"})
	tests := []struct {
		opts    oidctest.LogoutTokenOptions
		present []string
		absent  []string
	}{
		{oidctest.LogoutTokenOptions{SID: "s1"}, []string{"sid"}, []string{"sub"}},
		{oidctest.LogoutTokenOptions{Subject: "alice", ClientID: "x"}, []string{"sub"}, []string{"sid"}},
		{oidctest.LogoutTokenOptions{}, nil, []string{"sub", "sid"}},
	}
	jtis := map[string]bool{}
	for _, tt := range tests {
		raw, err := p.LogoutToken(tt.opts)
		if err != nil {
			t.Fatal(err)
		}
		h, c := verify(t, p, raw)
		if h.Algorithm != "ES256" || c["aud"] != cmp.Or(tt.opts.ClientID, oidctest.DefaultClientID) || c["exp"].(float64)-c["iat"].(float64) != 120 {
			t.Errorf("%+v: header %+v claims %v", tt.opts, h, c)
		}
		for _, k := range tt.present {
			if c[k] == nil {
				t.Errorf("%+v: %s missing", tt.opts, k)
			}
		}
		for _, k := range tt.absent {
			if _, ok := c[k]; ok {
				t.Errorf("%+v: %s present", tt.opts, k)
			}
		}
		jti := c["jti"].(string)
		if jtis[jti] || len(jti) < 22 {
			t.Errorf("jti %q", jti)
		}
		jtis[jti] = true
	}
	// PostLogoutToken reaches a loopback receiver.
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	resp, err := p.PostLogoutToken(context.Background(), srv.URL, "tok")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || rc.tokens[0] != "tok" {
		t.Errorf("%d %v", resp.StatusCode, rc.tokens)
	}
}

func TestFrontchannelLogoutURL(t *testing.T) {
	p := oidctest.Start(t, oidctest.Config{Clients: []oidctest.Client{
		{ID: "fc", AuthMethod: "none", FrontchannelLogoutURI: "https://rp.example/fc?tenant=a"},
		{ID: "none", AuthMethod: "none"},
	}})
	got, err := p.FrontchannelLogoutURL("fc", "sid-1")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(got)
	if u.Host != "rp.example" || u.Path != "/fc" || u.Query().Get("tenant") != "a" || u.Query().Get("iss") != p.Issuer() || u.Query().Get("sid") != "sid-1" {
		t.Errorf("URL %s", got)
	}
	for _, id := range []string{"none", "unknown"} {
		if _, err := p.FrontchannelLogoutURL(id, "s"); err == nil {
			t.Errorf("%s: no error", id)
		}
	}
}
