// API rules per role (wire §4, base-v1 §2): null / "" / expression rules,
// hidden-by-rule 404s, the failed-create 400, filter restrictions for
// non-superusers, hidden fields, the users mirror, auth-refresh,
// auth-methods, and tokens that are expired or forged acting as guests.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  as, uniq, fails, createCollection, openCollection, raw, client, userId, SUBS, EMAILS, NAMES, TOKENS,
  DATETIME, ID,
} from './helpers.mjs';

let usersId;

before(async () => {
  usersId = (await as.admin().collections.getOne('users')).id;
  // Make sure alice's and bob's mirror records exist.
  await as.alice().collection('users').getOne(userId(SUBS.alice));
  await as.bob().collection('users').getOne(userId(SUBS.bob));
});

const ONLY_SUPERUSERS = 'Only superusers can perform this action.';

test('rules: null rules are superuser-only (403 for users and guests)', async () => {
  const admin = as.admin();
  const col = await createCollection(admin, {
    name: uniq('locked'),
    type: 'base',
    listRule: null, viewRule: null, createRule: null, updateRule: null, deleteRule: null,
    fields: [{ name: 'title', type: 'text' }],
  });
  const r = await admin.collection(col.name).create({ title: 'mine' });

  for (const [who, pb] of [['alice', as.alice()], ['guest', as.guest()], ['expired', as.expired({ org: 'acme' })]]) {
    const R = pb.collection(col.name);
    await fails(R.getList(), 403, ONLY_SUPERUSERS);
    await fails(R.getOne(r.id), 403, ONLY_SUPERUSERS);
    await fails(R.create({ title: who }), 403, ONLY_SUPERUSERS);
    await fails(R.update(r.id, { title: who }), 403, ONLY_SUPERUSERS);
    await fails(R.delete(r.id), 403, ONLY_SUPERUSERS);
  }

  // Superusers: the org admin and the platform superuser acting in acme.
  for (const pb of [admin, as.platform({ org: 'acme' })]) {
    const R = pb.collection(col.name);
    assert.equal((await R.getList()).totalItems >= 1, true);
    assert.equal((await R.getOne(r.id)).title, 'mine');
    const made = await R.create({ title: 'by superuser' });
    assert.equal((await R.update(made.id, { title: 'changed' })).title, 'changed');
    assert.equal(await R.delete(made.id), true);
  }
  assert.equal((await admin.collection(col.name).getOne(r.id)).title, 'mine', 'refused calls changed nothing');
});

test('rules: "" rules are open to everyone, guests included', async () => {
  const col = await openCollection(as.admin(), 'open', [{ name: 'title', type: 'text' }]);
  const G = as.guest().collection(col.name);
  const r = await G.create({ title: 'guest made' });
  assert.equal((await G.getOne(r.id)).title, 'guest made');
  assert.equal((await G.getList()).totalItems, 1);
  assert.equal((await G.update(r.id, { title: 'guest changed' })).title, 'guest changed');
  assert.equal((await as.alice().collection(col.name).getOne(r.id)).title, 'guest changed');
  assert.equal(await G.delete(r.id), true);
  await fails(G.getOne(r.id), 404);

  // Mixed: open list/view/create, locked update/delete.
  const half = await createCollection(as.admin(), {
    name: uniq('half'), type: 'base',
    listRule: '', viewRule: '', createRule: '', updateRule: null, deleteRule: null,
    fields: [{ name: 'title', type: 'text' }],
  });
  const H = as.guest().collection(half.name);
  const h = await H.create({ title: 'x' });
  await fails(H.update(h.id, { title: 'y' }), 403, ONLY_SUPERUSERS);
  await fails(as.alice().collection(half.name).delete(h.id), 403, ONLY_SUPERUSERS);
  assert.equal((await H.getOne(h.id)).title, 'x');
});

