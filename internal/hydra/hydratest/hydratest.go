// Package hydratest runs a real Ory Hydra v2 (hydra serve all --dev, with
// an in-memory SQLite database) on loopback ports for tests, together with
// a tiny login, consent and logout app that accepts every challenge through
// Hydra's admin API.
//
// The binary is built by ../build.sh into
// ${RPKIT_CACHE:-$HOME/.cache/rpkit}/hydra-v2.3.0/hydra, or named by
// $HYDRA_BIN. When it is missing the tests skip, except with CI=true, where
// they fail.
package hydratest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Version is the Hydra version build.sh builds.
const Version = "v2.3.0"

// Binary returns the Hydra binary: $HYDRA_BIN, else the build.sh cache
// path. When there is none the test is skipped, or fails with CI=true.
func Binary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("HYDRA_BIN")
	if bin == "" {
		cache := os.Getenv("RPKIT_CACHE")
		if cache == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				t.Fatalf("hydratest: no HYDRA_BIN, no RPKIT_CACHE and no home directory: %v", err)
			}
			cache = filepath.Join(home, ".cache", "rpkit")
		}
		bin = filepath.Join(cache, "hydra-"+Version, "hydra")
	}
	if fi, err := os.Stat(bin); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		msg := fmt.Sprintf("hydratest: no Ory Hydra binary at %s: run internal/hydra/build.sh (or set HYDRA_BIN)", bin)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

// Options configure [Start].
type Options struct {
	// AccessTokenTTL is Hydra's access token lifespan (TTL_ACCESS_TOKEN).
	// Zero: Hydra's default, one hour.
	AccessTokenTTL time.Duration
	// Env is added to Hydra's environment (KEY=value), after the defaults.
	Env []string
}

// Server is a running Hydra and its login, consent and logout app.
type Server struct {
	// Issuer is Hydra's issuer, with a trailing slash (as VinID OneID's):
	// http://127.0.0.1:<public port>/.
	Issuer string
	// PublicURL and AdminURL are the base URLs of the public and admin
	// APIs, without a trailing slash.
	PublicURL, AdminURL string
	// UI is the login, consent and logout app.
	UI *UI

	admin *http.Client
	logs  *lockedBuffer
}

// Start runs Hydra for the test and stops it at cleanup. It returns once
// both APIs answer /health/ready.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := Binary(t)
	ui := newUI(t)
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a free port may be taken before Hydra binds it
		s, err := start(t, bin, ui, opts)
		if err == nil {
			ui.hydra = s
			return s
		}
		lastErr = err
	}
	t.Fatalf("hydratest: starting Hydra: %v", lastErr)
	return nil
}

func start(t testing.TB, bin string, ui *UI, opts Options) (*Server, error) {
	pub, err := freePort()
	if err != nil {
		return nil, err
	}
	adm, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{
		Issuer:    "http://127.0.0.1:" + pub + "/",
		PublicURL: "http://127.0.0.1:" + pub,
		AdminURL:  "http://127.0.0.1:" + adm,
		UI:        ui,
		admin:     &http.Client{Timeout: 10 * time.Second},
		logs:      &lockedBuffer{},
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.TempDir(),
		"DSN=memory",
		"SECRETS_SYSTEM=" + hex.EncodeToString(secret),
		"SERVE_PUBLIC_HOST=127.0.0.1", "SERVE_PUBLIC_PORT=" + pub,
		"SERVE_ADMIN_HOST=127.0.0.1", "SERVE_ADMIN_PORT=" + adm,
		"URLS_SELF_ISSUER=" + s.Issuer,
		"URLS_SELF_PUBLIC=" + s.Issuer,
		"URLS_SELF_ADMIN=" + s.AdminURL + "/",
		"URLS_LOGIN=" + ui.URL + "/login",
		"URLS_CONSENT=" + ui.URL + "/consent",
		"URLS_LOGOUT=" + ui.URL + "/logout",
		"URLS_ERROR=" + ui.URL + "/error",
		"URLS_POST_LOGOUT_REDIRECT=" + ui.URL + "/logged-out",
		"OAUTH2_EXPOSE_INTERNAL_ERRORS=true",
		"LOG_LEVEL=debug",
		"LOG_LEAK_SENSITIVE_VALUES=true",
	}
	if opts.AccessTokenTTL > 0 {
		env = append(env, "TTL_ACCESS_TOKEN="+opts.AccessTokenTTL.String())
	}
	env = append(env, opts.Env...)
	cmd := exec.Command(bin, "serve", "all", "--dev", "--sqa-opt-out")
	cmd.Env = env
	cmd.Dir = t.TempDir()
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop := func() {
		select {
		case <-exited:
			return
		default:
		}
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, u := range []string{s.AdminURL + "/health/ready", s.PublicURL + "/health/ready"} {
		if err := waitReady(ctx, u, exited); err != nil {
			stop()
			return nil, fmt.Errorf("%w; Hydra's output:\n%s", err, s.logs.String())
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() || os.Getenv("HYDRA_LOGS") != "" {
			t.Logf("Hydra's output:\n%s", s.logs.String())
		}
	})
	return s, nil
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}

func waitReady(ctx context.Context, u string, exited <-chan struct{}) error {
	c := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("hydra exited before it was ready")
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w", u, ctx.Err())
		case <-tick.C:
		}
	}
}

