// The OIDC peer of `./deploy/bench compare`: node oidc-provider as an OpenID
// Provider with one confidential client, in-memory storage (as the gateway's
// memory store in the same bench), ID tokens signed ES256 with a P-256 key made
// at start (the gateway's default), and an interaction route that finishes
// login and consent in one request, so a login is five requests: authorize,
// interaction, resume, token, userinfo.
//
// Environment: PORT, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI. Prints
// `listening on http://127.0.0.1:PORT` when ready.

import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

const need = (name) => {
  const v = process.env[name];
  if (!v) {
    console.error(`${name} is required`);
    process.exit(2);
  }
  return v;
};
const port = Number(need('PORT'));
const issuer = `http://127.0.0.1:${port}`;

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-es256', alg: 'ES256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: need('CLIENT_ID'),
      client_secret: need('CLIENT_SECRET'),
      redirect_uris: [need('REDIRECT_URI')],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
    },
  ],
  jwks: { keys: [jwk] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  claims: { openid: ['sub'] },
  // The gateway's lifetimes: 10 min to log in, 5 min for a session, 1 h tokens.
  ttl: { Interaction: 600, Session: 300, Grant: 300, AccessToken: 3600, IdToken: 3600, AuthorizationCode: 60 },
  async findAccount(ctx, sub) {
    return { accountId: sub, async claims() { return { sub }; } };
  },
});
// No log line per request (as the gateway at its default level logs a few per login).
provider.on('server_error', (ctx, err) => console.error('server_error', err));

const oidc = provider.callback();
let accounts = 0;

// Login and consent at once: the account is whoever comes, the grant is `openid`.
async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  accounts += 1;
  const accountId = `bench-${accounts}`;
  const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
  grant.addOIDCScope('openid');
  const grantId = await grant.save();
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId }, consent: { grantId } },
    { mergeWithLastSubmission: false },
  );
}

createServer((req, res) => {
  if (req.method === 'GET' && req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((err) => {
      console.error('interaction failed', err);
      if (!res.headersSent) {
        res.statusCode = 500;
      }
      res.end();
    });
    return;
  }
  oidc(req, res);
}).listen(port, '127.0.0.1', () => {
  console.log(`listening on ${issuer}`);
});
