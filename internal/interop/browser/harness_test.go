package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rpkit/rpkit/internal/interop"
)

// The harness: tools (skip or, with CI=true, fail when missing), the webapp
// as a process, a recording proxy in front of it, and scenario.mjs.

const (
	appStartTimeout = 30 * time.Second
	scenarioTimeout = 90 * time.Second
)

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
	buildDir  string // removed by TestMain
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// missing skips the test, or fails it when CI=true: CI must never pass by
// skipping the browser tests.
func missing(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("browser tests: %s; CI=true requires it", msg)
	}
	t.Skip("browser tests: " + msg)
}

// tools returns the paths of chromium and node, with playwright-core
// installed in internal/interop/node_modules.
func tools(t *testing.T) (chromium, node string) {
	t.Helper()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		missing(t, "chromium not installed (Debian: apt-get install chromium): "+err.Error())
	}
	node = interop.RequireNode(t)
	interop.EnsureModules(t)
	if _, err := os.Stat(filepath.Join(interop.Dir(t), "node_modules", "playwright-core", "package.json")); err != nil {
		missing(t, "playwright-core not installed: run npm ci in internal/interop ("+err.Error()+")")
	}
	return chromium, node
}

// moduleRoot is the rpkit module's directory.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found from %s: %v", root, err)
	}
	return root
}

// webappBinary builds examples/webapp once per test binary.
func webappBinary(t *testing.T) string {
	t.Helper()
	root := moduleRoot(t)
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "rpkit-browser-build-")
		if buildErr != nil {
			return
		}
		buildBin = filepath.Join(buildDir, "webapp")
		cmd := exec.Command("go", "build", "-o", buildBin, "./examples/webapp")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./examples/webapp: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// lockedBuffer collects a process's output.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// webapp is a running examples/webapp process.
type webapp struct {
	URL  string        // APP_URL
	Addr string        // where the process listens
	Log  *lockedBuffer // its stderr and stdout
}

// startWebapp runs the built webapp with env (APP_URL and LISTEN_ADDR
// default to a free loopback port) and waits for /healthz. The process is
// stopped (SIGTERM, then SIGKILL) when the test ends.
func startWebapp(t *testing.T, env map[string]string) *webapp {
	t.Helper()
	bin := webappBinary(t)
	a := &webapp{Log: &lockedBuffer{}}
	a.Addr = env["LISTEN_ADDR"]
	if a.Addr == "" {
		a.Addr = freeAddr(t)
	}
	a.URL = env["APP_URL"]
	if a.URL == "" {
		a.URL = "http://" + a.Addr
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "APP_URL="+a.URL, "LISTEN_ADDR="+a.Addr,
		"OIDC_ISSUER=", "OIDC_CLIENT_ID=", "OIDC_CLIENT_SECRET=", "SESSION_STORE=memory", "COOKIE_SECRETS=",
		"DEV_PROVIDER_ADDR=127.0.0.1:0") // a development provider of its own, never a developer's on 8090
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = a.Log, a.Log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the webapp: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("webapp log:\n%s", a.Log)
		}
	})

	deadline := time.Now().Add(appStartTimeout)
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get("http://" + a.Addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return a
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		select {
		case <-exited:
			t.Fatalf("the webapp exited before /healthz answered:\n%s", a.Log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the webapp's /healthz did not answer within %s (%v):\n%s", appStartTimeout, err, a.Log)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// seenRequest is one request that passed the recording proxy.
type seenRequest struct {
	Method, Path string
	Query        url.Values
	Cookies      []string // the names in its Cookie header
	Status       int
	Body         string // the answer's first KiB
}

func (r seenRequest) hasCookie(name string) bool {
	for _, c := range r.Cookies {
		if c == name {
			return true
		}
	}
	return false
}

// recordingProxy stands in front of the webapp, on the app's side: it
// passes every request to the app and records the cookies it carried. It
// also sets the probe cookie (probeCookie: SameSite=None, so that only the
// browser's third-party cookie setting can keep it out of a cross-site
// frame) on every answer of the home page.
type recordingProxy struct {
	Addr string
	ln   net.Listener
	mu   sync.Mutex
	seen []seenRequest
}

const probeCookie = "tpc_probe"

// listenProxy reserves the proxy's port; serve starts it once the app's
// address is known.
func listenProxy(t *testing.T) *recordingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &recordingProxy{Addr: ln.Addr().String(), ln: ln}
}

func (p *recordingProxy) serve(t *testing.T, appAddr string) {
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: appAddr})
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.URL.Path == "/" {
			resp.Header.Add("Set-Cookie", probeCookie+"=1; Path=/; SameSite=None; Secure")
		}
		return nil
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := seenRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query()}
		for _, c := range r.Cookies() {
			s.Cookies = append(s.Cookies, c.Name)
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		rp.ServeHTTP(sw, r)
		s.Status, s.Body = sw.status, sw.body.String()
		p.mu.Lock()
		p.seen = append(p.seen, s)
		p.mu.Unlock()
	}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(p.ln)
	t.Cleanup(func() { srv.Close() })
}

