// Package session holds what rpkit keeps of a logged-in user between
// requests: the [Session] value, the [Store] contract with its logout
// indexes, the in-memory store and the cookie codec. It knows nothing of
// HTTP handlers or of the provider.
//
// The session cookie carries only the session ID, signed and encrypted by
// a [CookieCodec]; the store holds the rest, keyed by a hash of that ID.
// Logouts find sessions through the store's (issuer, sid) and (issuer,
// subject) indexes, and [Store.Update] never recreates a session that a
// logout deleted, so a logout always wins over a refresh in flight.
package session
