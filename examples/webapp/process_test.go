package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpkit/rpkit/internal/redistest"
	"github.com/rpkit/rpkit/oidctest"
)

// buildDir holds the webapp binary built for this test run; TestMain
// removes it.
var buildDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// buildOnce builds the webapp binary once per test run.
var buildOnce = sync.OnceValues(func() (string, error) {
	var err error
	if buildDir, err = os.MkdirTemp("", "rpkit-webapp-"); err != nil {
		return "", err
	}
	bin := filepath.Join(buildDir, "webapp")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// startProcess runs the webapp binary with env on a free loopback port and
// returns its base URL once /healthz answers; the process is killed when
// the test ends.
//
// The port is found by listening on port 0 and closing the listener; the
// child then listens on it itself, so another process may take it in
// between. The child then exits with "address already in use", and
// startProcess tries again on another port.
func startProcess(t *testing.T, env map[string]string) string {
	t.Helper()
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	for attempt := 1; ; attempt++ {
		base, out, err := tryStartProcess(t, bin, env)
		if err == nil {
			return base
		}
		if strings.Contains(out, "address already in use") && attempt < 5 {
			t.Logf("webapp at %s: the port was taken meanwhile; trying another", base)
			continue
		}
		t.Fatalf("webapp at %s: %v; it said:\n%s", base, err, out)
	}
}

// tryStartProcess starts the webapp on a port that was free a moment ago.
// On failure the process has exited or been killed, and out is what it
// said.
func tryStartProcess(t *testing.T, bin string, env map[string]string) (base, out string, err error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base = "http://" + ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin)
	// A provider of its own unless env says otherwise: never a
	// developer's on the default DEV_PROVIDER_ADDR.
	cmd.Env = append(os.Environ(), "APP_URL="+base, "DEV_PROVIDER_ADDR=127.0.0.1:0")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var log syncBuffer // written by the process's output copiers while read here
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
	client := &http.Client{Timeout: time.Second}
	healthy := func() bool {
		resp, err := client.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	for deadline := time.Now().Add(15 * time.Second); !healthy(); time.Sleep(50 * time.Millisecond) {
		select {
		case err := <-exited:
			return base, log.String(), fmt.Errorf("exited before /healthz answered (%v)", err)
		default:
		}
		if time.Now().After(deadline) {
			stop()
			return base, log.String(), errors.New("never became healthy")
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("webapp at %s said:\n%s", base, log.String())
		}
	})
	return base, "", nil
}

// syncBuffer is a bytes.Buffer for a child's output: exec copies into it
// from its own goroutines while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestTwoProcessesOnRedis: two webapp processes with SESSION_STORE=redis
// and the same COOKIE_SECRETS on different ports. Log in through A, use the
// session through B, deliver a back-channel logout to B: A no longer serves
// the session, and the same logout token replayed to A is refused.
func TestTwoProcessesOnRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs two webapp processes")
	}
	addr := redistest.Start(t)
	op := oidctest.Start(t, oidctest.Config{})
	env := map[string]string{
		"OIDC_ISSUER":        op.Issuer(),
		"OIDC_CLIENT_ID":     oidctest.DefaultClientID,
		"OIDC_CLIENT_SECRET": oidctest.DefaultClientSecret,
		"SESSION_STORE":      "redis",
		"REDIS_URL":          "redis://" + addr + "/0",
		"COOKIE_SECRETS":     strings.Repeat("k", 40),
	}
	a, b := startProcess(t, env), startProcess(t, env)
	br := newBrowser(t)

	if r := get(t, br.follow, "GET", a+"/login", nil); r.status != 200 || r.url.Path != "/me" {
		t.Fatalf("login through A: %d at %s", r.status, r.url)
	}
	if r := get(t, br.single, "GET", b+"/me", asJSON); r.status != 200 || !strings.Contains(r.body, `"sub":"alice"`) {
		t.Fatalf("/me through B: %d %s", r.status, r.body)
	}
	sessions := op.Sessions()
	if len(sessions) != 1 {
		t.Fatalf("provider sessions: %+v", sessions)
	}
	token, err := op.LogoutToken(oidctest.LogoutTokenOptions{Subject: "alice", SID: sessions[0].SID})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := op.PostLogoutToken(t.Context(), b+"/backchannel-logout", token)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("back-channel logout to B: %d", resp.StatusCode)
	}
	if r := get(t, br.single, "GET", a+"/me", asJSON); r.status != 401 {
		t.Fatalf("/me through A after the logout reached B: %d", r.status)
	}
	resp, err = op.PostLogoutToken(t.Context(), a+"/backchannel-logout", token)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("logout token replayed to A: %d, want 400", resp.StatusCode)
	}
}

// TestTwoProcessesShareTheDevProvider: the README's two-instance setup
// with the development provider. Two processes over one Redis with the same
// COOKIE_SECRETS and DEV_PROVIDER_ADDR: A serves the provider, B uses it.
// Log in through A, then let the access token (two seconds here) expire
// again and again, using the session through B and through A: each
// refresh happens at the one provider, and the session survives.
func TestTwoProcessesShareTheDevProvider(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs two webapp processes")
	}
	addr := redistest.Start(t)
	env := map[string]string{
		"SESSION_STORE":        "redis",
		"REDIS_URL":            "redis://" + addr + "/0",
		"COOKIE_SECRETS":       strings.Repeat("q", 40),
		"DEV_PROVIDER_ADDR":    freeLoopbackAddr(t),
		"DEV_ACCESS_TOKEN_TTL": "2s",
	}
	a := startProcess(t, env)
	b := startProcess(t, env)
	br := newBrowser(t)

	if r := get(t, br.follow, "GET", a+"/login?return_to=/profile", nil); r.status != 200 || r.url.Path != "/profile" ||
		!strings.Contains(r.body, "http://"+env["DEV_PROVIDER_ADDR"]) {
		t.Fatalf("login through A: %d at %s", r.status, r.url)
	}
	first := accessExpiry(t, get(t, br.single, "GET", b+"/profile", nil))
	if r := get(t, br.single, "GET", b+"/profile", nil); !strings.Contains(r.body, `id="dev-elsewhere"`) {
		t.Errorf("B's profile does not say that the provider's buttons are on A")
	}
	last := first
	for i, base := range []string{b, a, b} {
		time.Sleep(2500 * time.Millisecond) // past the access token's lifetime
		r := get(t, br.single, "GET", base+"/me", asJSON)
		if r.status != 200 || !strings.Contains(r.body, `"sub":"alice"`) {
			t.Fatalf("round %d: /me through %s after the access token expired: %d %s", i+1, base, r.status, r.body)
		}
		exp := accessExpiry(t, get(t, br.single, "GET", base+"/profile", nil))
		if !exp.After(last) {
			t.Fatalf("round %d: the access token through %s expires %s, not after %s: not refreshed", i+1, base, exp, last)
		}
		last = exp
	}
}

// freeLoopbackAddr returns a 127.0.0.1 address that was free a moment ago.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// accessExpiry reads the access token's expiry off a profile page.
func accessExpiry(t *testing.T, r result) time.Time {
	t.Helper()
	m := regexp.MustCompile(`<span id="access-expiry">([^<]+)</span>`).FindStringSubmatch(r.body)
	if r.status != 200 || m == nil {
		t.Fatalf("profile: %d %.300s", r.status, r.body)
	}
	exp, err := time.Parse(time.RFC1123, m[1])
	if err != nil {
		t.Fatal(err)
	}
	return exp
}
