// provider.mjs runs a real, certified OpenID Connect provider (the
// `oidc-provider` package) to stand in for an external IAM in Base's
// end-to-end tests (e2e/external_iam_test.go).
//
// It issues RFC 9068 JWT access tokens for one resource server (Base),
// signed RS256 with an RSA key generated at start (so a restart on the same
// port is a key rotation), and carries Base's claims (owner, organization,
// isAdmin, email, name, …) through extraTokenClaims. Two ways to get a token:
//
//   - client_credentials, one client per service identity (sub = client_id);
//   - authorization_code + PKCE for a public web client, logging a user in
//     through oidc-provider's development interactions (sub = the login).
//
// Configuration is one JSON document in the OIDC_CONFIG environment variable:
//
//   {
//     "port": 43123,                    // listen on 127.0.0.1:port (required)
//     "issuer": "http://127.0.0.1:43123", // default: http://127.0.0.1:<port>
//     "resource": "urn:base",           // the aud of every access token
//     "ttl": 600,                       // access token lifetime, seconds
//     "clients": [                      // client_credentials clients
//       {"client_id": "svc", "client_secret": "s", "claims": {"owner": "acme", "isAdmin": true}}
//     ],
//     "web": {"client_id": "base-web", "redirect_uris": ["http://127.0.0.1:1/cb"]},
//     "accounts": {"acme/alice": {"email": "alice@acme.test", "name": "Alice"}}
//   }
//
// Standard output gets one JSON line per event, for the test to read:
// {"event":"ready","issuer":…,"kid":…,"jwks_uri":…} once listening, and
// {"event":"jwks"} for every JWKS download. SIGINT/SIGTERM stop it.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const cfg = JSON.parse(process.env.OIDC_CONFIG ?? '{}');
if (!cfg.port) {
  console.error('provider.mjs: OIDC_CONFIG must set "port"');
  process.exit(2);
}
const issuer = cfg.issuer ?? `http://127.0.0.1:${cfg.port}`;
const resource = cfg.resource ?? 'urn:base';
const ttl = cfg.ttl ?? 600;
const accounts = cfg.accounts ?? {};
const clientClaims = Object.fromEntries((cfg.clients ?? []).map((c) => [c.client_id, c.claims ?? {}]));

const emit = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);

// A fresh signing key per process: restarting is rotating.
const kid = randomBytes(8).toString('hex');
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };

const clients = (cfg.clients ?? []).map((c) => ({
  client_id: c.client_id,
  client_secret: c.client_secret,
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'client_secret_post',
}));
if (cfg.web) {
  clients.push({
    client_id: cfg.web.client_id,
    token_endpoint_auth_method: 'none', // public client: PKCE is required
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: cfg.web.redirect_uris,
  });
}

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [jwk] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  claims: { openid: ['sub'], email: ['email'], profile: ['name'] },
  async findAccount(_ctx, id) {
    return { accountId: id, async claims() { return { sub: id, ...accounts[id] }; } };
  },
  // Base reads identity and tenancy from the access token itself.
  async extraTokenClaims(_ctx, token) {
    if (token.accountId) return accounts[token.accountId];
    return clientClaims[token.clientId];
  },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => resource,
      useGrantedResource: async () => true,
      async getResourceServerInfo(_ctx, indicator) {
        if (indicator !== resource) throw new Provider.errors.InvalidTarget();
        return {
          scope: 'base',
          audience: resource,
          accessTokenTTL: ttl,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  ttl: { AccessToken: ttl, ClientCredentials: ttl, Grant: 3600, Interaction: 600, Session: 3600 },
});

provider.use(async (ctx, next) => {
  await next();
  if (ctx.method === 'GET' && ctx.path === '/jwks' && ctx.status === 200) emit({ event: 'jwks' });
});
provider.on('server_error', (_ctx, err) => console.error('server_error', err));

const server = createServer(provider.callback());
server.listen(cfg.port, '127.0.0.1', () => {
  emit({ event: 'ready', issuer, kid, jwks_uri: new URL('/jwks', issuer).href });
});
server.on('error', (err) => {
  console.error('provider.mjs: listen:', err.message);
  process.exit(1);
});

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
