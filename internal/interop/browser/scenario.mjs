// scenario.mjs drives Debian's Chromium through examples/webapp with
// playwright-core and prints what it saw as one JSON object on stdout. The
// Go tests in this directory (browser_test.go) start the app and the
// providers, run this script, and assert on the page texts it reports.
//
//	node scenario.mjs '{"scenario":"dev","appURL":"http://127.0.0.1:8080","screenshots":"/tmp/shots"}'
//
// The configuration is the first argument, or the environment variable
// BROWSER_SCENARIO when there is none:
//
//	scenario     "dev"          the embedded development provider: log in, log out,
//	                            then its back-channel and front-channel buttons (each
//	                            ending on the home page's banner, which a stranger's
//	                            link does not show), then a callback replayed: the
//	                            error page and its Try again
//	             "cancel"       a real provider (node oidc-provider): Cancel on its
//	                            login page, the app's error page, Try again
//	             "provider"     a real provider (node oidc-provider): its login and
//	                            consent pages, then RP-initiated logout through its
//	                            end-session confirmation
//	             "frontchannel" a real provider with front-channel logout: log in,
//	                            end the session at the provider, whose logout page
//	                            frames the app's /frontchannel-logout, with
//	                            third-party cookies blocked
//	appURL       the app's base URL
//	screenshots  directory for one PNG per step (created when missing)
//	chromium     browser executable; default /usr/bin/chromium
//	timeoutMs    per navigation or wait; default 15000
//	provider     {"issuer", "login", "password"}: who to log in as ("provider",
//	             "frontchannel")
//	controlFrameURL  ("frontchannel") a page on another site that frames the
//	             app; loaded in a second browser that allows third-party
//	             cookies, as the control of the experiment
//
// The result: {scenario, ok, steps: [{name, url, title, text, ids, problemKind,
// screenshot}] (problemKind: the error page's data-kind),
// fetches: [{name, path, accept, status, location, body}], frontchannel:
// [{url, status, cookies: [{name, sameSite, blockedReasons, exemptionReason}]}],
// control (the same, from the control browser), console, errors, elapsedMs}.
// The script exits 0 whenever it could print a result, failed steps
// included (they are in errors); 2 on a bad configuration.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const started = Date.now();
let cfg;
try {
  cfg = JSON.parse(process.argv[2] ?? process.env.BROWSER_SCENARIO ?? '');
} catch (err) {
  console.error(`scenario.mjs: the configuration must be JSON (argument or BROWSER_SCENARIO): ${err.message}`);
  process.exit(2);
}
const scenarios = { dev, provider, frontchannel, cancel };
if (!scenarios[cfg.scenario] || !cfg.appURL || !cfg.screenshots) {
  console.error(`scenario.mjs: need scenario (${Object.keys(scenarios).join(', ')}), appURL and screenshots`);
  process.exit(2);
}
const appURL = cfg.appURL.replace(/\/$/, '');
const appOrigin = new URL(appURL).origin;
const timeout = cfg.timeoutMs ?? 15000;
fs.mkdirSync(cfg.screenshots, { recursive: true });

const result = {
  scenario: cfg.scenario, ok: false, steps: [], fetches: [], frontchannel: [], console: [], errors: [], elapsedMs: 0,
};
const cleanups = [];
let currentPage; // the page an error screenshot shows

// ids the app's pages carry (see examples/webapp/pages.go).
const knownIds = ['login', 'logout', 'logged-out', 'ended', 'sub', 'sid', 'expiry', 'access-expiry', 'dev-backchannel', 'dev-frontchannel',
  'dev-elsewhere', 'frontchannel', 'continue', 'metrics', 'problem-title', 'problem-text', 'try-again'];

