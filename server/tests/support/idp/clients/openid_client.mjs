// A real OAuth client written by others against our server: npm openid-client 6 (discovery,
// the code exchange with PKCE and ID token validation, refresh, introspection, revocation,
// userinfo) and npm jose (our access token checked against our JWKS, as a resource server would).
//
// The Rust test (server/tests/api/oauth.rs) plays the browser up to the redirect back to the
// client; this script is the client from there. Input, one JSON argument:
//   {issuer, client_id, client_secret, callback_url, code_verifier, state, nonce, alg}
// where `alg` is the client's signing_alg (ES256 or RS256): the only one either library accepts.
// Output, one JSON line: what each step returned (or the error it raised).

import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const modulesDir = process.env.STATUSPULSE_IDP_NODE_MODULES || path.resolve(here, '../../../../../.tools/idp/node_modules');
const load = (name, file) => import(pathToFileURL(path.join(modulesDir, name, file)).href);
const client = await load('openid-client', 'build/index.js');
const jose = await load('jose', 'dist/webapi/index.js');

const input = JSON.parse(process.argv[2]);
const alg = input.alg || 'ES256';
const out = {};
const attempt = async (name, step) => {
  try {
    out[name] = await step();
  } catch (error) {
    out[name] = { error: error.code || error.name, message: error.message, oauth: error.error };
  }
  return out[name];
};

const config = await client.discovery(
  new URL(input.issuer),
  input.client_id,
  { client_secret: input.client_secret, id_token_signed_response_alg: alg },
  client.ClientSecretBasic(input.client_secret),
  // Our test server speaks plain http on loopback.
  { execute: [client.allowInsecureRequests] },
);

const tokens = await attempt('code', async () => {
  const answer = await client.authorizationCodeGrant(config, new URL(input.callback_url), {
    pkceCodeVerifier: input.code_verifier,
    expectedState: input.state,
    expectedNonce: input.nonce,
    idTokenExpected: true,
  });
  return { ...answer, id_token_claims: answer.claims() };
});

if (!tokens.error) {
  const jwks = jose.createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri));
  await attempt('access_token_by_jose', async () => {
    const { payload, protectedHeader } = await jose.jwtVerify(tokens.access_token, jwks, {
      issuer: input.issuer,
      audience: input.issuer,
      typ: 'at+jwt',
      algorithms: [alg],
    });
    return { payload, protectedHeader };
  });
  await attempt('userinfo', () => client.fetchUserInfo(config, tokens.access_token, tokens.id_token_claims.sub));
  const refreshed = await attempt('refresh', () => client.refreshTokenGrant(config, tokens.refresh_token));
  if (!refreshed.error) {
    await attempt('introspection', () => client.tokenIntrospection(config, refreshed.access_token));
    await attempt('revocation', async () => {
      await client.tokenRevocation(config, refreshed.refresh_token);
      return { revoked: true };
    });
    await attempt('refresh_after_revocation', () => client.refreshTokenGrant(config, refreshed.refresh_token));
  }
}
process.stdout.write(`${JSON.stringify(out)}\n`);
