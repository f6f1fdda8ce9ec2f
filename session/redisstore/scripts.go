package redisstore

import "github.com/redis/go-redis/v9"

// The Lua scripts below are every multi-key write of the store. Each one
// touches only keys that share one hash tag, so each runs on one Redis
// Cluster node, atomically. Scripts run with EVALSHA and fall back to EVAL
// on NOSCRIPT (go-redis Script.Run).
//
// Declared keys: a script declares in KEYS every key that the caller can
// name before it runs. createScript and updateScript declare the record and
// both its index keys, which Go computes from the issuer, subject and sid.
// Three kinds of key are reached without being declared: the members of an
// index set (record keys, which createScript's pruning and
// deleteIndexScript visit), and the ux and sx index keys that deleteScript
// and deleteIndexScript read from a record. They are data: Delete has only
// a session ID, and a logout has no list of records, so declaring them
// would need a read round trip first, and the set could change between the
// read and the script. All of them carry the declared keys' hash tag —
// Create writes a record, its ux and its sx in the record's slot, and puts
// only record keys of that slot in the sets — so they are in the slot the
// script runs in, which Redis Cluster allows.
//
// A session record is a hash:
//
//	data  session.Marshal bytes (without the ID)
//	iss   issuer     } compared by update, so that Lua checks
//	sub   subject    } immutability without decoding JSON
//	sid   sid        }
//	ver   version, a decimal uint64: update compares it with the caller's
//	      as a string and sets the caller's plus one, computed in Go (Lua
//	      numbers are doubles: exact only up to 2^53)
//	ux    the key of its subject index
//	sx    the key of its sid index, "" without a sid
//
// Index sets hold record keys. They may hold members whose record has
// expired: the scripts skip those and never count them, and createScript
// prunes them from the two sets it adds to. A set grows only in
// createScript, so each set holds at most the members that were live at
// the last Create that added to it, plus those Creates since: it cannot
// grow without bound while a long-lived member keeps it alive. updateScript
// does not prune: it would add a scan of the sets to every refresh without
// lowering that bound.

// luaLib is shared by the scripts that extend index TTLs.
//
// extend sets key to expire at `at` (ms since the epoch, string atStr)
// unless it already lives longer: an index never expires before any of its
// members. A key without a TTL — a set created by this very script — gets
// one. TIME is the server's clock, the one PEXPIREAT is measured against.
const luaLib = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function extend(key, atStr, now)
  local ttl = redis.call('PTTL', key)
  if ttl == -1 or (ttl >= 0 and now + ttl < tonumber(atStr)) then
    redis.call('PEXPIREAT', key, atStr)
  end
end
`

// createScript stores a new record and adds it to its indexes, after
// removing from them every member whose record no longer exists (expired
// by TTL) — unless a logout's tombstone in the record's slot covers it.
//
// KEYS[1] record, KEYS[2] subject index, KEYS[3] subject tombstone,
// KEYS[4] sid index and KEYS[5] the sid's tombstone in this slot (both
// absent without a sid). ARGV: data, iss, sub, sid, version, expiry (ms),
// the ID token's iat (ms; "0": not covered by subject tombstones).
// Returns 1, -5 when a tombstone covers the session, or 0 when the record
// key is taken (never, with 256-bit IDs).
var createScript = redis.NewScript(luaLib + `
local iat = tonumber(ARGV[7])
if iat > 0 then
  local t = redis.call('HMGET', KEYS[3], 'all', 'nosid')
  if t[1] and iat <= tonumber(t[1]) then return -5 end
  if ARGV[4] == '' and t[2] and iat <= tonumber(t[2]) then return -5 end
end
if KEYS[5] and redis.call('EXISTS', KEYS[5]) == 1 then return -5 end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local function prune(key)
  for _, m in ipairs(redis.call('SMEMBERS', key)) do
    if redis.call('EXISTS', m) == 0 then redis.call('SREM', key, m) end
  end
end
local sx = KEYS[4] or ''
redis.call('HSET', KEYS[1], 'data', ARGV[1], 'iss', ARGV[2], 'sub', ARGV[3], 'sid', ARGV[4],
  'ver', ARGV[5], 'ux', KEYS[2], 'sx', sx)
redis.call('PEXPIREAT', KEYS[1], ARGV[6])
local now = now_ms()
prune(KEYS[2])
redis.call('SADD', KEYS[2], KEYS[1])
extend(KEYS[2], ARGV[6], now)
if sx ~= '' then
  prune(sx)
  redis.call('SADD', sx, KEYS[1])
  extend(sx, ARGV[6], now)
