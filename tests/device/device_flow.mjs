// The device in the Device Authorization Grant test: a real OpenID Connect
// client library (openid-client 6) asks the gateway for a device code,
// prints it (one JSON line) for the test, which plays the citizen, then polls
// /token as the library does (interval, slow_down) and prints the outcome.
//
//   node device_flow.mjs ISSUER CLIENT_ID [CLIENT_SECRET]
//
// Lines on stdout: {"event":"started",...}, then {"event":"tokens",...} or
// {"event":"error","error":"access_denied"|"expired_token"|...}.
import * as client from 'openid-client';

const [issuer, clientId, clientSecret] = process.argv.slice(2);
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');

try {
  const metadata = { id_token_signed_response_alg: 'ES256' };
  if (clientSecret) metadata.client_secret = clientSecret;
  const config = await client.discovery(
    new URL(issuer),
    clientId,
    metadata,
    clientSecret ? client.ClientSecretBasic(clientSecret) : client.None(),
    { execute: [client.allowInsecureRequests] },
  );
  const meta = config.serverMetadata();
  const started = await client.initiateDeviceAuthorization(config, {
    scope: 'openid profile',
  });
  say({
    event: 'started',
    device_authorization_endpoint: meta.device_authorization_endpoint,
    grant_types_supported: meta.grant_types_supported,
    device_code: started.device_code,
    user_code: started.user_code,
    verification_uri: started.verification_uri,
    verification_uri_complete: started.verification_uri_complete,
    expires_in: started.expires_in,
    interval: started.interval,
  });
  const tokens = await client.pollDeviceAuthorizationGrant(config, started);
  say({
    event: 'tokens',
    access_token: tokens.access_token,
    token_type: tokens.token_type,
    scope: tokens.scope,
    claims: tokens.claims(),
  });
} catch (e) {
  say({ event: 'error', error: e.error ?? e.code ?? 'exception', message: String(e.message ?? e) });
}
