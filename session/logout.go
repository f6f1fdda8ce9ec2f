package session

import (
	"encoding/json"
	"errors"
	"math"
	"time"
)

// ErrLoggedOut is returned by [Store.Create] for a session of a provider
// session that a [Store.Logout] ended: its (issuer, sid), or its subject
// in a subject-wide logout that came after the session's ID token was
// issued. A login whose code exchange raced the provider's logout loses,
// on every instance.
var ErrLoggedOut = errors.New("session: the provider session has been logged out")

// DefaultLogoutHold is how long a [Logout] whose Until is zero keeps
// refusing the sessions it covers: longer than a login started before the
// logout can take to complete (rp's default LoginTimeout is 10 minutes).
const DefaultLogoutHold = 15 * time.Minute

// Logout is what a provider's logout names (a Back-Channel Logout 1.0
// logout token, or a front-channel request's iss and sid), for
// [Store.Logout]:
//
//   - with a SID, the sessions of (Issuer, SID) end; with a Subject too, so
//     do the subject's sessions that have no sid (providers that put sid in
//     logout tokens but not in ID tokens);
//   - with a Subject and no SID, every session of (Issuer, Subject) ends.
//
// Until Until, the store keeps a tombstone of the logout and Create refuses
// the sessions it covers with [ErrLoggedOut]: any session of the sid; for a
// subject-wide logout (or the sid-less part of a sub+sid one), sessions of
// the subject whose ID token was issued no later than IssuedAt.
type Logout struct {
	Issuer, Subject, SID string
	// IssuedAt is the logout's instant on the provider's clock (the logout
	// token's iat), compared with the iat of a new session's ID token
	// (see [Session.IssuedAt]). Zero: the store's clock at Logout.
	IssuedAt time.Time
	// Until is when the tombstone lapses. Zero: DefaultLogoutHold from
	// now. A logout token's AcceptUntil is usually too soon: a login whose
	// code exchange started before the logout may complete later.
	Until time.Time
}

// Valid reports whether l names something: an Issuer, and a SID or a
// Subject.
func (l Logout) Valid() bool { return l.Issuer != "" && (l.SID != "" || l.Subject != "") }

// Hold returns l's IssuedAt and Until with their defaults applied at now,
// for stores that implement [Store.Logout].
func (l Logout) Hold(now time.Time) (issuedAt, until time.Time) {
	issuedAt, until = l.IssuedAt, l.Until
	if issuedAt.IsZero() {
		issuedAt = now
	}
	if until.IsZero() {
		until = now.Add(DefaultLogoutHold)
	}
	return issuedAt, until
}

// IssuedAt is when the session's ID token was issued, as subject-wide
// logout tombstones compare it: the "iat" claim of Claims, or, without
// one, Created. Zero when neither is set.
func (s *Session) IssuedAt() time.Time {
	if len(s.Claims) > 0 {
		var c struct {
			IAT *float64 `json:"iat"`
		}
		if json.Unmarshal(s.Claims, &c) == nil && c.IAT != nil && !math.IsNaN(*c.IAT) && *c.IAT > 0 && *c.IAT < 1<<40 {
			sec, frac := math.Modf(*c.IAT)
			return time.Unix(int64(sec), int64(frac*1e9))
		}
	}
	return s.Created
}

// Covered reports whether a subject tombstone recorded at instant at
// covers a session whose [Session.IssuedAt] is iat, for stores that
// implement [Store.Logout]: both are set and iat is not after at. A
// session that carries no time at all is never covered.
func Covered(at, iat time.Time) bool {
	return !at.IsZero() && !iat.IsZero() && !iat.After(at)
}
