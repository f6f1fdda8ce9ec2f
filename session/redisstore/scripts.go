package redisstore

import "github.com/redis/go-redis/v9"

// The Lua scripts below are every multi-key write of the store. Each one
// touches only keys that share one hash tag, so each runs on one Redis
// Cluster node, atomically. Keys a script reaches through a record's ux and
// sx fields are not declared in KEYS, but they carry the declared keys' hash
// tag, which Redis Cluster allows. Scripts run with EVALSHA and fall back to
// EVAL on NOSCRIPT (go-redis Script.Run).
//
// A session record is a hash:
//
//	data  session.Marshal bytes (without the ID)
//	iss   issuer     } compared by update, so that Lua checks
//	sub   subject    } immutability without decoding JSON
//	sid   sid        }
//	ver   version, incremented by update
//	ux    the key of its subject index
//	sx    the key of its sid index, "" without a sid
//
// Index sets hold record keys. They may hold members whose record has
// expired: the scripts skip those and never count them.

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

// createScript stores a new record and adds it to its indexes.
//
// KEYS[1] record, KEYS[2] subject index, KEYS[3] sid index (absent without
// a sid). ARGV: data, iss, sub, sid, version, expiry (ms).
// Returns 1, or 0 when the record key is taken (never, with 256-bit IDs).
var createScript = redis.NewScript(luaLib + `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local sx = KEYS[3] or ''
redis.call('HSET', KEYS[1], 'data', ARGV[1], 'iss', ARGV[2], 'sub', ARGV[3], 'sid', ARGV[4],
  'ver', ARGV[5], 'ux', KEYS[2], 'sx', sx)
redis.call('PEXPIREAT', KEYS[1], ARGV[6])
local now = now_ms()
redis.call('SADD', KEYS[2], KEYS[1])
extend(KEYS[2], ARGV[6], now)
if sx ~= '' then
  redis.call('SADD', sx, KEYS[1])
  extend(sx, ARGV[6], now)
end
return 1
`)

// updateScript replaces a record's data if the record still exists — it
// never recreates one a logout deleted — and its iss, sub and sid are
// unchanged.
//
// KEYS[1] record. ARGV: data, iss, sub, sid, expiry (ms; "0": the caller's
// session is invalid, only report absence or immutability).
// Returns the new version (>= 1), or -1 absent, -2 immutable field
// changed, -3 invalid session.
var updateScript = redis.NewScript(luaLib + `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local f = redis.call('HMGET', KEYS[1], 'iss', 'sub', 'sid', 'ux', 'sx')
if f[1] ~= ARGV[2] or f[2] ~= ARGV[3] or f[3] ~= ARGV[4] then return -2 end
if ARGV[5] == '0' then return -3 end
local ver = redis.call('HINCRBY', KEYS[1], 'ver', 1)
redis.call('HSET', KEYS[1], 'data', ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[5])
local now = now_ms()
if f[4] then extend(f[4], ARGV[5], now) end
if f[5] and f[5] ~= '' then extend(f[5], ARGV[5], now) end
return ver
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