test('rules: owner = @request.auth.id', async () => {
  const rule = 'owner = @request.auth.id';
  const col = await createCollection(as.admin(), {
    name: uniq('notes'), type: 'base',
    listRule: rule, viewRule: rule, createRule: rule, updateRule: rule, deleteRule: rule,
    fields: [
      { name: 'text', type: 'text' },
      { name: 'owner', type: 'relation', collectionId: usersId, maxSelect: 1 },
    ],
  });
  const aliceId = userId(SUBS.alice);
  const bobId = userId(SUBS.bob);
  const A = as.alice().collection(col.name);
  const B = as.bob().collection(col.name);
  const G = as.guest().collection(col.name);

  const note = await A.create({ text: 'alice note', owner: aliceId });
  assert.equal(note.owner, aliceId);
  await B.create({ text: 'bob note', owner: bobId });

  // Failed create rule → 400, data {}.
  const e = await fails(A.create({ text: 'as bob', owner: bobId }), 400, 'Failed to create record.');
  assert.deepEqual(e.response.data, {});
  await fails(G.create({ text: 'guest', owner: aliceId }), 400, 'Failed to create record.');

  // Lists only show own rows; guests get 200 with nothing.
  assert.deepEqual((await A.getList()).items.map((r) => r.text), ['alice note']);
  assert.deepEqual((await B.getList()).items.map((r) => r.text), ['bob note']);
  const gl = await G.getList();
  assert.equal(gl.totalItems, 0);
  assert.deepEqual(gl.items, []);
  assert.equal((await as.admin().collection(col.name).getList()).totalItems, 2);
  // A user's filter is AND-ed with the rule.
  assert.equal((await B.getList(1, 10, { filter: `id = "${note.id}"` })).totalItems, 0);

  // Hidden by rule → 404 for view/update/delete.
  await fails(B.getOne(note.id), 404);
  await fails(B.update(note.id, { text: 'hacked' }), 404);
  await fails(B.delete(note.id), 404);
  await fails(G.getOne(note.id), 404);
  await fails(G.delete(note.id), 404);
  assert.equal((await A.getOne(note.id)).text, 'alice note');

  // expand=owner resolves the users mirror record.
  const ex = await A.getOne(note.id, { expand: 'owner' });
  assert.equal(ex.expand.owner.id, aliceId);
  assert.equal(ex.expand.owner.email, EMAILS.alice);
  assert.equal(ex.expand.owner.name, NAMES.alice);
  assert.equal(ex.expand.owner.collectionName, 'users');

  assert.equal((await A.update(note.id, { text: 'edited' })).text, 'edited');
  assert.equal(await A.delete(note.id), true);
  await fails(A.getOne(note.id), 404);
});

test('rules: @request.auth.email ~ "@acme.test" and claim rules', async () => {
  const rule = '@request.auth.email ~ "@acme.test"';
  const col = await createCollection(as.admin(), {
    name: uniq('staff'), type: 'base',
    listRule: rule, viewRule: rule, createRule: null, updateRule: null, deleteRule: null,
    fields: [{ name: 'title', type: 'text' }],
  });
  const admin = as.admin().collection(col.name);
  const r1 = await admin.create({ title: 'one' });
  await admin.create({ title: 'two' });

  assert.equal((await as.alice().collection(col.name).getList()).totalItems, 2);
  assert.equal((await as.bob().collection(col.name).getList()).totalItems, 2);
  assert.equal((await as.alice().collection(col.name).getOne(r1.id)).title, 'one');
  // carol has no email claim; guests have no auth at all.
  assert.equal((await as.multi().collection(col.name).getList()).totalItems, 0);
  assert.equal((await as.guest().collection(col.name).getList()).totalItems, 0);
  await fails(as.multi().collection(col.name).getOne(r1.id), 404);
  await fails(as.guest().collection(col.name).getOne(r1.id), 404);

  // Any claim is readable by rules.
  const named = await createCollection(as.admin(), {
    name: uniq('named'), type: 'base',
    listRule: '@request.auth.name = "Alice"', viewRule: '@request.auth.name = "Alice"',
    fields: [{ name: 'title', type: 'text' }],
  });
  const n = await as.admin().collection(named.name).create({ title: 'for alice' });
  assert.equal((await as.alice().collection(named.name).getOne(n.id)).title, 'for alice');
  await fails(as.bob().collection(named.name).getOne(n.id), 404);
});

