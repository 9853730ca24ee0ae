// Shared helpers for the end-to-end suite: SDK clients acting as the
// identities minted by e2e_test.go, unique collection names, and assertions
// on ClientResponseError statuses and bodies.
import PocketBase, { ClientResponseError } from 'pocketbase';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';

export { PocketBase, ClientResponseError };

export const BASE_URL = process.env.BASE_URL;
if (!BASE_URL) throw new Error('BASE_URL is not set (run through `go test ./e2e/ -run TestSDK`)');

/** Tokens minted by e2e_test.go. */
export const TOKENS = {
  admin: process.env.TOKEN_ADMIN, // acme, isAdmin: superuser of acme
  alice: process.env.TOKEN_ALICE, // acme user
  bob: process.env.TOKEN_BOB, // acme user
  eve: process.env.TOKEN_EVE, // globex user
  eveadmin: process.env.TOKEN_EVEADMIN, // globex admin
  platform: process.env.TOKEN_PLATFORM, // platform superuser (built-in org)
  expired: process.env.TOKEN_EXPIRED, // expired alice
  multi: process.env.TOKEN_MULTI, // acme/carol, also member of globex
  dave: process.env.TOKEN_DAVE, // acme/dave, only used by rules.test.mjs
  dave2: process.env.TOKEN_DAVE2, // acme/dave again, with new email/name claims
};

/** Subjects and claims behind the tokens (see e2e_test.go). */
export const SUBS = {
  admin: 'acme/admin',
  alice: 'acme/alice',
  bob: 'acme/bob',
  eve: 'globex/eve',
  eveadmin: 'globex/boss',
  platform: 'built-in/root',
  multi: 'acme/carol',
  dave: 'acme/dave',
};
export const EMAILS = {
  admin: 'admin@acme.test',
  alice: 'alice@acme.test',
  bob: 'bob@acme.test',
  eve: 'eve@globex.test',
  eveadmin: 'boss@globex.test',
};
export const NAMES = { admin: 'Admin', alice: 'Alice', bob: 'Bob', eve: 'Eve' };

/**
 * userId returns the users-mirror record id Base derives from an IAM
 * subject (base.UserRecordID: sha256("base-user:"+sub), base32, lower, 15).
 */
export function userId(sub) {
  const sum = createHash('sha256').update('base-user:' + sub).digest();
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of sum) {
    value = ((value << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out.toLowerCase().slice(0, 15);
}

/**
 * client returns an unmodified SDK client acting as token (null = guest).
 * org, when given, is sent as X-Org-Id on every request through beforeSend.
 */
export function client(token, { org, headers } = {}) {
  const pb = new PocketBase(BASE_URL);
  pb.autoCancellation(false);
  if (token) pb.authStore.save(token, null);
  // Unexpected errors print only two levels deep: add the field errors as a
  // string so a failing test shows them.
  pb.afterSend = (response, data) => {
    if (response.status >= 400 && data && typeof data === 'object' && data.data) {
      Object.defineProperty(data, 'detail', { value: JSON.stringify(data.data), enumerable: true });
    }
    return data;
  };
  const extra = { ...(headers || {}) };
  if (org) extra['X-Org-Id'] = org;
  if (Object.keys(extra).length > 0) {
    pb.beforeSend = (url, options) => {
      options.headers = Object.assign({}, options.headers, extra);
      return { url, options };
    };
  }
  return pb;
}

/** Clients per identity. Guests act in acme unless told otherwise. */
export const as = {
  admin: (o) => client(TOKENS.admin, o),
  alice: (o) => client(TOKENS.alice, o),
  bob: (o) => client(TOKENS.bob, o),
  eve: (o) => client(TOKENS.eve, o),
  eveadmin: (o) => client(TOKENS.eveadmin, o),
  platform: (o) => client(TOKENS.platform, o),
  expired: (o) => client(TOKENS.expired, o),
  multi: (o) => client(TOKENS.multi, o),
  dave: (o) => client(TOKENS.dave, o),
  dave2: (o) => client(TOKENS.dave2, o),
  guest: (org = 'acme') => client(null, { org }),
};

/** uniq returns a collection name unique to this run. */
export function uniq(prefix) {
  return `${prefix}_${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

/** recordId returns a fresh valid 15-char record id. */
export function recordId() {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const b = randomBytes(15);
  let s = '';
  for (const x of b) s += alphabet[x % alphabet.length];
  return s;
}

function describeErr(e) {
  return `${e.status} ${JSON.stringify(e.response)}`;
}

/**
 * fails awaits p, asserts it rejected with a ClientResponseError of the given
 * status (and message, when given), and returns the error.
 */
export async function fails(p, status, message) {
  let err;
  try {
    const v = await p;
    err = new Error(`expected HTTP ${status}, but the request succeeded with ${JSON.stringify(v)}`);
  } catch (e) {
    if (!(e instanceof ClientResponseError)) throw e;
    assert.equal(e.status, status, `expected HTTP ${status}, got ${describeErr(e)} (${e.url})`);
    if (message !== undefined) assert.equal(e.response.message, message, `message of ${describeErr(e)}`);
    assertEnvelope(e);
    return e;
  }
  throw err;
}

/** assertEnvelope checks the error envelope shape of §1.3. */
export function assertEnvelope(e) {
  const r = e.response;
  assert.equal(typeof r, 'object', `envelope of ${describeErr(e)}`);
  assert.equal(r.status, e.status, `envelope status of ${describeErr(e)}`);
  assert.equal(typeof r.message, 'string', `envelope message of ${describeErr(e)}`);
  assert.ok(r.message.length > 0, `envelope message of ${describeErr(e)}`);
  assert.equal(typeof r.data, 'object', `envelope data of ${describeErr(e)}`);
  assert.notEqual(r.data, null, `envelope data of ${describeErr(e)}`);
}

/** fieldCode returns err.response.data[field].code. */
export function fieldCode(e, field) {
  const d = e.response?.data?.[field];
  assert.ok(d, `no field error for ${field} in ${describeErr(e)}`);
  return d.code;
}

/** raw performs a plain fetch and returns {status, headers, body}. */
export async function raw(path, { method = 'GET', token, org, headers = {}, body } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = token;
  if (org) h['X-Org-Id'] = org;
  if (body !== undefined && typeof body !== 'string' && !(body instanceof FormData)) {
    h['Content-Type'] = 'application/json';
    body = JSON.stringify(body);
  }
  const res = await fetch(BASE_URL + path, { method, headers: h, body });
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, body: json };
}

/** createCollection creates a collection as pb and returns the model. */
export async function createCollection(pb, def) {
  try {
    return await pb.collections.create(def);
  } catch (e) {
    if (e instanceof ClientResponseError) {
      throw new Error(`create collection ${def.name}: ${describeErr(e)}`);
    }
    throw e;
  }
}

/** baseCollection creates an open base collection (all rules "") with fields. */
export async function openCollection(pb, prefix, fields, extra = {}) {
  return createCollection(pb, {
    name: uniq(prefix),
    type: 'base',
    listRule: '',
    viewRule: '',
    createRule: '',
    updateRule: '',
    deleteRule: '',
    fields,
    ...extra,
  });
}

/** fieldByName returns the field of a collection model. */
export function fieldByName(col, name) {
  return col.fields.find((f) => f.name === name);
}

/** DATETIME matches Base's datetime format. */
export const DATETIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}Z$/;
export const ID = /^[a-z0-9]{15}$/;

/** sorted returns a sorted copy. */
export function sorted(a) {
  return [...a].sort();
}
