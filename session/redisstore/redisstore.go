package redisstore

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rpkit/rpkit/session"
)

// DefaultPrefix is the key prefix of a [Config] whose Prefix is empty.
const DefaultPrefix = "rpkit:"

// tagLen is the length in hex digits of a subject tag: 64 bits of
// SHA-256(issuer NUL subject). Tags only choose hash slots; two subjects
// that share a tag still have separate indexes (their keys carry the full
// hash).
const tagLen = 16

// Config configures a [Store]. The zero value is ready to use.
type Config struct {
	// Prefix starts every key the store writes, so that several apps can
	// share one Redis. Zero means [DefaultPrefix]. A prefix holding a
	// complete hash tag ("{app}:") would put every key in one cluster slot:
	// correct, but unsharded. A prefix holding an empty hash tag ("{}") is
	// refused: Redis Cluster would hash each whole key, scattering a
	// session's keys over slots.
	Prefix string
	// AllowEviction makes [New] accept a Redis whose maxmemory-policy is
	// not noeviction, with a warning in the log. Zero: such a Redis is
	// refused with [ErrEvictionPolicy]. Every key rpkit writes has a TTL,
	// so under the volatile-* policies (a common managed-Redis default)
	// Redis evicts logout indexes and tombstones first, and a logout then
	// silently misses live sessions.
	AllowEviction bool
	// Logger receives the store's warnings (an eviction policy allowed by
	// AllowEviction, a CONFIG GET the server refuses). Zero:
	// slog.Default().
	Logger *slog.Logger
}

// ErrEvictionPolicy reports a Redis whose maxmemory-policy may evict
// rpkit's keys: set it to noeviction (see the package documentation).
var ErrEvictionPolicy = errors.New("redisstore: Redis may evict keys (maxmemory-policy is not noeviction)")

// Store is a [session.Store] in Redis, plus the logout-token replay cache
// ([Store.Seen] and [Store.Done]). It works with a single server, Sentinel
// or Redis Cluster through any [redis.UniversalClient], and needs Redis 6.2
// or later (SET PXAT).
//
// Every write that touches several keys is one Lua script over keys of one
// hash slot, so it is atomic on a cluster too; see the package
// documentation for the key layout. Records expire by Redis TTL at the
// session's Expiry. A Redis error — a lost connection, a timeout, a
// cancelled ctx — is returned wrapped, never as [session.ErrNotFound], so
// that callers fail closed.
//
// A Store is safe for concurrent use, and so are several Stores (in one
// process or many) sharing one Redis: that is how a logout received by one
// instance ends the session on all of them. It does not close the client.
type Store struct {
	c      redis.UniversalClient
	prefix string
	now    func() time.Time
}

// New returns a Store that keeps sessions through c. The caller keeps
// ownership of c and closes it. ctx bounds the checks New makes:
//
//   - cfg.Prefix must not hold an empty hash tag ("{}");
//   - the server's maxmemory-policy (on a cluster, every master's) must be
//     noeviction, or cfg.AllowEviction set: else [ErrEvictionPolicy]. A
//     server that refuses CONFIG GET (several managed services rename it)
//     is accepted with one warning in the log: set the policy in the
//     service's console;
//   - a Redis that cannot be reached is an error.
func New(ctx context.Context, c redis.UniversalClient, cfg Config) (*Store, error) {
	s := newStore(c, cfg)
	if i := strings.IndexByte(s.prefix, '{'); i >= 0 && strings.HasPrefix(s.prefix[i+1:], "}") {
		return nil, fmt.Errorf("redisstore: Prefix %q holds an empty hash tag {}: Redis Cluster would scatter a session's keys over slots", s.prefix)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if err := checkEviction(ctx, c, cfg.AllowEviction, logger); err != nil {
		return nil, err
	}
	return s, nil
}

// newStore is the Store of cfg, unchecked.
func newStore(c redis.UniversalClient, cfg Config) *Store {
	return &Store{c: c, prefix: cmp.Or(cfg.Prefix, DefaultPrefix), now: time.Now}
}

// checkEviction reads maxmemory-policy from the server, or from every
// master of a cluster.
func checkEviction(ctx context.Context, c redis.UniversalClient, allow bool, logger *slog.Logger) error {
	check := func(ctx context.Context, c redis.Cmdable) error {
		vals, err := c.ConfigGet(ctx, "maxmemory-policy").Result()
		if err != nil {
			if isRefused(err) {
				logger.LogAttrs(ctx, slog.LevelWarn, "redisstore: cannot read maxmemory-policy (CONFIG GET refused); make sure it is noeviction, or logouts may miss sessions whose index Redis evicted",
					slog.String("error", err.Error()))
				return nil
			}
			return fmt.Errorf("redisstore: reading maxmemory-policy: %w", err)
		}
		policy, ok := vals["maxmemory-policy"]
		if !ok || policy == "noeviction" {
			return nil
		}
		if !allow {
			return fmt.Errorf("%w: it is %q; set maxmemory-policy noeviction (or Config.AllowEviction to accept the risk)", ErrEvictionPolicy, policy)
		}
		logger.LogAttrs(ctx, slog.LevelWarn, "redisstore: maxmemory-policy may evict keys; logouts may miss sessions whose index Redis evicted",
			slog.String("maxmemory-policy", policy))
		return nil
	}
	if cc, ok := c.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return check(ctx, n) })
	}
	return check(ctx, c)
}

