// What provider.mjs (oidc-provider 9) and provider-legacy.mjs (6.31.1)
// share: the stdout protocol, the process lifecycle, the listening socket,
// the signing key, the client, the account, and the provider events the
// Go tests wait for. Each script adds its version's configuration.
import crypto from 'node:crypto';
import http from 'node:http';

const env = process.env;

// emit writes one JSON line to stdout, the only thing stdout carries.
export function emit(event, fields = {}) {
  process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
}

// setup redirects console output to stderr, handles the process lifecycle,
// listens on 127.0.0.1 (ISSUER_PORT or a free port) and returns the server,
// the issuer, a fresh RS256 signing key and the client from the
// environment.
export async function setup(script) {
  // oidc-provider's notices (console.info) and anything else logged go to
  // stderr, away from the JSON lines.
  console.info = console.error; // eslint-disable-line no-console
  console.log = console.error; // eslint-disable-line no-console
  if (!env.REDIRECT_URI) {
    process.stderr.write(`${script}: REDIRECT_URI is required\n`);
    process.exit(2);
  }
  if (env.EXIT_ON_STDIN_CLOSE === '1') {
    // The Go harness holds stdin open: the provider never outlives a test
    // process that died.
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
    kid: `${script.replace(/\.mjs$/, '')}-${crypto.randomBytes(6).toString('hex')}`,
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
    // sid appears in ID and logout tokens only with session_required.
    client.backchannel_logout_uri = env.BACKCHANNEL_LOGOUT_URI;
    client.backchannel_logout_session_required = true;
  }
  return { server, issuer, signingKey, client };
}

const alice = {
  sub: 'alice',
  name: 'Alice Example',
  given_name: 'Alice',
  family_name: 'Example',
  email: 'alice@example.com',
  email_verified: true,
};

// account is the configuration both versions share for the one user.
export const account = {
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
};

// cookieKeys signs the provider's cookies for this run.
export const cookieKeys = [crypto.randomBytes(32).toString('base64url')];

function message(err) {
  if (!err) return undefined;
  const cause = err.cause ? ` (${err.cause.message || err.cause})` : '';
  const desc = err.error_description ? `: ${err.error_description}` : '';
  return `${err.message}${desc}${cause}`;
}

// reportEvents emits the provider events the Go tests wait for.
export function reportEvents(provider) {
  const clientID = (c) => (c ? c.clientId : undefined);
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
}
