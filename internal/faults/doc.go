// Package faults is rpkit's fault-injection suite. It has no code of its
// own: its tests run the real stack — middleware, the back- and
// front-channel receivers and the Redis store, on a single redis-server
// and on a three-node cluster — with a fault-injecting TCP proxy
// (internal/faultproxy) between the application and Redis, and kill and
// restart redis-server (AOF on), and assert the promise rpkit is trusted
// for: a logout the provider sent (and retried after a 5xx) ends its
// sessions on every instance, and nothing else ends a live session.
//
// The tests need redis-server (and redis-cli for the cluster): they skip
// without them, and fail with CI=true.
package faults
