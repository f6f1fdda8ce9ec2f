package middleware

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rpkit/rpkit/internal/flight"
	"github.com/rpkit/rpkit/internal/httpx"
	"github.com/rpkit/rpkit/rp"
)

// Errors the middleware reports to Config.ErrorHandler, besides rp's and
// the store's.
var (
	// ErrNoLoginState reports a callback without a usable login-state
	// cookie: expired, already used (a replayed callback), from another
	// browser, or tampered with.
	ErrNoLoginState = errors.New("middleware: no login in progress for this state")
	// ErrLoginRefused reports an OnLogin hook that refused the login.
	ErrLoginRefused = errors.New("middleware: login refused")
	// ErrUnauthenticated reports a request to a RequireAuth handler without
	// a valid session.
	ErrUnauthenticated = errors.New("middleware: not logged in")
	// ErrStore reports a session store that failed (for example Redis
	// unreachable); the request fails closed with 503.
	ErrStore = errors.New("middleware: session store unavailable")
	// ErrRefreshUnavailable reports a session whose access token has
	// expired and cannot be refreshed now: the token endpoint answered
	// something other than a refusal (a 408, a 429, a 5xx, a page that is
	// not a token response) or could not be reached. The session is kept
	// and a later request refreshes again; this one fails with 503, with
	// the provider's Retry-After when it sent one.
	ErrRefreshUnavailable = errors.New("middleware: the session cannot be refreshed now")
)

// statusFor maps a callback or refresh error to an HTTP status: 4xx for a
// bad request or a bad answer from the provider, 502/504 when the provider
// cannot be reached, 503 when the store cannot or a session cannot be
// refreshed now, 500 for a panic.
func statusFor(err error) int {
	var ne net.Error
	var pe *flight.PanicError
	switch {
	case errors.As(err, &pe):
		return http.StatusInternalServerError
	case errors.Is(err, ErrStore), errors.Is(err, ErrRefreshUnavailable), errors.Is(err, rp.ErrKeyRefetchLimited),
		errors.Is(err, rp.ErrNotDiscovered): // even when the last attempt timed out
		return http.StatusServiceUnavailable
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return http.StatusGatewayTimeout
	case errors.Is(err, rp.ErrProviderUnavailable):
		if _, ok := rp.RetryAfterSeconds(err); ok {
			// rp knows when the provider may be tried again (its key set
			// after a failed fetch, discovery not done yet): come back
			// then.
			return http.StatusServiceUnavailable
		}
		return http.StatusBadGateway
	case errors.Is(err, ErrLoginRefused):
		return http.StatusForbidden
	}
	return http.StatusBadRequest
}

// wantsJSON reports whether the client asked for JSON rather than a page.
func wantsJSON(r *http.Request) bool {
	accept := r.Header.Get("Accept")
	return strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/html")
}

// defaultErrorHandler answers a short, fixed message per status: never the
// error's text, which is for logs.
func defaultErrorHandler(w http.ResponseWriter, r *http.Request, status int, _ error) {
	msg := map[int]string{
		http.StatusBadRequest:          "The login could not be completed. Please try again.",
		http.StatusUnauthorized:        "Login required.",
		http.StatusForbidden:           "Access refused.",
		http.StatusBadGateway:          "The identity provider could not be reached. Please try again later.",
		http.StatusServiceUnavailable:  "The service is temporarily unavailable. Please try again later.",
		http.StatusGatewayTimeout:      "The identity provider did not answer in time. Please try again later.",
		http.StatusMethodNotAllowed:    "Method not allowed.",
		http.StatusInternalServerError: "Internal error.",
	}[status]
	if msg == "" {
		msg = http.StatusText(status)
	}
	if wantsJSON(r) {
		httpx.WriteError(w, status, errorCode(status), msg)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write([]byte(msg + "\n"))
}

func errorCode(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "login_required"
	case http.StatusForbidden:
		return "access_denied"
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return "temporarily_unavailable"
	}
	return "invalid_request"
}

// retryAfter is the Retry-After header value for err, in whole seconds
// rounded up: when the provider's key set can be fetched again, or the
// token endpoint's own Retry-After. ok is false when neither is known.
func retryAfter(err error) (string, bool) {
	if secs, ok := rp.RetryAfterSeconds(err); ok {
		return strconv.Itoa(secs), true
	}
	var pe *rp.ProviderError
	if errors.As(err, &pe) && pe.RetryAfter > 0 {
		return strconv.Itoa(int((pe.RetryAfter + time.Second - 1) / time.Second)), true
	}
	return "", false
}
