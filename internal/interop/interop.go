// Package interop runs node's oidc-provider (OpenID-certified) for rpkit's
// interop tests, and drives it like a browser without JavaScript would.
//
// It is test support, like net/http/httptest, for this package's tests and
// for other test packages (the browser tests in ./browser):
//
//   - [RequireNode] skips a test when node or npm is missing (fails it when
//     the environment variable CI is "true", so that CI never passes by
//     skipping), and [EnsureModules] runs `npm ci` in this directory when
//     node_modules is missing.
//   - [StartProvider] runs provider.mjs (oidc-provider 9) or
//     provider-legacy.mjs (oidc-provider 6.31.1, the last version with
//     front-channel logout) on a free 127.0.0.1 port, registers one
//     confidential client with the URIs given, and stops the node process
//     (its whole process group) when the test ends. The provider reports
//     events as JSON lines; [Provider.WaitEvent] waits for them.
//   - [Browser] is an http.Client with a cookie jar; [Page.Forms] and
//     [Page.Iframes] read the provider's HTML (login, consent, logout
//     confirmation, front-channel iframes) with small regular expressions
//     (no HTML parser: the module takes no new dependency), and
//     [Provider.DevLogin] and [Provider.ConfirmLogout] submit those forms
//     as a user clicking through them would.
//
// The app under test and the provider share the host 127.0.0.1 (cookies
// ignore ports), so the provider's cookies are renamed op_session,
// op_interaction, op_interaction_resume (and op_state in 6.31.1).
//
// Process groups make this package build on Unix-like systems only.
package interop

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The provider scripts, in [Dir].
const (
	// ScriptV9 runs oidc-provider 9 (no front-channel logout).
	ScriptV9 = "provider.mjs"
	// ScriptLegacy runs oidc-provider 6.31.1 (front-channel logout; logout
	// tokens with typ JWT and no exp).
	ScriptLegacy = "provider-legacy.mjs"
)

const (
	startTimeout = 30 * time.Second // node start, module load, RSA key
	stopTimeout  = 5 * time.Second
	maxPageBytes = 4 << 20
)

