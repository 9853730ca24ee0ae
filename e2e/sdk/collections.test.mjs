// Collections API (wire §5) through the unmodified SDK: every field type and
// its options, indexes, update (rename/add/remove fields), delete, truncate,
// import, scaffolds, view collections, and the superuser-only gate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  as, uniq, fails, fieldCode, createCollection, openCollection, fieldByName, DATETIME, ID, sorted,
} from './helpers.mjs';

/** kitchenFields returns one field of every type with its options. */
function kitchenFields(authorsId) {
  return [
    { name: 'title', type: 'text', required: true, min: 2, max: 50, presentable: true },
    { name: 'slug', type: 'text', pattern: '^[a-z0-9-]+$' },
    { name: 'code', type: 'text', autogeneratePattern: '[A-Z]{3}[0-9]{4}' },
    { name: 'count', type: 'number', min: 0, max: 100, onlyInt: true },
    { name: 'ratio', type: 'number' },
    { name: 'active', type: 'bool' },
    { name: 'contact', type: 'email', onlyDomains: ['acme.test'] },
    { name: 'site', type: 'url', exceptDomains: ['evil.test'] },
    { name: 'due', type: 'date', min: '2020-01-01 00:00:00.000Z', max: '2030-12-31 23:59:59.000Z' },
    { name: 'status', type: 'select', values: ['draft', 'published', 'archived'], maxSelect: 1 },
    { name: 'tags', type: 'select', values: ['a', 'b', 'c', 'd'], maxSelect: 3 },
    { name: 'author', type: 'relation', collectionId: authorsId, maxSelect: 1, cascadeDelete: false },
    { name: 'reviewers', type: 'relation', collectionId: authorsId, maxSelect: 5, cascadeDelete: true },
    { name: 'meta', type: 'json', maxSize: 200 },
    { name: 'location', type: 'geoPoint' },
    { name: 'body', type: 'editor' },
    { name: 'secret', type: 'text', hidden: true },
    { name: 'created', type: 'autodate', onCreate: true, onUpdate: false },
    { name: 'updated', type: 'autodate', onCreate: true, onUpdate: true },
  ];
}

async function makeAuthors(pb) {
  return openCollection(pb, 'authors', [{ name: 'name', type: 'text', presentable: true }]);
}

async function makeKitchen(pb, authors) {
  const name = uniq('kitchen');
  return createCollection(pb, {
    name,
    type: 'base',
    listRule: '',
    viewRule: '',
    createRule: '',
    updateRule: '',
    deleteRule: null,
    fields: kitchenFields(authors.id),
    indexes: [
      `CREATE UNIQUE INDEX \`idx_${name}_slug\` ON \`${name}\` (\`slug\`)`,
      `CREATE INDEX \`idx_${name}_count\` ON \`${name}\` (\`count\`)`,
    ],
  });
}

test('collections API: guests get 401, non-superusers 403', async () => {
  const admin = as.admin();
  const col = await openCollection(admin, 'gate', [{ name: 'title', type: 'text' }]);
  const guest = as.guest();
  const alice = as.alice();

  await fails(guest.collections.getList(1, 10), 401);
  await fails(guest.collections.getOne(col.name), 401);
  await fails(guest.collections.create({ name: uniq('nope'), type: 'base' }), 401);
  await fails(guest.collections.update(col.name, { listRule: null }), 401);
  await fails(guest.collections.delete(col.name), 401);
  await fails(guest.collections.truncate(col.name), 401);
  await fails(guest.collections.import([]), 401);
  await fails(guest.collections.getScaffolds(), 401);

  await fails(alice.collections.getList(1, 10), 403);
  await fails(alice.collections.getFullList(), 403);
  await fails(alice.collections.getOne(col.name), 403);
  await fails(alice.collections.create({ name: uniq('nope'), type: 'base' }), 403);
  await fails(alice.collections.update(col.name, { listRule: null }), 403);
  await fails(alice.collections.delete(col.name), 403);
  await fails(alice.collections.truncate(col.name), 403);
  await fails(alice.collections.import([]), 403);
  await fails(alice.collections.getScaffolds(), 403);

  // The collection is untouched by the refused calls.
  const again = await admin.collections.getOne(col.name);
  assert.equal(again.listRule, '');
});