// isRefused reports whether err is the server's refusal of a command (a
// renamed or ACL-denied CONFIG), as opposed to a connection failure.
func isRefused(err error) bool {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return false
	}
	msg := strings.ToUpper(err.Error())
	return strings.HasPrefix(msg, "ERR UNKNOWN COMMAND") || strings.HasPrefix(msg, "NOPERM") ||
		strings.Contains(msg, "UNKNOWN SUBCOMMAND") || strings.HasPrefix(msg, "ERR COMMAND NOT ALLOWED")
}

var _ session.Store = (*Store)(nil)

// Get returns the session with that ID, or [session.ErrNotFound] when there
// is none, it has expired, or id is not an ID this store made. It is one
// round trip to the node of the ID's slot: one HMGET of the record's data
// and ver fields, no script. Both fields are needed, read together by the
// one command: the version in data is the one Update was called with,
// ver the one it set.
func (s *Store) Get(ctx context.Context, id string) (*session.Session, error) {
	tag, ok := parseID(id)
	if !ok {
		return nil, session.ErrNotFound
	}
	vals, err := s.c.HMGet(ctx, s.recordKey(tag, id), "data", "ver").Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: get: %w", err)
	}
	if len(vals) != 2 || vals[0] == nil {
		return nil, session.ErrNotFound
	}
	data, _ := vals[0].(string)
	// The session's tokens share the reply's string: no copy of the 3 KB.
	sess, err := session.UnmarshalString(data)
	if err != nil {
		return nil, fmt.Errorf("redisstore: get: %w", err)
	}
	if v, _ := vals[1].(string); v != "" {
		ver, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("redisstore: get: bad version %q: %w", v, err)
		}
		sess.Version = ver
	}
	sess.ID = id
	return sess, nil
}

// Create stores sess with its index entries and sets sess.ID to a fresh ID
// of the form "<tag>.<random>": tag is 16 hex digits of SHA-256(issuer NUL
// subject), which places the record in its subject's cluster slot, and
// random is [session.NewID]. sess.ID must be empty and sess must have an
// Issuer, a Subject and an Expiry, or Create stores nothing and returns an
// error wrapping [session.ErrInvalidSession]. An empty SID is allowed: such
// a session is found by [Store.DeleteBySubject] only.
//
// With a SID, Create first records the subject's tag under the sid (in the
// sid's own slot), then writes the record and both indexes in one script:
// two round trips. A failure between them leaves at most a tag that points
// at no session.
func (s *Store) Create(ctx context.Context, sess *session.Session) error {
	data, err := session.Marshal(sess)
	if err != nil {
		return fmt.Errorf("redisstore: create: %w", err)
	}
	if sess.ID != "" {
		return fmt.Errorf("redisstore: create: %w: Create needs an empty ID, it sets a fresh one", session.ErrInvalidSession)
	}
	tag := tagOf(sess.Issuer, sess.Subject)
	id := tag + "." + session.NewID()
	at := expiryMS(sess.Expiry)
	iat := "0" // not covered by subject tombstones
	if t := sess.IssuedAt(); !t.IsZero() {
		iat = strconv.FormatInt(t.UnixMilli(), 10)
	}
	keys := []string{s.recordKey(tag, id), s.subIndexKey(sess.Issuer, sess.Subject), s.subGoneKey(sess.Issuer, sess.Subject)}
	if sess.SID != "" {
		ok, err := sidTagCreateScript.Run(ctx, s.c, []string{s.sidTagKey(sess.Issuer, sess.SID), s.sidGoneKey(sess.Issuer, sess.SID)}, tag, at).Int64()
		if err != nil {
			return fmt.Errorf("redisstore: create: sid tag: %w", err)
		}
		if ok != 1 {
			return fmt.Errorf("redisstore: create: %w: sid %q", session.ErrLoggedOut, sess.SID)
		}
		keys = append(keys, s.sidIndexKey(tag, sess.Issuer, sess.SID), s.slotSIDGoneKey(tag, sess.Issuer, sess.SID))
	}
	n, err := createScript.Run(ctx, s.c, keys,
		data, sess.Issuer, sess.Subject, sess.SID, strconv.FormatUint(sess.Version, 10), at, iat).Int64()
	switch {
	case err != nil:
		return fmt.Errorf("redisstore: create: %w", err)
	case n == -5:
		return fmt.Errorf("redisstore: create: %w", session.ErrLoggedOut)
	case n != 1:
		return errors.New("redisstore: create: session ID collision")
	}
	sess.ID = id
	return nil
}