// launch starts Chromium with a fresh profile. thirdPartyCookies is "block",
// "allow" or undefined (the build's default); it is written as the profile's
// own setting (profile.cookie_controls_mode, what "Block third-party
// cookies" in chrome://settings/cookies changes) before the browser starts.
// Chromium 156 has no switch that overrides it: with the setting at "allow",
// --test-third-party-cookie-phaseout still lets them through. Debian's
// Chromium 156 happens to block them in a fresh profile already; the test
// does not rely on that default.
async function launch(label, thirdPartyCookies) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rpkit-chromium-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  if (thirdPartyCookies) {
    const block = thirdPartyCookies === 'block';
    fs.mkdirSync(path.join(dir, 'Default'));
    fs.writeFileSync(path.join(dir, 'Default', 'Preferences'), JSON.stringify({
      // cookie_controls_mode: 0 allow, 1 block third-party cookies.
      profile: { cookie_controls_mode: block ? 1 : 0, block_third_party_cookies: block },
    }));
  }
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: cfg.chromium || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1000, height: 760 },
    timeout,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage',
      // Only loopback: the providers' pages @import Google fonts, which must
      // fail at once offline instead of holding the load event.
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
    ],
  });
  cleanups.unshift(() => ctx.close());
  ctx.setDefaultTimeout(timeout);
  ctx.setDefaultNavigationTimeout(timeout);
  const page = ctx.pages()[0] ?? await ctx.newPage();
  currentPage = page;
  page.on('console', (m) => result.console.push(`${label}: ${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => result.console.push(`${label}: pageerror: ${e.message}`));
  return { ctx, page };
}

// step records the page as it is now: URL, title, visible text, the texts of
// the app's known ids, and a full-page screenshot.
async function step(page, name) {
  await page.waitForLoadState('load');
  const n = String(result.steps.length + 1).padStart(2, '0');
  const file = path.join(cfg.screenshots, `${n}-${name}.png`);
  const s = { name, url: page.url(), title: await page.title(), text: await page.innerText('body'), ids: {}, screenshot: file };
  for (const id of knownIds) {
    const el = await page.$(`#${id}`);
    if (el) s.ids[id] = (await el.innerText()).trim();
  }
  const problem = await page.$('#problem');
  if (problem) s.problemKind = await problem.getAttribute('data-kind');
  await page.screenshot({ path: file, fullPage: true });
  result.steps.push(s);
  return s;
}

// probe asks the app for path with the browser context's cookies, through
// the context's request API, twice: with Accept: application/json, and
// without it and without following redirects, so that a redirect to /login
// shows instead of being followed into a fresh login (the development
// provider logs alice in without asking). The app's pages forbid fetch()
// (CSP default-src 'none'), and a navigation would follow the redirect.
async function probe(ctx, name, pathname) {
  for (const accept of ['application/json', '']) {
    const res = await ctx.request.get(appURL + pathname, {
      maxRedirects: 0, failOnStatusCode: false, headers: accept ? { Accept: accept } : {},
    });
    result.fetches.push({
      name, path: pathname, accept, status: res.status(), location: res.headers().location ?? '',
      body: (await res.text()).slice(0, 1000),
    });
  }
}

// appLogin clicks Log in on the home page and passes whatever the provider
// shows — a login form (any password), a consent form — until the app's
// profile page.
async function appLogin(page, label) {
  await page.goto(appURL + '/');
  await step(page, `${label}-home`);
  await clickAndLoad(page, '#login');
  for (let i = 0; new URL(page.url()).origin !== appOrigin; i++) {
    if (!cfg.provider || !page.url().startsWith(cfg.provider.issuer) || i === 4) {
      throw new Error(`logging in: stuck at ${page.url()}`);
    }
    if (await page.$('input[name="login"]')) {
      await page.fill('input[name="login"]', cfg.provider.login || 'alice');
      await page.fill('input[name="password"]', cfg.provider.password || 'any password');
      await step(page, `${label}-provider-login`);
    } else {
      await step(page, `${label}-provider-consent`);
    }
    await clickAndLoad(page, 'button[type="submit"]');
  }
  if (page.url() !== appURL + '/profile') throw new Error(`logging in: landed at ${page.url()}, not ${appURL}/profile`);
  return step(page, `${label}-profile`);
}

// clickAndLoad clicks selector and waits until the main frame has
// navigated (after any HTTP redirects) and loaded.
async function clickAndLoad(page, selector) {
  await Promise.all([page.waitForEvent('framenavigated', (f) => f === page.mainFrame()), page.click(selector)]);
  await page.waitForLoadState('load');
}