test('collections: superuser creates a base collection with every field type and option', async () => {
  const admin = as.admin();
  const authors = await makeAuthors(admin);
  const col = await makeKitchen(admin, authors);

  assert.match(col.id, /^pbc_/);
  assert.equal(col.type, 'base');
  assert.equal(col.system, false);
  assert.equal(col.listRule, '');
  assert.equal(col.viewRule, '');
  assert.equal(col.createRule, '');
  assert.equal(col.updateRule, '');
  assert.equal(col.deleteRule, null);
  assert.ok(Array.isArray(col.fields));

  const id = fieldByName(col, 'id');
  assert.ok(id, 'system id field is added');
  assert.equal(id.type, 'text');
  assert.equal(id.system, true);
  assert.equal(id.primaryKey, true);
  assert.equal(id.min, 15);
  assert.equal(id.max, 15);
  assert.equal(id.pattern, '^[a-z0-9]+$');
  for (const f of col.fields) {
    assert.equal(typeof f.id, 'string', `field ${f.name} has an id`);
    assert.ok(f.id.length > 0, `field ${f.name} has an id`);
  }
  assert.deepEqual(
    sorted(col.fields.map((f) => f.name)),
    sorted(['id', ...kitchenFields('x').map((f) => f.name)]),
  );

  const title = fieldByName(col, 'title');
  assert.equal(title.type, 'text');
  assert.equal(title.required, true);
  assert.equal(title.min, 2);
  assert.equal(title.max, 50);
  assert.equal(title.presentable, true);
  assert.equal(fieldByName(col, 'slug').pattern, '^[a-z0-9-]+$');
  assert.equal(fieldByName(col, 'code').autogeneratePattern, '[A-Z]{3}[0-9]{4}');
  const count = fieldByName(col, 'count');
  assert.equal(count.type, 'number');
  assert.equal(count.min, 0);
  assert.equal(count.max, 100);
  assert.equal(count.onlyInt, true);
  assert.equal(fieldByName(col, 'active').type, 'bool');
  assert.deepEqual(fieldByName(col, 'contact').onlyDomains, ['acme.test']);
  assert.deepEqual(fieldByName(col, 'site').exceptDomains, ['evil.test']);
  const due = fieldByName(col, 'due');
  assert.equal(due.type, 'date');
  assert.equal(due.min, '2020-01-01 00:00:00.000Z');
  assert.equal(due.max, '2030-12-31 23:59:59.000Z');
  const status = fieldByName(col, 'status');
  assert.deepEqual(status.values, ['draft', 'published', 'archived']);
  assert.equal(status.maxSelect, 1);
  assert.equal(fieldByName(col, 'tags').maxSelect, 3);
  const author = fieldByName(col, 'author');
  assert.equal(author.type, 'relation');
  assert.equal(author.collectionId, authors.id);
  assert.equal(author.maxSelect, 1);
  assert.equal(author.cascadeDelete, false);
  const reviewers = fieldByName(col, 'reviewers');
  assert.equal(reviewers.maxSelect, 5);
  assert.equal(reviewers.cascadeDelete, true);
  assert.equal(fieldByName(col, 'meta').maxSize, 200);
  assert.equal(fieldByName(col, 'location').type, 'geoPoint');
  assert.equal(fieldByName(col, 'body').type, 'editor');
  assert.equal(fieldByName(col, 'secret').hidden, true);
  const created = fieldByName(col, 'created');
  assert.equal(created.type, 'autodate');
  assert.equal(created.onCreate, true);
  assert.equal(created.onUpdate, false);
  assert.equal(fieldByName(col, 'updated').onUpdate, true);

  assert.equal(col.indexes.length, 2);
  assert.ok(col.indexes.some((i) => /UNIQUE/i.test(i) && i.includes('slug')), JSON.stringify(col.indexes));
  assert.ok(col.indexes.some((i) => !/UNIQUE/i.test(i) && i.includes('count')), JSON.stringify(col.indexes));

  // getOne by name and by id return the same model; getList filters by name.
  const byName = await admin.collections.getOne(col.name);
  const byId = await admin.collections.getOne(col.id);
  assert.equal(byName.id, col.id);
  assert.equal(byId.name, col.name);
  assert.deepEqual(byId.fields.map((f) => f.name), col.fields.map((f) => f.name));
  const list = await admin.collections.getList(1, 10, { filter: `name = "${col.name}"` });
  assert.equal(list.totalItems, 1);
  assert.equal(list.items[0].id, col.id);
  const full = await admin.collections.getFullList({ sort: 'name' });
  assert.ok(full.some((c) => c.name === col.name));
  assert.ok(full.some((c) => c.name === 'users' && c.type === 'auth'), 'the users mirror is listed');

  // Duplicate name → 400 with a name error.
  const dup = await fails(admin.collections.create({ name: col.name, type: 'base' }), 400);
  assert.ok(dup.response.data.name, JSON.stringify(dup.response));
});

