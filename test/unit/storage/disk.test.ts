import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDiskStore } from '../../../src/storage/index.js';
import { runStoreConformance } from './store-conformance.js';

runStoreConformance('disk', async (opts) => {
  const dir = await mkdtemp(join(tmpdir(), 'pw-disk-'));
  const store = await createDiskStore({ dir, ...opts });
  return { store, close: async () => { await store.close(); await rm(dir, { recursive: true, force: true }); } };
});

import { readdir, readFile, stat, truncate, unlink, writeFile, mkdir } from 'node:fs/promises';
import Database from 'better-sqlite3';
import { isPeerwebError } from '../../../src/errors/index.js';
import { bodyOf, bytes, meta, sha } from './store-conformance.js';

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pw-disk-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Every body file under the store folder. */
export async function bodyFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const root = join(dir, 'v1', 'bodies');
  for (const a of await readdir(root)) for (const b of await readdir(join(root, a))) for (const f of await readdir(join(root, a, b))) out.push(f);
  return out.sort();
}

test('disk: entries, bodies and stats survive a restart', async (t) => {
  const dir = await tempDir(t);
  let s = await createDiskStore({ dir, maxBytes: 64 << 20 });
  const bodies = [bytes('1', 100), bytes('2', 100 * 1024), bytes('3', 1)];
  await s.put(meta('http://h:80/1', '', { n: 1 }, ['t']), bodies[0] as Buffer);
  await s.put(meta('http://h:80/2', 'gz', { n: 2 }), bodies[1] as Buffer);
  await s.put(meta('http://h:80/3'), bodies[2] as Buffer);
  await s.put(meta('http://h:80/4'), bodies[2] as Buffer);
  const before = s.stats();
  const entries = await s.lookup('http://h:80/2');
  await s.close();
  s = await createDiskStore({ dir, maxBytes: 64 << 20 });
  t.after(() => s.close());
  assert.deepEqual(s.stats(), before);
  assert.deepEqual(await s.lookup('http://h:80/2'), entries);
  for (const b of bodies) assert.deepEqual(await bodyOf(s, sha(b)), b);
  assert.deepEqual(await bodyFiles(dir), bodies.map(sha).sort());
  assert.equal(await s.purgeTag('t'), 1);
  assert.equal(s.stats().bodies, 2);
});

test('disk: body files live at v1/bodies/ab/cd/<sha-256>', async (t) => {
  const dir = await tempDir(t);
  const s = await createDiskStore({ dir, maxBytes: 1 << 20 });
  t.after(() => s.close());
  const body = Buffer.from('layout');
  const d = sha(body);
  await s.put(meta('http://h:80/l'), body);
  assert.equal(s.bodyPath(d), join(dir, 'v1', 'bodies', d.slice(0, 2), d.slice(2, 4), d));
  assert.deepEqual(await readFile(s.bodyPath(d)), body);
  assert.ok((await stat(join(dir, 'v1', 'index.sqlite'))).isFile());
});

test('disk: an index of another format version or another program is refused with a clear error', async (t) => {
  const dir = await tempDir(t);
  const s = await createDiskStore({ dir, maxBytes: 1 << 20 });
  await s.put(meta('http://h:80/x'), Buffer.from('x'));
  await s.close();
  const file = join(dir, 'v1', 'index.sqlite');
  const db = new Database(file);
  db.pragma('user_version = 7');
  db.close();
  await assert.rejects(createDiskStore({ dir, maxBytes: 1 << 20 }), (err) =>
    isPeerwebError(err, 'PW_ERR_STORE_FORMAT') && /format version 7/.test((err as Error).message) && (err as Error).message.includes(dir));

  const other = await tempDir(t);
  await mkdir(join(other, 'v1'), { recursive: true });
  const db2 = new Database(join(other, 'v1', 'index.sqlite'));
  db2.exec('CREATE TABLE notes (x)');
  db2.close();
  await assert.rejects(createDiskStore({ dir: other, maxBytes: 1 << 20 }), (err) => isPeerwebError(err, 'PW_ERR_STORE_FORMAT') && /another program/.test((err as Error).message));

  const junk = await tempDir(t);
  await mkdir(join(junk, 'v1'), { recursive: true });
  await writeFile(join(junk, 'v1', 'index.sqlite'), Buffer.alloc(4096, 7));
  await assert.rejects(createDiskStore({ dir: junk, maxBytes: 1 << 20 }), (err) => isPeerwebError(err, 'PW_ERR_STORE_FORMAT'));
});

