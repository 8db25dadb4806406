// A real OpenID provider for the server's tests: npm oidc-provider 9 on Node 22, laid out like the
// vendor a connector talks to (Okta org or custom authorization server, Azure AD tenant or
// `common`, OneLogin, or generic discovery), on 127.0.0.1 only.
//
// Run with the Node 22 that scripts/install-test-tools.sh installs:
//   .tools/idp/node server/tests/support/idp/idp.mjs '{"port":0,"shape":"generic","clients":[...]}'
// (or the same JSON in STATUSPULSE_IDP_CONFIG). Once listening it prints one JSON line on stdout:
//   {"ready":true,"port":N,"issuer":"http://127.0.0.1:N/..."}
//
// Logins are finished by the interaction middleware below, not by a person: the account and the
// claims (acr/amr included, which oidc-provider's dev interactions cannot set) are the ones a test
// queued with POST /__test/next-login, or a JSON login_hint, or else the default account.
//
// Workload tokens: a client registered with the client_credentials grant gets, for
// `resource=<audience>`, a JWT access token signed by this IdP's keys and shaped like a CI
// platform's OIDC token (GitHub Actions, GitLab CI): the claims a test queued with
// POST /__test/next-workload-token. See README.md beside this file for the test endpoints.

import crypto from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const toolsDir = process.env.STATUSPULSE_TOOLS_DIR || path.resolve(here, '../../../../.tools');
const modulesDir = process.env.STATUSPULSE_IDP_NODE_MODULES || path.join(toolsDir, 'idp/node_modules');

function fail(message) {
  process.stderr.write(`idp: ${message}\n`);
  process.exit(2);
}

async function importFrom(relative) {
  try {
    return await import(pathToFileURL(path.join(modulesDir, relative)).href);
  } catch (error) {
    fail(`cannot load ${relative} from ${modulesDir} (run scripts/install-test-tools.sh): ${error.message}`);
  }
}

const { default: Provider } = await importFrom('oidc-provider/lib/index.js');
// oidc-provider keeps its keystore in a per-instance cache; the same module instance (same file
// URL) reads it, which is how /__test/rotate-keys adds a key to a running provider.
const { default: instance } = await importFrom('oidc-provider/lib/helpers/weak_cache.js');
// Its in-memory adapter, named explicitly: state lives as long as this test process, on purpose
// (naming it also silences the warning meant for production deployments).
const { createMemoryAdapter } = await importFrom('oidc-provider/lib/adapters/memory_adapter.js');

// ---------------------------------------------------------------------------------------------
// Configuration

let config;
try {
  config = JSON.parse(process.argv[2] || process.env.STATUSPULSE_IDP_CONFIG || '{}');
} catch (error) {
  fail(`configuration is not JSON: ${error.message}`);
}
const shape = config.shape || 'generic';
const SHAPES = ['generic', 'okta_org', 'okta_custom', 'azure', 'onelogin'];
if (!SHAPES.includes(shape)) fail(`unknown shape ${shape}; one of ${SHAPES.join(', ')}`);
const authorizationServerId = config.authorization_server_id || 'default';
const tenant = config.tenant || '9188040d-6c67-4c5b-b112-36a304b66dad';
const defaultLogin = {
  sub: 'user-1',
  email: 'user@example.com',
  email_verified: true,
  name: 'Test User',
  groups: [],
  ...(config.default_login || {}),
};

// ---------------------------------------------------------------------------------------------
// Path layouts. `mounts` are the path prefixes the provider answers under (oidc-provider derives
// every URL it prints from the prefix the request came in on); `routes` are relative to a mount.