test('collections: field options are enforced on records', async () => {
  const admin = as.admin();
  const authors = await makeAuthors(admin);
  const col = await makeKitchen(admin, authors);
  const ann = await admin.collection(authors.name).create({ name: 'Ann' });
  const rec = admin.collection(col.name);

  const ok = await rec.create({
    title: 'Hello',
    slug: 'hello-1',
    count: 7,
    ratio: 1.5,
    active: true,
    contact: 'x@acme.test',
    site: 'https://good.test/page',
    due: '2025-06-01 12:00:00.000Z',
    status: 'published',
    tags: ['a', 'c'],
    author: ann.id,
    reviewers: [ann.id],
    meta: { level: 1, list: [1, 2] },
    location: { lon: 23.32, lat: 42.69 },
    body: '<p>Hi <b>there</b></p>',
    secret: 's3cret',
  });
  assert.match(ok.id, ID);
  assert.equal(ok.collectionId, col.id);
  assert.equal(ok.collectionName, col.name);
  assert.equal(ok.title, 'Hello');
  assert.equal(ok.count, 7);
  assert.equal(ok.ratio, 1.5);
  assert.equal(ok.active, true);
  assert.equal(ok.contact, 'x@acme.test');
  assert.equal(ok.site, 'https://good.test/page');
  assert.equal(ok.due, '2025-06-01 12:00:00.000Z');
  assert.equal(ok.status, 'published');
  assert.deepEqual(ok.tags, ['a', 'c']);
  assert.equal(ok.author, ann.id);
  assert.deepEqual(ok.reviewers, [ann.id]);
  assert.deepEqual(ok.meta, { level: 1, list: [1, 2] });
  assert.deepEqual(ok.location, { lon: 23.32, lat: 42.69 });
  assert.equal(ok.body, '<p>Hi <b>there</b></p>');
  assert.equal(ok.secret, 's3cret', 'superuser sees hidden fields');
  assert.match(ok.code, /^[A-Z]{3}[0-9]{4}$/, 'autogeneratePattern fills an empty text on create');
  assert.match(ok.created, DATETIME);
  assert.match(ok.updated, DATETIME);

  // Zero values of an empty record (title is required, so give only that).
  const zero = await rec.create({ title: 'Zero' });
  assert.equal(zero.slug, '');
  assert.equal(zero.count, 0);
  assert.equal(zero.active, false);
  assert.equal(zero.contact, '');
  assert.equal(zero.due, '');
  assert.equal(zero.status, '');
  assert.deepEqual(zero.tags, []);
  assert.equal(zero.author, '');
  assert.deepEqual(zero.reviewers, []);
  assert.equal(zero.meta, null);
  assert.deepEqual(zero.location, { lon: 0, lat: 0 });

  // Hidden field is absent for a non-superuser.
  const seen = await as.alice().collection(col.name).getOne(ok.id);
  assert.equal('secret' in seen, false, 'hidden field leaked to a user');
  assert.equal(seen.title, 'Hello');

  const cases = [
    ['title', { title: '' }, 'validation_required'],
    ['title', { title: 'x' }, 'validation_min_text_constraint'],
    ['title', { title: 'x'.repeat(51) }, 'validation_max_text_constraint'],
    ['slug', { title: 'ok', slug: 'Bad Slug' }, 'validation_invalid_format'],
    ['count', { title: 'ok', count: 101 }, 'validation_max_number_constraint'],
    ['count', { title: 'ok', count: -1 }, 'validation_min_number_constraint'],
    ['count', { title: 'ok', count: 1.5 }, 'validation_only_int_constraint'],
    ['contact', { title: 'ok', contact: 'not-an-email' }, 'validation_is_email'],
    ['contact', { title: 'ok', contact: 'x@other.test' }, 'validation_email_domain_not_allowed'],
    ['site', { title: 'ok', site: 'https://evil.test/x' }, 'validation_url_domain_not_allowed'],
    ['status', { title: 'ok', status: 'nope' }, 'validation_invalid_value'],
    ['tags', { title: 'ok', tags: ['a', 'b', 'c', 'd'] }, 'validation_too_many_values'],
    ['meta', { title: 'ok', meta: { big: 'x'.repeat(300) } }, 'validation_json_size_limit'],
    ['author', { title: 'ok', author: 'missingmissing1' }, 'validation_missing_rel_records'],
    ['due', { title: 'ok', due: '2040-01-01 00:00:00.000Z' }, null],
    ['due', { title: 'ok', due: '2019-01-01 00:00:00.000Z' }, null],
    ['location', { title: 'ok', location: { lon: 0, lat: 100 } }, null],
  ];
  for (const [field, body, code] of cases) {
    const e = await fails(rec.create(body), 400);
    assert.equal(e.response.message, 'Failed to create record.', `message for ${JSON.stringify(body)}`);
    const got = fieldCode(e, field);
    if (code) assert.equal(got, code, `code for ${JSON.stringify(body)}`);
    else assert.match(got, /^validation_/, `code for ${JSON.stringify(body)}`);
  }

  // Unique index.
  const dup = await fails(rec.create({ title: 'Dup', slug: 'hello-1' }), 400);
  assert.equal(fieldCode(dup, 'slug'), 'validation_not_unique');
  // The ordinary index does not constrain values.
  await rec.create({ title: 'Same count', slug: 'same-count', count: 7 });
});

