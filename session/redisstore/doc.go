// Package redisstore keeps rpkit sessions in Redis, so that several
// instances of an app share them: a logout received by any instance ends the
// session on all of them. [Store] implements [session.Store] — the same
// contract as the memory store, checked by the same session/storetest suite
// — and adds [Store.Seen] and [Store.Done], the shared replay cache for
// back-channel logout tokens.
//
// # Redis configuration: maxmemory-policy noeviction
//
// Every key the store writes has a TTL. Under any eviction policy but
// noeviction — volatile-lru is a common managed-Redis default — Redis
// under memory pressure evicts keys with TTLs, and the least used go
// first: the logout indexes and tombstones, touched less often than the
// session records. A logout then finds no session to end and the session
// lives on. So [New] refuses such a server with [ErrEvictionPolicy]
// (Config.AllowEviction accepts it with a warning). Set
//
//	maxmemory-policy noeviction
//
// in redis.conf, or in the managed service's parameter group or console;
// with noeviction a full Redis refuses writes (logins and logouts fail
// with an error, answered 503 and retried by the provider) instead of
// silently losing logouts. Where CONFIG GET is not allowed (several
// managed services rename it) New cannot check, and warns once.
//
// It is the only rpkit package that imports go-redis, and it exports
// nothing typed by go-redis except the [redis.UniversalClient] that [New]
// accepts: a single server, Sentinel (failover) or Redis Cluster. It needs
// Redis 6.2 or later.
//
// # Key layout
//
// Redis Cluster runs a Lua script (or MULTI) only over keys of one hash
// slot, and a key's slot is the hash of its hash tag, the part between the
// first "{" and the next "}". The keys written together — a session record
// and its two index entries — therefore share a tag. The lookups, though,
// start from different facts: a request has only the session ID, a
// sid-only logout token has no subject, a sub-only token has no sid. So the
// tag is the subject's, and the other two paths are given a way to it:
//
//   - tag = the first 16 hex digits of SHA-256(issuer NUL subject).
//   - The session ID is "<tag>.<random>", random being 256 bits
//     ([session.NewID]). Get reads the tag from the ID: one round trip.
//   - For a sid-only logout, an entry in the sid's own slot names the tags
//     of the sid's sessions.
//
// With P the Prefix (default "rpkit:"), H(a, b) the hex SHA-256 of a NUL b,
// and K(id) = [session.Key](id), the base64url SHA-256 of the ID:
//
//	P{tag}:s:K(id)              hash: the session record (data, iss, sub, sid, ver, ux, sx)
//	P{tag}:sub:H(iss, sub)      set of record keys of the subject (ux)
//	P{tag}:sid:H(iss, sid)      set of record keys of the sid in this subject's slot (sx)
//	P{sid:H(iss, sid)}:tags     set of subject tags that have sessions of the sid
//	P{sid:H(iss, sid)}:gone     tombstone of a logged-out sid (Logout)
//	P{tag}:sidgone:H(iss, sid)  the same tombstone in a subject slot that had sessions of the sid
//	P{tag}:subgone:H(iss, sub)  the subject's logout instants: "all" and "nosid" (ms)
//	P claim:hex(SHA-256(key))   a replay-cache key recorded by Done
//
// No key or value holds a session ID or any part of its random half: a dump
// of Redis lets no one ride a session. The record's data field is
// [session.Marshal]; iss, sub and sid are copied beside it so that the
// update script checks them without decoding JSON, and ux and sx name the
// record's index keys so that the delete scripts clean both indexes.
//
// The tag only chooses slots: the index keys carry the full hash, so two
// subjects whose tags collide still have separate indexes.
//
// # Operations
//
// Get is one HMGET. Create, Update, Logout and the deletes are Lua scripts
// over one tag (EVALSHA, with EVAL when the script is not cached). Create
// refuses a session that a tombstone in its slot covers, and adds a sid's
// tag only while the sid has no tombstone; Logout writes the sid's
// tombstone before it reads the tag set, then a tombstone in each tag's
// slot as it deletes there, so a Create racing it is either deleted or
// refused. DeleteBySubject
// computes the tag and runs one script. DeleteBySID reads the sid's tag
// set, then runs one script per tag — normally one. Create and Update of a
// session with a sid first add its tag to that set (a separate round trip
// in the sid's slot, before the record is written or its TTL extended, so
// that a DeleteBySID never misses a written record) — an Update that the
// script then refuses may thus have written that tag entry, nothing else.
//
// Update is a compare-and-set on the record's version: the script writes
// only if the stored version is the one the caller read, else the caller
// gets [session.ErrConflict].
//
// Every key has a TTL. A record expires at the session's Expiry (PEXPIREAT,
// on the server's clock); index sets and the tag set live at least as long
// as their longest-lived member and are never shortened. An index set may
// keep members whose record has expired, until the next Create that adds
// to the set prunes them: the scripts skip them and count only records
// they actually delete, and a set never holds more than the members live
// at its last Create plus the Creates since. A tag set is not pruned; it
// holds one tag per subject that had a session of the sid, normally one.
//
// A Redis failure is always an error, never [session.ErrNotFound], so that
// callers fail closed (a 5xx that the provider retries) rather than treat
// an unreachable store as a missing session.
package redisstore
