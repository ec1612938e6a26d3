// The call centre in the CIBA test: a real OpenID Connect client library
// (openid-client 6) authenticates with private_key_jwt, names the citizen
// in a login_hint_token it signs with jose, starts a backchannel
// authentication and waits for it as the library does: polling /token
// (poll mode), or listening for the gateway's ping and then calling /token
// (ping mode).
//
//   node ciba_flow.mjs ISSUER CLIENT_ID MODE KEY.pem KID HINT.json BINDING [PING_PORT]
//
// MODE is poll or ping; HINT.json holds the person claims (name, birthdate,
// phone_number, provider); BINDING "-" sends no binding_message.
// Lines on stdout: {"event":"started",...}, in ping mode {"event":"ping",...},
// then {"event":"tokens",...} or {"event":"error","error":...}.
import * as client from 'openid-client';
import * as jose from 'jose';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { randomUUID, randomBytes } from 'node:crypto';

const [issuer, clientId, mode, keyFile, kid, hintFile, binding, pingPort] = process.argv.slice(2);
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');

try {
  const key = await jose.importPKCS8(readFileSync(keyFile, 'utf8'), 'ES256');
  const config = await client.discovery(
    new URL(issuer),
    clientId,
    { id_token_signed_response_alg: 'ES256' },
    client.PrivateKeyJwt({ key, kid }),
    { execute: [client.allowInsecureRequests] },
  );
  const meta = config.serverMetadata();
  const now = Math.floor(Date.now() / 1000);
  const hint = await new jose.SignJWT({ ...JSON.parse(readFileSync(hintFile, 'utf8')), jti: randomUUID() })
    .setProtectedHeader({ alg: 'ES256', kid, typ: 'login-hint+jwt' })
    .setIssuer(clientId)
    .setAudience(meta.issuer)
    .setIssuedAt(now)
    .setExpirationTime(now + 120)
    .sign(key);
  const params = { scope: 'openid profile', login_hint_token: hint, acr_values: 'urn:munjigi:acr:substantial' };
  if (binding !== '-') params.binding_message = binding;
  let pinged;
  if (mode === 'ping') {
    params.client_notification_token = randomBytes(24).toString('base64url');
    pinged = new Promise((resolve) => {
      const server = createServer((req, res) => {
        let body = '';
        req.on('data', (c) => { body += c; });
        req.on('end', () => {
          res.statusCode = 204;
          res.end();
          server.close();
          resolve({
            method: req.method,
            path: req.url,
            authorization: req.headers.authorization,
            content_type: req.headers['content-type'],
            body,
          });
        });
      });
      server.listen(Number(pingPort), '127.0.0.1');
    });
  }
  const started = await client.initiateBackchannelAuthentication(config, params);
  say({
    event: 'started',
    backchannel_authentication_endpoint: meta.backchannel_authentication_endpoint,
    backchannel_token_delivery_modes_supported: meta.backchannel_token_delivery_modes_supported,
    grant_types_supported: meta.grant_types_supported,
    auth_req_id: started.auth_req_id,
    expires_in: started.expires_in,
    interval: started.interval,
    client_notification_token: params.client_notification_token,
  });
  let tokens;
  if (mode === 'ping') {
    const ping = await pinged;
    say({ event: 'ping', ...ping });
    tokens = await client.genericGrantRequest(config, 'urn:openid:params:grant-type:ciba', {
      auth_req_id: started.auth_req_id,
    });
  } else {
    tokens = await client.pollBackchannelAuthenticationGrant(config, started);
  }
  say({
    event: 'tokens',
    access_token: tokens.access_token,
    scope: tokens.scope,
    claims: tokens.claims(),
  });
} catch (e) {
  say({ event: 'error', error: e.error ?? e.code ?? 'exception', message: String(e.message ?? e) });
}
