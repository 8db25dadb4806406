// npm jose as a resource server would use it: tokens verified against our JWKS, fetched afresh
// (a new process, a new remote key set), at a given instant (our test clock's, not the wall's).
//
// Input, one JSON argument: {issuer, jwks_uri, checks: [{name, token, audience, typ, at}]}, `at`
// in Unix seconds. Output, one JSON line: {kids: [...published...], <name>: {kid, alg} or
// {error: <jose error code>}}.

import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const modulesDir = process.env.STATUSPULSE_IDP_NODE_MODULES || path.resolve(here, '../../../../../.tools/idp/node_modules');
const jose = await import(pathToFileURL(path.join(modulesDir, 'jose', 'dist/webapi/index.js')).href);

const input = JSON.parse(process.argv[2]);
const out = {};
const published = await (await fetch(input.jwks_uri)).json();
out.kids = published.keys.map((k) => k.kid);
const jwks = jose.createRemoteJWKSet(new URL(input.jwks_uri));
for (const check of input.checks) {
  try {
    const { protectedHeader } = await jose.jwtVerify(check.token, jwks, {
      issuer: input.issuer,
      audience: check.audience,
      typ: check.typ,
      algorithms: ['ES256', 'RS256', 'EdDSA'],
      currentDate: new Date(check.at * 1000),
    });
    out[check.name] = { kid: protectedHeader.kid, alg: protectedHeader.alg };
  } catch (error) {
    out[check.name] = { error: error.code || error.name, message: error.message };
  }
}
process.stdout.write(`${JSON.stringify(out)}\n`);
