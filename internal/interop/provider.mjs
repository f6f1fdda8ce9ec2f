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
import crypto from 'node:crypto';
import http from 'node:http';

import Provider from 'oidc-provider';

const env = process.env;

function emit(event, fields = {}) {
  process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
}

// stdout is for the JSON lines only: oidc-provider's notices (console.info)
// and anything else logged go to stderr.
console.info = console.error; // eslint-disable-line no-console
console.log = console.error; // eslint-disable-line no-console

if (!env.REDIRECT_URI) {
  process.stderr.write('provider.mjs: REDIRECT_URI is required\n');
  process.exit(2);
}
if (env.EXIT_ON_STDIN_CLOSE === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));

const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(Number(env.ISSUER_PORT || 0), '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;

// A signing key made for this run: nothing outlives the process.
const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }),
  kid: `interop-${crypto.randomBytes(6).toString('hex')}`,
  use: 'sig',
  alg: 'RS256',
};

const client = {
  client_id: env.CLIENT_ID || 'rpkit-interop',
  client_secret: env.CLIENT_SECRET || crypto.randomBytes(32).toString('base64url'),
  redirect_uris: [env.REDIRECT_URI],
  response_types: ['code'],
  grant_types: ['authorization_code', 'refresh_token'],
  token_endpoint_auth_method: 'client_secret_basic',
};
if (env.POST_LOGOUT_REDIRECT_URI) {
  client.post_logout_redirect_uris = [env.POST_LOGOUT_REDIRECT_URI];
}
if (env.BACKCHANNEL_LOGOUT_URI) {
  client.backchannel_logout_uri = env.BACKCHANNEL_LOGOUT_URI;
  client.backchannel_logout_session_required = true;
}

const alice = {
  sub: 'alice',
  name: 'Alice Example',
  given_name: 'Alice',
  family_name: 'Example',
  email: 'alice@example.com',
  email_verified: true,
};

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
    keys: [crypto.randomBytes(32).toString('base64url')],
  },
  scopes: ['openid', 'offline_access', 'profile', 'email'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'given_name', 'family_name'],
    email: ['email', 'email_verified'],
  },
  async findAccount(ctx, sub) {
    if (sub !== alice.sub) {
      return undefined;
    }
    return { accountId: sub, async claims() { return { ...alice }; } };
  },
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

function clientID(client) {
  return client ? client.clientId : undefined;
}
function message(err) {
  if (!err) return undefined;
  const cause = err.cause ? ` (${err.cause.message || err.cause})` : '';
  const desc = err.error_description ? `: ${err.error_description}` : '';
  return `${err.message}${desc}${cause}`;
}

provider.on('backchannel.success', (ctx, c, accountId, sid) => {
  emit('backchannel.success', { client_id: clientID(c), sub: accountId, sid });
});
provider.on('backchannel.error', (ctx, err, c, accountId, sid) => {
  emit('backchannel.error', { error: message(err), client_id: clientID(c), sub: accountId, sid });
});
provider.on('grant.success', (ctx) => {
  emit('grant.success', { grant_type: ctx.oidc.params?.grant_type });
});
provider.on('end_session.success', () => emit('end_session.success'));
provider.on('grant.revoked', (ctx) => emit('grant.revoked', { route: ctx && ctx.oidc && ctx.oidc.route }));
for (const name of ['authorization.error', 'grant.error', 'end_session.error', 'revocation.error',
  'userinfo.error', 'introspection.error', 'discovery.error', 'jwks.error']) {
  provider.on(name, (ctx, err) => emit(name, { error: message(err) }));
}
provider.on('server_error', (ctx, err) => emit('server_error', { error: message(err), stack: err?.stack }));

server.on('request', provider.callback());
emit('ready', { issuer, client_id: client.client_id, kid: signingKey.kid, version: 'oidc-provider 9' });