test('collections: update renames fields (data survives), adds and removes fields, changes rules', async () => {
  const admin = as.admin();
  const col = await openCollection(admin, 'evolve', [
    { name: 'title', type: 'text' },
    { name: 'ratio', type: 'number' },
  ]);
  const r = await admin.collection(col.name).create({ title: 'keep me', ratio: 2.5 });

  const fields = col.fields.map((f) => (f.name === 'title' ? { ...f, name: 'headline' } : f));
  const titleId = fieldByName(col, 'title').id;
  const renamed = await admin.collections.update(col.name, { fields });
  assert.equal(fieldByName(renamed, 'title'), undefined);
  assert.equal(fieldByName(renamed, 'headline').id, titleId, 'renaming keeps the field id');
  let got = await admin.collection(col.name).getOne(r.id);
  assert.equal(got.headline, 'keep me', 'data survives a rename');
  assert.equal('title' in got, false);

  // Add a field, remove another.
  const next = renamed.fields.filter((f) => f.name !== 'ratio');
  next.push({ name: 'extra', type: 'text' });
  const changed = await admin.collections.update(col.id, { fields: next });
  assert.ok(fieldByName(changed, 'extra'));
  assert.equal(fieldByName(changed, 'ratio'), undefined);
  got = await admin.collection(col.name).getOne(r.id);
  assert.equal(got.extra, '');
  assert.equal('ratio' in got, false, 'a removed field is gone from records');
  assert.equal(got.headline, 'keep me');
  const after = await admin.collection(col.name).update(r.id, { extra: 'x' });
  assert.equal(after.extra, 'x');

  // Filtering by the removed field is now an error.
  await fails(admin.collection(col.name).getList(1, 10, { filter: 'ratio > 1' }), 400);

  // Rules change.
  const locked = await admin.collections.update(col.name, { listRule: null, viewRule: 'headline != ""' });
  assert.equal(locked.listRule, null);
  assert.equal(locked.viewRule, 'headline != ""');
  await fails(as.alice().collection(col.name).getList(), 403);
  const seen = await as.alice().collection(col.name).getOne(r.id);
  assert.equal(seen.headline, 'keep me');

  // Rename the collection itself: the new name works, the old does not.
  const newName = uniq('evolved');
  const moved = await admin.collections.update(col.id, { name: newName });
  assert.equal(moved.name, newName);
  assert.equal(moved.id, col.id);
  got = await admin.collection(newName).getOne(r.id);
  assert.equal(got.collectionName, newName);
  await fails(admin.collection(col.name).getList(), 404, 'Missing collection context.');

  // Invalid update (bad rule) → 400 and nothing changes.
  await fails(admin.collections.update(col.id, { listRule: 'nope_field = 1' }), 400);
  assert.equal((await admin.collections.getOne(col.id)).listRule, null);
});

