// Realtime (wire §7, base-v1 §5) through the unmodified SDK's
// pb.collection(c).subscribe(): `*` and record-id topics, the filter,
// expand and fields options, delivery gated by the list/view rules per
// identity (owner, another user, guest, superuser, another org), hidden
// fields stripped, unsubscribe, delete events, and batch writes that deliver
// only after commit (nothing for a rolled-back batch).
//
// "Nothing was delivered" is proven with a sentinel: events of one org reach
// a subscriber in publish order, so once a later sentinel write has arrived,
// any event for an earlier write would have arrived before it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { EventSource } from 'eventsource';
import { as, uniq, createCollection, recordId, userId, SUBS } from './helpers.mjs';

globalThis.EventSource = EventSource;

const fx = {};
const clients = [];

/** track remembers an SDK client so after() closes its event stream. */
function track(pb) {
  clients.push(pb);
  return pb;
}

before(async () => {
  const admin = as.admin();
  const usersId = (await admin.collections.getOne('users')).id;
  // Make sure alice's and bob's users mirrors exist (owner relations).
  await as.alice().collection('users').getOne(userId(SUBS.alice));
  await as.bob().collection('users').getOne(userId(SUBS.bob));
  fx.tags = await createCollection(admin, {
    name: uniq('rttags'),
    type: 'base',
    listRule: '',
    viewRule: '',
    createRule: null,
    fields: [
      { name: 'name', type: 'text' },
      { name: 'note', type: 'text', hidden: true },
    ],
  });
  const gate = 'public = true || owner = @request.auth.id';
  fx.posts = await createCollection(admin, {
    name: uniq('rtposts'),
    type: 'base',
    listRule: gate,
    viewRule: gate,
    createRule: "@request.auth.id != ''",
    updateRule: 'owner = @request.auth.id',
    deleteRule: 'owner = @request.auth.id',
    fields: [
      { name: 'title', type: 'text', required: true },
      { name: 'public', type: 'bool' },
      { name: 'owner', type: 'relation', collectionId: usersId, maxSelect: 1 },
      { name: 'tag', type: 'relation', collectionId: fx.tags.id, maxSelect: 1 },
      { name: 'secret', type: 'text', hidden: true },
    ],
  });
  fx.tag = await admin.collection(fx.tags.name).create({ name: 'hot', note: 'internal' });
  fx.alice = userId(SUBS.alice);
  fx.bob = userId(SUBS.bob);
  // The same collection name in another org: its subscribers must never
  // see acme's events.
  fx.globexPosts = await createCollection(as.eveadmin(), {
    name: fx.posts.name,
    type: 'base',
    listRule: '',
    viewRule: '',
    createRule: '',
    fields: [
      { name: 'title', type: 'text' },
      { name: 'public', type: 'bool' },
    ],
  });
});

after(async () => {
  for (const pb of clients) {
    try {
      await pb.realtime.unsubscribe();
    } catch {
      // already closed
    }
  }
});

/**
 * watch subscribes pb to topic of collection name and returns a recorder:
 * events (every payload received), waitFor(pred) and unsubscribe.
 */
async function watch(pb, name, topic, options) {
  track(pb);
  const events = [];
  const waiters = [];
  const unsubscribe = await pb.collection(name).subscribe(
    topic,
    (e) => {
      events.push(e);
      for (const w of [...waiters]) {
        if (w.pred(e)) {
          waiters.splice(waiters.indexOf(w), 1);
          clearTimeout(w.timer);
          w.resolve(e);
        }
      }
    },
    options,
  );
  return {
    events,
    unsubscribe,
    /** waitFor resolves with the first event (past or future) matching pred. */
    waitFor(pred, what = 'event', ms = 5000) {
      const seen = events.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve };
        w.timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`timed out waiting for ${what} on ${topic}; got ${JSON.stringify(events)}`));
        }, ms);
        waiters.push(w);
      });
    },
    titles() {
      return events.map((e) => `${e.action}:${e.record.title}`);
    },
  };
}