// Logs returns what Hydra has written so far.
func (s *Server) Logs() string { return s.logs.String() }

// Client is an OAuth 2.0 client registration at Hydra.
type Client struct {
	ClientID                          string   `json:"client_id,omitempty"`
	ClientSecret                      string   `json:"client_secret,omitempty"`
	RedirectURIs                      []string `json:"redirect_uris,omitempty"`
	PostLogoutRedirectURIs            []string `json:"post_logout_redirect_uris,omitempty"`
	BackchannelLogoutURI              string   `json:"backchannel_logout_uri,omitempty"`
	BackchannelLogoutSessionRequired  bool     `json:"backchannel_logout_session_required"`
	FrontchannelLogoutURI             string   `json:"frontchannel_logout_uri,omitempty"`
	FrontchannelLogoutSessionRequired bool     `json:"frontchannel_logout_session_required"`
	GrantTypes                        []string `json:"grant_types,omitempty"`
	ResponseTypes                     []string `json:"response_types,omitempty"`
	Scope                             string   `json:"scope,omitempty"`
	TokenEndpointAuthMethod           string   `json:"token_endpoint_auth_method,omitempty"`
}

// CreateClient registers c through the admin API (POST /admin/clients).
// Zero fields get the defaults of an rpkit web app: grant types
// authorization_code and refresh_token, response type code, scope "openid
// offline_access", client_secret_basic, a random secret, and
// *_logout_session_required true. Hydra picks the client ID.
func (s *Server) CreateClient(t testing.TB, c Client) Client {
	t.Helper()
	if c.ClientSecret == "" {
		b := make([]byte, 24)
		rand.Read(b)
		c.ClientSecret = hex.EncodeToString(b)
	}
	if c.GrantTypes == nil {
		c.GrantTypes = []string{"authorization_code", "refresh_token"}
	}
	if c.ResponseTypes == nil {
		c.ResponseTypes = []string{"code"}
	}
	if c.Scope == "" {
		c.Scope = "openid offline_access"
	}
	if c.TokenEndpointAuthMethod == "" {
		c.TokenEndpointAuthMethod = "client_secret_basic"
	}
	c.BackchannelLogoutSessionRequired = c.BackchannelLogoutURI != ""
	c.FrontchannelLogoutSessionRequired = c.FrontchannelLogoutURI != ""
	var got Client
	if err := s.Admin(context.Background(), "POST", "/admin/clients", nil, c, &got); err != nil {
		t.Fatalf("hydratest: creating the client: %v", err)
	}
	got.ClientSecret = c.ClientSecret
	return got
}

// RevokeLoginSessionBySID ends the login session sid at the provider
// (DELETE /admin/oauth2/auth/sessions/login?sid=…): Hydra sends the
// back-channel logout of every client of that session.
func (s *Server) RevokeLoginSessionBySID(ctx context.Context, sid string) error {
	return s.Admin(ctx, "DELETE", "/admin/oauth2/auth/sessions/login", url.Values{"sid": {sid}}, nil, nil)
}

// RevokeLoginSessionsBySubject ends every login session of subject
// (DELETE /admin/oauth2/auth/sessions/login?subject=…). Hydra v2.3.0 sends
// no back-channel logout for it.
func (s *Server) RevokeLoginSessionsBySubject(ctx context.Context, subject string) error {
	return s.Admin(ctx, "DELETE", "/admin/oauth2/auth/sessions/login", url.Values{"subject": {subject}}, nil, nil)
}

// Admin calls the admin API: in (when not nil) is sent as JSON, a 2xx
// answer is decoded into out (when not nil), anything else is an error
// carrying the body.
func (s *Server) Admin(ctx context.Context, method, path string, q url.Values, in, out any) error {
	u := s.AdminURL + path
	if q != nil {
		u += "?" + q.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.admin.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: %w in %s", method, path, err, b)
		}
	}
	return nil
}

// UI is the login, consent and logout app Hydra sends the browser to
// (URLS_LOGIN, URLS_CONSENT, URLS_LOGOUT). It accepts every challenge:
// logins as Subject, consents with every requested scope, logouts.
type UI struct {
	// URL is the app's base URL.
	URL string

	hydra *Server
	mu    sync.Mutex
	subj  string
	login []LoginRequest
	out   []LogoutRequest
}

// LoginRequest is what the UI saw of one login challenge.
type LoginRequest struct {
	ClientID string
	Skip     bool // Hydra remembered the login session
	Subject  string
	Scopes   []string
}

// LogoutRequest is what the UI saw of one logout challenge.
type LogoutRequest struct {
	SID, Subject string
	RPInitiated  bool
	ClientID     string // the client that started it, when RP-initiated
}

