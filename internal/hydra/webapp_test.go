package hydra_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpkit/rpkit/internal/hydra/hydratest"
)

// buildDir holds the examples/webapp binary built for this test run;
// TestMain removes it.
var buildDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// buildWebapp builds examples/webapp once per test run, in rpkit's own
// module (../..), as its users build it.
var buildWebapp = sync.OnceValues(func() (string, error) {
	var err error
	if buildDir, err = os.MkdirTemp("", "rpkit-hydra-webapp-"); err != nil {
		return "", err
	}
	bin := filepath.Join(buildDir, "webapp")
	cmd := exec.Command("go", "build", "-o", bin, "./examples/webapp")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./examples/webapp: %v\n%s", err, out)
	}
	return bin, nil
})

// webapp is an examples/webapp process registered at Hydra as its own
// client. Hydra's back-channel POSTs reach it through a recording proxy.
type webapp struct {
	base   string
	client hydratest.Client
	bc     recorder
}

// startWebapp runs examples/webapp against h on a free loopback port,
// configured only through its environment, as its README says.
func startWebapp(t *testing.T, h *hydratest.Server) *webapp {
	t.Helper()
	bin, err := buildWebapp()
	if err != nil {
		t.Fatal(err)
	}
	for attempt := 1; ; attempt++ {
		w, out, err := tryStartWebapp(t, h, bin)
		if err == nil {
			return w
		}
		if strings.Contains(out, "address already in use") && attempt < 5 {
			continue // the free port was taken meanwhile
		}
		t.Fatalf("webapp: %v; it said:\n%s", err, out)
	}
}

func tryStartWebapp(t *testing.T, h *hydratest.Server, bin string) (*webapp, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w := &webapp{base: "http://" + ln.Addr().String()}
	ln.Close()
	target, _ := url.Parse(w.base)
	proxy := httptest.NewServer(w.bc.wrap(httputil.NewSingleHostReverseProxy(target)))
	t.Cleanup(proxy.Close)
	w.client = h.CreateClient(t, hydratest.Client{
		RedirectURIs:           []string{w.base + "/callback"},
		PostLogoutRedirectURIs: []string{w.base + "/"},
		BackchannelLogoutURI:   proxy.URL + "/backchannel-logout",
		FrontchannelLogoutURI:  w.base + "/frontchannel-logout",
	})
	cmd := exec.Command(bin)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"OIDC_ISSUER=" + h.Issuer,
		"OIDC_CLIENT_ID=" + w.client.ClientID,
		"OIDC_CLIENT_SECRET=" + w.client.ClientSecret,
		"OIDC_SCOPES=openid offline_access",
		"APP_URL=" + w.base,
		"SESSION_STORE=memory",
	}
	var log lockedBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Kill()
		<-exited
	}
	hc := &http.Client{Timeout: time.Second}
	healthy := func() bool {
		resp, err := hc.Get(w.base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	for deadline := time.Now().Add(20 * time.Second); !healthy(); time.Sleep(50 * time.Millisecond) {
		select {
		case err := <-exited:
			return w, log.String(), fmt.Errorf("exited before /healthz answered (%v)", err)
		default:
		}
		if time.Now().After(deadline) {
			stop()
			return w, log.String(), errors.New("never became healthy")
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("webapp at %s said:\n%s", w.base, log.String())
		}
	})
	return w, "", nil
}

type webappMe struct {
	Status int
	Sub    string          `json:"sub"`
	SID    string          `json:"sid"`
	Claims json.RawMessage `json:"claims"`
}

func (w *webapp) me(t *testing.T, c *http.Client) webappMe {
	t.Helper()
	req, _ := http.NewRequest("GET", w.base+"/me", nil)
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := webappMe{Status: resp.StatusCode}
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
			t.Fatal(err)
		}
	}
	return got
}

func (w *webapp) login(t *testing.T, c *http.Client) webappMe {
	t.Helper()
	resp, err := c.Get(w.base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/me" {
		t.Fatalf("webapp login ended at %s with %d: %s", resp.Request.URL, resp.StatusCode, body)
	}
	got := w.me(t, c)
	if got.Status != 200 || got.Sub != "user-1" || got.SID == "" {
		t.Fatalf("webapp /me after login: %+v", got)
	}
	return got
}

