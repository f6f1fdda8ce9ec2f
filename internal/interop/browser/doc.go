// Package browser holds rpkit's real-browser tests: examples/webapp, built
// and run as a process, driven through Debian's Chromium by playwright-core
// (scenario.mjs, run with Node) — against the embedded development provider
// (its logout buttons and the banners they lead to, a replayed callback's
// error page), node oidc-provider v9 (its login pages, and Cancel on them:
// the app's error page), and oidc-provider 6.31.1 for front-channel logout
// with third-party cookies blocked.
//
// The tests need node, the Node modules of internal/interop (npm ci there)
// and chromium; without them they are skipped, except with CI=true, where
// they fail. Screenshots of every step go to $BROWSER_SCREENSHOTS when it is
// set, else to a directory under the system's temporary directory that the
// tests log.
package browser