func (p *recordingProxy) requests(path string) []seenRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []seenRequest
	for _, s := range p.seen {
		if s.Path == path {
			out = append(out, s)
		}
	}
	return out
}

// statusWriter remembers the status and the first KiB of the body.
type statusWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Write(p []byte) (int, error) {
	if n := 1024 - w.body.Len(); n > 0 {
		w.body.Write(p[:min(n, len(p))])
	}
	return w.ResponseWriter.Write(p)
}

// screenshotDir returns the directory for this test's screenshots:
// $BROWSER_SCREENSHOTS/<test>, else <temp>/rpkit-browser-screenshots/<test>.
// Old PNG files in it are removed; the directory itself stays after the
// test (t.TempDir would delete it).
func screenshotDir(t *testing.T) string {
	t.Helper()
	base := os.Getenv("BROWSER_SCREENSHOTS")
	if base == "" {
		base = filepath.Join(os.TempDir(), "rpkit-browser-screenshots")
	}
	dir, err := filepath.Abs(filepath.Join(base, regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(t.Name(), "_")))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	old, _ := filepath.Glob(filepath.Join(dir, "*.png"))
	for _, f := range old {
		os.Remove(f)
	}
	t.Logf("screenshots: %s", dir)
	return dir
}

// scenarioConfig is scenario.mjs's configuration.
type scenarioConfig struct {
	Scenario        string      `json:"scenario"`
	AppURL          string      `json:"appURL"`
	Screenshots     string      `json:"screenshots"`
	Chromium        string      `json:"chromium"`
	TimeoutMs       int         `json:"timeoutMs,omitempty"`
	Provider        *scenarioOP `json:"provider,omitempty"`
	ControlFrameURL string      `json:"controlFrameURL,omitempty"`
}

type scenarioOP struct {
	Issuer   string `json:"issuer"`
	Login    string `json:"login"`
	Password string `json:"password"`
}

// scenarioResult is what scenario.mjs prints.
type scenarioResult struct {
	Scenario     string          `json:"scenario"`
	OK           bool            `json:"ok"`
	Steps        []pageStep      `json:"steps"`
	Fetches      []fetch         `json:"fetches"`
	Frontchannel []frameRequest  `json:"frontchannel"`
	Control      []frameRequest  `json:"control"`
	Console      []string        `json:"console"`
	Errors       []string        `json:"errors"`
	ElapsedMs    int             `json:"elapsedMs"`
	Raw          json.RawMessage `json:"-"`
}

type pageStep struct {
	Name        string            `json:"name"`
	URL         string            `json:"url"`
	Title       string            `json:"title"`
	Text        string            `json:"text"`
	IDs         map[string]string `json:"ids"`
	ProblemKind string            `json:"problemKind"` // the error page's data-kind
	Screenshot  string            `json:"screenshot"`
}

type fetch struct {
	Name     string `json:"name"`
	Path     string `json:"path"`
	Accept   string `json:"accept"`
	Status   int    `json:"status"`
	Location string `json:"location"`
	Body     string `json:"body"`
}

type frameRequest struct {
	URL       string        `json:"url"`
	Status    int           `json:"status"`
	Body      string        `json:"body"`
	FrameText string        `json:"frameText"`
	Cookies   []frameCookie `json:"cookies"`
}

type frameCookie struct {
	Name            string   `json:"name"`
	SameSite        string   `json:"sameSite"`
	BlockedReasons  []string `json:"blockedReasons"`
	ExemptionReason string   `json:"exemptionReason"`
}