test('rules: @request.body.status != "published"', async () => {
  const rule = '@request.body.status != "published"';
  const col = await createCollection(as.admin(), {
    name: uniq('drafts'), type: 'base',
    listRule: '', viewRule: '', createRule: rule, updateRule: rule, deleteRule: null,
    fields: [
      { name: 'title', type: 'text' },
      { name: 'status', type: 'select', values: ['draft', 'published'], maxSelect: 1 },
    ],
  });
  const R = as.alice().collection(col.name);
  const d = await R.create({ title: 'd', status: 'draft' });
  await fails(R.create({ title: 'p', status: 'published' }), 400, 'Failed to create record.');
  assert.equal((await R.getList(1, 10, { filter: 'title = "p"' })).totalItems, 0);

  await fails(R.update(d.id, { status: 'published' }), 404);
  assert.equal((await R.getOne(d.id)).status, 'draft');
  assert.equal((await R.update(d.id, { title: 'd2' })).title, 'd2', 'a body without status passes');
  // Superuser bypasses.
  assert.equal((await as.admin().collection(col.name).update(d.id, { status: 'published' })).status, 'published');
});

test('rules: @request.auth.id != "" lets any signed-in user create', async () => {
  const col = await createCollection(as.admin(), {
    name: uniq('members'), type: 'base',
    listRule: '@request.auth.id != ""', viewRule: '', createRule: '@request.auth.id != ""',
    fields: [{ name: 'title', type: 'text' }],
  });
  const r = await as.alice().collection(col.name).create({ title: 'signed in' });
  await fails(as.guest().collection(col.name).create({ title: 'guest' }), 400, 'Failed to create record.');
  await fails(as.expired({ org: 'acme' }).collection(col.name).create({ title: 'expired' }), 400);
  assert.equal((await as.bob().collection(col.name).getList()).totalItems, 1);
  assert.equal((await as.guest().collection(col.name).getList()).totalItems, 0);
  assert.equal((await as.guest().collection(col.name).getOne(r.id)).title, 'signed in');
});

test('rules: filter/sort restrictions for non-superusers; hidden fields', async () => {
  const col = await openCollection(as.admin(), 'restrict', [
    { name: 'title', type: 'text' },
    { name: 'secret', type: 'text', hidden: true },
  ]);
  const made = await as.admin().collection(col.name).create({ title: 'a', secret: 'shh' });
  const A = as.alice().collection(col.name);

  for (const filter of ['@request.auth.id != ""', `@collection.${col.name}.title ?= "a"`, 'title = "a" && @request.method = "GET"']) {
    await fails(A.getList(1, 10, { filter }), 403);
    await fails(as.guest().collection(col.name).getList(1, 10, { filter }), 403);
    const ok = await as.admin().collection(col.name).getList(1, 10, { filter });
    assert.ok(ok.totalItems >= 0);
  }
  await fails(A.getList(1, 10, { sort: '@request.auth.id' }), 403);
  assert.equal((await as.admin().collection(col.name).getList(1, 10, {
    filter: `@collection.${col.name}.title ?= "a"`,
  })).totalItems, 1);

  // Hidden fields: not filterable/sortable by users, absent from their responses.
  await fails(A.getList(1, 10, { filter: 'secret = "shh"' }), 400);
  await fails(A.getList(1, 10, { sort: 'secret' }), 400);
  const adminHit = await as.admin().collection(col.name).getList(1, 10, { filter: 'secret = "shh"' });
  assert.equal(adminHit.totalItems, 1);
  assert.equal(adminHit.items[0].secret, 'shh');

  const seen = await A.getOne(made.id);
  assert.equal('secret' in seen, false);
  assert.equal(seen.title, 'a');
  for (const item of (await A.getList()).items) assert.equal('secret' in item, false);
  assert.equal((await as.admin().collection(col.name).getOne(made.id)).secret, 'shh');

  // A user cannot write a hidden field (silently ignored).
  const mine = await A.create({ title: 'b', secret: 'user wrote' });
  assert.equal('secret' in mine, false);
  assert.equal((await as.admin().collection(col.name).getOne(mine.id)).secret, '');
});

