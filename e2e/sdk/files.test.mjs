// Files (wire §2.7 and §8, base-v1 §6) through the unmodified SDK: File
// and Blob uploads on create, update (+/- modifiers, keeping listed names)
// and batch; downloads through pb.files.getURL with headers, ranges and
// ETags; thumbnails whose decoded sizes are checked; protected files with
// and without pb.files.getToken(), refused for other users and other orgs.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync, inflateSync, crc32 } from 'node:zlib';
import { as, uniq, fails, fieldCode, createCollection, userId, SUBS } from './helpers.mjs';

const fx = {};

// --- PNG encode/decode (no dependencies) ------------------------------------

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td) >>> 0);
  return Buffer.concat([len, td, crc]);
}

/** png encodes a w×h RGBA gradient. */
function png(w, h) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  const rows = Buffer.alloc(h * (1 + 4 * w));
  for (let y = 0; y < h; y++) {
    const o = y * (1 + 4 * w);
    for (let x = 0; x < w; x++) {
      rows[o + 1 + 4 * x] = x & 255;
      rows[o + 2 + 4 * x] = y & 255;
      rows[o + 3 + 4 * x] = 120;
      rows[o + 4 + 4 * x] = 255;
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/**
 * decodePNG checks every chunk CRC, inflates the image data and checks that
 * it holds exactly height scanlines of width pixels; returns {width, height}.
 */
function decodePNG(buf) {
  assert.equal(buf.subarray(0, 8).toString('hex'), '89504e470d0a1a0a', 'PNG signature');
  let off = 8;
  let ihdr;
  const idat = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.subarray(off + 4, off + 8).toString('ascii');
    const data = buf.subarray(off + 8, off + 8 + len);
    assert.equal(buf.readUInt32BE(off + 8 + len), crc32(buf.subarray(off + 4, off + 8 + len)) >>> 0, `CRC of ${type}`);
    if (type === 'IHDR') ihdr = data;
    if (type === 'IDAT') idat.push(data);
    off += 12 + len;
  }
  const width = ihdr.readUInt32BE(0);
  const height = ihdr.readUInt32BE(4);
  const depth = ihdr[8];
  const bpp = Math.ceil((channels[ihdr[9]] * depth) / 8);
  const pixels = inflateSync(Buffer.concat(idat));
  assert.equal(pixels.length, height * (1 + Math.ceil((width * channels[ihdr[9]] * depth) / 8)), 'inflated scanlines');
  assert.ok(bpp > 0);
  return { width, height };
}

async function get(url, headers = {}) {
  const res = await fetch(url, { headers });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

before(async () => {
  const admin = as.admin();
  fx.docs = await createCollection(admin, {
    name: uniq('fdocs'),
    type: 'base',
    listRule: '',
    viewRule: '',
    createRule: '@request.auth.id != ""',
    updateRule: '@request.auth.id != ""',
    deleteRule: '@request.auth.id != ""',
    fields: [
      { name: 'title', type: 'text' },
      { name: 'doc', type: 'file', maxSelect: 1, maxSize: 2000 },
      {
        name: 'pics', type: 'file', maxSelect: 4, maxSize: 1 << 20,
        mimeTypes: ['image/png', 'image/jpeg'], thumbs: ['50x50', '80x0', '0x30', '40x40f', '40x40t'],
      },
    ],
  });
  fx.vault = await createCollection(admin, {
    name: uniq('fvault'),
    type: 'base',
    listRule: 'owner = @request.auth.id',
    viewRule: 'owner = @request.auth.id',
    createRule: '@request.auth.id != "" && owner = @request.auth.id',
    updateRule: null,
    deleteRule: null,
    fields: [
      { name: 'owner', type: 'text' },
      { name: 'secret', type: 'file', maxSelect: 1, protected: true },
    ],
  });
});

test('files: File and Blob uploads on create, download through getURL', async () => {
  const pb = as.alice();
  const rec = await pb.collection(fx.docs.name).create({
    title: 'first',
    doc: new File(['hello, files'], 'Meeting Notes.txt', { type: 'application/pdf' }), // the claimed type is ignored
    pics: [new Blob([png(200, 100)], { type: 'image/png' }), new File([png(64, 64)], 'square.png')],
  });
  assert.match(rec.doc, /^meeting_notes_[a-z0-9]{10}\.txt$/);
  assert.equal(rec.pics.length, 2);
  assert.match(rec.pics[0], /^blob_[a-z0-9]{10}\.png$/, 'a Blob is named "blob", the extension comes from the content');
  assert.match(rec.pics[1], /^square_[a-z0-9]{10}\.png$/);
  fx.rec = rec;

  // A guest with no headers at all: the URL names the org.
  const url = pb.files.getURL(rec, rec.doc);
  assert.ok(url.includes(`/api/files/${rec.collectionId}/${rec.id}/`), url);
  const d = await get(url);
  assert.equal(d.status, 200);
  assert.equal(d.body.toString(), 'hello, files');
  assert.equal(d.headers.get('content-type'), 'text/plain; charset=utf-8');
  assert.equal(d.headers.get('content-disposition'), `attachment; filename="${rec.doc}"`);
  assert.equal(d.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(d.headers.get('content-security-policy'), "default-src 'none'; media-src 'self'; style-src 'unsafe-inline'; sandbox");
  assert.equal(d.headers.get('cache-control'), 'max-age=2592000, stale-while-revalidate=86400');
  const etag = d.headers.get('etag');
  assert.ok(etag);
  assert.equal((await get(url, { 'If-None-Match': etag })).status, 304);
  const part = await get(url, { Range: 'bytes=7-11' });
  assert.equal(part.status, 206);
  assert.equal(part.body.toString(), 'files');

  const p = await get(pb.files.getURL(rec, rec.pics[1]));
  assert.equal(p.headers.get('content-type'), 'image/png');
  assert.match(p.headers.get('content-disposition'), /^inline; /);
  assert.deepEqual(decodePNG(p.body), { width: 64, height: 64 });
  const dl = await get(pb.files.getURL(rec, rec.pics[1], { download: true }));
  assert.match(dl.headers.get('content-disposition'), /^attachment; /);
});

test('files: thumbnails have the requested decoded sizes and are made once', async () => {
  const pb = as.guest();
  const rec = fx.rec;
  const cases = [
    ['50x50', 50, 50],
    ['80x0', 80, 40],
    ['0x30', 60, 30],
    ['40x40f', 40, 20],
    ['40x40t', 40, 40],
    ['100x100', 100, 100], // always allowed
    ['33x33', 200, 100], // not listed: the original
  ];
  for (const [thumb, w, h] of cases) {
    const r = await get(pb.files.getURL(rec, rec.pics[0], { thumb }));
    assert.equal(r.status, 200, thumb);
    assert.deepEqual(decodePNG(r.body), { width: w, height: h }, thumb);
  }
  const first = await get(pb.files.getURL(rec, rec.pics[0], { thumb: '50x50' }));
  const again = await get(pb.files.getURL(rec, rec.pics[0], { thumb: '50x50' }));
  assert.equal(again.headers.get('etag'), first.headers.get('etag'), 'the stored thumbnail is served again');
  assert.equal(again.headers.get('content-disposition'), `inline; filename="50x50_${rec.pics[0]}"`);
  // A text file has no thumbnails: the original comes back.
  const t = await get(pb.files.getURL(rec, rec.doc, { thumb: '100x100' }));
  assert.equal(t.body.toString(), 'hello, files');
});

test('files: update with +/- modifiers and listed names; removed files are gone', async () => {
  const pb = as.alice();
  const C = pb.collection(fx.docs.name);
  const rec = await C.create({ title: 'mods', pics: [new File([png(10, 10)], 'one.png'), new File([png(10, 10)], 'two.png')] });
  const [one, two] = rec.pics;
  const thumb = pb.files.getURL(rec, two, { thumb: '50x50' });
  assert.equal((await get(thumb)).status, 200);

  let up = await C.update(rec.id, { 'pics+': new File([png(12, 12)], 'three.png'), 'pics-': [two] });
  assert.equal(up.pics.length, 2);
  assert.equal(up.pics[0], one);
  assert.match(up.pics[1], /^three_/);
  assert.equal((await get(pb.files.getURL(rec, two))).status, 404);
  assert.equal((await get(thumb)).status, 404);

  // '+name' prepends; a plain key keeps the listed names first, then uploads.
  up = await C.update(rec.id, { '+pics': new File([png(5, 5)], 'zero.png') });
  assert.match(up.pics[0], /^zero_/);
  const keep = up.pics[2];
  up = await C.update(rec.id, { pics: [keep, new File([png(6, 6)], 'four.png')] });
  assert.equal(up.pics.length, 2);
  assert.equal(up.pics[0], keep);
  assert.match(up.pics[1], /^four_/);
  assert.equal((await get(pb.files.getURL(rec, one))).status, 404);
  assert.equal((await get(pb.files.getURL(rec, keep))).status, 200);

  // JSON: clearing the field deletes its files.
  up = await C.update(rec.id, { pics: [] });
  assert.deepEqual(up.pics, []);
  assert.equal((await get(pb.files.getURL(rec, keep))).status, 404);

  await C.delete(rec.id);
});

test('files: bad uploads are clear 400s and nothing is kept', async () => {
  const pb = as.alice();
  const C = pb.collection(fx.docs.name);
  let e = await fails(C.create({ pics: [new File(['not an image'], 'fake.png', { type: 'image/png' })] }), 400);
  assert.equal(fieldCode(e, 'pics'), 'validation_invalid_mime_type');
  e = await fails(C.create({ doc: new File(['x'.repeat(2001)], 'big.txt') }), 400);
  assert.equal(fieldCode(e, 'doc'), 'validation_file_size_limit');
  e = await fails(C.create({ pics: [1, 2, 3, 4, 5].map((i) => new File([png(2, 2)], `p${i}.png`)) }), 400);
  assert.equal(fieldCode(e, 'pics'), 'validation_too_many_files');
  e = await fails(C.create({ doc: 'made_up_1234567890.txt' }), 400);
  assert.equal(fieldCode(e, 'doc'), 'validation_invalid_file');
  // Guests may not create here: a failed create rule.
  await fails(as.guest().collection(fx.docs.name).create({ doc: new File(['x'], 'x.txt') }), 400);

  const url = (name) => `${as.guest().baseURL}/api/files/${fx.rec.collectionId}/${fx.rec.id}/${name}`;
  for (const name of ['..%2F..%2F..%2Fetc%2Fpasswd', '%2E%2E', 'nope.txt', `thumbs_${fx.rec.pics[0]}`]) {
    assert.equal((await get(url(name))).status, 404, name);
  }
});

test('files: batch uploads through createBatch', async () => {
  const pb = as.alice();
  const batch = pb.createBatch();
  batch.collection(fx.docs.name).create({ title: 'batch-a', doc: new File(['in a batch'], 'batch.txt') });
  batch.collection(fx.docs.name).create({ title: 'batch-b', pics: [new File([png(20, 10)], 'b.png')] });
  const res = await batch.send();
  assert.deepEqual(res.map((r) => r.status), [200, 200]);
  const a = res[0].body;
  assert.equal((await get(pb.files.getURL(a, a.doc))).body.toString(), 'in a batch');
  const b = res[1].body;
  assert.deepEqual(decodePNG((await get(pb.files.getURL(b, b.pics[0]))).body), { width: 20, height: 10 });
});

test('files: protected files need a file token of someone the view rule lets in', async () => {
  const alice = as.alice();
  const rec = await alice.collection(fx.vault.name).create({
    owner: userId(SUBS.alice),
    secret: new File(['for alice only'], 'secret.txt'),
  });
  const plain = alice.files.getURL(rec, rec.secret);
  assert.equal((await get(plain)).status, 404, 'no token');
  assert.equal((await get(plain, { Authorization: alice.authStore.token })).status, 404, 'the Authorization header is not a file token');

  const aliceTok = await alice.files.getToken();
  assert.ok(aliceTok.length > 20);
  const ok = await get(alice.files.getURL(rec, rec.secret, { token: aliceTok }));
  assert.equal(ok.status, 200);
  assert.equal(ok.body.toString(), 'for alice only');

  const bobTok = await as.bob().files.getToken();
  assert.equal((await get(alice.files.getURL(rec, rec.secret, { token: bobTok }))).status, 404, 'another user');
  const eveTok = await as.eve().files.getToken();
  assert.equal((await get(alice.files.getURL(rec, rec.secret, { token: eveTok }))).status, 404, 'a user of another org');
  const adminTok = await as.admin().files.getToken();
  assert.equal((await get(alice.files.getURL(rec, rec.secret, { token: adminTok }))).status, 200, 'the org admin');
  const carolInGlobex = await as.multi({ org: 'globex' }).files.getToken();
  assert.equal((await get(alice.files.getURL(rec, rec.secret, { token: carolInGlobex }))).status, 404, 'a token bound to another org');
  assert.equal((await get(alice.files.getURL(rec, rec.secret, { token: aliceTok + 'x' }))).status, 404, 'a tampered token');

  await fails(as.guest().files.getToken(), 401);

  // Other orgs: eve's own records live in globex; alice's token does not open them.
  const eveadmin = as.eveadmin();
  const gvault = await createCollection(eveadmin, {
    name: uniq('gvault'), type: 'base', listRule: '@request.auth.id != ""', viewRule: '@request.auth.id != ""',
    createRule: '@request.auth.id != ""', updateRule: null, deleteRule: null,
    fields: [{ name: 'secret', type: 'file', protected: true }],
  });
  const g = await as.eve().collection(gvault.name).create({ secret: new File(['globex data'], 'g.txt') });
  assert.ok(g.collectionId.endsWith('_globex'), g.collectionId);
  assert.equal((await get(alice.files.getURL(g, g.secret, { token: aliceTok }))).status, 404, 'acme token on a globex file');
  assert.equal((await get(alice.files.getURL(g, g.secret, { token: eveTok }))).status, 200, 'globex token on a globex file');
});