// Update replaces the stored session sess.ID with sess if the stored
// version is still sess.Version, and increments the version: the stored
// one and sess.Version both become sess.Version + 1. The record's TTL
// follows the new Expiry, and the indexes are extended when it grows. The
// update script checks, in this order, and on the first failure leaves the
// record and its indexes as they were and sess.Version unchanged:
//
//   - the session is absent or expired — a logout deleted it while the
//     caller held it: [session.ErrNotFound], so Update never brings a
//     deleted session back;
//   - Issuer, Subject or SID changed: [session.ErrImmutable];
//   - the stored version is not sess.Version — another Update, perhaps on
//     another instance, came first: [session.ErrConflict];
//   - [session.Marshal] refuses sess (a zero Expiry, Claims that are not
//     JSON): its error, wrapping [session.ErrInvalidSession].
//
// With a SID, and a session that Marshal accepts, Update first adds the
// tag of sess.ID to the tag entry of (Issuer, SID) and extends that entry
// to the new Expiry — one round trip in the sid's slot — and only then runs
// the update script. The tag entry must outlive the record before the
// record's TTL grows, or a failure between the two round trips could leave
// a live record that [Store.DeleteBySID] no longer finds; and whether the
// script will refuse is not known until it runs, in another slot. So a
// refused Update may still have written that tag entry (for the Issuer and
// SID the caller sent, changed or not), living until the new Expiry at
// most. That is harmless: the sid index it leads to, in the ID's slot,
// holds a live session only if the entry already named that slot, so at
// worst DeleteBySID reads one empty index more. A refused Update never
// writes a record or an index set. (Checking first, in a third round
// trip, would still race with other writers; the tag write is kept
// unconditional as the simplest form that keeps DeleteBySID complete.)
func (s *Store) Update(ctx context.Context, sess *session.Session) error {
	if sess == nil {
		return fmt.Errorf("redisstore: update: %w: nil session", session.ErrInvalidSession)
	}
	tag, ok := parseID(sess.ID)
	if !ok {
		return session.ErrNotFound
	}
	data, merr := session.Marshal(sess)
	at := "0" // the script then only checks existence, immutability and version
	if merr == nil {
		at = expiryMS(sess.Expiry)
		if sess.SID != "" {
			if err := sidTagScript.Run(ctx, s.c, []string{s.sidTagKey(sess.Issuer, sess.SID)}, tag, at).Err(); err != nil {
				return fmt.Errorf("redisstore: update: sid tag: %w", err)
			}
		}
	}
	// The script declares the index keys it extends. They are computed from
	// the caller's Issuer, Subject and SID, which the script compares with
	// the stored ones before it touches them. A changed Issuer or Subject
	// has another tag, so its subject index lies in another slot and must
	// not be declared (CROSSSLOT on a cluster): the script refuses that
	// session without it.
	keys := []string{s.recordKey(tag, sess.ID)}
	if tagOf(sess.Issuer, sess.Subject) == tag {
		keys = append(keys, s.subIndexKey(sess.Issuer, sess.Subject))
		if sess.SID != "" {
			keys = append(keys, s.sidIndexKey(tag, sess.Issuer, sess.SID))
		}
	}
	next := sess.Version + 1
	code, err := updateScript.Run(ctx, s.c, keys, data, sess.Issuer, sess.Subject, sess.SID,
		strconv.FormatUint(sess.Version, 10), strconv.FormatUint(next, 10), at).Int64()
	switch {
	case err != nil:
		return fmt.Errorf("redisstore: update: %w", err)
	case code == 1:
		sess.Version = next
		return nil
	case code == -1:
		return session.ErrNotFound
	case code == -2:
		return session.ErrImmutable
	case code == -4:
		return session.ErrConflict
	case code == -3 && merr != nil:
		return fmt.Errorf("redisstore: update: %w", merr)
	}
	return fmt.Errorf("redisstore: update: unexpected script result %d", code)
}