test('users mirror: created on first request, refreshed from claims', async () => {
  const daveId = userId(SUBS.dave);
  const admin = as.admin().collection('users');
  await fails(admin.getOne(daveId), 404);

  // Dave's first request, anywhere in the org.
  const col = await openCollection(as.admin(), 'touch', [{ name: 'title', type: 'text' }]);
  await as.dave().collection(col.name).getList();

  const d = await admin.getOne(daveId);
  assert.equal(d.id, daveId);
  assert.equal(d.email, 'dave@acme.test');
  assert.equal(d.name, 'Dave');
  assert.equal(d.sub, SUBS.dave, 'superuser sees the hidden sub');
  assert.equal(d.collectionName, 'users');
  assert.match(d.created, DATETIME);

  const self = await as.dave().collection('users').getOne(daveId);
  assert.equal(self.email, 'dave@acme.test');
  assert.equal('sub' in self, false, 'sub is hidden from users');

  // Same subject with new claims → same record, refreshed fields.
  await as.dave2().collection(col.name).getList();
  const d2 = await admin.getOne(daveId);
  assert.equal(d2.email, 'david@acme.test');
  assert.equal(d2.name, 'David');
  assert.equal((await admin.getList(1, 10, { filter: `sub = "${SUBS.dave}"` })).totalItems, 1);
});

test('users mirror: ids, visibility, and no client-side creation', async () => {
  const aliceId = userId(SUBS.alice);
  const A = as.alice().collection('users');
  const first = await A.getOne(aliceId);
  const second = await A.getOne(aliceId);
  assert.match(first.id, ID);
  assert.equal(first.id, second.id);
  assert.equal(first.email, EMAILS.alice);
  assert.equal(first.name, NAMES.alice);
  assert.deepEqual((await A.getList()).items.map((u) => u.id), [aliceId], 'a user lists only themselves');
  await fails(as.bob().collection('users').getOne(aliceId), 404);

  // Relations can point at users; creates are refused for everyone but
  // (possibly) superusers.
  await fails(as.guest().collection('users').create({ email: 'g@acme.test', name: 'G' }), 403);
  await fails(A.create({ email: 'x@acme.test', name: 'X' }), 403);
  const guestList = await as.guest().collection('users').getList();
  assert.equal(guestList.totalItems, 0);
});

test('auth-refresh returns {token, record}; 401 for guests', async () => {
  const pb = as.alice();
  assert.equal(pb.authStore.isValid, true, 'the SDK can decode Base tokens client-side');
  const res = await pb.collection('users').authRefresh();
  assert.equal(typeof res.token, 'string');
  assert.ok(res.token.length > 0);
  assert.equal(res.token, TOKENS.alice, 'the presented token is echoed');
  assert.equal(res.record.id, userId(SUBS.alice));
  assert.equal(res.record.email, EMAILS.alice);
  assert.equal(res.record.collectionName, 'users');
  assert.equal(pb.authStore.record.id, userId(SUBS.alice), 'the SDK stored the record');
  assert.equal(pb.authStore.token, res.token);

  const withFields = await as.alice().collection('users').authRefresh({ fields: 'token,record.id' });
  assert.equal(withFields.record.id, userId(SUBS.alice));

  const g = await fails(as.guest().collection('users').authRefresh(), 401);
  assert.equal(g.status, 401);
  await fails(as.expired({ org: 'acme' }).collection('users').authRefresh(), 401);
  await fails(client(forge(TOKENS.alice), { org: 'acme' }).collection('users').authRefresh(), 401);
});