test('disk: a store folder is used by one store at a time', async (t) => {
  const dir = await tempDir(t);
  const s = await createDiskStore({ dir, maxBytes: 1 << 20 });
  await assert.rejects(createDiskStore({ dir, maxBytes: 1 << 20 }), (err) => isPeerwebError(err, 'PW_ERR_STORE_LOCKED'));
  await s.close();
  const again = await createDiskStore({ dir, maxBytes: 1 << 20 });
  await again.close();
});

for (const [what, size, damage] of [
  ['a flipped byte in a small body', 3000, async (p: string) => { const b = await readFile(p); b[1500] = (b[1500] ?? 0) ^ 1; await writeFile(p, b); }],
  ['a flipped byte in a large body', 700 * 1024, async (p: string) => { const b = await readFile(p); b[500_000] = (b[500_000] ?? 0) ^ 0x80; await writeFile(p, b); }],
  ['a truncated large body', 700 * 1024, async (p: string) => { await truncate(p, 600 * 1024); }],
  ['a truncated small body', 3000, async (p: string) => { await truncate(p, 10); }],
  ['a body file grown by one byte', 300 * 1024, async (p: string) => { await writeFile(p, Buffer.concat([await readFile(p), Buffer.from('x')])); }],
  ['a missing body file', 3000, async (p: string) => { await unlink(p); }],
] as const) {
  test(`disk: ${what} is never served; it is dropped with its records`, async (t) => {
    const dir = await tempDir(t);
    let s = await createDiskStore({ dir, maxBytes: 64 << 20 });
    const body = bytes(what, size);
    const other = bytes('other', size);
    await s.put(meta('http://h:80/bad'), body);
    await s.put(meta('http://h:80/bad2', 'v'), body);
    await s.put(meta('http://h:80/good'), other);
    await s.close();
    await damage(s.bodyPath(sha(body)));
    s = await createDiskStore({ dir, maxBytes: 64 << 20 });
    t.after(() => s.close());
    assert.equal(await s.openBody(sha(body)), undefined);
    assert.deepEqual(await s.lookup('http://h:80/bad'), []);
    assert.deepEqual(await s.lookup('http://h:80/bad2'), []);
    assert.equal(s.stats().corruptDropped, 1);
    assert.equal(s.stats().entries, 1);
    assert.equal(s.stats().bodies, 1);
    assert.deepEqual(await bodyOf(s, sha(other)), other);
    assert.deepEqual(await bodyFiles(dir), [sha(other)]);
    // Storing the bytes again works.
    await s.put(meta('http://h:80/bad'), body);
    assert.deepEqual(await bodyOf(s, sha(body)), body);
  });
}

test('disk: a small body damaged while the store is open is caught on the next open', async (t) => {
  const dir = await tempDir(t);
  const s = await createDiskStore({ dir, maxBytes: 1 << 20 });
  t.after(() => s.close());
  const body = bytes('live', 1000);
  await s.put(meta('http://h:80/live'), body);
  assert.deepEqual(await bodyOf(s, sha(body)), body);
  await writeFile(s.bodyPath(sha(body)), Buffer.alloc(1000));
  assert.equal(await s.openBody(sha(body)), undefined);
  assert.equal(s.stats().corruptDropped, 1);
});

