// Package backchannel receives OpenID Connect Back-Channel Logout 1.0
// requests: the provider POSTs a signed logout_token to the application,
// server to server, without cookies, and the sessions it names end — by
// (iss, sid) when the token has a sid (with the subject's sid-less
// sessions when it names a sub too), else every session of (iss, sub) —
// and new ones of that provider session are refused for a while
// ([session.Logout]), so that a login racing the logout loses.
//
// The [Handler] has [rp.Client.VerifyLogoutToken] check the token, refuses
// a jti acted on before (a [ReplayCache]: in memory by default, or the
// Redis store across instances), ends the sessions through a session store
// and/or an OnLogout callback, records the jti, and answers as the
// specification says: 200 when done, 400 with a JSON error for a bad
// request or token, 5xx when the store failed (so the provider retries,
// and the retry runs the logout again), and Cache-Control: no-store
// always.
//
// Web apps give it their session.Store; backend services with their own
// session tables use OnLogout.
package backchannel
