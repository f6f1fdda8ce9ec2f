package faults_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rpkit/rpkit/backchannel"
	"github.com/rpkit/rpkit/frontchannel"
	"github.com/rpkit/rpkit/internal/faultproxy"
	"github.com/rpkit/rpkit/middleware"
	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
	"github.com/rpkit/rpkit/session"
	"github.com/rpkit/rpkit/session/redisstore"
)

// world is one provider and the instances of one application that share a
// Redis, each through proxies of its own. The instances reach the provider
// (token endpoint, JWKS) through one more proxy; the browsers and the
// provider's own logout requests do not.
type world struct {
	p         *oidctest.Provider
	op        *faultproxy.Proxy // in front of the provider, for the instances
	cookies   *session.CookieCodec
	instances []*instance
}

// instance is one application instance: the middleware's routes, GET /me,
// the back- and front-channel receivers, and its own Redis client whose
// every connection goes through a fault proxy (one per Redis node).
type instance struct {
	url     string
	store   *redisstore.Store
	rdb     redis.UniversalClient
	proxies []*faultproxy.Proxy
}

// newWorld starts a provider that knows the users, and n instances over
// the Redis at addrs (one address: a single server; more: a cluster's
// masters). hook, when not nil, is added to every instance's Redis client.
func newWorld(t *testing.T, addrs []string, n int, users []string, hook redis.Hook) *world {
	t.Helper()
	var us []oidctest.User
	for _, u := range users {
		us = append(us, oidctest.User{Subject: u})
	}
	if len(us) == 0 {
		us = []oidctest.User{{Subject: oidctest.DefaultSubject}}
	}
	w := &world{p: oidctest.Start(t, oidctest.Config{Users: us, AccessTokenTTL: 3 * time.Second})}
	u, err := url.Parse(w.p.Issuer())
	if err != nil {
		t.Fatal(err)
	}
	w.op = faultproxy.Start(t, u.Host)
	if w.cookies, err = session.NewCookieCodec([]byte("faults-suite-cookie-secret-0123456789")); err != nil {
		t.Fatal(err)
	}
	for range n {
		w.instances = append(w.instances, w.newInstance(t, addrs, hook))
	}
	return w
}