// dev: the embedded development provider (oidctest), which logs alice in
// without a page of its own.
async function dev() {
  const { ctx, page } = await launch('dev');
  // A stranger following a link to the banner: no banner.
  await page.goto(appURL + '/?ended=backchannel');
  await step(page, 'stranger-ended-link');
  await appLogin(page, 'login1');
  await probe(ctx, 'me-logged-in', '/me');

  await Promise.all([page.waitForURL((u) => u.origin === appOrigin && u.pathname === '/'), page.click('#logout')]);
  await step(page, 'logged-out');
  await probe(ctx, 'me-after-logout', '/me');

  await appLogin(page, 'login2');
  await Promise.all([page.waitForURL((u) => u.pathname === '/' && u.searchParams.get('ended') === 'backchannel'), page.click('#dev-backchannel')]);
  await step(page, 'backchannel-ended');
  await probe(ctx, 'me-after-backchannel', '/me');
  await probe(ctx, 'profile-after-backchannel', '/profile');

  await appLogin(page, 'login3');
  const frameLoaded = page.waitForResponse((r) => r.url().includes('/frontchannel-logout?'));
  await Promise.all([page.waitForURL(appURL + '/dev/frontchannel-logout'), page.click('#dev-frontchannel')]);
  const frameRes = await frameLoaded;
  result.frontchannel.push({ url: frameRes.url(), status: frameRes.status(), body: await frameRes.text(), cookies: [] });
  result.frontchannel.at(-1).frameText = await page.frameLocator('#frontchannel').locator('body').innerText();
  await step(page, 'frontchannel-page');
  await probe(ctx, 'me-after-frontchannel', '/me');
  await probe(ctx, 'profile-after-frontchannel', '/profile');
  await clickAndLoad(page, '#continue');
  await step(page, 'frontchannel-ended');

  // A forced failure: the login's callback loaded again (as Back or a
  // second tab does), after its login state was used.
  let callback;
  const seen = (r) => { if (r.url().startsWith(appURL + '/callback?')) callback = r.url(); };
  page.on('request', seen);
  await appLogin(page, 'login4');
  page.off('request', seen);
  if (!callback) throw new Error('login4: no callback request seen');
  await page.goto(callback);
  await step(page, 'callback-replayed');
  await clickAndLoad(page, '#try-again');
  await step(page, 'try-again-profile');
}

// cancel: a real provider's login page, where the user presses Cancel.
async function cancel() {
  const { page } = await launch('cancel');
  await page.goto(appURL + '/');
  await step(page, 'home');
  await clickAndLoad(page, '#login');
  if (!page.url().startsWith(cfg.provider.issuer)) throw new Error(`Log in led to ${page.url()}, not the provider`);
  await step(page, 'provider-login');
  await Promise.all([
    page.waitForURL((u) => u.origin === appOrigin && u.pathname === '/callback', { waitUntil: 'load' }),
    page.click('a:has-text("Cancel")'),
  ]);
  await step(page, 'cancelled');
  await clickAndLoad(page, '#try-again');
  await step(page, 'try-again-provider');
}

// provider: a real provider's login, consent and end-session pages.
async function provider() {
  const { ctx, page } = await launch('provider');
  await appLogin(page, 'login');
  await probe(ctx, 'me-logged-in', '/me');

  await page.click('#logout');
  await page.waitForURL((u) => u.href.startsWith(cfg.provider.issuer), { waitUntil: 'load' });
  await step(page, 'provider-end-session');
  await Promise.all([
    page.waitForURL((u) => u.origin === appOrigin && u.pathname === '/', { waitUntil: 'load' }),
    page.click('button[name="logout"][value="yes"]'),
  ]);
  await step(page, 'logged-out');
  await probe(ctx, 'me-after-logout', '/me');
  await probe(ctx, 'profile-after-logout', '/profile');
}

