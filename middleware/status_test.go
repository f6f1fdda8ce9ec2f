package middleware

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/rpkit/rpkit/rp"
)

// TestStatusFor: the status of the errors whose class is not obvious from
// their first sentinel.
func TestStatusFor(t *testing.T) {
	timedOut := fmt.Errorf("%w: %w", rp.ErrProviderUnavailable, context.DeadlineExceeded)
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"not discovered, the last attempt timed out", &rp.DiscoveryRetryError{RetryAfter: time.Second, Err: timedOut}, http.StatusServiceUnavailable},
		{"not discovered yet", &rp.DiscoveryRetryError{RetryAfter: time.Second}, http.StatusServiceUnavailable},
		{"the provider timed out", timedOut, http.StatusGatewayTimeout},
		{"the provider failed", rp.ErrProviderUnavailable, http.StatusBadGateway},
		{"keys after a failed fetch", &rp.KeyRetryError{RetryAfter: time.Second, Err: rp.ErrProviderUnavailable}, http.StatusServiceUnavailable},
	} {
		if got := statusFor(tc.err); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}
