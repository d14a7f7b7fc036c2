import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDiskStore, createMemoryStore, createTieredStore } from '../../../src/storage/index.js';
import { isPeerwebError } from '../../../src/errors/index.js';
import { bodyOf, bytes, meta, runStoreConformance, sha } from './store-conformance.js';

runStoreConformance('tiered', async (opts) => {
  const dir = await mkdtemp(join(tmpdir(), 'pw-tiered-'));
  const disk = await createDiskStore({ dir, ...opts });
  const store = createTieredStore(createMemoryStore(opts), disk, { memoryMaxObjectSize: 256 * 1024 });
  return { store, close: async () => { await store.close(); await rm(dir, { recursive: true, force: true }); } };
});

runStoreConformance('tiered memory-only', async (opts) => {
  const store = createTieredStore(createMemoryStore(opts), null, { memoryMaxObjectSize: opts.maxObjectSize ?? opts.maxBytes });
  return { store, close: () => store.close() };
});

async function fixture(t: { after: (fn: () => Promise<void>) => void }, memoryMaxObjectSize = 100 * 1024) {
  const dir = await mkdtemp(join(tmpdir(), 'pw-tiered-'));
  const open = async () => {
    const disk = await createDiskStore({ dir, maxBytes: 64 << 20 });
    return { disk, store: createTieredStore(createMemoryStore({ maxBytes: 8 << 20 }), disk, { memoryMaxObjectSize }) };
  };
  let cur = await open();
  t.after(async () => { await cur.store.close().catch(() => undefined); await rm(dir, { recursive: true, force: true }); });
  return {
    dir,
    get store() { return cur.store; },
    get disk() { return cur.disk; },
    async reopen() { await cur.store.close(); cur = await open(); return cur.store; },
  };
}

test('tiered: a small body written through is a synchronous hit', async (t) => {
  const fx = await fixture(t);
  const body = bytes('s', 5000);
  const e = await fx.store.put(meta('http://h:80/s', 'gz'), body);
  const seen = fx.store.peek('http://h:80/s');
  assert.deepEqual(seen?.map((x) => x.digest), [e.digest]);
  assert.deepEqual(fx.store.bodyBuffer(e.digest), body);
  const w = fx.store.createWriter(meta('http://h:80/s', 'br'));
  await w.write(body.subarray(0, 100));
  const e2 = await w.commit();
  assert.deepEqual(fx.store.peek('http://h:80/s')?.map((x) => x.variant), ['br', 'gz']);
  assert.deepEqual(fx.store.bodyBuffer(e2.digest), body.subarray(0, 100));
});

test('tiered: a large body is known in memory by digest only and read from disk', async (t) => {
  const fx = await fixture(t, 100 * 1024);
  const body = bytes('L', 300 * 1024);
  const e = await fx.store.put(meta('http://h:80/L'), body);
  assert.equal(fx.store.peek('http://h:80/L')?.[0]?.digest, e.digest);
  assert.equal(fx.store.bodyBuffer(e.digest), undefined);
  const r = await fx.store.openBody(e.digest);
  assert.equal(r?.buffer, null);
  assert.deepEqual(await bodyOf(fx.store, e.digest), body);
  assert.equal(fx.store.tierStats().memoryBodies, 0);
});

test('tiered: after a restart, lookup loads every variant from disk and openBody promotes small bodies', async (t) => {
  const fx = await fixture(t, 200 * 1024);
  const small = bytes('a', 1000);
  const mid = bytes('m', 150 * 1024);
  await fx.store.put(meta('http://h:80/k', 'a'), small);
  await fx.store.put(meta('http://h:80/k', 'b'), mid);
  const s = await fx.reopen();
  assert.equal(s.peek('http://h:80/k'), undefined, 'memory starts empty');
  assert.deepEqual((await s.lookup('http://h:80/k')).map((e) => e.variant), ['b', 'a']);
  assert.deepEqual(s.peek('http://h:80/k')?.map((e) => e.variant), ['b', 'a'], 'all variants mirrored');
  assert.equal(s.bodyBuffer(sha(small)), undefined);
  assert.deepEqual(await bodyOf(s, sha(small)), small);
  assert.deepEqual(s.bodyBuffer(sha(small)), small, 'promoted after first read');
  assert.deepEqual(await bodyOf(s, sha(mid)), mid);
  assert.deepEqual(s.bodyBuffer(sha(mid)), mid, 'a body past the disk read-whole size is promoted too');
  assert.equal(s.tierStats().memoryBodies, 2);
});