// TestWebappRPInitiatedLogout: examples/webapp, configured by its
// environment only, logs in through Hydra and logs out through Hydra's
// logout flow: the logout page frames the webapp's front-channel receiver,
// Hydra's back-channel POST reaches the webapp (200), and the browser
// lands on the webapp's post-logout page. An in-process app of the same
// login session is ended by its back-channel logout.
func TestWebappRPInitiatedLogout(t *testing.T) {
	h := hydratest.Start(t, hydratest.Options{})
	w := startWebapp(t, h)
	other := newApp(t, h, "other", appOptions{backchannel: true})
	br := browser(t)
	meW := w.login(t, br)
	if meO := other.login(t, br); meO.sid != meW.SID {
		t.Fatalf("sids differ: %q %q", meO.sid, meW.SID)
	}

	req, _ := http.NewRequest("POST", w.base+"/logout", nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := br.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Request.URL.String(), h.PublicURL+"/oauth2/sessions/logout") {
		t.Fatalf("logout ended at %s with %d: %s", resp.Request.URL, resp.StatusCode, page)
	}
	if got := w.me(t, br); got.Status != http.StatusUnauthorized {
		t.Fatalf("webapp /me after its logout: %d", got.Status)
	}
	hits := w.bc.waitFor(t, "the webapp's back-channel logout", 1)
	if len(hits) != 1 || hits[0].Status != http.StatusOK {
		t.Fatalf("the webapp's back-channel logout: %+v", hits)
	}
	if tok := claims(t, hits[0].Form.Get("logout_token")); tok["sid"] != meW.SID || tok["iss"] != h.Issuer {
		t.Fatalf("the webapp's logout token: %v", tok)
	}
	other.bc.waitFor(t, "the other app's back-channel logout", 1)
	if got := other.me(t, br); got.status != http.StatusUnauthorized {
		t.Fatalf("the other app's /me after the back-channel logout: %d", got.status)
	}

	srcs := iframes(string(page))
	if len(srcs) != 1 || !strings.HasPrefix(srcs[0], w.base+"/frontchannel-logout?") {
		t.Fatalf("front-channel iframes %v", srcs)
	}
	u, _ := url.Parse(srcs[0])
	if u.Query().Get("iss") != h.Issuer || u.Query().Get("sid") != meW.SID {
		t.Fatalf("front-channel URL %s", srcs[0])
	}
	iframe, _ := http.NewRequest("GET", srcs[0], nil)
	iframe.Header.Set("Sec-Fetch-Dest", "iframe")
	resp, err = br.Do(iframe)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("the webapp's front-channel receiver: %d", resp.StatusCode)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors "+h.PublicURL) {
		t.Fatalf("the front-channel answer may not be framed by Hydra: CSP %q", csp)
	}

	redir := metaRefresh(string(page))
	if !strings.HasPrefix(redir, w.base+"/?") || !strings.Contains(redir, "state=") {
		t.Fatalf("Hydra's logout page redirects to %q", redir)
	}
	resp, err = br.Get(redir)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("the webapp's post-logout page: %d", resp.StatusCode)
	}
}

// TestWebappRefresh: Hydra's access tokens live 4 seconds, less than the
// middleware's default refresh leeway (30 s), which is then capped at a
// quarter of the token's lifetime: a request at once is served with the
// same tokens, one after three quarters of the lifetime refreshes them, and
// the refresh brings a new ID token (a new jti) of the same subject and
// provider session.
func TestWebappRefresh(t *testing.T) {
	h := hydratest.Start(t, hydratest.Options{AccessTokenTTL: 4 * time.Second})
	w := startWebapp(t, h)
	br := browser(t)
	first := w.login(t, br)
	jti := func(m webappMe) string {
		var c struct {
			JTI string `json:"jti"`
		}
		json.Unmarshal(m.Claims, &c)
		return c.JTI
	}
	if again := w.me(t, br); again.Status != 200 || jti(again) != jti(first) {
		t.Fatalf("/me at once: %d, jti %q then %q: refreshed before three quarters of the token's life", again.Status, jti(first), jti(again))
	}
	time.Sleep(3200 * time.Millisecond)
	second := w.me(t, br)
	if second.Status != 200 || second.Sub != first.Sub || second.SID != first.SID {
		t.Fatalf("/me after a refresh: %+v (before: %+v)", second, first)
	}
	if jti(first) == "" || jti(first) == jti(second) {
		t.Fatalf("the ID token was not refreshed: jti %q, then %q", jti(first), jti(second))
	}
}

// TestWebappProviderInitiatedLogout: the provider ends the login session;
// Hydra's back-channel POST ends the webapp's session.
func TestWebappProviderInitiatedLogout(t *testing.T) {
	h := hydratest.Start(t, hydratest.Options{})
	w := startWebapp(t, h)
	br := browser(t)
	meW := w.login(t, br)
	if err := h.RevokeLoginSessionBySID(t.Context(), meW.SID); err != nil {
		t.Fatal(err)
	}
	hits := w.bc.waitFor(t, "the webapp's back-channel logout", 1)
	if len(hits) != 1 || hits[0].Status != http.StatusOK {
		t.Fatalf("the webapp's back-channel logout: %+v", hits)
	}
	if got := w.me(t, br); got.Status != http.StatusUnauthorized {
		t.Fatalf("webapp /me after the provider's logout: %d", got.Status)
	}
}

// lockedBuffer is a child's output: exec copies into it from its own
// goroutines while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
