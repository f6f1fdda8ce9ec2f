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
import Provider from 'oidc-provider-legacy';

import { account, cookieKeys, emit, reportEvents, setup } from './common.mjs';

const env = process.env;
const { server, issuer, signingKey, client } = await setup('provider-legacy.mjs');
if (env.FRONTCHANNEL_LOGOUT_URI) {
  client.frontchannel_logout_uri = env.FRONTCHANNEL_LOGOUT_URI;
  client.frontchannel_logout_session_required = true;
}

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
    keys: cookieKeys,
  },
  ...account,
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
reportEvents(provider);

server.on('request', provider.callback);
emit('ready', { issuer, client_id: client.client_id, kid: signingKey.kid, version: 'oidc-provider 6.31.1' });
