// Organizations (base-v1 §3): acme and globex are isolated; X-Org-Id is
// honoured for multi-org tokens, platform superusers and guests, and refused
// for a plain user of another org.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { as, uniq, fails, createCollection, client, raw, userId, SUBS, TOKENS, EMAILS } from './helpers.mjs';

const fx = {};

/** openIn creates the open collection `name` as pb (an org admin). */
async function openIn(pb, name) {
  return createCollection(pb, {
    name, type: 'base',
    listRule: '', viewRule: '', createRule: '', updateRule: '', deleteRule: '',
    fields: [{ name: 'title', type: 'text' }, { name: 'org', type: 'text' }],
  });
}

before(async () => {
  fx.name = uniq('shared');
  fx.acmeCol = await openIn(as.admin(), fx.name);
  fx.globexCol = await openIn(as.eveadmin(), fx.name);
  fx.acmeOnly = await openIn(as.admin(), uniq('acmeonly'));
  fx.acmeRec = await as.alice().collection(fx.name).create({ title: 'acme record', org: 'acme' });
  fx.globexRec = await as.eve().collection(fx.name).create({ title: 'globex record', org: 'globex' });
});

async function orgsSeen(pb) {
  const list = await pb.collection(fx.name).getFullList();
  return [...new Set(list.map((r) => r.org))].sort();
}

test('tenancy: same collection name in two orgs, fully isolated', async () => {
  assert.notEqual(fx.acmeCol.id, fx.globexCol.id, 'collection ids differ per org');
  assert.deepEqual(await orgsSeen(as.alice()), ['acme']);
  assert.deepEqual(await orgsSeen(as.bob()), ['acme']);
  assert.deepEqual(await orgsSeen(as.admin()), ['acme']);
  assert.deepEqual(await orgsSeen(as.eve()), ['globex']);
  assert.deepEqual(await orgsSeen(as.eveadmin()), ['globex']);

  // Filters cannot reach across either.
  const cross = await as.eve().collection(fx.name).getList(1, 10, { filter: `id = "${fx.acmeRec.id}"` });
  assert.equal(cross.totalItems, 0);

  // Collections of one org are invisible in the other.
  await fails(as.eveadmin().collections.getOne(fx.acmeOnly.name), 404);
  await fails(as.eve().collection(fx.acmeOnly.name).getList(), 404, 'Missing collection context.');
  const globexCols = await as.eveadmin().collections.getFullList();
  assert.equal(globexCols.some((c) => c.name === fx.acmeOnly.name), false);
  assert.equal(globexCols.some((c) => c.id === fx.acmeCol.id), false);
  const acmeCols = await as.admin().collections.getFullList();
  assert.equal(acmeCols.some((c) => c.id === fx.globexCol.id), false);

  // Another org's collection id resolves to nothing usable.
  for (const [pb, id] of [[as.eve(), fx.acmeCol.id], [as.alice(), fx.globexCol.id]]) {
    const e = await pb.collection(id).getList().then(
      (v) => assert.fail(`cross-org collection id answered 200: ${JSON.stringify(v)}`),
      (err) => err,
    );
    assert.ok([403, 404].includes(e.status), `cross-org collection id → ${e.status}`);
  }
});

test('tenancy: record ids of one org are 404 in another', async () => {
  const E = as.eve().collection(fx.name);
  await fails(E.getOne(fx.acmeRec.id), 404);
  await fails(E.update(fx.acmeRec.id, { title: 'hijack' }), 404);
  await fails(E.delete(fx.acmeRec.id), 404);
  const EA = as.eveadmin().collection(fx.name);
  await fails(EA.getOne(fx.acmeRec.id), 404);
  await fails(EA.delete(fx.acmeRec.id), 404);
  await fails(as.alice().collection(fx.name).getOne(fx.globexRec.id), 404);
  await fails(as.admin().collection(fx.name).update(fx.globexRec.id, { title: 'x' }), 404);
  assert.equal((await as.alice().collection(fx.name).getOne(fx.acmeRec.id)).title, 'acme record');
  assert.equal((await as.eve().collection(fx.name).getOne(fx.globexRec.id)).title, 'globex record');

  // The same custom id may exist in both orgs independently.
  const id = 'samesameid00001';
  await as.alice().collection(fx.name).create({ id, title: 'acme twin', org: 'acme' });
  await as.eve().collection(fx.name).create({ id, title: 'globex twin', org: 'globex' });
  assert.equal((await as.alice().collection(fx.name).getOne(id)).title, 'acme twin');
  assert.equal((await as.eve().collection(fx.name).getOne(id)).title, 'globex twin');
});

test('tenancy: X-Org-Id of another org is 403 for a plain user or an org admin', async () => {
  await fails(as.alice({ org: 'globex' }).collection(fx.name).getList(), 403);
  await fails(as.alice({ org: 'globex' }).collection(fx.name).create({ title: 'sneak' }), 403);
  await fails(as.eve({ org: 'acme' }).collection(fx.name).getOne(fx.acmeRec.id), 403);
  await fails(as.admin({ org: 'globex' }).collections.getFullList(), 403);
  await fails(as.eveadmin({ org: 'acme' }).collection(fx.name).getList(), 403);
  // Naming one's own org explicitly is fine.
  assert.deepEqual(await orgsSeen(as.alice({ org: 'acme' })), ['acme']);
  // Nothing was created in globex.
  const g = await as.eveadmin().collection(fx.name).getList(1, 10, { filter: 'title = "sneak"' });
  assert.equal(g.totalItems, 0);
});