const titled = (title, action) => (e) => e.record?.title === title && (!action || e.action === action);

/** sentinel creates a public post as the admin and waits until every watcher got it. */
async function sentinel(...watchers) {
  const title = 'sentinel ' + recordId();
  await as.admin().collection(fx.posts.name).create({ title, public: true });
  await Promise.all(watchers.map((w) => w.waitFor(titled(title), title)));
  return title;
}

test('realtime: * delivery is gated by the list rule per identity and org', async () => {
  const name = fx.posts.name;
  const alice = await watch(as.alice(), name, '*');
  const bob = await watch(as.bob(), name, '*');
  const guest = await watch(as.guest('acme'), name, '*');
  const admin = await watch(as.admin(), name, '*');
  const eve = await watch(as.eve(), name, '*');

  const A = as.alice().collection(name);
  // Only a superuser may set a hidden field, so the admin writes alice's
  // records here.
  const S = as.admin().collection(name);
  const priv = await S.create({ title: 'alice private', owner: fx.alice, secret: 's1' });
  const pub = await S.create({ title: 'alice public', public: true, owner: fx.alice, secret: 's2' });

  const got = await alice.waitFor(titled('alice private', 'create'));
  assert.equal(got.action, 'create');
  assert.equal(got.record.id, priv.id);
  assert.equal(got.record.collectionName, name);
  assert.equal(got.record.collectionId, fx.posts.id);
  assert.equal(got.record.owner, fx.alice);
  assert.equal('secret' in got.record, false, 'hidden field leaked to the owner');
  await alice.waitFor(titled('alice public'));

  for (const w of [bob, guest]) {
    const e = await w.waitFor(titled('alice public', 'create'));
    assert.equal(e.record.id, pub.id);
    assert.equal('secret' in e.record, false, 'hidden field leaked');
  }
  // The superuser bypasses the rule and sees hidden fields.
  const su = await admin.waitFor(titled('alice private'));
  assert.equal(su.record.secret, 's1');

  await sentinel(alice, bob, guest, admin);
  assert.deepEqual(bob.titles().filter((t) => t.startsWith('create:alice')), ['create:alice public']);
  assert.deepEqual(guest.titles().filter((t) => t.startsWith('create:alice')), ['create:alice public']);

  // Another org: eve sees globex's posts, never acme's.
  await as.eve().collection(fx.globexPosts.name).create({ title: 'globex post', public: true });
  await eve.waitFor(titled('globex post'));
  assert.deepEqual(eve.titles(), ['create:globex post'], 'acme events leaked to another org');

  // Updates follow the rule on the new state: made public, bob now sees it.
  await A.update(priv.id, { public: true, title: 'alice private now public' });
  const up = await bob.waitFor(titled('alice private now public'));
  assert.equal(up.action, 'update');
  assert.equal(up.record.public, true);
});

test('realtime: a record-id topic gets only that record, gated by the view rule', async () => {
  const name = fx.posts.name;
  const A = as.alice().collection(name);
  const mine = await A.create({ title: 'one private', owner: fx.alice });
  const other = await A.create({ title: 'other private', owner: fx.alice });

  const alice = await watch(as.alice(), name, mine.id);
  const bob = await watch(as.bob(), name, mine.id);
  const bobAll = await watch(as.bob(), name, '*');

  await A.update(other.id, { title: 'other changed' });
  await A.update(mine.id, { title: 'one changed' });
  const e = await alice.waitFor(titled('one changed', 'update'));
  assert.equal(e.record.id, mine.id);

  // Bob may not view it while private; once public he sees the next change.
  await A.update(mine.id, { title: 'one public', public: true });
  await bob.waitFor(titled('one public', 'update'));
  await sentinel(bobAll);
  assert.deepEqual(bob.titles(), ['update:one public']);
  assert.ok(!alice.titles().includes('update:other changed'), 'another record was delivered on an id topic');

  // Deleting delivers a delete event to both (evaluated before the delete).
  await A.delete(mine.id);
  const d = await alice.waitFor((x) => x.action === 'delete');
  assert.equal(d.record.id, mine.id);
  assert.equal(d.record.title, 'one public');
  await bob.waitFor((x) => x.action === 'delete');
});