// Dir returns the directory of this package: package.json, the provider
// scripts and node_modules.
func Dir(t testing.TB) string {
	t.Helper()
	if _, file, _, ok := runtime.Caller(0); ok {
		dir := filepath.Dir(file)
		if fileExists(filepath.Join(dir, "package.json")) {
			return dir
		}
	}
	// Built with -trimpath: find the module root from the working
	// directory (a test runs in its package's directory).
	wd, err := os.Getwd()
	if err != nil {
		t.Fatalf("interop: %v", err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if fileExists(filepath.Join(d, "go.mod")) {
			dir := filepath.Join(d, "internal", "interop")
			if fileExists(filepath.Join(dir, "package.json")) {
				return dir
			}
			break
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	t.Fatalf("interop: cannot find internal/interop/package.json from %s", wd)
	return ""
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// skipOrFail skips the test, or fails it when CI=true.
func skipOrFail(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("interop: %s; CI=true requires it", msg)
	}
	t.Skip("interop: " + msg)
}

// RequireNode skips the test when node (20 or later) or npm is not
// installed, or fails it when CI=true. It returns the path of node.
func RequireNode(t testing.TB) string {
	t.Helper()
	const hint = "(the interop tests need node 20 or later and npm; then npm ci in internal/interop)"
	node, err := exec.LookPath("node")
	if err != nil {
		skipOrFail(t, "node is not installed "+hint)
	}
	if _, err := exec.LookPath("npm"); err != nil {
		skipOrFail(t, "npm is not installed "+hint)
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		skipOrFail(t, fmt.Sprintf("node --version: %v", err))
	}
	v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
	major, _ := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
	if major < 20 {
		skipOrFail(t, fmt.Sprintf("node %s is too old: oidc-provider needs node 20 or later", v))
	}
	return node
}

var modulesMu sync.Mutex

// EnsureModules runs `npm ci` in [Dir] when node_modules lacks the
// providers (CI's .ci/run installs them beforehand). It holds a lock file
// in the temporary directory meanwhile, so that test packages running in
// parallel do not install twice at once.
func EnsureModules(t testing.TB) {
	t.Helper()
	dir := Dir(t)
	installed := func() bool {
		return fileExists(filepath.Join(dir, "node_modules", "oidc-provider", "package.json")) &&
			fileExists(filepath.Join(dir, "node_modules", "oidc-provider-legacy", "package.json"))
	}
	if installed() {
		return
	}
	RequireNode(t)
	modulesMu.Lock()
	defer modulesMu.Unlock()
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "rpkit-interop-npm-ci.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("interop: lock for npm ci: %v", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("interop: lock for npm ci: %v", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if installed() { // another process installed meanwhile
		return
	}
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("interop: npm ci in %s: %v\n%s", dir, err, out)
	}
	if !installed() {
		t.Fatalf("interop: npm ci in %s did not install oidc-provider and oidc-provider-legacy", dir)
	}
}

// ProviderOptions configure [StartProvider]. RedirectURI is required.
type ProviderOptions struct {
	// Legacy runs oidc-provider 6.31.1 instead of 9.
	Legacy bool
	// ClientID and ClientSecret of the one registered client
	// (client_secret_basic; authorization_code and refresh_token). Zero:
	// "rpkit-interop" and a random secret.
	ClientID, ClientSecret string
	// RedirectURI is the client's redirect URI.
	RedirectURI string
	// PostLogoutRedirectURI is registered when set.
	PostLogoutRedirectURI string
	// BackchannelLogoutURI is registered when set, with
	// backchannel_logout_session_required (sid in ID and logout tokens).
	BackchannelLogoutURI string
	// FrontchannelLogoutURI is registered when set, with
	// frontchannel_logout_session_required (?iss=…&sid=…). Legacy only.
	FrontchannelLogoutURI string
	// AccessTokenTTL is the access tokens' lifetime, whole seconds. Zero:
	// one hour.
	AccessTokenTTL time.Duration
}

// Event is one JSON line from the provider's stdout.
type Event struct {
	Name   string         // the "event" member
	Fields map[string]any // every member
	Line   string         // the raw line
}

// String returns the string member key ("" when absent or not a string).
func (e Event) String(key string) string {
	s, _ := e.Fields[key].(string)
	return s
}

// Provider is a running oidc-provider.
type Provider struct {
	Issuer       string // http://127.0.0.1:PORT
	ClientID     string
	ClientSecret string
	KeyID        string // kid of the provider's signing key
	Legacy       bool

	mu      sync.Mutex
	events  []Event
	taken   []bool
	noise   []string      // stdout lines that are not events
	changed chan struct{} // closed and replaced on every change
	closed  bool          // stdout reached EOF: the process is gone
	stderr  tailBuffer
	done    chan struct{} // closed once the process was waited for
}

// StartProvider runs the provider and returns once it listens. The process
// is stopped when the test ends; when the test failed, the provider's
// stderr and events are logged.
func StartProvider(t testing.TB, opts ProviderOptions) *Provider {
	t.Helper()
	node := RequireNode(t)
	EnsureModules(t)
	if opts.RedirectURI == "" {
		t.Fatal("interop: ProviderOptions.RedirectURI is required")
	}
	if opts.FrontchannelLogoutURI != "" && !opts.Legacy {
		t.Fatal("interop: oidc-provider 9 has no front-channel logout; set Legacy")
	}
	if opts.ClientID == "" {
		opts.ClientID = "rpkit-interop"
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = randomSecret()
	}
	script := ScriptV9
	if opts.Legacy {
		script = ScriptLegacy
	}
	dir := Dir(t)
	cmd := exec.Command(node, filepath.Join(dir, script))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"ISSUER_PORT=0",
		"CLIENT_ID="+opts.ClientID,
		"CLIENT_SECRET="+opts.ClientSecret,
		"REDIRECT_URI="+opts.RedirectURI,
		"POST_LOGOUT_REDIRECT_URI="+opts.PostLogoutRedirectURI,
		"BACKCHANNEL_LOGOUT_URI="+opts.BackchannelLogoutURI,
		"FRONTCHANNEL_LOGOUT_URI="+opts.FrontchannelLogoutURI,
		"ACCESS_TOKEN_TTL=",
		"EXIT_ON_STDIN_CLOSE=1",
		"NODE_ENV=test",
	)
	if opts.AccessTokenTTL > 0 {
		cmd.Env = append(cmd.Env, "ACCESS_TOKEN_TTL="+strconv.Itoa(int(opts.AccessTokenTTL/time.Second)))
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // node and anything it starts
	p := &Provider{ClientID: opts.ClientID, ClientSecret: opts.ClientSecret, Legacy: opts.Legacy,
		changed: make(chan struct{}), done: make(chan struct{})}
	cmd.Stderr = &p.stderr
	stdin, err := cmd.StdinPipe() // closed at cleanup: the provider exits on EOF
	if err != nil {
		t.Fatalf("interop: %v", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("interop: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("interop: starting %s: %v", script, err)
	}
	pid := cmd.Process.Pid
	go func() {
		p.read(stdout)
		cmd.Wait()
		close(p.done)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			stdin.Close()
			select {
			case <-p.done: // exited already: its group id may be reused
				return
			default:
			}
			syscall.Kill(-pid, syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(stopTimeout):
				syscall.Kill(-pid, syscall.SIGKILL)
				<-p.done
			}
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("interop: %s output:\n%s", script, p.transcript())
		}
	})

	ready, err := p.wait("ready", startTimeout)
	if err != nil {
		stop()
		t.Fatalf("interop: %s did not start: %v", script, err) // the cleanup logs the output
	}
	p.Issuer = ready.String("issuer")
	p.KeyID = ready.String("kid")
	if !strings.HasPrefix(p.Issuer, "http://127.0.0.1:") {
		t.Fatalf("interop: %s announced issuer %q", script, p.Issuer)
	}
	return p
}

func randomSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// read collects the provider's stdout until EOF.
func (p *Provider) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		var fields map[string]any
		p.mu.Lock()
		if json.Unmarshal([]byte(line), &fields) == nil && fields["event"] != nil {
			name, _ := fields["event"].(string)
			p.events = append(p.events, Event{Name: name, Fields: fields, Line: line})
			p.taken = append(p.taken, false)
		} else {
			p.noise = append(p.noise, line)
		}
		p.notify()
		p.mu.Unlock()
	}
	io.Copy(io.Discard, r)
	p.mu.Lock()
	p.closed = true
	p.notify()
	p.mu.Unlock()
}