test('collections: delete is refused while referenced, then works', async () => {
  const admin = as.admin();
  const authors = await makeAuthors(admin);
  const posts = await openCollection(admin, 'refposts', [
    { name: 'title', type: 'text' },
    { name: 'author', type: 'relation', collectionId: authors.id, maxSelect: 1 },
  ]);
  const e = await fails(admin.collections.delete(authors.name), 400);
  assert.match(e.response.message, /reference/i);
  assert.ok(await admin.collections.getOne(authors.id), 'still there');

  assert.equal(await admin.collections.delete(posts.name), true);
  await fails(admin.collections.getOne(posts.name), 404);
  await fails(admin.collection(posts.name).getList(), 404, 'Missing collection context.');
  assert.equal(await admin.collections.delete(authors.id), true);
  await fails(admin.collections.getOne(authors.id), 404);
  await fails(admin.collections.delete(authors.id), 404);
});

test('collections: truncate empties a collection', async () => {
  const admin = as.admin();
  const col = await openCollection(admin, 'trunc', [{ name: 'n', type: 'number' }]);
  for (let i = 0; i < 3; i++) await admin.collection(col.name).create({ n: i });
  assert.equal((await admin.collection(col.name).getList()).totalItems, 3);
  assert.equal(await admin.collections.truncate(col.name), true);
  const after = await admin.collection(col.name).getList();
  assert.equal(after.totalItems, 0);
  assert.deepEqual(after.items, []);
  // Still usable.
  await admin.collection(col.name).create({ n: 9 });
  assert.equal((await admin.collection(col.name).getList()).totalItems, 1);
});

test('collections: import creates new collections (no ids: matched by name, else created)', async () => {
  // A fresh org, so nothing else is touched.
  const org = uniq('imp').replace(/_/g, '-');
  const pb = as.platform({ org });
  const a = uniq('impa');
  const b = uniq('impb');
  const ok = await pb.collections.import([
    { name: a, type: 'base', listRule: '', fields: [{ name: 'title', type: 'text' }] },
    { name: b, type: 'base', fields: [{ name: 'n', type: 'number' }] },
  ], false);
  assert.equal(ok, true);
  const ca = await pb.collections.getOne(a);
  assert.ok(fieldByName(ca, 'title'));
  assert.equal(ca.listRule, '');
  assert.ok(fieldByName(await pb.collections.getOne(b), 'n'));
  const rec = await pb.collection(a).create({ title: 'imported' });
  assert.equal(rec.title, 'imported');

  // Importing again by name (still no id) updates in place.
  assert.equal(await pb.collections.import([
    { name: a, type: 'base', listRule: '', fields: [{ name: 'title', type: 'text' }, { name: 'extra', type: 'bool' }] },
  ], false), true);
  const again = await pb.collections.getOne(a);
  assert.equal(again.id, ca.id, 'matched by name, not recreated');
  assert.ok(fieldByName(again, 'extra'));
  assert.equal((await pb.collection(a).getOne(rec.id)).title, 'imported');
});