test('listAuthMethods returns the iam provider', async () => {
  const m = await as.guest().collection('users').listAuthMethods();
  assert.equal(m.oauth2.enabled, true);
  assert.equal(m.password.enabled, false);
  assert.equal(m.mfa.enabled, false);
  assert.equal(m.otp.enabled, false);
  assert.equal(m.oauth2.providers.length, 1);
  const p = m.oauth2.providers[0];
  assert.equal(p.name, 'iam');
  assert.equal(typeof p.displayName, 'string');
  assert.ok(p.authURL.endsWith('redirect_uri='), p.authURL);
  const u = new URL(p.authURL);
  assert.equal(u.searchParams.get('response_type'), 'code');
  assert.equal(u.searchParams.get('code_challenge_method'), 'S256');
  assert.equal(u.searchParams.get('state'), p.state);
  assert.equal(u.searchParams.get('code_challenge'), p.codeChallenge);
  assert.ok(u.searchParams.get('client_id'), 'client_id is set');
  assert.deepEqual(u.searchParams.get('scope').split(' '), ['openid', 'profile', 'email']);
  assert.equal(p.codeChallengeMethod, 'S256');
  assert.ok(p.state.length > 0);
  assert.ok(p.codeVerifier.length >= 43);
  const challenge = createHash('sha256').update(p.codeVerifier).digest('base64url');
  assert.equal(p.codeChallenge, challenge, 'S256 challenge of the verifier');

  // Fresh state per call.
  const m2 = await as.alice().collection('users').listAuthMethods();
  assert.notEqual(m2.oauth2.providers[0].state, p.state);

  // Not an auth collection → 404.
  const col = await openCollection(as.admin(), 'notauth', [{ name: 'title', type: 'text' }]);
  await fails(as.guest().collection(col.name).listAuthMethods(), 404);
});

/** forge returns token with its payload changed (signature no longer valid). */
function forge(token) {
  const [h, p, s] = token.split('.');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
  claims.isAdmin = true;
  claims.name = 'Mallory';
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return [h, payload, s].join('.');
}

/** unsigned returns an alg=none token carrying token's claims. */
function unsigned(token) {
  const p = token.split('.')[1];
  const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
  return `${header}.${p}.`;
}

test('expired and forged tokens act as guests', async () => {
  const col = await createCollection(as.admin(), {
    name: uniq('authed'), type: 'base',
    listRule: '@request.auth.id != ""', viewRule: '', createRule: '', updateRule: null, deleteRule: null,
    fields: [{ name: 'title', type: 'text' }],
  });
  const r = await as.admin().collection(col.name).create({ title: 'x' });
  assert.equal((await as.alice().collection(col.name).getList()).totalItems, 1);

  const bad = [
    ['expired', TOKENS.expired],
    ['forged', forge(TOKENS.alice)],
    ['forged admin', forge(TOKENS.admin)],
    ['alg none', unsigned(TOKENS.admin)],
    ['garbage', 'not.a.token'],
  ];
  for (const [what, tok] of bad) {
    const pb = client(tok, { org: 'acme' });
    const list = await pb.collection(col.name).getList();
    assert.equal(list.totalItems, 0, `${what}: acts as a guest on list`);
    assert.equal((await pb.collection(col.name).getOne(r.id)).title, 'x', `${what}: open view is 200`);
    const made = await pb.collection(col.name).create({ title: what });
    assert.match(made.id, ID);
    await fails(pb.collection(col.name).delete(made.id), 403, ONLY_SUPERUSERS);
    await fails(pb.collections.getList(), 401);
    const health = await raw('/api/health', { token: tok });
    assert.equal(health.status, 200, `${what}: health`);
  }
  assert.equal(as.expired().authStore.isValid, false, 'the SDK sees the expired token as invalid');
});