func (w *world) newInstance(t *testing.T, addrs []string, hook redis.Hook) *instance {
	t.Helper()
	in := &instance{}
	route := map[string]string{} // node address → its proxy
	for _, a := range addrs {
		px := faultproxy.Start(t, a)
		in.proxies = append(in.proxies, px)
		route[a] = px.Addr()
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if to, ok := route[addr]; ok {
			addr = to
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	// go-redis's default options on purpose: its retries of a command whose
	// reply came late are one of the faults under test.
	if len(addrs) == 1 {
		in.rdb = redis.NewClient(&redis.Options{Addr: addrs[0], Dialer: dial})
	} else {
		in.rdb = redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, Dialer: dial})
	}
	t.Cleanup(func() { in.rdb.Close() })
	if hook != nil {
		in.rdb.AddHook(hook)
	}
	var err error
	if in.store, err = redisstore.New(t.Context(), in.rdb, redisstore.Config{Prefix: "faults:"}); err != nil {
		t.Fatal(err)
	}

	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { h.ServeHTTP(rw, r) }))
	t.Cleanup(srv.Close)
	in.url = srv.URL
	// Every request to the provider goes through its proxy.
	toOP := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, w.op.Addr())
		},
	}}
	t.Cleanup(toOP.CloseIdleConnections)
	client, err := rp.New(t.Context(), rp.Config{Issuer: w.p.Issuer(), ClientID: oidctest.DefaultClientID,
		ClientSecret: oidctest.DefaultClientSecret, RedirectURL: srv.URL + "/callback", PostLogoutRedirectURL: srv.URL + "/",
		Scopes: []string{"offline_access"}, HTTPClient: toOP})
	if err != nil {
		t.Fatal(err)
	}
	quiet := quietLogger()
	m, err := middleware.New(middleware.Config{Client: client, Store: in.store, Cookies: w.cookies,
		DefaultReturnTo: "/me", RefreshLeeway: time.Second, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	bc, err := backchannel.New(backchannel.Config{Verifier: client, Sessions: in.store, Replay: in.store, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	fc, err := frontchannel.New(frontchannel.Config{Issuer: w.p.Issuer(), Sessions: in.store, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/login", m.Routes())
	mux.Handle("/callback", m.Routes())
	mux.Handle("/logout", m.Routes())
	mux.Handle("/backchannel-logout", bc)
	mux.Handle("/frontchannel-logout", fc)
	mux.Handle("GET /me", m.RequireAuth(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		s, _ := middleware.SessionFromContext(r.Context())
		io.WriteString(rw, s.Subject)
	})))
	h = mux
	return in
}

// proxies returns every instance's proxies, and the provider's.
func (w *world) proxies() []*faultproxy.Proxy {
	all := []*faultproxy.Proxy{w.op}
	for _, in := range w.instances {
		all = append(all, in.proxies...)
	}
	return all
}

// heal disarms every fault and lets connections through again.
func (w *world) heal() {
	for _, px := range w.proxies() {
		px.Disarm()
		px.Refuse(false)
	}
}

// browser is one user's browser: no cookie jar, no redirects followed, so
// that the test holds the session cookie itself and can present it after
// the application told the browser to drop it.
type browser struct {
	subject string
	hc      *http.Client
	cookies []*http.Cookie // the session cookie, once logged in
	sid     string         // the provider session
}

func newBrowser(subject string) *browser {
	return &browser{subject: subject, hc: &http.Client{Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends a request with the given cookies and returns the answer's
// status, Location and Set-Cookie headers.
func (b *browser) do(method, u string, cookies []*http.Cookie, form url.Values) (*http.Response, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "application/json")
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}

// login runs one login at in as the browser's subject: GET /login, the
// provider's authorization (login_hint picks the user), the callback. It
// returns an error for any step that did not succeed, leaving the
// browser without a session.
func (b *browser) login(w *world, in *instance) error {
	resp, err := b.do("GET", in.url+"/login", nil, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusFound {
		return fmt.Errorf("GET /login: %d", resp.StatusCode)
	}
	loginCookies := resp.Cookies()
	authURL, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		return err
	}
	q := authURL.Query()
	q.Set("login_hint", b.subject)
	authURL.RawQuery = q.Encode()
	params, err := w.p.Authorize(context.Background(), authURL.String())
	if err != nil {
		return err
	}
	resp, err = b.do("GET", in.url+"/callback?"+params.Encode(), loginCookies, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusFound {
		return fmt.Errorf("callback: %d", resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "rpkit" && c.Value != "" {
			b.cookies = []*http.Cookie{{Name: c.Name, Value: c.Value}}
		}
	}
	if b.cookies == nil {
		return fmt.Errorf("callback set no session cookie")
	}
	for _, s := range w.p.Sessions() {
		if s.Subject == b.subject {
			b.sid = s.SID
		}
	}
	return nil
}

// me returns the status of GET /me at in with the browser's session
// cookie.
func (b *browser) me(in *instance) (int, error) {
	resp, err := b.do("GET", in.url+"/me", b.cookies, nil)
	if err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// retry runs op until it reports done, at most for a minute: the way a
// provider retries a logout after a 5xx, or a user clicks again.
func retry(op func() (done bool, err error)) (attempts int, err error) {
	deadline := time.Now().Add(time.Minute)
	for {
		attempts++
		done, err := op()
		if done {
			return attempts, err
		}
		if time.Now().After(deadline) {
			return attempts, fmt.Errorf("still failing after %d attempts: %v", attempts, err)
		}
		time.Sleep(time.Duration(50+attempts%4*50) * time.Millisecond)
	}
}

// quietLogger discards the logs of the instances: under fault injection
// they are many, and say what the counts in the test's report say. With
// FAULTS_LOG=1 they go to stderr, for debugging.
func quietLogger() *slog.Logger {
	if os.Getenv("FAULTS_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// counter is a set of named counts, safe for concurrent use.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) add(name string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[name] += n
}

func (c *counter) get(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[name]
}

func (c *counter) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(c.n)) {
		fmt.Fprintf(&b, " %s=%d", k, c.n[k])
	}
	return strings.TrimSpace(b.String())
}
