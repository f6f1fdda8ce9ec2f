// Package logscan holds a test, and nothing else: it runs the whole session
// lifecycle, its failures included, with every component logging at Debug,
// and checks that no log line carries a token, a secret, a cookie, a
// session ID or a provider sid.
package logscan