test('tenancy: a multi-org token may choose a listed org', async () => {
  assert.deepEqual(await orgsSeen(as.multi()), ['acme'], 'default is the owner org');
  assert.deepEqual(await orgsSeen(as.multi({ org: 'globex' })), ['globex'], 'beforeSend X-Org-Id');

  // Per-call headers work too.
  const pb = as.multi();
  const viaHeader = await pb.collection(fx.name).getFullList({ headers: { 'X-Org-Id': 'globex' } });
  assert.deepEqual([...new Set(viaHeader.map((r) => r.org))], ['globex']);

  // Writes land in the chosen org only.
  const made = await as.multi({ org: 'globex' }).collection(fx.name).create({ title: 'carol in globex', org: 'globex' });
  assert.equal((await as.eve().collection(fx.name).getOne(made.id)).title, 'carol in globex');
  await fails(as.multi().collection(fx.name).getOne(made.id), 404);

  // carol is a plain member of globex: not a superuser there.
  await fails(as.multi({ org: 'globex' }).collections.getFullList(), 403);
  // An org not listed in the token → 403.
  await fails(as.multi({ org: 'initech' }).collection(fx.name).getList(), 403);

  // The users mirror exists per org, with the same derived id.
  const carol = userId(SUBS.multi);
  assert.equal((await as.multi().collection('users').getOne(carol)).id, carol);
  assert.equal((await as.multi({ org: 'globex' }).collection('users').getOne(carol)).id, carol);
  assert.equal((await as.eveadmin().collection('users').getOne(carol)).id, carol);
});

test('tenancy: the platform superuser acts in any org via X-Org-Id', async () => {
  const inAcme = as.platform({ org: 'acme' });
  const inGlobex = as.platform({ org: 'globex' });
  assert.deepEqual(await orgsSeen(inAcme), ['acme']);
  assert.deepEqual(await orgsSeen(inGlobex), ['globex']);

  // Superuser powers in each org: collections API and locked collections.
  const cols = await inGlobex.collections.getFullList();
  assert.ok(cols.some((c) => c.id === fx.globexCol.id));
  const locked = await createCollection(inAcme, {
    name: uniq('platlocked'), type: 'base', fields: [{ name: 'title', type: 'text' }],
  });
  assert.ok((await as.admin().collections.getOne(locked.name)).id === locked.id, 'created in acme');
  await fails(as.eveadmin().collections.getOne(locked.name), 404);
  const rec = await inAcme.collection(locked.name).create({ title: 'platform' });
  assert.equal((await as.admin().collection(locked.name).getOne(rec.id)).title, 'platform');
  await fails(as.alice().collection(locked.name).getOne(rec.id), 403);

  // A brand-new org is created on first use.
  const fresh = uniq('fresh').replace(/_/g, '-');
  const pb = as.platform({ org: fresh });
  const c = await createCollection(pb, {
    name: fx.name, type: 'base', listRule: '', viewRule: '',
    fields: [{ name: 'title', type: 'text' }],
  });
  await pb.collection(c.name).create({ title: 'hello fresh' });
  const list = await as.guest(fresh).collection(c.name).getFullList();
  assert.deepEqual(list.map((r) => r.title), ['hello fresh']);
});

test('tenancy: guests pick an org with X-Org-Id', async () => {
  assert.deepEqual(await orgsSeen(as.guest('acme')), ['acme']);
  assert.deepEqual(await orgsSeen(as.guest('globex')), ['globex']);
  await fails(as.guest('globex').collection(fx.acmeOnly.name).getList(), 404, 'Missing collection context.');
  const made = await as.guest('globex').collection(fx.name).create({ title: 'guest in globex', org: 'globex' });
  assert.equal((await as.eve().collection(fx.name).getOne(made.id)).title, 'guest in globex');
  await fails(as.guest('acme').collection(fx.name).getOne(made.id), 404);

  // An invalid org name is refused, never silently mapped.
  const bad = await raw(`/api/collections/${fx.name}/records`, { org: 'Not A Valid Org!' });
  assert.ok(bad.status >= 400 && bad.status < 500, `invalid org → ${bad.status}`);
  assert.equal(bad.body.status, bad.status);

  // A raw Bearer token with X-Org-Id works like the SDK's raw header.
  const ok = await raw(`/v1/collections/${fx.name}/records`, {
    token: `Bearer ${TOKENS.multi}`, org: 'globex',
  });
  assert.equal(ok.status, 200);
  assert.deepEqual([...new Set(ok.body.items.map((r) => r.org))], ['globex']);

  // Users of one org are not visible from another.
  await fails(as.eveadmin().collection('users').getOne(userId(SUBS.alice)), 404);
  const aliceInAcme = await as.admin().collection('users').getOne(userId(SUBS.alice));
  assert.equal(aliceInAcme.email, EMAILS.alice);
});

test('tenancy: guests without X-Org-Id act in the default org; batches stay in their org', async () => {
  const noOrg = client(null);
  await fails(noOrg.collection(fx.name).getList(), 404, 'Missing collection context.');

  const b = as.multi({ org: 'globex' }).createBatch();
  b.collection(fx.name).create({ title: 'batched by carol', org: 'globex' });
  const [res] = await b.send();
  assert.equal((await as.eve().collection(fx.name).getOne(res.body.id)).title, 'batched by carol');
  await fails(as.alice().collection(fx.name).getOne(res.body.id), 404);

  const g = as.guest('globex').createBatch();
  g.collection(fx.name).update(fx.globexRec.id, { title: 'globex record' });
  g.collection(fx.name).update(fx.acmeRec.id, { title: 'cross-org via batch' });
  const e = await fails(g.send(), 400);
  assert.equal(e.response.data.requests['1'].response.status, 404);
  assert.equal((await as.alice().collection(fx.name).getOne(fx.acmeRec.id)).title, 'acme record');
});
