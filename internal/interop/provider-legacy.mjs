// The legacy OpenID Provider for rpkit's interop tests: node oidc-provider
// 6.31.1 (the npm alias oidc-provider-legacy), the last line that has
// Front-Channel Logout (removed in v7). Same environment and stdout protocol
// as provider.mjs, plus:
//
//   FRONTCHANNEL_LOGOUT_URI  the client's front-channel logout URI (optional;
//                            registered with frontchannel_logout_session_required,
//                            so the provider adds ?iss=…&sid=…)
//
// What differs from v9 and what the tests look at:
// - Logging out (POST /session/end/confirm with logout=yes) answers a page
//   of hidden iframes, one per client with a frontchannel_logout_uri, each
//   loading that URI with iss and sid; a script then moves on to the
//   post-logout redirect URI.
// - Logout tokens carry the header typ "JWT" and no "exp" claim (strict
//   receivers refuse them: rp.Config.AllowLogoutTokenWithoutExp accepts
//   them). Outgoing requests (got) are not restricted to public addresses.
// - The v6 configuration names: features.frontchannelLogout,
//   features.backchannelLogout, features.devInteractions, httpOptions,
//   cookies.names with a "state" prefix, provider.callback as a getter.
import crypto from 'node:crypto';
import http from 'node:http';

import Provider from 'oidc-provider-legacy';

const env = process.env;

function emit(event, fields = {}) {
  process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
}

// stdout is for the JSON lines only: oidc-provider's notices (console.info)
// and anything else logged go to stderr.
console.info = console.error; // eslint-disable-line no-console
console.log = console.error; // eslint-disable-line no-console

if (!env.REDIRECT_URI) {
  process.stderr.write('provider-legacy.mjs: REDIRECT_URI is required\n');
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

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }),
  kid: `interop-legacy-${crypto.randomBytes(6).toString('hex')}`,
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
if (env.FRONTCHANNEL_LOGOUT_URI) {
  client.frontchannel_logout_uri = env.FRONTCHANNEL_LOGOUT_URI;
  client.frontchannel_logout_session_required = true;
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
    names: {
      session: 'op_session',
      interaction: 'op_interaction',
      resume: 'op_interaction_resume',
      state: 'op_state',
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
    // ack: the draft versions 6.31.1 implements (without it a notice is
    // printed on stdout, which carries only JSON lines here).
    backchannelLogout: { enabled: true, ack: 'draft-06' },
    frontchannelLogout: { enabled: true, ack: 'draft-04' },
    revocation: { enabled: true },
  },
  ttl: {
    AccessToken: Number(env.ACCESS_TOKEN_TTL || 3600),
    IdToken: 3600,
    RefreshToken: 24 * 60 * 60,
  },
  // Every outgoing request passes here (got options): report each logout
  // token as it leaves.
  httpOptions(options) {
    const token = options.body && options.body.logout_token;
    if (token) {
      emit('backchannel.logout_token', { uri: String(options.url), logout_token: token });
    }
    return options;
  },
};

const provider = new Provider(issuer, configuration);

function clientID(c) {
  return c ? c.clientId : undefined;
}
function message(err) {
  if (!err) return undefined;
  const desc = err.error_description ? `: ${err.error_description}` : '';
  return `${err.message}${desc}`;
}

provider.on('backchannel.success', (ctx, c, accountId, sid) => {
  emit('backchannel.success', { client_id: clientID(c), sub: accountId, sid });
});
provider.on('backchannel.error', (ctx, err, c, accountId, sid) => {
  emit('backchannel.error', { error: message(err), client_id: clientID(c), sub: accountId, sid });
});
provider.on('grant.success', (ctx) => {
  emit('grant.success', { grant_type: ctx.oidc.params && ctx.oidc.params.grant_type });
});
provider.on('end_session.success', () => emit('end_session.success'));
provider.on('grant.revoked', (ctx) => emit('grant.revoked', { route: ctx && ctx.oidc && ctx.oidc.route }));
for (const name of ['authorization.error', 'grant.error', 'end_session.error', 'revocation.error',
  'userinfo.error', 'introspection.error', 'discovery.error', 'jwks.error']) {
  provider.on(name, (ctx, err) => emit(name, { error: message(err) }));
}
provider.on('server_error', (ctx, err) => emit('server_error', { error: message(err), stack: err && err.stack }));

server.on('request', provider.callback);
emit('ready', { issuer, client_id: client.client_id, kid: signingKey.kid, version: 'oidc-provider 6.31.1' });