test('rules: plain fields, :isset, :changed, modifiers in @request.body', async () => {
  const col = await createCollection(as.admin(), {
    name: uniq('guarded'), type: 'base',
    listRule: '', viewRule: '',
    // Plain field names in a createRule refer to the would-be record.
    createRule: 'status = "draft" && @request.body.owner:isset = false',
    // ...and in an updateRule to the stored record.
    updateRule: 'status != "locked" && @request.body.title:changed = false && @request.body.tags:length <= 2',
    deleteRule: 'status = "draft"',
    fields: [
      { name: 'title', type: 'text' },
      { name: 'owner', type: 'text' },
      { name: 'status', type: 'select', values: ['draft', 'locked', 'open'], maxSelect: 1 },
      { name: 'tags', type: 'select', values: ['a', 'b', 'c'], maxSelect: 3 },
    ],
  });
  const R = as.alice().collection(col.name);
  const d = await R.create({ title: 't', status: 'draft' });
  await fails(R.create({ title: 't', status: 'open' }), 400, 'Failed to create record.');
  await fails(R.create({ title: 't', status: 'draft', owner: 'me' }), 400, 'Failed to create record.');

  // :changed — sending the same title is fine, a different one is not.
  assert.equal((await R.update(d.id, { title: 't', status: 'open' })).status, 'open');
  await fails(R.update(d.id, { title: 'other' }), 404);
  // @request.body.tags is the final value after modifiers.
  assert.deepEqual((await R.update(d.id, { 'tags+': ['a', 'b'] })).tags, ['a', 'b']);
  await fails(R.update(d.id, { 'tags+': 'c' }), 404);
  assert.deepEqual((await R.getOne(d.id)).tags, ['a', 'b']);
  // The stored status gates the update, whatever the body says.
  await as.admin().collection(col.name).update(d.id, { status: 'locked' });
  await fails(R.update(d.id, { status: 'draft' }), 404);
  assert.equal((await R.getOne(d.id)).status, 'locked');
  // deleteRule on the stored record.
  await fails(R.delete(d.id), 404);
  await as.admin().collection(col.name).update(d.id, { status: 'draft' });
  assert.equal(await R.delete(d.id), true);
});

test('rules: @request.query, @request.headers, @request.method, @collection', async () => {
  const admin = as.admin();
  const col = await createCollection(admin, {
    name: uniq('ctx'), type: 'base',
    listRule: '@request.query.key = "open-sesame"',
    viewRule: '@request.headers.x_api_key = "k1"',
    createRule: '@request.method = "POST"',
    fields: [{ name: 'title', type: 'text' }],
  });
  const r = await as.alice().collection(col.name).create({ title: 'ctx' });
  const R = as.alice().collection(col.name);
  assert.equal((await R.getList()).totalItems, 0);
  assert.equal((await R.getList(1, 10, { key: 'open-sesame' })).totalItems, 1, 'unknown options become query params');
  await fails(R.getOne(r.id), 404);
  assert.equal((await R.getOne(r.id, { headers: { 'X-Api-Key': 'k1' } })).title, 'ctx');

  // @collection joins in rules: membership table gates a projects collection.
  const members = await createCollection(admin, {
    name: uniq('memberships'), type: 'base', listRule: null, viewRule: null,
    fields: [{ name: 'user', type: 'text' }, { name: 'team', type: 'text' }],
  });
  const rule = `@collection.${members.name}.user ?= @request.auth.id && @collection.${members.name}.team ?= team`;
  const projects = await createCollection(admin, {
    name: uniq('projects'), type: 'base', listRule: rule, viewRule: rule,
    fields: [{ name: 'name', type: 'text' }, { name: 'team', type: 'text' }],
  });
  await admin.collection(members.name).create({ user: userId(SUBS.alice), team: 'red' });
  await admin.collection(members.name).create({ user: userId(SUBS.bob), team: 'blue' });
  const red = await admin.collection(projects.name).create({ name: 'r', team: 'red' });
  await admin.collection(projects.name).create({ name: 'b', team: 'blue' });
  assert.deepEqual((await as.alice().collection(projects.name).getFullList()).map((p) => p.name), ['r']);
  assert.deepEqual((await as.bob().collection(projects.name).getFullList()).map((p) => p.name), ['b']);
  assert.equal((await as.guest().collection(projects.name).getFullList()).length, 0);
  await fails(as.bob().collection(projects.name).getOne(red.id), 404);
  assert.equal((await as.alice().collection(projects.name).getOne(red.id)).name, 'r');
});