test('disk: temp files and body files without a record are removed at open', async (t) => {
  const dir = await tempDir(t);
  let s = await createDiskStore({ dir, maxBytes: 1 << 20 });
  const kept = Buffer.from('kept');
  await s.put(meta('http://h:80/k'), kept);
  await s.close();
  await writeFile(join(dir, 'v1', 'tmp', 'abc.tmp'), 'half a body');
  const orphan = sha(Buffer.from('orphan'));
  await mkdir(join(dir, 'v1', 'bodies', orphan.slice(0, 2), orphan.slice(2, 4)), { recursive: true });
  await writeFile(join(dir, 'v1', 'bodies', orphan.slice(0, 2), orphan.slice(2, 4), orphan), 'orphan');
  s = await createDiskStore({ dir, maxBytes: 1 << 20, sweepOnOpen: false });
  t.after(() => s.close());
  assert.deepEqual(await readdir(join(dir, 'v1', 'tmp')), []);
  assert.equal(await s.openBody(orphan), undefined, 'a file without a record is not served');
  assert.equal(await s.sweepOrphans(), 1);
  assert.deepEqual(await bodyFiles(dir), [sha(kept)]);
  assert.equal(await s.sweepOrphans(), 0);
});

test('disk: LRU order (touch) survives a restart', async (t) => {
  const dir = await tempDir(t);
  const opts = { dir, maxBytes: 64 * 1024 };
  let s = await createDiskStore(opts);
  for (const k of ['A', 'B', 'C']) await s.put(meta(`http://h:80/${k}`), bytes(k, 16 * 1024));
  s.touch('http://h:80/A', '');
  await s.close();
  s = await createDiskStore(opts);
  t.after(() => s.close());
  await s.put(meta('http://h:80/D'), bytes('D', 16 * 1024));
  assert.deepEqual(await s.lookup('http://h:80/B'), []);
  assert.equal((await s.lookup('http://h:80/A')).length, 1);
  assert.deepEqual(await bodyFiles(dir), ['A', 'C', 'D'].map((k) => sha(bytes(k, 16 * 1024))).sort());
});

test('disk: a writer that fails midway leaves no temp file', async (t) => {
  const dir = await tempDir(t);
  const s = await createDiskStore({ dir, maxBytes: 4 << 20, maxObjectSize: 1 << 20 });
  t.after(() => s.close());
  const w = s.createWriter(meta('http://h:80/big'));
  await w.write(bytes('x', 900 * 1024));
  assert.throws(() => w.write(bytes('y', 200 * 1024)), (err) => isPeerwebError(err, 'PW_ERR_STORE_TOO_LARGE'));
  await w.abort();
  assert.deepEqual(await readdir(join(dir, 'v1', 'tmp')), []);
  const bad = s.createWriter(meta('http://h:80/d'), { expectedDigest: sha(Buffer.from('z')) });
  await bad.write(bytes('x', 900 * 1024));
  await assert.rejects(bad.commit(), (err) => isPeerwebError(err, 'PW_ERR_STORE_MISMATCH'));
  assert.deepEqual(await readdir(join(dir, 'v1', 'tmp')), []);
  assert.deepEqual(await bodyFiles(dir), []);
});

test('disk: counters kept during random operations equal those recomputed at reopen', async (t) => {
  const dir = await tempDir(t);
  const opts = { dir, maxBytes: 300 * 1024, fsync: false };
  let s = await createDiskStore(opts);
  let x = 777;
  const rnd = (n: number) => { x = (x * 1103515245 + 12345) & 0x7fffffff; return (x >>> 8) % n; };
  for (let i = 0; i < 600; i++) {
    const key = `http://h:80/${rnd(40)}`;
    const variant = ['', 'a', 'b'][rnd(3)] as string;
    const op = rnd(100);
    if (op < 75) await s.put(meta(key, variant, { i }, [`t${rnd(4)}`]), bytes(`b${rnd(200)}`, rnd(9000)));
    else if (op < 82) await s.delete(key, rnd(2) ? variant : undefined);
    else if (op < 90) await s.updateData(key, variant, { i, more: 'x'.repeat(rnd(500)) });
    else if (op === 90) await s.purgeTag(`t${rnd(4)}`);
    else s.touch(key, variant);
  }
  const before = s.stats();
  assert.ok(before.evictions > 0 && before.bytes <= 300 * 1024);
  await s.close();
  s = await createDiskStore({ ...opts, sweepOnOpen: false });
  t.after(() => s.close());
  assert.deepEqual({ ...s.stats(), evictions: before.evictions }, before);
  assert.equal((await bodyFiles(dir)).length, before.bodies);
  assert.equal(await s.purgePrefix(''), before.entries);
  assert.equal(s.stats().bytes, 0);
});
