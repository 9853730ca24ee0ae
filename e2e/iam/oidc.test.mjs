// The real openid-client (strict OIDC RP) against the IAM.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as client from "openid-client";
import { IAM, CB, discover, authorize, payload } from "./helpers.mjs";

const grantError = async (p) => {
  try {
    await p;
  } catch (e) {
    return e.error ?? e.code ?? e.message;
  }
  return "no error";
};

test("discovery lists the canonical endpoints", async () => {
  const config = await discover("spa");
  const md = config.serverMetadata();
  assert.equal(md.issuer, IAM);
  assert.equal(md.token_endpoint, IAM + "/v1/iam/oauth/token");
  assert.equal(md.jwks_uri, IAM + "/v1/iam/.well-known/jwks");
  assert.deepEqual(md.code_challenge_methods_supported, ["S256"]);
  assert.deepEqual(md.response_types_supported, ["code"]);
  assert.deepEqual(md.token_endpoint_auth_methods_supported, ["client_secret_basic", "client_secret_post", "none"]);
});

test("authorization code + PKCE → userinfo → refresh (rotation, reuse) → introspect → revoke → logout", async () => {
  const config = await discover("spa");
  const { callback, verifier, state, nonce } = await authorize(config);
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
  });
  const id = tokens.claims();
  assert.equal(id.sub, "acme/alice");
  assert.equal(id.nonce, nonce);
  assert.equal(id.owner, "acme");
  const at = payload(tokens.access_token);
  assert.equal(at.sub, "acme/alice");
  assert.equal(at.owner, "acme");
  assert.equal(at.isAdmin, true);
  assert.deepEqual(at.orgs, [{ org: "acme", role: "admin" }, { org: "beta", role: "member" }]);
  assert.equal(at.client_id, "spa");
  assert.ok(!/[-_]/.test(tokens.access_token.split(".")[1]), "access token payload must be SDK-safe");

  const info = await client.fetchUserInfo(config, tokens.access_token, id.sub);
  assert.equal(info.email, "alice@acme.example");
  assert.equal(info.preferred_username, "alice");

  // Refresh rotates.
  const r1 = await client.refreshTokenGrant(config, tokens.refresh_token);
  assert.notEqual(r1.refresh_token, tokens.refresh_token);
  assert.equal(r1.claims().sub, "acme/alice");
  const r2 = await client.refreshTokenGrant(config, r1.refresh_token);
  assert.equal((await client.tokenIntrospection(config, r2.access_token)).active, true);
  assert.equal((await client.tokenIntrospection(config, r2.refresh_token)).active, true);

  // Reuse of an old refresh token revokes the family.
  assert.equal(await grantError(client.refreshTokenGrant(config, r1.refresh_token)), "invalid_grant");
  assert.equal(await grantError(client.refreshTokenGrant(config, r2.refresh_token)), "invalid_grant");
  assert.equal((await client.tokenIntrospection(config, r2.access_token)).active, false);

  // Revocation of a fresh grant's refresh token.
  const b = await authorize(config);
  const t2 = await client.authorizationCodeGrant(config, b.callback, { pkceCodeVerifier: b.verifier, expectedState: b.state, expectedNonce: b.nonce });
  const intro = await client.tokenIntrospection(config, t2.access_token);
  assert.equal(intro.active, true);
  assert.equal(intro.sub, "acme/alice");
  await client.tokenRevocation(config, t2.refresh_token);
  assert.equal((await client.tokenIntrospection(config, t2.refresh_token)).active, false);
  assert.equal(await grantError(client.refreshTokenGrant(config, t2.refresh_token)), "invalid_grant");

  // Logout (RP-initiated) with id_token_hint ends the grant at once.
  const c = await authorize(config);
  const t3 = await client.authorizationCodeGrant(config, c.callback, { pkceCodeVerifier: c.verifier, expectedState: c.state, expectedNonce: c.nonce });
  const end = client.buildEndSessionUrl(config, {
    id_token_hint: t3.id_token, post_logout_redirect_uri: "http://127.0.0.1:9999/bye", state: "bye",
  });
  const res = await fetch(end, { redirect: "manual" });
  assert.equal(res.status, 303);
  assert.equal(res.headers.get("location"), "http://127.0.0.1:9999/bye?state=bye");
  assert.equal((await client.tokenIntrospection(config, t3.access_token)).active, false);
  assert.equal(await grantError(client.refreshTokenGrant(config, t3.refresh_token)), "invalid_grant");
});