function layoutFor(origin) {
  switch (shape) {
    case 'generic':
      return { issuer: origin, mounts: [''], routes: {} };
    case 'okta_org':
      // Okta's org authorization server: issuer is the domain, endpoints under /oauth2/v1.
      return {
        issuer: origin,
        mounts: [''],
        routes: oktaRoutes('/oauth2/v1'),
      };
    case 'okta_custom':
      return {
        issuer: `${origin}/oauth2/${authorizationServerId}`,
        mounts: [`/oauth2/${authorizationServerId}`],
        routes: oktaRoutes('/v1'),
      };
    case 'azure':
      // Issuer https://login.microsoftonline.com/{tenant}/v2.0, but the endpoints sit beside it
      // (/{tenant}/oauth2/v2.0/…, /{tenant}/discovery/v2.0/keys) and discovery is under the issuer.
      // `common` and `organizations` serve the same provider; their discovery issuer is a template.
      return {
        issuer: `${origin}/${tenant}/v2.0`,
        mounts: [`/${tenant}`, '/common', '/organizations'],
        templated: new Set(['/common', '/organizations']),
        discoveryUnder: '/v2.0',
        templateIssuer: `${origin}/{tenantid}/v2.0`,
        routes: {
          authorization: '/oauth2/v2.0/authorize',
          token: '/oauth2/v2.0/token',
          jwks: '/discovery/v2.0/keys',
          userinfo: '/oidc/userinfo',
          end_session: '/oauth2/v2.0/logout',
        },
      };
    case 'onelogin':
      return {
        issuer: `${origin}/oidc/2`,
        mounts: ['/oidc/2'],
        routes: {
          authorization: '/auth',
          token: '/token',
          jwks: '/certs',
          userinfo: '/me',
          end_session: '/logout',
        },
      };
    default:
      throw new Error('unreachable');
  }
}

function oktaRoutes(prefix) {
  return {
    authorization: `${prefix}/authorize`,
    token: `${prefix}/token`,
    jwks: `${prefix}/keys`,
    userinfo: `${prefix}/userinfo`,
    end_session: `${prefix}/logout`,
    revocation: `${prefix}/revoke`,
    introspection: `${prefix}/introspect`,
  };
}

// ---------------------------------------------------------------------------------------------
// Signing keys: one of each kind so a client may ask for RS256, ES256 or EdDSA ID tokens.

let keyCounter = 0;
function newSigningKeys() {
  keyCounter += 1;
  const generation = keyCounter;
  const jwk = (type, options, alg) => {
    const { privateKey } = crypto.generateKeyPairSync(type, options);
    return { ...privateKey.export({ format: 'jwk' }), kid: `${alg.toLowerCase()}-${generation}`, alg, use: 'sig' };
  };
  return [
    jwk('rsa', { modulusLength: 2048 }, 'RS256'),
    jwk('ec', { namedCurve: 'P-256' }, 'ES256'),
    jwk('ed25519', {}, 'EdDSA'),
  ];
}
let privateKeys = newSigningKeys();

// ---------------------------------------------------------------------------------------------
// Accounts and the logins the tests queue.

const accounts = new Map(); // sub -> claims other than sub
const nextLogins = [];
const stats = {
  jwks_hits: 0,
  discovery_hits: 0,
  authorization_hits: 0,
  token_hits: 0,
  logins: 0,
  workload_tokens: 0,
};
const tamperQueue = [];
const workloadQueue = [];

function parseLoginHint(hint) {
  if (typeof hint !== 'string' || !hint) return undefined;
  for (const text of [hint, Buffer.from(hint, 'base64url').toString('utf8')]) {
    try {
      const value = JSON.parse(text);
      if (value && typeof value === 'object' && !Array.isArray(value)) return value;
    } catch {
      // not JSON in this encoding
    }
  }
  return undefined;
}

const CLAIM_NAMES = ['email', 'email_verified', 'name', 'groups', 'preferred_username'];