// runScenario runs scenario.mjs with cfg and returns its result; a failed
// step fails the test, with the script's errors and the browser console.
func runScenario(t *testing.T, node string, cfg scenarioConfig) *scenarioResult {
	t.Helper()
	in, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The script's temporary files (the Chromium profiles, playwright's
	// artifacts, Chromium's own) go to tmp, removed whatever happened.
	tmp, err := os.MkdirTemp("", "rpkit-scenario-")
	if err != nil {
		t.Fatal(err)
	}
	defer removeTemp(t, tmp)
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "scenario.mjs", string(in))
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	// node leads a process group of its own; on timeout, killScenario
	// kills it with the browsers it started. (On its own exit, playwright
	// kills them and removes its temporary directories itself.)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killScenario(cmd.Process.Pid) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	runErr := cmd.Run()
	if ctx.Err() != nil {
		runErr = fmt.Errorf("timed out after %s: %v", scenarioTimeout, runErr)
	}
	t.Logf("scenario %s: node scenario.mjs ran %s", cfg.Scenario, time.Since(start).Round(time.Millisecond))
	var res scenarioResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("scenario %s: no result (%v, run: %v)\nstdout:\n%s\nstderr:\n%s", cfg.Scenario, err, runErr, stdout.String(), stderr.String())
	}
	res.Raw = append(json.RawMessage(nil), stdout.Bytes()...)
	for _, s := range res.Steps {
		u := s.URL
		if len(u) > 100 {
			u = u[:100] + "…"
		}
		t.Logf("  step %-28s %s", s.Name, u)
	}
	if runErr != nil || !res.OK || len(res.Errors) > 0 {
		t.Fatalf("scenario %s failed (run: %v):\n%s\nbrowser console:\n%s\nstderr:\n%s", cfg.Scenario, runErr,
			strings.Join(res.Errors, "\n"), strings.Join(res.Console, "\n"), stderr.String())
	}
	return &res
}

// step returns the step named name.
func (r *scenarioResult) step(t *testing.T, name string) pageStep {
	t.Helper()
	for _, s := range r.Steps {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("scenario %s has no step %q", r.Scenario, name)
	return pageStep{}
}

// fetch returns the probe named name with that Accept header.
func (r *scenarioResult) fetch(t *testing.T, name, accept string) fetch {
	t.Helper()
	for _, f := range r.Fetches {
		if f.Name == name && f.Accept == accept {
			return f
		}
	}
	t.Fatalf("scenario %s has no probe %q (Accept %q)", r.Scenario, name, accept)
	return fetch{}
}

// contains fails the test unless the step's page text contains every want.
func (s pageStep) contains(t *testing.T, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(s.Text, w) {
			t.Errorf("page %s (%s): text lacks %q; it reads:\n%s", s.Name, s.URL, w, s.Text)
		}
	}
}

// path returns the step's URL path.
func (s pageStep) path(t *testing.T) *url.URL {
	t.Helper()
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatalf("page %s: bad URL %q", s.Name, s.URL)
	}
	return u
}

// loggedOutProbes checks that the app no longer knows the browser's
// session: 401 JSON for Accept: application/json, else a redirect to log
// in again with return_to.
func (r *scenarioResult) loggedOutProbes(t *testing.T, name, returnTo string) {
	t.Helper()
	j := r.fetch(t, name, "application/json")
	if j.Status != http.StatusUnauthorized || !strings.Contains(j.Body, `"login_required"`) {
		t.Errorf("%s: GET %s (JSON) = %d %s, want 401 login_required", name, j.Path, j.Status, j.Body)
	}
	h := r.fetch(t, name, "")
	if h.Status != http.StatusFound || h.Location != "/login?return_to="+url.QueryEscape(returnTo) {
		t.Errorf("%s: GET %s = %d Location %q, want 302 to /login?return_to=%s", name, h.Path, h.Status, h.Location, url.QueryEscape(returnTo))
	}
}

// meJSON is the app's GET /me answer.
type meJSON struct {
	Sub    string         `json:"sub"`
	SID    string         `json:"sid"`
	Claims map[string]any `json:"claims"`
}

func (r *scenarioResult) me(t *testing.T, name string) meJSON {
	t.Helper()
	f := r.fetch(t, name, "application/json")
	var m meJSON
	if f.Status != http.StatusOK {
		t.Fatalf("%s: GET /me = %d %s, want 200", name, f.Status, f.Body)
	}
	if err := json.NewDecoder(strings.NewReader(f.Body)).Decode(&m); err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("%s: GET /me: %v: %s", name, err, f.Body)
	}
	return m
}

// killScenario kills node (pid), the leader of its own process group, and
// the browsers it started. playwright starts Chromium detached, as the
// leader of another process group, which killing node's group does not
// reach: the groups of node's children that lead one are killed too,
// found in /proc (Linux; elsewhere Chromium still quits once node's end of
// its DevTools pipe closes). It runs while node is alive: its children are
// still its children.
func killScenario(pid int) error {
	for _, child := range childPIDs(pid) {
		if pgid, err := syscall.Getpgid(child); err == nil && pgid == child {
			syscall.Kill(-child, syscall.SIGKILL)
		}
	}
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return os.ErrProcessDone
		}
		return err
	}
	return nil
}

// childPIDs returns the children of pid from /proc/PID/task/*/children;
// none where there is no such file.
func childPIDs(pid int) []int {
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, field := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(field); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// removeTemp removes dir, trying again for a moment while processes killed
// an instant ago may still be writing into it.
func removeTemp(t *testing.T, dir string) {
	t.Helper()
	var err error
	for range 20 {
		if err = os.RemoveAll(dir); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("removing the scenario's temporary directory: %v", err)
}