test('realtime: delete events on * respect the rule before the deletion', async () => {
  const name = fx.posts.name;
  const alice = await watch(as.alice(), name, '*');
  const bob = await watch(as.bob(), name, '*');
  const A = as.alice().collection(name);
  const priv = await A.create({ title: 'del private', owner: fx.alice });
  const pub = await A.create({ title: 'del public', owner: fx.alice, public: true });
  await A.delete(priv.id);
  await A.delete(pub.id);
  const d1 = await alice.waitFor(titled('del private', 'delete'));
  assert.equal(d1.record.id, priv.id);
  await alice.waitFor(titled('del public', 'delete'));
  await bob.waitFor(titled('del public', 'delete'));
  await sentinel(bob);
  assert.ok(!bob.titles().includes('delete:del private'), 'delete of a record bob may not see was delivered');
});

test('realtime: filter, expand and fields options', async () => {
  const name = fx.posts.name;
  const filtered = await watch(as.bob(), name, '*', { filter: 'title ~ "match"' });
  const expanded = await watch(as.alice(), name, '*', { expand: 'tag,owner' });
  const picked = await watch(as.guest('acme'), name, '*', { fields: 'id,title' });
  // A filter a user may not use (hidden field) never matches.
  const hiddenFilter = await watch(as.bob(), name, '*', { filter: 'secret = "x"' });
  const plain = await watch(as.bob(), name, '*');

  const A = as.alice().collection(name);
  await A.create({ title: 'no', public: true, owner: fx.alice, tag: fx.tag.id, secret: 'x' });
  await A.create({ title: 'a match', public: true, owner: fx.alice, tag: fx.tag.id, secret: 'x' });
  await sentinel(expanded, picked, plain);
  await filtered.waitFor(titled('a match'));

  assert.deepEqual(filtered.titles(), ['create:a match']);
  assert.deepEqual(hiddenFilter.titles(), [], 'filter on a hidden field matched for a user');

  const x = await expanded.waitFor(titled('a match'));
  assert.equal(x.record.expand?.tag?.name, 'hot');
  assert.equal('note' in x.record.expand.tag, false, 'hidden field leaked through expand');
  assert.equal(x.record.expand?.owner?.id, fx.alice);
  assert.equal('secret' in x.record, false);
  // Subscribers without expand get the plain record.
  const p = await plain.waitFor(titled('a match'));
  assert.equal(p.record.expand, undefined);

  const f = await picked.waitFor(titled('a match'));
  assert.deepEqual(Object.keys(f.record).sort(), ['id', 'title']);
});

test('realtime: unsubscribe stops delivery (one topic, then all)', async () => {
  const name = fx.posts.name;
  const pb = track(as.bob());
  const got = { all: [], pub: [] };
  const unAll = await pb.collection(name).subscribe('*', (e) => got.all.push(e.record.title));
  const unPub = await pb.collection(name).subscribe('*', (e) => got.pub.push(e.record.title), { filter: 'public = true' });
  const guard = await watch(as.bob(), name, '*');

  const A = as.alice().collection(name);
  await A.create({ title: 'u1', public: true, owner: fx.alice });
  await guard.waitFor(titled('u1'));
  await sentinel(guard);
  assert.ok(got.all.includes('u1') && got.pub.includes('u1'), JSON.stringify(got));

  await unPub();
  await A.create({ title: 'u2', public: true, owner: fx.alice });
  await guard.waitFor(titled('u2'));
  await sentinel(guard);
  assert.ok(got.all.includes('u2'), 'the remaining topic stopped');
  assert.ok(!got.pub.includes('u2'), 'an unsubscribed topic still delivered');

  await unAll();
  assert.equal(pb.realtime.isConnected, false, 'the SDK closes the stream when no topic remains');
  await A.create({ title: 'u3', public: true, owner: fx.alice });
  await guard.waitFor(titled('u3'));
  await sentinel(guard);
  assert.ok(!got.all.includes('u3'), 'delivered after unsubscribing everything');
});

