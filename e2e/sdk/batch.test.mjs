// Batch (wire §6, base-v1 §4: enabled by default, 50 requests max) through
// pb.createBatch(): mixed actions in one transaction, rollback on any
// failure, the error shape, limits, and expand/fields in sub-request URLs.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { as, uniq, fails, createCollection, openCollection, recordId, ID } from './helpers.mjs';

const fx = {};

before(async () => {
  const admin = as.admin();
  fx.authors = await openCollection(admin, 'bauthors', [{ name: 'name', type: 'text' }]);
  fx.posts = await openCollection(admin, 'bposts', [
    { name: 'title', type: 'text', required: true },
    { name: 'n', type: 'number' },
    { name: 'author', type: 'relation', collectionId: fx.authors.id, maxSelect: 1 },
  ]);
  fx.ann = await admin.collection(fx.authors.name).create({ name: 'Ann' });
});

async function titles(pb = as.alice()) {
  const all = await pb.collection(fx.posts.name).getFullList({ sort: 'title' });
  return all.map((r) => r.title);
}

test('batch: create, update, upsert (both ways) and delete in one call', async () => {
  const pb = as.alice();
  const P = pb.collection(fx.posts.name);
  const r1 = await P.create({ title: 'b-r1', n: 1 });
  const r2 = await P.create({ title: 'b-r2' });
  const r3 = await P.create({ title: 'b-r3' });
  const newId = recordId();

  const batch = pb.createBatch();
  batch.collection(fx.posts.name).create({ title: 'b-new', n: 5 });
  batch.collection(fx.posts.name).update(r1.id, { title: 'b-r1 changed', 'n+': 2 });
  batch.collection(fx.posts.name).upsert({ id: newId, title: 'b-upsert created' });
  batch.collection(fx.posts.name).upsert({ id: r2.id, title: 'b-upsert updated' });
  batch.collection(fx.posts.name).delete(r3.id);
  const res = await batch.send();

  assert.ok(Array.isArray(res));
  assert.equal(res.length, 5);
  assert.deepEqual(res.map((x) => x.status), [200, 200, 200, 200, 204]);
  assert.match(res[0].body.id, ID);
  assert.equal(res[0].body.title, 'b-new');
  assert.equal(res[0].body.n, 5);
  assert.equal(res[0].body.collectionName, fx.posts.name);
  assert.equal(res[1].body.id, r1.id);
  assert.equal(res[1].body.title, 'b-r1 changed');
  assert.equal(res[1].body.n, 3);
  assert.equal(res[2].body.id, newId);
  assert.equal(res[2].body.title, 'b-upsert created');
  assert.equal(res[3].body.id, r2.id);
  assert.equal(res[3].body.title, 'b-upsert updated');
  assert.equal(res[4].body, null);

  // Committed.
  assert.equal((await P.getOne(res[0].body.id)).title, 'b-new');
  assert.equal((await P.getOne(r1.id)).n, 3);
  assert.equal((await P.getOne(newId)).title, 'b-upsert created');
  assert.equal((await P.getOne(r2.id)).title, 'b-upsert updated');
  await fails(P.getOne(r3.id), 404);

  // Upsert without id creates.
  const b2 = pb.createBatch();
  b2.collection(fx.posts.name).upsert({ title: 'b-upsert no id' });
  const [only] = await b2.send();
  assert.equal(only.status, 200);
  assert.match(only.body.id, ID);
});

test('batch: expand and fields in sub-request URLs', async () => {
  const pb = as.alice();
  const b = pb.createBatch();
  b.collection(fx.posts.name).create(
    { title: 'b-expanded', author: fx.ann.id },
    { expand: 'author', fields: 'id,title,expand.author.name' },
  );
  b.collection(fx.posts.name).create({ title: 'b-picked', n: 9 }, { fields: 'title' });
  const res = await b.send();
  assert.deepEqual(Object.keys(res[0].body).sort(), ['expand', 'id', 'title']);
  assert.equal(res[0].body.title, 'b-expanded');
  assert.deepEqual(res[0].body.expand, { author: { name: 'Ann' } });
  assert.deepEqual(res[1].body, { title: 'b-picked' });

  const b2 = pb.createBatch();
  b2.collection(fx.posts.name).update(res[0].body.id, { n: 4 }, { fields: 'n' });
  const [u] = await b2.send();
  assert.deepEqual(u.body, { n: 4 });
});

