// An OpenID Provider for rpkit's interop tests: node oidc-provider v9 (an
// OpenID-certified implementation), configured from the environment with
// one confidential client and one account, listening on 127.0.0.1 only.
//
//   ISSUER_PORT              port to listen on; 0 or unset: a free port
//   CLIENT_ID, CLIENT_SECRET the client (defaults: rpkit-interop / a random secret)
//   REDIRECT_URI             the client's redirect URI (required)
//   POST_LOGOUT_REDIRECT_URI the client's post-logout redirect URI (optional)
//   BACKCHANNEL_LOGOUT_URI   the client's back-channel logout URI (optional;
//                            registered with backchannel_logout_session_required)
//   ACCESS_TOKEN_TTL         access token lifetime in seconds (default 3600)
//   EXIT_ON_STDIN_CLOSE=1    exit when stdin reaches end of file (the Go
//                            harness sets it, so that the provider never
//                            outlives a test process that died)
//
// stdout carries one JSON object per line, each with an "event" member:
// {"event":"ready","issuer":…} once listening, then provider events the
// tests wait for (backchannel.success, backchannel.error with "error",
// backchannel.logout_token with the raw "logout_token" sent, grant.success
// with "grant_type", grant.revoked with the "route" that revoked it
// (revocation, end_session_confirm), end_session.success, and the *.error
// events; server_error carries the stack). Notices and warnings go to stderr
// (Node 20 gets an "unsupported runtime" warning: harmless; the dev pages
// @import web fonts, which fail offline: harmless too).
//
// Facts this setup relies on (oidc-provider 9.13):
// - Outgoing requests go through a dispatcher that refuses special-use
//   addresses, loopback included, so the back-channel POST to an app on
//   127.0.0.1 would fail. The `fetch` option below drops that dispatcher.
// - sid appears in ID and logout tokens only for a client registered with
//   backchannel_logout_uri and backchannel_logout_session_required: true.
// - offline_access (hence a refresh token) is granted only when the
//   authorization request has prompt=consent and the client may use the
//   refresh_token grant.
// - Front-channel logout does not exist in v9 (removed in v7); see
//   provider-legacy.mjs (6.31.1) for it.
import Provider from 'oidc-provider';

import { account, cookieKeys, emit, reportEvents, setup } from './common.mjs';

const env = process.env;
const { server, issuer, signingKey, client } = await setup('provider.mjs');

const configuration = {
  clients: [client],
  jwks: { keys: [signingKey] },
  cookies: {
    // The app under test shares the host 127.0.0.1 (cookies ignore ports):
    // names of the provider's own keep them apart from the app's.
    names: {
      session: 'op_session',
      interaction: 'op_interaction',
      resume: 'op_interaction_resume',
    },
    keys: cookieKeys,
  },
  ...account,
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
    revocation: { enabled: true },
  },
  ttl: {
    AccessToken: Number(env.ACCESS_TOKEN_TTL || 3600),
    IdToken: 3600,
    RefreshToken: 24 * 60 * 60,
    Interaction: 10 * 60,
    Session: 24 * 60 * 60,
    Grant: 24 * 60 * 60,
  },
  // oidc-provider's own fetch runs on a dispatcher that refuses loopback
  // addresses (SSRF protection); the app under test is on 127.0.0.1. Drop
  // it, and report each logout token as it leaves.
  fetch(url, options) {
    const { dispatcher, ...rest } = options; // eslint-disable-line no-unused-vars
    if (rest.body instanceof URLSearchParams && rest.body.has('logout_token')) {
      emit('backchannel.logout_token', { uri: String(url), logout_token: rest.body.get('logout_token') });
    }
    return globalThis.fetch(url, rest);
  },
};

const provider = new Provider(issuer, configuration);
reportEvents(provider);

server.on('request', provider.callback());
emit('ready', { issuer, client_id: client.client_id, kid: signingKey.kid, version: 'oidc-provider 9' });
