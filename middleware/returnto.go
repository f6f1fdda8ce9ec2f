package middleware

import (
	"net/url"
	"strings"
)

// maxReturnTo bounds the length of a return_to path: it rides in the
// login-state cookie, whose whole value must stay well under the 4 KiB
// browsers keep.
const maxReturnTo = 512

// safeReturnTo reports whether p is a same-origin relative path: it starts
// with a single "/", names no scheme or host however a browser parses it
// ("//host", "/\host", "/\t/host"…), and has no control characters.
func safeReturnTo(p string) bool {
	if p == "" || len(p) > maxReturnTo || p[0] != '/' {
		return false
	}
	if len(p) > 1 && (p[1] == '/' || p[1] == '\\') {
		return false
	}
	for _, r := range p {
		// Browsers strip tabs and newlines and treat "\" as "/", so
		// "/\t/evil.example" would become "//evil.example".
		if r < 0x20 || r == 0x7f || r == '\\' {
			return false
		}
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return false
	}
	// Percent-encoded slashes and backslashes right after the first "/" are
	// decoded by some servers and proxies before redirecting.
	if rest := strings.ToLower(p[1:]); strings.HasPrefix(rest, "%2f") || strings.HasPrefix(rest, "%5c") {
		return false
	}
	return true
}