// notify wakes the waiters; p.mu is held.
func (p *Provider) notify() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// WaitEvent returns the first event named name that no earlier WaitEvent
// returned, waiting up to timeout for it. It fails the test on timeout or
// when the provider has exited.
func (p *Provider) WaitEvent(t testing.TB, name string, timeout time.Duration) Event {
	t.Helper()
	ev, err := p.wait(name, timeout)
	if err != nil {
		t.Fatalf("interop: %v; events so far:\n%s", err, p.eventLines())
	}
	return ev
}

func (p *Provider) wait(name string, timeout time.Duration) (Event, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		for i, ev := range p.events {
			if ev.Name == name && !p.taken[i] {
				p.taken[i] = true
				p.mu.Unlock()
				return ev, nil
			}
		}
		closed, changed := p.closed, p.changed
		p.mu.Unlock()
		if closed {
			return Event{}, fmt.Errorf("no %q event: the provider exited", name)
		}
		select {
		case <-changed:
		case <-deadline.C:
			return Event{}, fmt.Errorf("no %q event within %s", name, timeout)
		}
	}
}

// Events returns every event so far, in order.
func (p *Provider) Events() []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Event(nil), p.events...)
}

// AssertNoEvent reports an error for every event named name so far (for
// example "backchannel.error" or "server_error").
func (p *Provider) AssertNoEvent(t testing.TB, name string) {
	t.Helper()
	for _, ev := range p.Events() {
		if ev.Name == name {
			t.Errorf("interop: provider reported %s", ev.Line)
		}
	}
}

