// Helpers of the IAM end-to-end tests: the IAM under test is at
// process.env.IAM_URL (started by e2e/iam_test.go with init_data.json).
import * as client from "openid-client";

export const IAM = process.env.IAM_URL;
export const CB = "http://127.0.0.1:9999/cb";
if (!IAM) throw new Error("IAM_URL is not set: run through `go test ./e2e -run TestIAM`");

// discover returns an openid-client Configuration for a client of the IAM.
export function discover(clientId, secret, auth) {
  return client.discovery(new URL(IAM), clientId, secret, auth ?? (secret ? undefined : client.None()), {
    execute: [client.allowInsecureRequests],
  });
}

// hiddenInputs returns the hidden inputs of the login page's form.
export function hiddenInputs(html) {
  const out = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    out[m[1]] = m[2].replaceAll("&amp;", "&").replaceAll("&#43;", "+").replaceAll("&#34;", '"').replaceAll("&#39;", "'").replaceAll("&lt;", "<").replaceAll("&gt;", ">");
  }
  return out;
}

// login opens authURL (the login page), submits the form like a browser
// would and returns the redirect (callback) URL.
export async function login(authURL, username, password) {
  const page = await fetch(authURL, { redirect: "manual" });
  if (page.status !== 200) throw new Error(`login page: ${page.status} ${await page.text()}`);
  const html = await page.text();
  const form = new URLSearchParams({ ...hiddenInputs(html), username, password });
  const res = await fetch(new URL("/v1/iam/oauth/authorize", IAM), {
    method: "POST",
    body: form,
    redirect: "manual",
  });
  if (res.status !== 303) throw new Error(`login: ${res.status} ${await res.text()}`);
  return new URL(res.headers.get("location"));
}

// authorize runs discovery → PKCE → login and returns what the callback needs.
export async function authorize(config, { username = "alice", password = "alice-password", scope = "openid profile email" } = {}) {
  const verifier = client.randomPKCECodeVerifier();
  const challenge = await client.calculatePKCECodeChallenge(verifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: CB, scope, code_challenge: challenge, code_challenge_method: "S256", state, nonce,
  });
  const callback = await login(url, username, password);
  return { callback, verifier, state, nonce };
}

export function payload(jwt) {
  return JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString("utf8"));
}
