package session

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/rpkit/rpkit/internal/randid"
	"github.com/rpkit/rpkit/internal/redact"
)

// ErrNotFound is returned by [Store.Get] for a session that does not exist
// or has expired, and by [Store.Update] for a session that was deleted (for
// example by a logout) while the caller held it.
var ErrNotFound = errors.New("session: not found")

// ErrImmutable is returned by [Store.Update] when the caller changed a
// session's Issuer, Subject or SID: the logout indexes are keyed by them.
var ErrImmutable = errors.New("session: issuer, subject and sid cannot change")

// ErrConflict is returned by [Store.Update] when the stored session changed
// since the caller read it (its Version moved on): the caller re-reads and
// decides again, so that it never overwrites newer tokens with older ones.
var ErrConflict = errors.New("session: changed since read")

// ErrInvalidSession is wrapped by the errors of [Store.Create],
// [Store.Update] and [Marshal] for a session that cannot be stored: a preset
// ID on Create, an empty Issuer or Subject, a zero Expiry, or Claims that
// are not valid JSON.
var ErrInvalidSession = errors.New("session: invalid session")

// Session is one logged-in browser session: who the user is at which
// provider, the provider's session ID (sid) that logouts name, and the
// tokens. It holds tokens in the clear for the stores to persist; its
// String, GoString and LogValue methods redact them.
type Session struct {
	// ID is the session's opaque identifier, set by [Store.Create]: 256
	// random bits or more, never chosen by the client (no fixation). The
	// session cookie carries it; stores key records by a hash of it.
	ID string
	// Issuer, Subject and SID identify the user and the provider session
	// (the ID token's iss, sub and sid). They cannot change after Create.
	Issuer, Subject, SID string
	// IDToken is the raw ID token (an id_token_hint at logout).
	IDToken string
	// Claims are the ID token's claims, as a JSON object.
	Claims json.RawMessage
	// AccessToken and RefreshToken are the OAuth tokens; RefreshToken may be
	// empty. AccessTokenExpiry is zero when the provider gave no expiry.
	AccessToken, RefreshToken string
	AccessTokenExpiry         time.Time
	// AccessTokenIssued is when the access token was obtained (at the login
	// or the last refresh): with AccessTokenExpiry it gives the token's
	// lifetime, which bounds how early the middleware refreshes it. Zero
	// when unknown (a record written before the field existed).
	AccessTokenIssued time.Time
	// AuthParams are authorization-response parameters kept with the
	// session (rp's Tokens.AuthParams), such as Gluu's "session_id", for
	// the end-session request. Nil when none. Not logged: a provider
	// session ID may work as a provider cookie.
	AuthParams map[string]string
	// Created, LastSeen and Expiry: creation time, last use, and the
	// absolute end of the session (stores drop it then).
	Created, LastSeen, Expiry time.Time
	// Version is incremented by every successful Update.
	Version uint64
}

// Store keeps sessions with two indexes, (issuer, sid) and (issuer,
// subject), so that logouts never scan. Implementations must be safe for
// concurrent use and must key records by a hash of the session ID (see
// [Key]), so that a dump of the store holds no usable session IDs. Run
// session/storetest against an implementation to check the whole contract.
type Store interface {
	// Get returns the session with that ID, or ErrNotFound when there is none
	// or it has expired.
	Get(ctx context.Context, id string) (*Session, error)
	// Create stores a new session and its index entries atomically. s.ID
	// must be empty: Create sets it to a fresh random ID. Issuer, Subject
	// and Expiry are required and Claims, when set, must be valid JSON (else
	// ErrInvalidSession); a session without a SID is found through the
	// subject index only. A session that a Logout's tombstone covers is
	// refused with ErrLoggedOut.
	Create(ctx context.Context, s *Session) error
	// Update replaces a stored session (tokens, times) if its stored Version
	// is still s.Version — else it writes nothing and returns ErrConflict —
	// and the stored version becomes s.Version + 1, written back to
	// s.Version. If the session no longer exists — a logout deleted it
	// meanwhile — it writes nothing and returns ErrNotFound: a refresh in
	// flight can never bring a logged-out session back. Changing Issuer,
	// Subject or SID gives ErrImmutable.
	Update(ctx context.Context, s *Session) error
	// Delete removes a session and its index entries, and reports whether
	// it removed a live one: false when there was none (never, expired, or
	// removed meanwhile by another Delete or a logout), so that of two
	// concurrent calls only one reports the deletion.
	Delete(ctx context.Context, id string) (bool, error)
	// DeleteBySID removes every session of the provider session (issuer,
	// sid) and reports how many live sessions it removed (expired ones are
	// not counted).
	DeleteBySID(ctx context.Context, issuer, sid string) (int, error)
	// DeleteBySubject removes every session of the user (issuer, subject)
	// and reports how many live sessions it removed.
	DeleteBySubject(ctx context.Context, issuer, subject string) (int, error)
	// Logout ends the sessions a provider's logout names and, until
	// l.Until, refuses to Create the sessions it covers (see [Logout]),
	// atomically with respect to Create: once Logout has returned, no
	// session it covers exists or can be created, whichever instance
	// created it. It reports how many live sessions it removed; calling it
	// again is harmless. An l that is not Valid ends nothing.
	Logout(ctx context.Context, l Logout) (int, error)
}

// NewID returns a new session ID: 256 bits from crypto/rand, base64url.
// Stores call it in Create.
func NewID() string { return randid.New() }

// Key returns the storage key of a session ID: the base64url SHA-256 of
// it. A store dump then holds no value that works as a cookie.
func Key(id string) string {
	sum := sha256.Sum256([]byte(id))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// String describes the session without its ID or tokens.
func (s Session) String() string {
	return fmt.Sprintf("session{iss=%q sub=%q sid=%q expiry=%s}", s.Issuer, s.Subject, s.SID, s.Expiry.Format(time.RFC3339))
}

// GoString is String, so %#v does not reveal tokens either.
func (s Session) GoString() string { return s.String() }

// LogValue logs the session without its ID, its tokens or its provider
// session ID (which can end the session through front-channel logout: the
// log carries its hash).
// LogValue logs the session without its ID or tokens.
func (s Session) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("iss", s.Issuer), slog.String("sub", s.Subject), slog.String("sid_hash", redact.Hash(s.SID)),
		slog.Time("expiry", s.Expiry), slog.Uint64("version", s.Version),
	)
}