func newUI(t testing.TB) *UI {
	ui := &UI{subj: "user-1"}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", ui.handleLogin)
	mux.HandleFunc("GET /consent", ui.handleConsent)
	mux.HandleFunc("GET /logout", ui.handleLogout)
	mux.HandleFunc("GET /error", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "hydra error: "+r.URL.Query().Get("error")+": "+r.URL.Query().Get("error_description")+" "+r.URL.Query().Get("error_hint"), http.StatusBadRequest)
	})
	mux.HandleFunc("GET /logged-out", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "logged out at the provider") })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ui.URL = srv.URL
	return ui
}

// SetSubject sets the subject the next logins are accepted as. Zero:
// "user-1".
func (ui *UI) SetSubject(sub string) {
	ui.mu.Lock()
	ui.subj = sub
	ui.mu.Unlock()
}

// Logins returns the login challenges accepted so far.
func (ui *UI) Logins() []LoginRequest {
	ui.mu.Lock()
	defer ui.mu.Unlock()
	return append([]LoginRequest(nil), ui.login...)
}

// Logouts returns the logout challenges accepted so far.
func (ui *UI) Logouts() []LogoutRequest {
	ui.mu.Lock()
	defer ui.mu.Unlock()
	return append([]LogoutRequest(nil), ui.out...)
}

type redirectTo struct {
	RedirectTo string `json:"redirect_to"`
}

type oauthClient struct {
	ClientID string `json:"client_id"`
}

func (ui *UI) handleLogin(w http.ResponseWriter, r *http.Request) {
	ch := r.URL.Query().Get("login_challenge")
	q := url.Values{"login_challenge": {ch}}
	var req struct {
		Skip           bool        `json:"skip"`
		Subject        string      `json:"subject"`
		RequestedScope []string    `json:"requested_scope"`
		Client         oauthClient `json:"client"`
	}
	ctx := r.Context()
	if err := ui.hydra.Admin(ctx, "GET", "/admin/oauth2/auth/requests/login", q, nil, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	ui.mu.Lock()
	sub := ui.subj
	if req.Skip {
		sub = req.Subject // a remembered session must be accepted as its subject
	}
	ui.login = append(ui.login, LoginRequest{ClientID: req.Client.ClientID, Skip: req.Skip, Subject: sub, Scopes: req.RequestedScope})
	ui.mu.Unlock()
	var res redirectTo
	accept := map[string]any{"subject": sub, "remember": true, "remember_for": 0, "acr": "0"}
	if err := ui.hydra.Admin(ctx, "PUT", "/admin/oauth2/auth/requests/login/accept", q, accept, &res); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	http.Redirect(w, r, res.RedirectTo, http.StatusFound)
}

func (ui *UI) handleConsent(w http.ResponseWriter, r *http.Request) {
	ch := r.URL.Query().Get("consent_challenge")
	q := url.Values{"consent_challenge": {ch}}
	var req struct {
		Subject           string   `json:"subject"`
		RequestedScope    []string `json:"requested_scope"`
		RequestedAudience []string `json:"requested_access_token_audience"`
	}
	ctx := r.Context()
	if err := ui.hydra.Admin(ctx, "GET", "/admin/oauth2/auth/requests/consent", q, nil, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	accept := map[string]any{
		"grant_scope":                 req.RequestedScope,
		"grant_access_token_audience": req.RequestedAudience,
		"remember":                    false,
		"session": map[string]any{
			"id_token": map[string]any{"email": req.Subject + "@example.test"},
		},
	}
	var res redirectTo
	if err := ui.hydra.Admin(ctx, "PUT", "/admin/oauth2/auth/requests/consent/accept", q, accept, &res); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	http.Redirect(w, r, res.RedirectTo, http.StatusFound)
}

func (ui *UI) handleLogout(w http.ResponseWriter, r *http.Request) {
	ch := r.URL.Query().Get("logout_challenge")
	q := url.Values{"logout_challenge": {ch}}
	var req struct {
		SID         string       `json:"sid"`
		Subject     string       `json:"subject"`
		RPInitiated bool         `json:"rp_initiated"`
		Client      *oauthClient `json:"client"`
	}
	ctx := r.Context()
	if err := ui.hydra.Admin(ctx, "GET", "/admin/oauth2/auth/requests/logout", q, nil, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	lr := LogoutRequest{SID: req.SID, Subject: req.Subject, RPInitiated: req.RPInitiated}
	if req.Client != nil {
		lr.ClientID = req.Client.ClientID
	}
	ui.mu.Lock()
	ui.out = append(ui.out, lr)
	ui.mu.Unlock()
	var res redirectTo
	if err := ui.hydra.Admin(ctx, "PUT", "/admin/oauth2/auth/requests/logout/accept", q, nil, &res); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	http.Redirect(w, r, res.RedirectTo, http.StatusFound)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Clone(l.b.String())
}