test('realtime: batch writes deliver after commit; a failed batch delivers nothing', async () => {
  const name = fx.posts.name;
  const pb = as.alice();
  const alice = await watch(as.alice(), name, '*');
  const bob = await watch(as.bob(), name, '*');

  // Every event of a committed batch is readable by the subscriber when it
  // arrives (the write committed before it was published).
  const readable = [];
  const reader = as.alice().collection(name);
  const checker = await watch(as.alice(), name, '*');
  const checks = [];
  checker.events.push = function (e) {
    if (e.action === 'create' && e.record.title.startsWith('batch ')) {
      checks.push(
        reader.getOne(e.record.id).then(
          () => readable.push(e.record.title),
          (err) => readable.push('NOT READABLE ' + e.record.title + ' ' + err.status),
        ),
      );
    }
    return Array.prototype.push.call(this, e);
  };

  const b = pb.createBatch();
  b.collection(name).create({ title: 'batch one', public: true, owner: fx.alice });
  b.collection(name).create({ title: 'batch two', owner: fx.alice });
  const res = await b.send();
  assert.deepEqual(res.map((r) => r.status), [200, 200]);
  await alice.waitFor(titled('batch one'));
  await alice.waitFor(titled('batch two'));
  await bob.waitFor(titled('batch one'));
  await checker.waitFor(titled('batch two'));
  await Promise.all(checks);
  assert.deepEqual(readable.sort(), ['batch one', 'batch two']);

  // A batch whose last request fails rolls back: no event at all.
  const bad = pb.createBatch();
  bad.collection(name).create({ title: 'rolled back one', public: true, owner: fx.alice });
  bad.collection(name).update(recordId(), { title: 'no such record' });
  await assert.rejects(bad.send(), (e) => e.status === 400);
  const bad2 = pb.createBatch();
  bad2.collection(name).create({ title: 'rolled back two', public: true, owner: fx.alice });
  bad2.collection(name).create({ public: true }); // title is required
  await assert.rejects(bad2.send(), (e) => e.status === 400);
  await sentinel(alice, bob);
  for (const w of [alice, bob]) {
    assert.ok(!w.titles().some((t) => t.includes('rolled back')), `rolled-back batch delivered: ${w.titles()}`);
  }
});

test('realtime: auth binding (user → other user refused) and guest → user upgrade', async () => {
  const name = fx.posts.name;
  // Guest first, then the same client authenticates: allowed upgrade, and
  // the private records of the new identity arrive.
  const pb = track(as.guest('acme'));
  const seen = [];
  await pb.collection(name).subscribe('*', (e) => seen.push(e.record.title));
  pb.authStore.save(process.env.TOKEN_ALICE, null);
  pb.beforeSend = undefined;
  await pb.collection(name).subscribe(recordId(), () => {}); // a second POST, now as alice
  const guard = await watch(as.alice(), name, '*');
  await as.alice().collection(name).create({ title: 'upgrade private', owner: fx.alice });
  await guard.waitFor(titled('upgrade private'));
  await sentinel(guard);
  assert.ok(seen.includes('upgrade private'), `upgraded client missed its private record: ${seen}`);

  // alice → bob on the same client: 403.
  pb.authStore.save(process.env.TOKEN_BOB, null);
  await assert.rejects(pb.collection(name).subscribe(recordId(), () => {}), (e) => e.status === 403);
});