end
return 1
`)

// updateScript replaces a record's data and version if the record still
// exists — it never recreates one a logout deleted —, its iss, sub and sid
// are unchanged, and its version is the one the caller read; then it
// extends the record and its indexes to the new expiry.
//
// KEYS[1] record, KEYS[2] subject index, KEYS[3] sid index: the ux and sx
// the record holds, computed by the caller from its iss, sub and sid. The
// caller leaves out KEYS[2] and KEYS[3] when its iss and sub have another
// tag than the record (they are in another slot): the script then returns
// -1 or -2 before it would need them. KEYS[3] is absent without a sid.
// ARGV: data, iss, sub, sid, version read, new version, expiry (ms; "0":
// the caller's session is invalid, only check the rest).
// Returns 1 when updated, or -1 absent, -2 immutable field changed,
// -4 version changed (conflict), -3 invalid session, checked in this order.
var updateScript = redis.NewScript(luaLib + `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local f = redis.call('HMGET', KEYS[1], 'iss', 'sub', 'sid', 'ver')
if f[1] ~= ARGV[2] or f[2] ~= ARGV[3] or f[3] ~= ARGV[4] then return -2 end
if f[4] ~= ARGV[5] then return -4 end
if ARGV[7] == '0' then return -3 end
if not KEYS[2] then return redis.error_reply('record key not in its subject slot') end
redis.call('HSET', KEYS[1], 'data', ARGV[1], 'ver', ARGV[6])
redis.call('PEXPIREAT', KEYS[1], ARGV[7])
local now = now_ms()
extend(KEYS[2], ARGV[7], now)
if KEYS[3] then extend(KEYS[3], ARGV[7], now) end
return 1
`)

// deleteScript removes one record and its index entries.
//
// KEYS[1] record. Returns 1 if a live record was deleted, else 0.
var deleteScript = redis.NewScript(`
local f = redis.call('HMGET', KEYS[1], 'ux', 'sx')
if not f[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', f[1], KEYS[1])
if f[2] and f[2] ~= '' then redis.call('SREM', f[2], KEYS[1]) end
return 1
`)

// deleteIndexScript removes every live record listed in an index (a sid or
// a subject index), their entries in the other index, and the index
// itself.
//
// KEYS[1] index. Returns how many live records it deleted.
var deleteIndexScript = redis.NewScript(`
local n = 0
for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local f = redis.call('HMGET', m, 'ux', 'sx')
  if f[1] then
    redis.call('DEL', m)
    n = n + 1
    if f[1] ~= KEYS[1] then redis.call('SREM', f[1], m) end
    if f[2] and f[2] ~= '' and f[2] ~= KEYS[1] then redis.call('SREM', f[2], m) end
  end
end
redis.call('DEL', KEYS[1])
return n
`)

// sidTagScript adds a subject tag to a sid's tag set and makes the set live
// at least until the expiry.
//
// KEYS[1] sid tag set. ARGV: tag, expiry (ms).
var sidTagScript = redis.NewScript(luaLib + `
redis.call('SADD', KEYS[1], ARGV[1])
extend(KEYS[1], ARGV[2], now_ms())
return 1
`)

// sidTagCreateScript is sidTagScript for Create: it adds nothing, and
// returns 0, when the sid has been logged out.
//
// KEYS[1] sid tag set, KEYS[2] the sid's tombstone. ARGV: tag, expiry (ms).
var sidTagCreateScript = redis.NewScript(luaLib + `
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SADD', KEYS[1], ARGV[1])
extend(KEYS[1], ARGV[2], now_ms())
return 1
`)

// logoutSIDScript writes a logged-out sid's tombstone (or extends it; a
// tombstone is never shortened) and returns the sid's subject tags.
//
// KEYS[1] sid tag set, KEYS[2] the sid's tombstone. ARGV: until (ms).
var logoutSIDScript = redis.NewScript(luaLib + `
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('SET', KEYS[2], '1', 'PXAT', ARGV[1])
else
  extend(KEYS[2], ARGV[1], now_ms())
end
return redis.call('SMEMBERS', KEYS[1])
`)

// logoutIndexScript records a logout's tombstone in one slot and deletes
// the live records of one index there, with their entries in the other
// index.
//
// KEYS[1] the index (a sid index for mode "sid", else a subject index),
// KEYS[2] the tombstone: for "sid" the sid's tombstone in this slot, else
// the subject's tombstone hash, whose field named by the mode ("all" or
// "nosid") keeps the latest logout instant. ARGV: mode, until (ms),
// instant (ms). Mode "nosid" deletes only the records without a sid and
// keeps the index. Returns how many live records it deleted.
var logoutIndexScript = redis.NewScript(luaLib + `
local mode, now = ARGV[1], now_ms()
if mode == 'sid' then
  if redis.call('EXISTS', KEYS[2]) == 0 then
    redis.call('SET', KEYS[2], '1', 'PXAT', ARGV[2])
  else
    extend(KEYS[2], ARGV[2], now)
  end
else
  local cur = tonumber(redis.call('HGET', KEYS[2], mode) or '0')
  if tonumber(ARGV[3]) > cur then redis.call('HSET', KEYS[2], mode, ARGV[3]) end
  extend(KEYS[2], ARGV[2], now)
end
local n = 0
for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local f = redis.call('HMGET', m, 'ux', 'sx')
  if f[1] and (mode ~= 'nosid' or not f[2] or f[2] == '') then
    redis.call('DEL', m)
    n = n + 1
    if f[1] ~= KEYS[1] then redis.call('SREM', f[1], m) end
    if f[2] and f[2] ~= '' and f[2] ~= KEYS[1] then redis.call('SREM', f[2], m) end
    if mode == 'nosid' then redis.call('SREM', KEYS[1], m) end
  end
end
if mode ~= 'nosid' then redis.call('DEL', KEYS[1]) end
return n
`)