function validLogin(login) {
  if (!login || typeof login !== 'object' || Array.isArray(login)) return 'a JSON object';
  if (login.sub !== undefined && (typeof login.sub !== 'string' || !login.sub)) return 'sub: a non-empty string';
  if (login.amr !== undefined && !(Array.isArray(login.amr) && login.amr.every((x) => typeof x === 'string'))) {
    return 'amr: an array of strings';
  }
  if (login.acr !== undefined && typeof login.acr !== 'string') return 'acr: a string';
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Workload tokens: what a CI platform (GitHub Actions, GitLab CI) issues a job, made by
// oidc-provider's client-credentials grant with a resource indicator and the JWT access token
// format. The test queues the next token's claims, lifetime, `alg` and `typ`; each
// client-credentials token request takes the next queued spec (whether it succeeds or not).

const DEFAULT_WORKLOAD_TTL = 300;
const MAX_WORKLOAD_TTL = 86400;
// Claims oidc-provider sets itself: a queued spec may not replace them (`aud` is the resource
// the token request names, the times come from `ttl` and the IdP's clock).
const IDP_SET_CLAIMS = ['iss', 'aud', 'iat', 'nbf', 'exp', 'jti'];
const WORKLOAD_ALGS = ['RS256', 'ES256', 'EdDSA'];
// An audience that is not an absolute URI (GitHub's `audience` input is often a bare word) cannot
// be a resource indicator: the Rust harness sends it as this URN with the audience in base64url.
const OPAQUE_AUDIENCE_PREFIX = 'urn:statuspulse:test:audience:';

function validWorkloadSpec(spec) {
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) return 'a JSON object';
  const { claims = {}, ttl, alg, typ, ...rest } = spec;
  const unknown = Object.keys(rest);
  if (unknown.length) return `{claims, ttl, alg, typ} (not ${unknown.join(', ')})`;
  if (!claims || typeof claims !== 'object' || Array.isArray(claims)) return 'claims: a JSON object';
  const reserved = IDP_SET_CLAIMS.filter((name) => name in claims);
  if (reserved.length) return `claims without ${reserved.join(', ')}: the IdP sets those`;
  if (claims.sub !== undefined && (typeof claims.sub !== 'string' || !claims.sub)) return 'sub: a non-empty string';
  if (ttl !== undefined && !(Number.isSafeInteger(ttl) && ttl > 0 && ttl <= MAX_WORKLOAD_TTL)) {
    return `ttl: whole seconds, 1 to ${MAX_WORKLOAD_TTL}`;
  }
  if (alg !== undefined && !WORKLOAD_ALGS.includes(alg)) return `alg: one of ${WORKLOAD_ALGS.join(', ')}`;
  if (typ !== undefined && (typeof typ !== 'string' || !typ)) return 'typ: a non-empty string';
  return undefined;
}

// The spec of this client-credentials token request: taken from the queue at the first hook that
// asks, once per request. Other requests (a resource indicator on an authorization request, say)
// leave the queue alone.
function workloadSpec(ctx) {
  if (ctx.oidc?.params?.grant_type !== 'client_credentials') return {};
  if (!ctx.statuspulseWorkload) ctx.statuspulseWorkload = workloadQueue.shift() || {};
  return ctx.statuspulseWorkload;
}

function audienceOf(resource) {
  if (!resource.startsWith(OPAQUE_AUDIENCE_PREFIX)) return resource;
  return Buffer.from(resource.slice(OPAQUE_AUDIENCE_PREFIX.length), 'base64url').toString('utf8');
}

// ---------------------------------------------------------------------------------------------
// The provider

let layout;
let provider;
let handle;