test("negative code redemptions", async () => {
  const config = await discover("spa");
  // Wrong verifier.
  let a = await authorize(config);
  assert.equal(await grantError(client.authorizationCodeGrant(config, a.callback, {
    pkceCodeVerifier: client.randomPKCECodeVerifier(), expectedState: a.state, expectedNonce: a.nonce,
  })), "invalid_grant");
  // Reused code.
  a = await authorize(config);
  await client.authorizationCodeGrant(config, a.callback, { pkceCodeVerifier: a.verifier, expectedState: a.state, expectedNonce: a.nonce });
  assert.equal(await grantError(client.authorizationCodeGrant(config, a.callback, {
    pkceCodeVerifier: a.verifier, expectedState: a.state, expectedNonce: a.nonce,
  })), "invalid_grant");
  // Wrong redirect URI at the token endpoint.
  a = await authorize(config);
  const code = a.callback.searchParams.get("code");
  const res = await fetch(IAM + "/v1/iam/oauth/token", {
    method: "POST",
    body: new URLSearchParams({ grant_type: "authorization_code", client_id: "spa", code, code_verifier: a.verifier, redirect_uri: "http://127.0.0.1:9999/other" }),
  });
  assert.equal(res.status, 400);
  assert.equal((await res.json()).error, "invalid_grant");
  // Public client without PKCE: the IAM redirects back with invalid_request.
  const noPKCE = client.buildAuthorizationUrl(config, { redirect_uri: CB, scope: "openid", state: "s" });
  const r = await fetch(noPKCE, { redirect: "manual" });
  assert.equal(r.status, 302);
  assert.equal(new URL(r.headers.get("location")).searchParams.get("error"), "invalid_request");
});

test("client credentials (client_secret_post and client_secret_basic)", async () => {
  for (const auth of [client.ClientSecretPost("web-secret"), client.ClientSecretBasic("web-secret")]) {
    const config = await discover("web", "web-secret", auth);
    const t = await client.clientCredentialsGrant(config, { scope: "profile" });
    const c = payload(t.access_token);
    assert.equal(c.sub, "acme/web");
    assert.equal(c.client_id, "web");
    assert.equal(c.scope, "profile");
    assert.equal((await client.tokenIntrospection(config, t.access_token)).active, true);
  }
  // A wrong secret: 401 invalid_client, with a WWW-Authenticate challenge
  // for HTTP Basic (RFC 6749 §5.2), which openid-client surfaces as such.
  const bad = await discover("web", "wrong-secret", client.ClientSecretBasic("wrong-secret"));
  const err = await client.clientCredentialsGrant(bad).then(() => null, (e) => e);
  assert.equal(err?.code, "OAUTH_WWW_AUTHENTICATE_CHALLENGE");
  assert.equal(err.status, 401);
  assert.equal(err.cause[0].scheme, "basic");
  const post = await discover("web", "wrong-secret", client.ClientSecretPost("wrong-secret"));
  assert.equal(await grantError(client.clientCredentialsGrant(post)), "invalid_client");
});

test("device code", async () => {
  const config = await discover("spa");
  const da = await client.initiateDeviceAuthorization(config, { scope: "openid profile" });
  assert.match(da.user_code, /^[A-Z]{4}-[A-Z]{4}$/);
  const approve = (async () => {
    await new Promise((r) => setTimeout(r, 1500));
    const res = await fetch(da.verification_uri, {
      method: "POST",
      body: new URLSearchParams({ user_code: da.user_code, username: "bob", password: "bob-password", action: "approve" }),
    });
    assert.equal(res.status, 200);
  })();
  const tokens = await client.pollDeviceAuthorizationGrant(config, da);
  await approve;
  assert.equal(payload(tokens.access_token).sub, "acme/bob");
  assert.equal(tokens.claims().sub, "acme/bob");
});

