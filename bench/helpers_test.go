package bench

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpkit/rpkit/middleware"
	"github.com/rpkit/rpkit/oidctest"
	"github.com/rpkit/rpkit/rp"
	"github.com/rpkit/rpkit/session"
)

// appURL is the application's origin: nothing listens there, every app
// request is served in-process through httptest.NewRecorder.
const appURL = "http://127.0.0.1"

// discard silences rpkit's logs in every benchmark.
var discard = slog.New(slog.DiscardHandler)

func TestMain(m *testing.M) {
	code := m.Run()
	stopRedis()
	os.Exit(code)
}

// clock is a fake clock shared by a provider, a client, a middleware and
// a store; safe for concurrent use.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Now().Truncate(time.Second).UnixNano())
	return c
}

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// quick reports whether the run asked for a fixed, small number of
// iterations (-benchtime=Nx with N <= 10, as CI runs it) and BENCH_FULL is
// not 1: the benchmarks then skip or shrink their most expensive sizes, so
// that none of them rots and CI stays fast. run.sh sets BENCH_FULL=1: it
// runs the one-shot rows with -benchtime=1x at their full sizes.
func quick() bool {
	if os.Getenv("BENCH_FULL") == "1" {
		return false
	}
	f := flag.Lookup("test.benchtime")
	if f == nil {
		return false
	}
	v := f.Value.String()
	if !strings.HasSuffix(v, "x") {
		return false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(v, "x"))
	return err == nil && n <= 10
}

// newProvider starts an oidctest provider for the benchmark.
func newProvider(b *testing.B, cfg oidctest.Config) *oidctest.Provider {
	b.Helper()
	op, err := oidctest.NewProvider(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(op.Close)
	return op
}

// newClient returns an rp.Client of op's default client, discovered (and
// its key set fetched on first verification).
func newClient(b *testing.B, op *oidctest.Provider, now func() time.Time) *rp.Client {
	b.Helper()
	c, err := rp.New(context.Background(), rp.Config{
		Issuer:       op.Issuer(),
		ClientID:     oidctest.DefaultClientID,
		ClientSecret: oidctest.DefaultClientSecret,
		RedirectURL:  appURL + "/callback",
		Scopes:       []string{"profile", "email", "offline_access"},
		HTTPClient:   op.Client(),
		Now:          now,
	})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// newMiddleware returns a middleware over c and store, silent, with the
// clock now (nil: time.Now) and cfg's other fields.
func newMiddleware(b *testing.B, c *rp.Client, store session.Store, now func() time.Time, cfg middleware.Config) *middleware.Middleware {
	b.Helper()
	cfg.Client, cfg.Store, cfg.Now, cfg.Logger = c, store, now, discard
	m, err := middleware.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// login runs a whole login through m's routes in-process (the provider's
// side over loopback, as a browser would) and returns the session cookie.
func login(b *testing.B, m *middleware.Middleware, op *oidctest.Provider) *http.Cookie {
	b.Helper()
	routes := m.Routes()
	rec := httptest.NewRecorder()
	routes.ServeHTTP(rec, httptest.NewRequest("GET", appURL+m.Paths().Login, nil))
	if rec.Code != http.StatusFound {
		b.Fatalf("login: status %d: %s", rec.Code, rec.Body)
	}
	params, err := op.Authorize(context.Background(), rec.Header().Get("Location"))
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest("GET", appURL+m.Paths().Callback+"?"+params.Encode(), nil)
	for _, c := range rec.Result().Cookies() {
		req.AddCookie(c)
	}
	rec = httptest.NewRecorder()
	routes.ServeHTTP(rec, req)
	if rec.Code != http.StatusFound {
		b.Fatalf("callback: status %d: %s", rec.Code, rec.Body)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == "rpkit" && c.Value != "" {
			return c
		}
	}
	b.Fatal("callback set no session cookie")
	return nil
}

// loginTokens runs a login through c alone and returns the tokens and the
// login's nonce.
func loginTokens(b *testing.B, c *rp.Client, op *oidctest.Provider) (*rp.Tokens, string) {
	b.Helper()
	ctx := context.Background()
	authURL, st, err := c.StartLogin()
	if err != nil {
		b.Fatal(err)
	}
	params, err := op.Authorize(ctx, authURL)
	if err != nil {
		b.Fatal(err)
	}
	tok, err := c.Callback(ctx, st, params)
	if err != nil {
		b.Fatal(err)
	}
	return tok, st.Nonce
}

// asIDTokens makes op's logout tokens ID tokens (typ JWT, a sub, the
// nonce, no events, an hour's exp) so that many can be minted signed by
// op's current key without a login each and without any client seeing
// them. It returns a function that undoes it.
func asIDTokens(op *oidctest.Provider, nonce string) func() {
	op.SetTokenHook(oidctest.LogoutToken, func(m *oidctest.Mint) {
		m.Header["typ"] = "JWT"
		delete(m.Claims, "events")
		m.Claims["sub"] = oidctest.DefaultSubject
		m.Claims["nonce"] = nonce
		if iat, ok := m.Claims["iat"].(int64); ok {
			m.Claims["exp"] = iat + int64(time.Hour/time.Second)
		}
	})
	return func() { op.SetTokenHook(oidctest.LogoutToken, nil) }
}

// request is a GET of path carrying cookie.
func request(path string, cookie *http.Cookie) *http.Request {
	r := httptest.NewRequest("GET", appURL+path, nil)
	r.Header.Set("Accept", "application/json")
	if cookie != nil {
		r.AddCookie(cookie)
	}
	return r
}

// serve serves a shallow copy of base (handlers such as gorilla/sessions
// write into the request) to h through a new recorder, and fails unless h
// answered 200.
func serve(b *testing.B, h http.Handler, base *http.Request) {
	r := *base
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, &r)
	if rec.Code != http.StatusOK {
		b.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
}

// ok is the application's handler behind every session layer.
var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })

// newRecorder is httptest.NewRecorder.
func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

// formPost is a POST of the form body (URL-encoded) to path.
func formPost(path, body string) *http.Request {
	r := httptest.NewRequest("POST", appURL+path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// providerConfig is the provider of the session rows: one user whose ID
// token carries a profile and group memberships, so that the session
// record is about 3 KB, as at the providers rpkit is measured against.
func providerConfig() oidctest.Config {
	groups := make([]string, 24)
	for i := range groups {
		groups[i] = fmt.Sprintf("app-team-%02d-readers", i)
	}
	return oidctest.Config{Users: []oidctest.User{{
		Subject: oidctest.DefaultSubject,
		Claims: map[string]any{
			"name": "Alice Example", "given_name": "Alice", "family_name": "Example",
			"email": "alice@example.com", "email_verified": true, "locale": "en-GB",
			"preferred_username": "alice", "groups": groups,
		},
	}}}
}