test('tiered: a body corrupted on disk is dropped from both tiers', async (t) => {
  const fx = await fixture(t);
  const body = bytes('c', 2000);
  await fx.store.put(meta('http://h:80/c'), body);
  const s = await fx.reopen();
  await s.lookup('http://h:80/c');
  await writeFile(fx.disk.bodyPath(sha(body)), Buffer.concat([body.subarray(0, 1999), Buffer.from('!')]));
  assert.equal(await s.openBody(sha(body)), undefined);
  assert.equal(s.peek('http://h:80/c'), undefined);
  assert.deepEqual(await s.lookup('http://h:80/c'), []);
  assert.equal(s.stats().corruptDropped, 1);
});

test('tiered: purge, delete, updateData and touch reach both tiers', async (t) => {
  const fx = await fixture(t);
  await fx.store.put(meta('http://h:80/p/1', '', { v: 1 }, ['tag']), Buffer.from('1'));
  await fx.store.put(meta('http://h:80/p/2'), Buffer.from('2'));
  await fx.store.put(meta('http://h:80/q'), Buffer.from('3'));
  assert.equal(await fx.store.updateData('http://h:80/p/1', '', { v: 2 }), true);
  assert.deepEqual(fx.store.peek('http://h:80/p/1')?.[0]?.data, { v: 2 });
  assert.deepEqual((await fx.disk.lookup('http://h:80/p/1'))[0]?.data, { v: 2 });
  assert.equal(await fx.store.purgeTag('tag'), 1);
  assert.equal(fx.store.peek('http://h:80/p/1'), undefined);
  assert.equal(await fx.store.purgePrefix('http://h:80/p/'), 1);
  assert.deepEqual(await fx.disk.lookup('http://h:80/p/2'), []);
  fx.store.touch('http://h:80/q', '');
  assert.equal(await fx.store.delete('http://h:80/q'), 1);
  assert.equal(fx.store.peek('http://h:80/q'), undefined);
  assert.equal(fx.store.stats().entries, 0);
});

test('tiered: a memory-only node refuses bodies past memoryMaxObjectSize', async () => {
  const s = createTieredStore(createMemoryStore({ maxBytes: 1 << 20 }), null, { memoryMaxObjectSize: 1000 });
  await assert.rejects(s.put(meta('http://h:80/x'), Buffer.alloc(1001)), (err) => isPeerwebError(err, 'PW_ERR_STORE_TOO_LARGE'));
  const w = s.createWriter(meta('http://h:80/x'));
  w.write(Buffer.alloc(600));
  assert.throws(() => w.write(Buffer.alloc(600)), (err) => isPeerwebError(err, 'PW_ERR_STORE_TOO_LARGE'));
  assert.deepEqual(await s.lookup('http://h:80/x'), []);
  const e = await s.put(meta('http://h:80/y'), Buffer.alloc(1000));
  assert.equal(s.bodyBuffer(e.digest)?.length, 1000);
  assert.throws(() => createTieredStore({} as never, null), (err) => isPeerwebError(err, 'PW_ERR_STORE_INVALID'));
});

test('tiered: writing a new variant keeps the bodies of the other variants in memory', async (t) => {
  const fx = await fixture(t);
  const a = bytes('va', 3000);
  await fx.store.put(meta('http://h:80/v', 'a'), a);
  const s = await fx.reopen();
  await s.lookup('http://h:80/v');
  await bodyOf(s, sha(a));
  assert.deepEqual(s.bodyBuffer(sha(a)), a);
  await s.put(meta('http://h:80/v', 'b'), bytes('vb', 3000));
  assert.deepEqual(s.bodyBuffer(sha(a)), a, 'still held after the key was re-mirrored');
  assert.equal(s.tierStats().memoryBodies, 2);
});