test('collections: import updates by id; deleteMissing removes the rest', async () => {
  // A fresh org, so deleteMissing cannot touch other tests' collections.
  const org = uniq('imp').replace(/_/g, '-');
  const pb = as.platform({ org });
  const a = uniq('impa');
  const b = uniq('impb');
  const ca = await createCollection(pb, { name: a, type: 'base', listRule: '', fields: [{ name: 'title', type: 'text' }] });
  const cb = await createCollection(pb, { name: b, type: 'base', fields: [{ name: 'n', type: 'number' }] });
  const rec = await pb.collection(a).create({ title: 'survives import' });
  const existing = (await pb.collections.getFullList()).filter((c) => c.id !== ca.id && c.id !== cb.id);

  // Update a (add a field, change a rule) by id, keep b: nothing deleted without deleteMissing.
  const a2 = { ...ca, viewRule: '', fields: [...ca.fields, { name: 'extra', type: 'bool' }] };
  assert.equal(await pb.collections.import([a2], false), true);
  const got = await pb.collections.getOne(a);
  assert.ok(fieldByName(got, 'extra'));
  assert.equal(got.viewRule, '');
  assert.equal(got.id, ca.id);
  assert.ok(await pb.collections.getOne(b));
  const kept = await pb.collection(a).getOne(rec.id);
  assert.equal(kept.title, 'survives import');
  assert.equal(kept.extra, false);

  // deleteMissing drops b (system collections such as users always stay).
  assert.equal(await pb.collections.import([got], true), true);
  await fails(pb.collections.getOne(b), 404);
  assert.ok(await pb.collections.getOne(a));
  for (const c of existing.filter((x) => x.system)) {
    assert.ok(await pb.collections.getOne(c.id), `system collection ${c.name} survives`);
  }
  assert.ok(await pb.collections.getOne('users'), 'system users collection survives');
  assert.equal((await pb.collection(a).getOne(rec.id)).title, 'survives import');

  // Invalid import → 400 and nothing is applied.
  const bad = await fails(pb.collections.import([
    { ...got, listRule: null },
    { name: uniq('impd'), type: 'base', fields: [{ name: 'y', type: 'no-such-type' }] },
  ], false), 400);
  assert.equal(bad.response.message, 'Failed to import collections.');
  assert.equal((await pb.collections.getOne(a)).listRule, '', 'the valid part was not applied either');

  // Empty import → 400.
  await fails(pb.collections.import([], false), 400);
});

test('collections: getScaffolds', async () => {
  const s = await as.admin().collections.getScaffolds();
  for (const t of ['base', 'auth', 'view']) {
    assert.ok(s[t], `scaffold ${t}`);
    assert.equal(s[t].type, t);
    assert.equal(s[t].id, '');
    assert.equal(s[t].name, '');
    assert.ok(Array.isArray(s[t].fields));
  }
  assert.ok(fieldByName(s.base, 'id'), 'base scaffold has the id field');
  assert.ok(fieldByName(s.auth, 'email'), 'auth scaffold has email');
  assert.equal(typeof s.view.viewQuery, 'string');
});