function buildProvider(origin) {
  layout = layoutFor(origin);
  const claims = {
    // acr and amr come from the login the interaction finished; with the openid scope they are in
    // every ID token that has them.
    openid: ['sub', 'acr', 'amr', ...(shape === 'azure' ? ['tid', 'groups'] : [])],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
  };
  if (shape !== 'azure') claims.groups = ['groups'];

  // A workload client (the Rust IdpClient::workload) sends grant_types [client_credentials],
  // response_types [] and no redirect_uris.
  const clients = (config.clients || []).map((client) => ({
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
    ...client,
  }));

  const p = new Provider(layout.issuer, {
    adapter: createMemoryAdapter(0),
    clients,
    jwks: { keys: privateKeys },
    claims,
    scopes: ['openid', 'offline_access', 'email', 'profile', ...(claims.groups ? ['groups'] : [])],
    acrValues: config.acr_values || [
      'urn:okta:loa:1fa:any',
      'urn:okta:loa:2fa:any',
      'http://schemas.openid.net/pape/policies/2007/06/multi-factor',
      'mfa',
      'phr',
      'phrh',
    ],
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
    routes: layout.routes,
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      // Every claim of the granted scopes goes into the ID token: that is what the server reads.
      // (With it true, oidc-provider keeps them for userinfo when an access token is issued.)
      // oidc-provider 9 always sends RFC 9207 `iss` in the authorization response and
      // advertises authorization_response_iss_parameter_supported.
      rpInitiatedLogout: { enabled: false },
      clientCredentials: { enabled: true },
      // Any resource indicator is a resource server whose tokens are JWTs with that audience:
      // the workload tokens.
      resourceIndicators: {
        enabled: true,
        getResourceServerInfo: async (ctx, resource) => {
          const spec = workloadSpec(ctx);
          return {
            scope: '',
            audience: audienceOf(resource),
            accessTokenFormat: 'jwt',
            accessTokenTTL: spec.ttl || DEFAULT_WORKLOAD_TTL,
            jwt: { sign: { alg: spec.alg || 'RS256' } },
          };
        },
      },
    },
    // The queued claims of a workload token (stored with it, and in the JWT by the customizer).
    extraTokenClaims: async (ctx, token) => {
      if (token.kind !== 'ClientCredentials') return undefined;
      const { sub: _sub, ...claims } = workloadSpec(ctx).claims || {};
      return claims;
    },
    formats: {
      customizers: {
        // What oidc-provider's JWT access token format cannot take from extraTokenClaims: a `sub`
        // other than the client_id, `nbf`, no `client_id` (a CI platform's token has none), and
        // another `typ` than its RFC 9068 `at+jwt` (GitHub and GitLab send `JWT`).
        jwt: async (ctx, token, jwt) => {
          if (token.kind !== 'ClientCredentials') return;
          const spec = workloadSpec(ctx);
          const { payload } = jwt;
          delete payload.client_id;
          if (spec.claims?.sub) payload.sub = spec.claims.sub;
          payload.nbf = payload.iat;
          if (spec.typ) jwt.header = { ...jwt.header, typ: spec.typ };
        },
      },
    },
    conformIdTokenClaims: false,
    // No remembered grant: every authorization request goes through the interaction, so the login
    // a test queued is the one that happens, even for a client that keeps its cookies.
    loadExistingGrant: async (ctx) => {
      const grantId = ctx.oidc.result?.consent?.grantId;
      return grantId ? ctx.oidc.provider.Grant.find(grantId) : undefined;
    },
    findAccount: async (_ctx, sub) => {
      const stored = accounts.get(sub);
      if (!stored) return undefined;
      return {
        accountId: sub,
        claims: async () => {
          const out = { sub };
          for (const [name, value] of Object.entries(stored)) if (value !== undefined && value !== null) out[name] = value;
          if (shape === 'azure') out.tid = tenant;
          return out;
        },
      };
    },
    interactions: { url: async (_ctx, interaction) => `/interaction/${interaction.uid}` },
    renderError: async (ctx, out, _error) => {
      ctx.type = 'json';
      ctx.body = out;
    },
    ttl: {
      Session: 3600,
      Interaction: 600,
      Grant: 3600,
      AuthorizationCode: 60,
      IdToken: 3600,
      AccessToken: 3600,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL || DEFAULT_WORKLOAD_TTL,
    },
  });

  p.on('server_error', (_ctx, error) => process.stderr.write(`idp: server_error ${error.stack}\n`));

  // Counters, the Azure `common` discovery issuer template, and ID token tampering.
  p.use(async (ctx, next) => {
    await next();
    const route = ctx.oidc?.route;
    if (route === 'jwks') stats.jwks_hits += 1;
    if (route === 'discovery') {
      stats.discovery_hits += 1;
      if (ctx.req.statuspulseTemplated && ctx.body && typeof ctx.body === 'object') {
        ctx.body = { ...ctx.body, issuer: layout.templateIssuer };
      }
    }
    if (route === 'authorization') stats.authorization_hits += 1;
    if (route === 'token') {
      stats.token_hits += 1;
      // A client-credentials request that failed before any hook took its queued spec uses it
      // up all the same, so that the next request gets the spec queued for it.
      if (ctx.oidc.params?.grant_type === 'client_credentials') {
        workloadSpec(ctx);
        if (ctx.status === 200) stats.workload_tokens += 1;
      }
      if (ctx.status === 200 && ctx.body?.id_token && tamperQueue.length) {
        ctx.body = { ...ctx.body, id_token: tamper(ctx.body.id_token, tamperQueue.shift()) };
      }
    }
  });
  return p;
}