// recordFrontchannel records, from the browser's side (DevTools protocol),
// each request for the app's /frontchannel-logout: its status and, for every
// cookie the browser holds for that URL, whether it was sent or why it was
// withheld (e.g. SameSite, or "UserPreferences": third-party cookies are
// blocked by the profile's setting).
async function recordFrontchannel(ctx, page, into) {
  const cdp = await ctx.newCDPSession(page);
  const byId = new Map();
  const get = (id) => {
    if (!byId.has(id)) byId.set(id, { cookies: [] });
    return byId.get(id);
  };
  cdp.on('Network.requestWillBeSent', (e) => {
    if (e.request.url.includes('/frontchannel-logout')) Object.assign(get(e.requestId), { url: e.request.url, frameId: e.frameId });
  });
  cdp.on('Network.requestWillBeSentExtraInfo', (e) => {
    get(e.requestId).cookies = (e.associatedCookies ?? []).map((c) => ({
      name: c.cookie.name, sameSite: c.cookie.sameSite ?? '', blockedReasons: c.blockedReasons ?? [], exemptionReason: c.exemptionReason ?? '',
    }));
  });
  cdp.on('Network.responseReceived', (e) => {
    if (byId.has(e.requestId)) get(e.requestId).status = e.response.status;
  });
  await cdp.send('Network.enable');
  return () => {
    for (const r of byId.values()) if (r.url) into.push(r);
  };
}

// frontchannel: log in at a provider with front-channel logout, then end the
// provider session on the provider's own end-session page (not through the
// app: its POST /logout would end the local session itself). The provider's
// logout page frames the app's /frontchannel-logout; the app is on another
// site (localhost against the provider's 127.0.0.1), so it is a third party
// there, and this browser blocks third-party cookies.
async function frontchannel() {
  const { ctx, page } = await launch('blocked', 'block');
  const done = await recordFrontchannel(ctx, page, result.frontchannel);
  await appLogin(page, 'login');
  await probe(ctx, 'me-logged-in', '/me');

  await page.goto(`${cfg.provider.issuer}/session/end`);
  await step(page, 'provider-end-session');
  const frameResponse = page.waitForResponse((r) => r.url().startsWith(appURL + '/frontchannel-logout'));
  await page.click('button[name="logout"][value="yes"]');
  await frameResponse; // its body is gone with the frame: the app's side records it
  // The page of iframes moves on by script once they have loaded: to the
  // provider's own success page, as no post_logout_redirect_uri was given.
  await page.waitForURL((u) => u.href.startsWith(cfg.provider.issuer) && u.pathname.endsWith('/session/end/success'), { waitUntil: 'load' });
  await step(page, 'provider-logged-out');
  done();

  await page.goto(appURL + '/');
  await step(page, 'app-home-after');
  await probe(ctx, 'me-after-frontchannel', '/me');
  await probe(ctx, 'profile-after-frontchannel', '/profile');

  if (cfg.controlFrameURL) {
    // The control: the same framing in a browser that allows third-party
    // cookies. The app's SameSite=None cookie must reach the frame there.
    const c = await launch('control', 'allow');
    const controlled = [];
    const doneControl = await recordFrontchannel(c.ctx, c.page, controlled);
    await c.page.goto(appURL + '/');
    await step(c.page, 'control-app-home');
    const r = c.page.waitForResponse((x) => x.url().startsWith(appURL + '/frontchannel-logout'));
    await c.page.goto(cfg.controlFrameURL);
    await r;
    await step(c.page, 'control-frame-page');
    doneControl();
    result.control = controlled;
  }
}

try {
  await scenarios[cfg.scenario]();
} catch (err) {
  result.errors.push(err.stack ?? String(err));
  if (currentPage) {
    const file = path.join(cfg.screenshots, 'error.png');
    try {
      await currentPage.screenshot({ path: file, fullPage: true });
      result.errors.push(`page at the error: ${currentPage.url()} (screenshot ${file}): ${(await currentPage.innerText('body')).slice(0, 1000)}`);
    } catch { /* the browser may be gone */ }
  }
} finally {
  for (const c of cleanups) {
    try { await c(); } catch { /* closing anyway */ }
  }
}
result.ok = result.errors.length === 0;
result.elapsedMs = Date.now() - started;
process.stdout.write(JSON.stringify(result) + '\n');
