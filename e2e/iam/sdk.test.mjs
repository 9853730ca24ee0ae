// The real @hanzo/iam SDK against the IAM: validateToken accepts IAM tokens
// and derives the org from sub.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as client from "openid-client";
import { validateToken } from "@hanzo/iam";
import { IAM, discover, authorize } from "./helpers.mjs";

test("@hanzo/iam validateToken accepts IAM access tokens", async () => {
  const config = await discover("spa");
  const a = await authorize(config);
  const t = await client.authorizationCodeGrant(config, a.callback, { pkceCodeVerifier: a.verifier, expectedState: a.state, expectedNonce: a.nonce });
  const res = await validateToken(t.access_token, { serverUrl: IAM, clientId: "spa" });
  assert.equal(res.ok, true, JSON.stringify(res));
  assert.equal(res.userId, "acme/alice");
  assert.equal(res.owner, "acme");
  assert.equal(res.email, "alice@acme.example");
  // Issued to another application: refused by aud.
  const other = await validateToken(t.access_token, { serverUrl: IAM, clientId: "web" });
  assert.equal(other.ok, false);
  assert.equal(other.reason, "iam_audience_invalid");
  // Tampered: refused.
  const [h, p, s] = t.access_token.split(".");
  const forged = [h, Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, "base64url")), sub: "acme/root" })).toString("base64url"), s].join(".");
  assert.equal((await validateToken(forged, { serverUrl: IAM, clientId: "spa" })).ok, false);
});