func (p *Provider) eventLines() string {
	var b strings.Builder
	for _, ev := range p.Events() {
		b.WriteString("  " + ev.Line + "\n")
	}
	return b.String()
}

// transcript is the provider's output, for failure messages.
func (p *Provider) transcript() string {
	p.mu.Lock()
	noise := strings.Join(p.noise, "\n")
	p.mu.Unlock()
	return "events:\n" + p.eventLines() + "other stdout:\n" + noise + "\nstderr:\n" + p.stderr.String()
}

// tailBuffer keeps the last 64 KiB written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - 64<<10; over > 0 {
		b.buf = b.buf[over:]
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// Browser is an HTTP client with a cookie jar that follows redirects, as a
// browser without JavaScript does.
type Browser struct {
	Client *http.Client
}

// NewBrowser returns a browser with an empty cookie jar.
func NewBrowser() *Browser {
	jar, _ := cookiejar.New(nil) // never fails without options
	return &Browser{Client: &http.Client{Jar: jar, Timeout: 15 * time.Second}}
}

// Page is a response read whole: where the browser ended up after the
// redirects, and what it got there.
type Page struct {
	URL    *url.URL
	Status int
	Header http.Header
	Body   string
}

// Get loads rawURL.
func (b *Browser) Get(t testing.TB, rawURL string) *Page {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatalf("interop: %v", err)
	}
	return b.Do(t, req)
}

