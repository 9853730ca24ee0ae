// Login throttling through the login API. It locks 127.0.0.1 out, so
// e2e/iam_test.go runs it alone after the other files.
import { test } from "node:test";
import assert from "node:assert/strict";
import { IAM } from "./helpers.mjs";

test("login throttling: 5 failures lock the account (429)", async () => {
  const body = (password) => JSON.stringify({ type: "login", application: "spa", organization: "acme", username: "mallory", password });
  const post = (password) => fetch(IAM + "/v1/iam/login", { method: "POST", body: body(password) });
  for (let i = 0; i < 5; i++) assert.equal((await post("wrong")).status, 401);
  const locked = await post("mallory-password");
  assert.equal(locked.status, 429);
  assert.equal((await locked.json()).status, "error");
});