test('collections: view collection from a viewQuery', async () => {
  const admin = as.admin();
  const items = await openCollection(admin, 'items', [
    { name: 'name', type: 'text' },
    { name: 'price', type: 'number' },
  ]);
  for (const [name, price] of [['cheap', 5], ['mid', 15], ['dear', 50]]) {
    await admin.collection(items.name).create({ name, price });
  }
  const view = await createCollection(admin, {
    name: uniq('pricey'),
    type: 'view',
    listRule: '',
    viewRule: '',
    viewQuery: `SELECT id, name, price FROM ${items.name} WHERE price > 10`,
  });
  assert.equal(view.type, 'view');
  assert.match(view.viewQuery, /SELECT/i);
  assert.ok(fieldByName(view, 'name'), 'view fields are generated from the query');
  assert.ok(fieldByName(view, 'price'));

  const guest = as.guest();
  const list = await guest.collection(view.name).getList(1, 10, { sort: 'price' });
  assert.equal(list.totalItems, 2);
  assert.deepEqual(list.items.map((r) => r.name), ['mid', 'dear']);
  assert.equal(list.items[0].price, 15);
  assert.equal(list.items[0].collectionName, view.name);
  const one = await guest.collection(view.name).getOne(list.items[1].id);
  assert.equal(one.name, 'dear');
  const filtered = await guest.collection(view.name).getList(1, 10, { filter: 'price > 20' });
  assert.deepEqual(filtered.items.map((r) => r.name), ['dear']);

  // The view follows its source.
  await admin.collection(items.name).create({ name: 'new', price: 99 });
  assert.equal((await guest.collection(view.name).getList()).totalItems, 3);

  // Read-only.
  await fails(admin.collection(view.name).create({ name: 'x', price: 100 }), 400);
  await fails(admin.collection(view.name).update(one.id, { name: 'y' }), 400);
  await fails(admin.collection(view.name).delete(one.id), 400);
  await fails(admin.collections.truncate(view.name), 400);

  // A bad query is refused.
  await fails(admin.collections.create({
    name: uniq('badview'), type: 'view', viewQuery: 'SELECT nope FROM nowhere_at_all',
  }), 400);
});

test('collections: view with relation columns and aggregates', async () => {
  const admin = as.admin();
  const authors = await makeAuthors(admin);
  const posts = await openCollection(admin, 'vposts', [
    { name: 'title', type: 'text' },
    { name: 'views', type: 'number' },
    { name: 'author', type: 'relation', collectionId: authors.id, maxSelect: 1 },
  ]);
  const ann = await admin.collection(authors.name).create({ name: 'Ann' });
  const bob = await admin.collection(authors.name).create({ name: 'Bob' });
  await admin.collection(posts.name).create({ title: 'a1', views: 3, author: ann.id });
  await admin.collection(posts.name).create({ title: 'a2', views: 4, author: ann.id });
  await admin.collection(posts.name).create({ title: 'b1', views: 10, author: bob.id });

  const flat = await createCollection(admin, {
    name: uniq('vflat'), type: 'view', listRule: '', viewRule: '',
    viewQuery: `SELECT id, title, author FROM ${posts.name}`,
  });
  const rel = fieldByName(flat, 'author');
  assert.equal(rel.type, 'relation', 'a relation column keeps its type');
  assert.equal(rel.collectionId, authors.id);
  const row = await as.alice().collection(flat.name).getFirstListItem('title = "b1"', { expand: 'author' });
  assert.equal(row.expand.author.name, 'Bob');
  assert.deepEqual(sorted((await as.alice().collection(flat.name).getFullList({ filter: 'author.name = "Ann"' }))
    .map((r) => r.title)), ['a1', 'a2']);

  const stats = await createCollection(admin, {
    name: uniq('vstats'), type: 'view', listRule: '', viewRule: '@request.auth.id != ""',
    viewQuery: `SELECT author AS id, COUNT(*) AS total, SUM(views) AS views FROM ${posts.name} GROUP BY author`,
  });
  assert.ok(fieldByName(stats, 'total'));
  const s = await as.alice().collection(stats.name).getFullList({ sort: '-total' });
  assert.deepEqual(s.map((r) => [r.id, r.total, r.views]), [[ann.id, 2, 7], [bob.id, 1, 10]]);
  assert.equal((await as.alice().collection(stats.name).getOne(ann.id)).total, 2);
  await fails(as.guest().collection(stats.name).getOne(ann.id), 404, undefined);
});