// PostForm posts values to rawURL, as a form does.
func (b *Browser) PostForm(t testing.TB, rawURL string, values url.Values) *Page {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, rawURL, strings.NewReader(values.Encode()))
	if err != nil {
		t.Fatalf("interop: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.Do(t, req)
}

// Do sends req and reads the final response.
func (b *Browser) Do(t testing.TB, req *http.Request) *Page {
	t.Helper()
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8")
	}
	resp, err := b.Client.Do(req)
	if err != nil {
		t.Fatalf("interop: %s %s: %v", req.Method, req.URL.Redacted(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPageBytes))
	if err != nil {
		t.Fatalf("interop: %s %s: reading: %v", req.Method, req.URL.Redacted(), err)
	}
	return &Page{URL: resp.Request.URL, Status: resp.StatusCode, Header: resp.Header, Body: string(body)}
}

// Submit sends form as the browser would, with the fields in set replacing
// the form's own (the clicked button's name and value, typed-in text).
func (b *Browser) Submit(t testing.TB, page *Page, form Form, set url.Values) *Page {
	t.Helper()
	action, err := page.URL.Parse(form.Action)
	if err != nil {
		t.Fatalf("interop: form action %q: %v", form.Action, err)
	}
	values := url.Values{}
	for k, v := range form.Fields {
		values[k] = append([]string(nil), v...)
	}
	for k, v := range set {
		values[k] = v
	}
	if strings.EqualFold(form.Method, http.MethodGet) {
		action.RawQuery = values.Encode()
		return b.Get(t, action.String())
	}
	return b.PostForm(t, action.String(), values)
}

// Form is an HTML form: where it goes and the values its inputs carry.
type Form struct {
	ID     string
	Action string // as written; relative to the page's URL
	Method string // "GET" or "POST"
	// Fields are the named inputs' values (not buttons; checkboxes and
	// radios only when checked), in document order.
	Fields url.Values
	// Buttons are the form's named submit buttons, inside it or naming it
	// with a form attribute: clicking one adds its name and value.
	Buttons []Button
}

// Button is a named submit button.
type Button struct{ Name, Value, Text string }

var (
	formRE   = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form\s*>`)
	inputRE  = regexp.MustCompile(`(?is)<input\b([^>]*)>`)
	buttonRE = regexp.MustCompile(`(?is)<button\b([^>]*)>(.*?)</button\s*>`)
	iframeRE = regexp.MustCompile(`(?is)<iframe\b([^>]*)>`)
	attrRE   = regexp.MustCompile(`(?s)([^\s"'<>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>` + "`" + `]+)))?`)
	tagRE    = regexp.MustCompile(`(?s)<[^>]*>`)
)

// attrs parses the attributes of a start tag (its text after the name);
// names are lower-cased, values unescaped.
func attrs(s string) map[string]string {
	m := map[string]string{}
	for _, a := range attrRE.FindAllStringSubmatch(s, -1) {
		name := strings.ToLower(a[1])
		if _, dup := m[name]; dup {
			continue // the first one wins, as in HTML
		}
		m[name] = html.UnescapeString(a[2] + a[3] + a[4])
	}
	return m
}

// Forms returns the page's forms.
func (p *Page) Forms() []Form {
	var forms []Form
	for _, f := range formRE.FindAllStringSubmatch(p.Body, -1) {
		fa := attrs(f[1])
		form := Form{ID: fa["id"], Action: fa["action"], Method: strings.ToUpper(fa["method"]), Fields: url.Values{}}
		if form.Method != http.MethodPost {
			form.Method = http.MethodGet
		}
		if form.Action == "" {
			form.Action = p.URL.String()
		}
		for _, in := range inputRE.FindAllStringSubmatch(f[2], -1) {
			a := attrs(in[1])
			name := a["name"]
			if name == "" {
				continue
			}
			switch strings.ToLower(a["type"]) {
			case "submit", "image":
				form.Buttons = append(form.Buttons, Button{Name: name, Value: a["value"]})
				continue
			case "button", "reset", "file":
				continue
			case "checkbox", "radio":
				if _, checked := a["checked"]; !checked {
					continue
				}
			}
			form.Fields.Add(name, a["value"])
		}
		for _, bt := range buttonRE.FindAllStringSubmatch(f[2], -1) {
			if b, ok := button(bt); ok && (b.form == "" || b.form == form.ID) {
				form.Buttons = append(form.Buttons, b.Button)
			}
		}
		if form.ID != "" { // buttons elsewhere that name the form
			for _, bt := range buttonRE.FindAllStringSubmatch(p.Body, -1) {
				if b, ok := button(bt); ok && b.form == form.ID && !strings.Contains(f[2], bt[0]) {
					form.Buttons = append(form.Buttons, b.Button)
				}
			}
		}
		forms = append(forms, form)
	}
	return forms
}

type formButton struct {
	Button
	form string
}

// button reads a <button> match: named submit buttons only.
func button(m []string) (formButton, bool) {
	a := attrs(m[1])
	if t := strings.ToLower(a["type"]); a["name"] == "" || (t != "" && t != "submit") {
		return formButton{}, false
	}
	text := strings.TrimSpace(html.UnescapeString(tagRE.ReplaceAllString(m[2], "")))
	return formButton{Button{Name: a["name"], Value: a["value"], Text: text}, a["form"]}, true
}

// Form returns the first form that has a field name with value value
// (value "" matches any value), or fails the test.
func (p *Page) Form(t testing.TB, name, value string) Form {
	t.Helper()
	for _, f := range p.Forms() {
		if vs, ok := f.Fields[name]; ok && (value == "" || (len(vs) > 0 && vs[0] == value)) {
			return f
		}
	}
	t.Fatalf("interop: no form with %s=%q at %s (HTTP %d):\n%s", name, value, p.URL, p.Status, excerpt(p.Body))
	return Form{}
}

// Iframes returns the src of every iframe, unescaped.
func (p *Page) Iframes() []string {
	var srcs []string
	for _, m := range iframeRE.FindAllStringSubmatch(p.Body, -1) {
		if src, ok := attrs(m[1])["src"]; ok {
			srcs = append(srcs, src)
		}
	}
	return srcs
}

// excerpt shortens a page for failure messages.
func excerpt(body string) string {
	const n = 2000
	if len(body) > n {
		return body[:n] + "…"
	}
	return body
}

// OnProvider reports whether page is on the provider's origin with a path
// starting with prefix (for example "/interaction/" or "/session/end").
func (p *Provider) OnProvider(page *Page, prefix string) bool {
	iss, err := url.Parse(p.Issuer)
	return err == nil && page.URL.Scheme == iss.Scheme && page.URL.Host == iss.Host &&
		strings.HasPrefix(page.URL.Path, prefix)
}

// DevLogin clicks through the provider's development interactions that
// page shows, as the user account would: the login form (any password is
// accepted; only "alice" exists) and the consent form. It returns the page
// the browser ends up on after the provider redirected back (the app's
// callback has then run). Page must be where the browser landed after
// being sent to the authorization endpoint.
func (p *Provider) DevLogin(t testing.TB, b *Browser, page *Page, account string) *Page {
	t.Helper()
	for step := 0; p.OnProvider(page, "/interaction/"); step++ {
		if step == 4 {
			t.Fatalf("interop: still in the provider's interactions after %d forms: %s", step, page.URL)
		}
		if page.Status != http.StatusOK {
			t.Fatalf("interop: interaction page %s: HTTP %d\n%s", page.URL, page.Status, excerpt(page.Body))
		}
		form := page.Form(t, "prompt", "")
		switch prompt := form.Fields.Get("prompt"); prompt {
		case "login":
			page = b.Submit(t, page, form, url.Values{"login": {account}, "password": {"any password"}})
		case "consent":
			page = b.Submit(t, page, form, nil)
		default:
			t.Fatalf("interop: unknown interaction prompt %q at %s", prompt, page.URL)
		}
	}
	if p.OnProvider(page, "/") && page.Status >= 400 {
		t.Fatalf("interop: provider error at %s: HTTP %d\n%s", page.URL, page.Status, excerpt(page.Body))
	}
	return page
}

// ConfirmLogout answers the provider's end-session page (page, where the
// browser landed on /session/end) as a user clicking "Yes, sign me out":
// it posts the form op.logoutForm with its xsrf field and logout=yes. The
// provider sends its back-channel logout tokens before it answers; the
// returned page is where the browser ends up (the post-logout redirect
// URI, the provider's success page, or, with front-channel logout, the
// page of iframes).
func (p *Provider) ConfirmLogout(t testing.TB, b *Browser, page *Page) *Page {
	t.Helper()
	if !p.OnProvider(page, "/session/end") || page.Status != http.StatusOK {
		t.Fatalf("interop: expected the provider's logout page, got %s (HTTP %d)\n%s", page.URL, page.Status, excerpt(page.Body))
	}
	var form *Form
	for _, f := range page.Forms() {
		if f.ID == "op.logoutForm" {
			form = &f
			break
		}
	}
	if form == nil || form.Fields.Get("xsrf") == "" {
		t.Fatalf("interop: no logout form with an xsrf field at %s:\n%s", page.URL, excerpt(page.Body))
	}
	yes := false
	for _, bt := range form.Buttons {
		yes = yes || (bt.Name == "logout" && bt.Value == "yes")
	}
	if !yes {
		t.Fatalf("interop: the logout page has no logout=yes button:\n%s", excerpt(page.Body))
	}
	return b.Submit(t, page, *form, url.Values{"logout": {"yes"}})
}

// Logout ends the provider session from the provider's side, not through an
// app: the user opens the end-session endpoint with no parameters and
// confirms. Every client of the session with a back-channel URI gets a
// logout token before this returns.
func (p *Provider) Logout(t testing.TB, b *Browser) *Page {
	t.Helper()
	return p.ConfirmLogout(t, b, b.Get(t, p.Issuer+"/session/end"))
}

// DecodeJWT returns the header and claims of a compact JWS without
// verifying it (rpkit verifies; the tests look at what the provider sent).
// Numbers decode as json.Number.
func DecodeJWT(raw string) (header, claims map[string]any, err error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, nil, errors.New("interop: not a compact JWS")
	}
	dec := func(seg string) (map[string]any, error) {
		b, err := base64.RawURLEncoding.DecodeString(seg)
		if err != nil {
			return nil, err
		}
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			return nil, err
		}
		return m, nil
	}
	if header, err = dec(parts[0]); err != nil {
		return nil, nil, fmt.Errorf("interop: JWT header: %w", err)
	}
	if claims, err = dec(parts[1]); err != nil {
		return nil, nil, fmt.Errorf("interop: JWT claims: %w", err)
	}
	return header, claims, nil
}