// Delete removes the session with that ID and its index entries, in one
// script, and reports whether it removed a live session. A command that
// go-redis retried after a lost reply may report false for a deletion its
// first attempt made.
func (s *Store) Delete(ctx context.Context, id string) (bool, error) {
	tag, ok := parseID(id)
	if !ok {
		return false, nil
	}
	n, err := deleteScript.Run(ctx, s.c, []string{s.recordKey(tag, id)}).Int()
	if err != nil {
		return false, fmt.Errorf("redisstore: delete: %w", err)
	}
	return n == 1, nil
}

// DeleteBySID removes every session of the provider session (issuer, sid)
// with its index entries, and reports how many live sessions it removed.
// An empty sid matches nothing.
//
// It reads the subject tags recorded under the sid (one round trip in the
// sid's slot), then runs one delete script per tag in that tag's slot —
// usually one, as a sid belongs to one subject. If a script fails, it
// returns the count so far with the error.
func (s *Store) DeleteBySID(ctx context.Context, issuer, sid string) (int, error) {
	if sid == "" {
		return 0, nil
	}
	tags, err := s.c.SMembers(ctx, s.sidTagKey(issuer, sid)).Result()
	if err != nil {
		return 0, fmt.Errorf("redisstore: delete by sid: %w", err)
	}
	total := 0
	for _, tag := range tags {
		if !isTag(tag) {
			continue
		}
		n, err := deleteIndexScript.Run(ctx, s.c, []string{s.sidIndexKey(tag, issuer, sid)}).Int64()
		if err != nil {
			return total, fmt.Errorf("redisstore: delete by sid: %w", err)
		}
		total += int(n)
	}
	return total, nil
}

// DeleteBySubject removes every session of the user (issuer, subject) with
// its index entries, and reports how many live sessions it removed: one
// script in the subject's slot. An empty subject matches nothing.
func (s *Store) DeleteBySubject(ctx context.Context, issuer, subject string) (int, error) {
	if subject == "" {
		return 0, nil
	}
	n, err := deleteIndexScript.Run(ctx, s.c, []string{s.subIndexKey(issuer, subject)}).Int64()
	if err != nil {
		return 0, fmt.Errorf("redisstore: delete by subject: %w", err)
	}
	return int(n), nil
}

// Logout ends the sessions l names and keeps its tombstones until l.Until
// (see [session.Logout]). With a SID it first writes the sid's tombstone
// and reads its tag set (one script in the sid's slot), then, per tag, one
// script that writes the tombstone in that slot and deletes the sid's
// sessions there; with a Subject, one script in the subject's slot.
//
// No Create can slip between them: Create adds its tag to the sid's set
// only while the sid has no tombstone, and writes its record only while
// the record's own slot has none. A Create whose tag was added before the
// tombstone is found by the per-tag script, which deletes its record or,
// if the record comes later, leaves the tombstone that refuses it.
//
// If a script fails, Logout returns the count so far with the error;
// calling it again completes it.
func (s *Store) Logout(ctx context.Context, l session.Logout) (int, error) {
	if !l.Valid() {
		return 0, nil
	}
	issuedAt, until := l.Hold(s.now())
	untilMS, atMS := expiryMS(until), strconv.FormatInt(issuedAt.UnixMilli(), 10)
	total := 0
	if l.SID != "" {
		tags, err := logoutSIDScript.Run(ctx, s.c, []string{s.sidTagKey(l.Issuer, l.SID), s.sidGoneKey(l.Issuer, l.SID)}, untilMS).StringSlice()
		if err != nil {
			return 0, fmt.Errorf("redisstore: logout: %w", err)
		}
		for _, tag := range tags {
			if !isTag(tag) {
				continue
			}
			n, err := logoutIndexScript.Run(ctx, s.c, []string{s.sidIndexKey(tag, l.Issuer, l.SID), s.slotSIDGoneKey(tag, l.Issuer, l.SID)},
				"sid", untilMS, atMS).Int64()
			if err != nil {
				return total, fmt.Errorf("redisstore: logout: %w", err)
			}
			total += int(n)
		}
	}
	if l.Subject != "" {
		mode := "all"
		if l.SID != "" {
			mode = "nosid"
		}
		n, err := logoutIndexScript.Run(ctx, s.c, []string{s.subIndexKey(l.Issuer, l.Subject), s.subGoneKey(l.Issuer, l.Subject)},
			mode, untilMS, atMS).Int64()
		if err != nil {
			return total, fmt.Errorf("redisstore: logout: %w", err)
		}
		total += int(n)
	}
	return total, nil
}