// ---------------------------------------------------------------------------------------------
// ID token tampering for negative tests: the next token response's id_token is re-signed with
// changed claims or header, by a real key of this IdP unless the test asks for `none` or HS256.

function b64json(value) {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function tamper(idToken, spec) {
  const [h, b] = idToken.split('.');
  const header = { ...JSON.parse(Buffer.from(h, 'base64url')), ...(spec.header || {}) };
  const payload = JSON.parse(Buffer.from(b, 'base64url'));
  for (const [name, value] of Object.entries(spec.claims || {})) {
    if (value === null) delete payload[name];
    else payload[name] = value;
  }
  const input = `${b64json(header)}.${b64json(payload)}`;
  const mode = spec.sign || 'key';
  if (mode === 'none' || header.alg === 'none') return `${b64json({ ...header, alg: 'none' })}.${b64json(payload)}.`;
  if (mode === 'hs256-public-key') {
    // The classic key-confusion forgery: HMAC keyed with the IdP's public RSA key (PEM).
    const rsa = privateKeys.find((k) => k.alg === 'RS256');
    const pem = crypto.createPublicKey({ key: rsa, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    const hs = `${b64json({ ...header, alg: 'HS256', kid: rsa.kid })}.${b64json(payload)}`;
    return `${hs}.${crypto.createHmac('sha256', pem).update(hs).digest('base64url')}`;
  }
  if (mode === 'garbage') return `${input}.${crypto.randomBytes(64).toString('base64url')}`;
  // 'key' (a real key of this IdP, by the header's alg) or 'foreign' (a fresh key nobody published)
  const keys = mode === 'foreign' ? newSigningKeys() : privateKeys;
  const key = keys.find((k) => k.alg === header.alg) || fail(`no key for alg ${header.alg}`);
  const signingHeader = { ...header, kid: spec.header?.kid ?? key.kid };
  const signingInput = `${b64json(signingHeader)}.${b64json(payload)}`;
  const keyObject = crypto.createPrivateKey({ key, format: 'jwk' });
  const digest = header.alg === 'EdDSA' ? null : 'sha256';
  const signature = crypto.sign(digest, Buffer.from(signingInput), {
    key: keyObject,
    dsaEncoding: 'ieee-p1363',
  });
  return `${signingInput}.${signature.toString('base64url')}`;
}

// ---------------------------------------------------------------------------------------------
// Key rotation: a new key of each kind goes first (so later tokens are signed with it); the old
// ones stay published, as an IdP keeps them while tokens signed by them may still be in flight.

function rotateKeys() {
  const fresh = newSigningKeys();
  privateKeys = [...fresh, ...privateKeys];
  const internal = instance(provider);
  internal.keystore.clear();
  for (const key of privateKeys) internal.keystore.add(structuredClone(key));
  internal.jwks = {
    keys: privateKeys.map(({ kty, kid, alg, use, crv, e, n, x, y }) => ({ kty, kid, alg, use, crv, e, n, x, y })),
  };
  return fresh.map((k) => ({ kid: k.kid, alg: k.alg }));
}

// ---------------------------------------------------------------------------------------------
// The interaction middleware: finishes login and consent at once, with the queued claims.

async function finishInteraction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { params } = details;
  const login = parseLoginHint(params.login_hint) || nextLogins.shift() || defaultLogin;
  const sub = login.sub || defaultLogin.sub;
  const stored = {};
  for (const name of CLAIM_NAMES) if (login[name] !== undefined) stored[name] = login[name];
  accounts.set(sub, stored);

  const grant = new provider.Grant({ accountId: sub, clientId: params.client_id });
  grant.addOIDCScope(String(params.scope || 'openid'));
  const missing = details.prompt?.details?.missingOIDCClaims;
  if (Array.isArray(missing) && missing.length) grant.addOIDCClaims(missing);
  if (params.claims) {
    try {
      const requested = JSON.parse(params.claims);
      grant.addOIDCClaims([...Object.keys(requested.id_token || {}), ...Object.keys(requested.userinfo || {})]);
    } catch {
      // an unparsable claims parameter was already refused by the authorization endpoint
    }
  }
  const grantId = await grant.save();
  const result = {
    login: { accountId: sub, remember: false, ...(login.acr ? { acr: login.acr } : {}), ...(login.amr ? { amr: login.amr } : {}) },
    consent: { grantId },
  };
  stats.logins += 1;
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

// ---------------------------------------------------------------------------------------------
// HTTP: test endpoints, the interaction, then the provider under each mount.

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > 65536) reject(new Error('body too large'));
      else chunks.push(chunk);
    });
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        resolve(text ? JSON.parse(text) : {});
      } catch (error) {
        reject(error);
      }
    });
    req.on('error', reject);
  });
}

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