test('batch: all-or-nothing, with the failing request in data.requests', async () => {
  const pb = as.alice();
  const P = pb.collection(fx.posts.name);
  const r1 = await P.create({ title: 'b-keep', n: 1 });
  const before = await titles();

  const b = pb.createBatch();
  b.collection(fx.posts.name).create({ title: 'b-ghost' });
  b.collection(fx.posts.name).update(r1.id, { title: 'b-should-rollback' });
  b.collection(fx.posts.name).create({ n: 1 }); // title is required
  b.collection(fx.posts.name).create({ title: 'b-never' });
  const e = await fails(b.send(), 400, 'Batch transaction failed.');
  const failed = e.response.data.requests['2'];
  assert.ok(failed, JSON.stringify(e.response));
  assert.equal(failed.code, 'batch_request_failed');
  assert.equal(typeof failed.message, 'string');
  assert.equal(failed.response.status, 400);
  assert.equal(failed.response.data.title.code, 'validation_required');
  assert.equal(Object.keys(e.response.data.requests).length, 1, 'only the failing request is reported');

  assert.deepEqual(await titles(), before, 'nothing was committed');
  assert.equal((await P.getOne(r1.id)).title, 'b-keep');

  // A 404 inside the batch.
  const b2 = pb.createBatch();
  b2.collection(fx.posts.name).create({ title: 'b-ghost2' });
  b2.collection(fx.posts.name).delete('missingmissing1');
  const e2 = await fails(b2.send(), 400, 'Batch transaction failed.');
  assert.equal(e2.response.data.requests['1'].response.status, 404);
  assert.deepEqual(await titles(), before);

  // A unique violation from an earlier request of the same batch.
  const id = recordId();
  const b3 = pb.createBatch();
  b3.collection(fx.posts.name).create({ id, title: 'b-first' });
  b3.collection(fx.posts.name).create({ id, title: 'b-dup' });
  const e3 = await fails(b3.send(), 400);
  assert.equal(e3.response.data.requests['1'].response.data.id.code, 'validation_invalid_or_existing_id');
  await fails(P.getOne(id), 404);
});

test('batch: rules apply to each request; @request.context is "batch"', async () => {
  const admin = as.admin();
  const locked = await createCollection(admin, {
    name: uniq('blocked'), type: 'base', fields: [{ name: 'title', type: 'text' }],
  });
  const b = as.alice().createBatch();
  b.collection(fx.posts.name).create({ title: 'b-before-locked' });
  b.collection(locked.name).create({ title: 'nope' });
  const e = await fails(b.send(), 400, 'Batch transaction failed.');
  assert.equal(e.response.data.requests['1'].response.status, 403);
  assert.equal((await titles()).includes('b-before-locked'), false);

  const ctx = await createCollection(admin, {
    name: uniq('bctx'), type: 'base', listRule: '', viewRule: '',
    createRule: '@request.context = "batch"',
    fields: [{ name: 'title', type: 'text' }],
  });
  await fails(as.alice().collection(ctx.name).create({ title: 'direct' }), 400, 'Failed to create record.');
  const b2 = as.alice().createBatch();
  b2.collection(ctx.name).create({ title: 'batched' });
  const [ok] = await b2.send();
  assert.equal(ok.status, 200);
  assert.equal(ok.body.title, 'batched');

  // Guests may batch on open collections, in their org.
  const g = as.guest().createBatch();
  g.collection(fx.posts.name).create({ title: 'b-guest' });
  const [gr] = await g.send();
  assert.equal(gr.status, 200);
  assert.equal((await as.alice().collection(fx.posts.name).getOne(gr.body.id)).title, 'b-guest');
});

test('batch: several collections in one transaction', async () => {
  const admin = as.admin();
  const comments = await openCollection(admin, 'bcomments', [
    { name: 'text', type: 'text' },
    { name: 'post', type: 'relation', collectionId: fx.posts.id, maxSelect: 1, required: true },
  ]);
  const pid = recordId();
  const b = as.alice().createBatch();
  b.collection(fx.posts.name).create({ id: pid, title: 'b-parent' });
  b.collection(comments.name).create({ text: 'child', post: pid }, { expand: 'post' });
  const res = await b.send();
  assert.equal(res[1].body.post, pid);
  assert.equal(res[1].body.expand.post.title, 'b-parent');

  // The same with a failing tail: neither row exists afterwards.
  const pid2 = recordId();
  const b2 = as.alice().createBatch();
  b2.collection(fx.posts.name).create({ id: pid2, title: 'b-parent2' });
  b2.collection(comments.name).create({ text: 'child2', post: pid2 });
  b2.collection(comments.name).create({ text: 'orphan' }); // post is required
  await fails(b2.send(), 400);
  await fails(as.alice().collection(fx.posts.name).getOne(pid2), 404);
  const kids = await as.alice().collection(comments.name).getList(1, 10, { filter: 'text = "child2"' });
  assert.equal(kids.totalItems, 0);
});

test('batch: limits (empty, max 50, more than max)', async () => {
  const pb = as.alice();
  const col = await openCollection(as.admin(), 'blimit', [{ name: 'i', type: 'number' }]);

  const empty = await fails(pb.createBatch().send(), 400);
  assert.ok(empty.response.data.requests, JSON.stringify(empty.response));

  const tooMany = pb.createBatch();
  for (let i = 0; i < 51; i++) tooMany.collection(col.name).create({ i });
  const e = await fails(tooMany.send(), 400);
  assert.ok(e.response.data.requests, JSON.stringify(e.response));
  assert.equal((await pb.collection(col.name).getList()).totalItems, 0);

  const max = pb.createBatch();
  for (let i = 0; i < 50; i++) max.collection(col.name).create({ i });
  const res = await max.send();
  assert.equal(res.length, 50);
  assert.ok(res.every((r) => r.status === 200));
  assert.deepEqual(res.map((r) => r.body.i), Array.from({ length: 50 }, (_, i) => i), 'responses in request order');
  assert.equal((await pb.collection(col.name).getList()).totalItems, 50);
});
