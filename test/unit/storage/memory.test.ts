import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryStore } from '../../../src/storage/index.js';
import { isPeerwebError } from '../../../src/errors/index.js';
import { bytes, meta, runStoreConformance, sha } from './store-conformance.js';

runStoreConformance('memory', async (opts) => {
  const store = createMemoryStore(opts);
  return { store, close: () => store.close() };
});

test('memory: peek and bodyBuffer serve a hit without a Promise', async () => {
  const s = createMemoryStore({ maxBytes: 1 << 20 });
  const body = bytes('p', 1000);
  await s.put(meta('http://h:80/p', 'gz'), body);
  await s.put(meta('http://h:80/p', ''), bytes('q', 10));
  const seen = s.peek('http://h:80/p');
  assert.ok(seen);
  assert.deepEqual(seen.map((e) => e.variant), ['', 'gz']);
  assert.equal(s.peek('http://h:80/p'), seen, 'the same frozen array each time');
  assert.ok(Object.isFrozen(seen));
  assert.deepEqual(s.bodyBuffer(sha(body)), body);
  assert.equal(s.peek('http://h:80/none'), undefined);
  assert.equal(s.bodyBuffer(sha(Buffer.from('none'))), undefined);
});

test('memory: the stored body is a private copy of the bytes written', async () => {
  const s = createMemoryStore({ maxBytes: 1 << 20 });
  const chunk = Buffer.from('hello world');
  const w = s.createWriter(meta('http://h:80/c'));
  w.write(chunk);
  chunk.fill(0);
  const e = await w.commit();
  assert.equal(e.digest, sha(Buffer.from('hello world')));
  assert.deepEqual(s.bodyBuffer(e.digest), Buffer.from('hello world'));
  const src = Buffer.from('put body');
  const e2 = await s.put(meta('http://h:80/d'), src);
  src.fill(1);
  assert.deepEqual(s.bodyBuffer(e2.digest), Buffer.from('put body'));
});

test('memory: byte accounting includes per-entry overhead and returns to zero', async () => {
  const s = createMemoryStore({ maxBytes: 1 << 20 });
  await s.put(meta('http://h:80/o', '', { big: 'x'.repeat(1000) }), Buffer.alloc(0));
  assert.ok(s.stats().bytes > 2000, `metadata counted: ${s.stats().bytes}`);
  await s.updateData('http://h:80/o', '', { small: 1 });
  assert.ok(s.stats().bytes < 1000, `after updateData: ${s.stats().bytes}`);
  await s.delete('http://h:80/o');
  assert.equal(s.stats().bytes, 0);
});

test('memory: a key keeps at most 32 variants, dropping the least recently stored', async () => {
  const s = createMemoryStore({ maxBytes: 1 << 22 });
  for (let i = 0; i < 40; i++) await s.put(meta('http://h:80/many', `v${i}`), Buffer.from(`b${i}`));
  const all = await s.lookup('http://h:80/many');
  assert.equal(all.length, 32);
  assert.equal(all[0]?.variant, 'v39');
  assert.equal(all[31]?.variant, 'v8');
  assert.equal(s.stats().entries, 32);
  assert.equal(s.stats().bodies, 32);
});

test('memory: an object larger than the store is refused', async () => {
  const s = createMemoryStore({ maxBytes: 1000, maxObjectSize: 5000 });
  assert.equal(s.maxObjectSize, 1000);
  await assert.rejects(s.put(meta('http://h:80/x'), Buffer.alloc(1001)), (err) => isPeerwebError(err, 'PW_ERR_STORE_TOO_LARGE'));
  assert.throws(() => createMemoryStore({ maxBytes: -1 }), (err) => isPeerwebError(err, 'PW_ERR_STORE_INVALID'));
});

test('memory: counters stay exact through random operations and return to zero', async () => {
  const s = createMemoryStore({ maxBytes: 200 * 1024 });
  let x = 12345;
  const rnd = (n: number) => { x = (x * 1103515245 + 12345) & 0x7fffffff; return (x >>> 8) % n; };
  for (let i = 0; i < 3000; i++) {
    const key = `http://h:80/${rnd(50)}`;
    const variant = ['', 'a', 'b'][rnd(3)] as string;
    const op = rnd(100);
    if (op < 75) await s.put(meta(key, variant, { i }, [`t${rnd(4)}`]), bytes(`b${rnd(200)}`, rnd(8000)));
    else if (op < 82) await s.delete(key, rnd(2) ? variant : undefined);
    else if (op < 90) await s.updateData(key, variant, { i, more: 'x'.repeat(rnd(500)) });
    else if (op === 90) await s.purgeTag(`t${rnd(4)}`);
    else s.touch(key, variant);
    assert.ok(s.stats().bytes <= 200 * 1024);
  }
  assert.ok(s.stats().evictions > 0);
  await s.purgePrefix('');
  assert.deepEqual({ ...s.stats(), evictions: 0 }, { entries: 0, bodies: 0, bytes: 0, maxBytes: 200 * 1024, evictions: 0, corruptDropped: 0 });
});