test('collections: system collections and field type changes are protected', async () => {
  const admin = as.admin();
  const users = await admin.collections.getOne('users');
  assert.equal(users.type, 'auth');
  assert.equal(users.system, true);
  await fails(admin.collections.delete('users'), 400);
  await fails(admin.collections.update('users', { name: uniq('people') }), 400);
  assert.ok(await admin.collections.getOne('users'));

  const col = await openCollection(admin, 'typed', [{ name: 'n', type: 'number' }]);
  const fields = col.fields.map((f) => (f.name === 'n' ? { ...f, type: 'text' } : f));
  await fails(admin.collections.update(col.name, { fields }), 400);
  assert.equal(fieldByName(await admin.collections.getOne(col.name), 'n').type, 'number');

  // Duplicate field names and reserved names are refused.
  await fails(admin.collections.create({
    name: uniq('dupf'), type: 'base', fields: [{ name: 'a', type: 'text' }, { name: 'a', type: 'number' }],
  }), 400);
  await fails(admin.collections.create({ name: 'bad name!', type: 'base' }), 400);
  await fails(admin.collections.create({
    name: uniq('badrel'), type: 'base', fields: [{ name: 'r', type: 'relation', collectionId: 'nope_nope' }],
  }), 400);
  await fails(admin.collections.create({
    name: uniq('badidx'), type: 'base', fields: [{ name: 'a', type: 'text' }],
    indexes: ['CREATE INDEX idx_x ON nowhere (zzz)'],
  }), 400);
});

test('collections: partial and composite unique indexes', async () => {
  const admin = as.admin();
  const name = uniq('uidx');
  await createCollection(admin, {
    name, type: 'base', listRule: '', viewRule: '', createRule: '', updateRule: '',
    fields: [{ name: 'slug', type: 'text' }, { name: 'a', type: 'text' }, { name: 'b', type: 'text' }],
    indexes: [
      `CREATE UNIQUE INDEX \`idx_${name}_slug\` ON \`${name}\` (\`slug\`) WHERE \`slug\` != ''`,
      `CREATE UNIQUE INDEX \`idx_${name}_ab\` ON \`${name}\` (\`a\`, \`b\`)`,
    ],
  });
  const R = as.alice().collection(name);
  await R.create({ a: '1', b: '1' });
  await R.create({ a: '1', b: '2' }); // empty slugs do not collide (partial index)
  const e = await fails(R.create({ a: '1', b: '2' }), 400);
  assert.equal(fieldCode(e, 'a'), 'validation_not_unique');
  assert.equal(fieldCode(e, 'b'), 'validation_not_unique');
  await R.create({ slug: 's', a: '2', b: '1' });
  assert.equal(fieldCode(await fails(R.create({ slug: 's', a: '3', b: '1' }), 400), 'slug'), 'validation_not_unique');
});

test('collections: truncate follows relation references', async () => {
  const admin = as.admin();
  const parents = await openCollection(admin, 'tparents', [{ name: 'name', type: 'text' }]);
  const kids = await openCollection(admin, 'tkids', [
    { name: 'parent', type: 'relation', collectionId: parents.id, maxSelect: 1, cascadeDelete: true },
  ]);
  const pins = await openCollection(admin, 'tpins', [
    { name: 'parent', type: 'relation', collectionId: parents.id, maxSelect: 1, required: true },
  ]);
  const p1 = await admin.collection(parents.name).create({ name: 'p1' });
  const k1 = await admin.collection(kids.name).create({ parent: p1.id });
  const pin = await admin.collection(pins.name).create({ parent: p1.id });

  // A required reference blocks the truncate; nothing is deleted.
  await fails(admin.collections.truncate(parents.name), 400);
  assert.equal((await admin.collection(parents.name).getOne(p1.id)).name, 'p1');
  assert.equal((await admin.collection(kids.name).getOne(k1.id)).parent, p1.id);

  await admin.collection(pins.name).delete(pin.id);
  assert.equal(await admin.collections.truncate(parents.name), true);
  await fails(admin.collection(kids.name).getOne(k1.id), 404, undefined);
  assert.equal((await admin.collection(kids.name).getList()).totalItems, 0, 'cascade on truncate');
});