async function testEndpoint(req, res, pathname) {
  const route = `${req.method} ${pathname}`;
  switch (route) {
    case 'POST /__test/next-login': {
      const login = await readJson(req);
      const problem = validLogin(login);
      if (problem) return send(res, 400, { error: `next-login must be ${problem}` });
      nextLogins.push(login);
      return send(res, 200, { queued: nextLogins.length });
    }
    case 'POST /__test/next-workload-token': {
      const spec = await readJson(req);
      const problem = validWorkloadSpec(spec);
      if (problem) return send(res, 400, { error: `next-workload-token must be ${problem}` });
      workloadQueue.push(spec);
      return send(res, 200, { queued: workloadQueue.length });
    }
    case 'POST /__test/rotate-keys':
      return send(res, 200, { added: rotateKeys() });
    case 'POST /__test/tamper-next-id-token': {
      const spec = await readJson(req);
      tamperQueue.push(spec);
      return send(res, 200, { queued: tamperQueue.length });
    }
    case 'GET /__test/stats':
      return send(res, 200, stats);
    case 'POST /__test/reset-stats':
      for (const name of Object.keys(stats)) stats[name] = 0;
      return send(res, 200, stats);
    default:
      return send(res, 404, { error: `no test endpoint ${route}` });
  }
}

function mountFor(pathname) {
  let best;
  for (const mount of layout.mounts) {
    if (mount === '' || pathname === mount || pathname.startsWith(`${mount}/`)) {
      if (best === undefined || mount.length > best.length) best = mount;
    }
  }
  return best;
}

async function dispatch(req, res) {
  const url = new URL(req.url, 'http://127.0.0.1');
  const { pathname } = url;
  if (pathname.startsWith('/__test/')) return testEndpoint(req, res, pathname);
  if (/^\/interaction\/[^/]+$/.test(pathname)) return finishInteraction(req, res);

  const mount = mountFor(pathname);
  if (mount === undefined) return send(res, 404, { error: 'not_found' });
  let inner = req.url.slice(mount.length) || '/';
  let outer = req.url;
  // Azure publishes discovery under the issuer (/{tenant}/v2.0/.well-known/…), not the mount.
  const discovery = '/.well-known/openid-configuration';
  if (layout.discoveryUnder && pathname === `${mount}${layout.discoveryUnder}${discovery}`) {
    inner = discovery + url.search;
    outer = mount + inner;
  } else if (layout.discoveryUnder && pathname === `${mount}${discovery}`) {
    return send(res, 404, { error: 'not_found' });
  }
  // oidc-provider takes its mount path from the part of originalUrl in front of url.
  req.originalUrl = outer;
  req.url = inner;
  req.statuspulseTemplated = Boolean(layout.templated?.has(mount));
  return handle(req, res);
}

const server = http.createServer((req, res) => {
  dispatch(req, res).catch((error) => {
    process.stderr.write(`idp: ${req.method} ${req.url}: ${error.stack}\n`);
    if (!res.headersSent) send(res, 500, { error: 'server_error', error_description: error.message });
    else res.end();
  });
});

server.listen(Number(config.port || 0), '127.0.0.1', () => {
  const { port } = server.address();
  provider = buildProvider(`http://127.0.0.1:${port}`);
  handle = provider.callback();
  process.stdout.write(`${JSON.stringify({ ready: true, port, issuer: layout.issuer, shape })}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
if (config.exit_on_stdin_close) {
  // The test that started us is gone when our stdin closes (even if it was killed): do not
  // outlive it.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