// Key layout; see doc.go.

// recordKey is the key of a session record: the ID's tag and the hash of
// the whole ID, never the ID itself.
func (s *Store) recordKey(tag, id string) string {
	return s.prefix + "{" + tag + "}:s:" + session.Key(id)
}

// subIndexKey is the key of the set of records of (issuer, subject).
func (s *Store) subIndexKey(issuer, subject string) string {
	h := pairHash(issuer, subject)
	return s.prefix + "{" + h[:tagLen] + "}:sub:" + h
}

// sidIndexKey is the key of the set of records of (issuer, sid) whose
// subject has tag: it lives in that subject's slot.
func (s *Store) sidIndexKey(tag, issuer, sid string) string {
	return s.prefix + "{" + tag + "}:sid:" + pairHash(issuer, sid)
}

// sidTagKey is the key of the set of subject tags of (issuer, sid), in the
// sid's own slot: how DeleteBySID, which has no subject, finds the slots
// to clean.
func (s *Store) sidTagKey(issuer, sid string) string {
	return s.prefix + "{sid:" + pairHash(issuer, sid) + "}:tags"
}

// sidGoneKey is the tombstone of a logged-out (issuer, sid), in the sid's
// own slot, beside its tag set: Create checks it when it adds a tag.
func (s *Store) sidGoneKey(issuer, sid string) string {
	return s.prefix + "{sid:" + pairHash(issuer, sid) + "}:gone"
}

// slotSIDGoneKey is the tombstone of a logged-out (issuer, sid) in the
// slot of a subject tag, written by Logout for each tag it cleans:
// createScript checks it atomically with the record write.
func (s *Store) slotSIDGoneKey(tag, issuer, sid string) string {
	return s.prefix + "{" + tag + "}:sidgone:" + pairHash(issuer, sid)
}

// subGoneKey is the hash of a subject's logout instants ("all": a
// subject-wide logout, "nosid": the sid-less part of a sub+sid one), in the
// subject's slot.
func (s *Store) subGoneKey(issuer, subject string) string {
	h := pairHash(issuer, subject)
	return s.prefix + "{" + h[:tagLen] + "}:subgone:" + h
}

// pairHash is the hex SHA-256 of a NUL-joined pair.
func pairHash(a, b string) string {
	sum := sha256.Sum256([]byte(a + "\x00" + b))
	return hex.EncodeToString(sum[:])
}

// tagOf is the subject tag of (issuer, subject).
func tagOf(issuer, subject string) string {
	return pairHash(issuer, subject)[:tagLen]
}

// parseID returns the tag of a session ID made by Create, or false for
// anything else.
func parseID(id string) (string, bool) {
	if len(id) < tagLen+2 || id[tagLen] != '.' || !isTag(id[:tagLen]) {
		return "", false
	}
	return id[:tagLen], true
}

// isTag reports whether t is tagLen lowercase hex digits.
func isTag(t string) bool {
	if len(t) != tagLen {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// expiryMS is t in Unix milliseconds for PEXPIREAT, at least 1: a time
// before 1970 (or a zero time) is as expired as 1 ms after the epoch.
func expiryMS(t time.Time) string {
	ms := t.UnixMilli()
	if ms < 1 {
		ms = 1
	}
	return strconv.FormatInt(ms, 10)
}
