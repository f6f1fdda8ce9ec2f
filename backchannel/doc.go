// Package backchannel receives OpenID Connect Back-Channel Logout 1.0
// requests: the provider POSTs a signed logout_token to the application,
// server to server, without cookies, and the sessions it names end — by
// (iss, sid) when the token has a sid, else every session of (iss, sub).
//
// The [Handler] has [rp.Client.VerifyLogoutToken] check the token, refuses
// a jti it has seen before (a [ReplayCache]: in memory by default, or
// redisstore's Claim across instances), ends the sessions through a
// session store and/or an OnLogout callback, and answers as the
// specification says: 200 when done, 400 with a JSON error for a bad
// request or token, 5xx when the store failed (so the provider retries), and
// Cache-Control: no-store always.
//
// Web apps give it their session.Store; backend services with their own
// session tables use OnLogout.
package backchannel
