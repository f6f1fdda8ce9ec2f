package backchannel

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rpkit/rpkit/rp"
)

// TestEverySentinelHasAPhrase: every rp sentinel (and this package's),
// wrapped the way rp wraps them, reaches the sender as its own phrase —
// never as "logout failed", and without the wrapped details.
func TestEverySentinelHasAPhrase(t *testing.T) {
	sentinels := []error{
		rp.ErrAZP, rp.ErrAlgorithm, rp.ErrAtHash, rp.ErrAudience, rp.ErrAuthTime, rp.ErrConfig, rp.ErrDiscovery,
		rp.ErrExpired, rp.ErrIDTokenHintRequired, rp.ErrInsufficientScope, rp.ErrInvalidCallback, rp.ErrInvalidToken,
		rp.ErrIssuedAt, rp.ErrIssuer, rp.ErrIssuerMismatch, rp.ErrKeyRefetchLimited, rp.ErrLoginExpired,
		rp.ErrLogoutEvent, rp.ErrLogoutJTI, rp.ErrLogoutNonce, rp.ErrLogoutSubject, rp.ErrLogoutTokenType,
		rp.ErrMalformedToken, rp.ErrMissingIDToken, rp.ErrMissingSubject, rp.ErrNoEndSession, rp.ErrNoIntrospection,
		rp.ErrNoRefreshToken, rp.ErrNoRevocation, rp.ErrNoUserInfo, rp.ErrNonceMismatch, rp.ErrNotYetValid,
		rp.ErrProviderUnavailable, rp.ErrSignature, rp.ErrStateMismatch, rp.ErrSubjectChanged, rp.ErrTokenResponse,
		rp.ErrUserInfoSubject, rp.ErrInactiveToken, rp.ErrMissingClaim, ErrReplay, ErrRequest,
	}
	for _, s := range sentinels {
		want := s.Error()[strings.Index(s.Error(), ": ")+2:]
		for _, err := range []error{
			s,
			fmt.Errorf("%w: kid %q from the request", s, "attacker-data"),
			fmt.Errorf("%w: %w", s, errors.New("dial tcp: refused")),
			fmt.Errorf("rp: context: %w", s),
		} {
			if got := describe(err); got != want || strings.Contains(got, "attacker-data") {
				t.Errorf("describe(%v) = %q, want %q", err, got, want)
			}
		}
	}
	retry := &rp.KeyRetryError{RetryAt: time.Now(), Err: fmt.Errorf("%w: key %q", rp.ErrKeyRefetchLimited, "k")}
	if got := describe(retry); got != "JWKS refetch rate-limited" {
		t.Errorf("describe(KeyRetryError) = %q", got)
	}
	if got := describe(fmt.Errorf("backchannel: ending sessions: %w", errors.New("EOF"))); got != "logout failed" {
		t.Errorf("a store error = %q, want logout failed", got)
	}
}
