// One conformance suite for every CacheStore implementation (memory, disk, tiered).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { isPeerwebError } from '../../../src/errors/index.js';
import type { BodyReader, CacheStore, EntryMeta } from '../../../src/storage/index.js';

export interface StoreFixture {
  readonly store: CacheStore;
  /** Closes the store and removes whatever the fixture created. */
  close(): Promise<void>;
}

export type StoreFactory = (opts: { maxBytes: number; maxObjectSize?: number }) => Promise<StoreFixture>;

export const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Deterministic bytes: `size` bytes derived from `seed`. */
export function bytes(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let at = 0; at < size; at += block.length) {
    block.copy(out, at);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

export function meta(key: string, variant = '', data: Record<string, unknown> = { status: 200 }, tags: string[] = []): EntryMeta {
  return { key, variant, data, tags };
}

export async function readAll(r: BodyReader, start?: number, end?: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r.stream(start, end)) parts.push(c);
  return Buffer.concat(parts);
}

export async function bodyOf(store: CacheStore, digest: string): Promise<Buffer | undefined> {
  const r = await store.openBody(digest);
  return r ? readAll(r) : undefined;
}

const KiB = 1024;

export function runStoreConformance(name: string, factory: StoreFactory): void {
  const withStore = (title: string, opts: { maxBytes: number; maxObjectSize?: number }, fn: (s: CacheStore) => Promise<void>): void => {
    test(`${name}: ${title}`, async () => {
      const fx = await factory(opts);
      try {
        await fn(fx.store);
      } finally {
        await fx.close();
      }
    });
  };
  const big = { maxBytes: 64 * 1024 * KiB };

  withStore('put then lookup returns the entry and the verified body', big, async (s) => {
    const body = bytes('a', 5000);
    const e = await s.put(meta('http://h:80/a', '', { status: 200, h: [['x', 'y']] }, ['t1']), body);
    assert.equal(e.digest, sha(body));
    assert.equal(e.size, 5000);
    assert.equal(typeof e.storedAt, 'number');
    const found = await s.lookup('http://h:80/a');
    assert.equal(found.length, 1);
    const [f] = found;
    assert.ok(f);
    assert.equal(f.key, 'http://h:80/a');
    assert.equal(f.variant, '');
    assert.equal(f.digest, sha(body));
    assert.equal(f.size, 5000);
    assert.deepEqual(f.data, { status: 200, h: [['x', 'y']] });
    assert.deepEqual([...f.tags], ['t1']);
    const r = await s.openBody(f.digest);
    assert.ok(r);
    assert.equal(r.size, 5000);
    assert.deepEqual(await readAll(r), body);
    assert.deepEqual(await readAll(r, 10, 19), body.subarray(10, 20));
    assert.deepEqual(await readAll(r, 4999, 4999), body.subarray(4999));
    assert.throws(() => r.stream(0, 5000), (err) => isPeerwebError(err, 'PW_ERR_STORE_INVALID'));
    assert.throws(() => r.stream(5, 4), (err) => isPeerwebError(err, 'PW_ERR_STORE_INVALID'));
  });

  withStore('misses: unknown key, unknown digest, malformed digest', big, async (s) => {
    assert.deepEqual(await s.lookup('http://h:80/none'), []);
    assert.equal(await s.openBody(sha(Buffer.from('nothing'))), undefined);
    assert.equal(await s.openBody('not-a-digest'), undefined);
    assert.equal(await s.openBody(sha(Buffer.from('x')).toUpperCase()), undefined);
  });

  withStore('empty body', big, async (s) => {
    const e = await s.put(meta('http://h:80/empty'), Buffer.alloc(0));
    assert.equal(e.size, 0);
    assert.equal(e.digest, sha(Buffer.alloc(0)));
    const r = await s.openBody(e.digest);
    assert.ok(r);
    assert.equal((await readAll(r)).length, 0);
  });

  withStore('variants: most recently stored first, delete one or all', big, async (s) => {
    const k = 'http://h:80/v';
    await s.put(meta(k, 'gzip'), bytes('g', 100));
    await s.put(meta(k, 'br'), bytes('b', 100));
    await s.put(meta(k, ''), bytes('i', 100));
    assert.deepEqual((await s.lookup(k)).map((e) => e.variant), ['', 'br', 'gzip']);
    await s.put(meta(k, 'gzip'), bytes('g2', 100));
    assert.deepEqual((await s.lookup(k)).map((e) => e.variant), ['gzip', '', 'br']);
    assert.equal(await s.delete(k, 'br'), 1);
    assert.equal(await s.delete(k, 'br'), 0);
    assert.deepEqual((await s.lookup(k)).map((e) => e.variant), ['gzip', '']);
    assert.equal(await s.delete(k), 2);
    assert.deepEqual(await s.lookup(k), []);
    assert.equal(await s.delete(k), 0);
  });

  withStore('replace: the same key and variant keeps one entry, the old body goes', big, async (s) => {
    const k = 'http://h:80/r';
    const one = await s.put(meta(k, '', { v: 1 }), bytes('one', 3000));
    const two = await s.put(meta(k, '', { v: 2 }), bytes('two', 4000));
    const found = await s.lookup(k);
    assert.equal(found.length, 1);
    assert.equal(found[0]?.digest, two.digest);
    assert.deepEqual(found[0]?.data, { v: 2 });
    assert.equal(await s.openBody(one.digest), undefined);
    assert.deepEqual(await bodyOf(s, two.digest), bytes('two', 4000));
    assert.equal(s.stats().entries, 1);
    assert.equal(s.stats().bodies, 1);
  });

  withStore('purgePrefix removes exactly the keys that start with the prefix', big, async (s) => {
    const keys = ['http://a:80/x/1', 'http://a:80/x/2?q=1', 'http://a:80/x', 'http://a:80/y/1', 'http://a:80/x/', 'http://b:80/x/1'];
    for (const k of keys) await s.put(meta(k), bytes(k, 64));
    await s.put(meta('http://a:80/x/1', 'v2'), bytes('v2', 64));
    assert.equal(await s.purgePrefix('http://a:80/x/'), 4);
    for (const k of ['http://a:80/x/1', 'http://a:80/x/2?q=1', 'http://a:80/x/']) assert.deepEqual(await s.lookup(k), [], k);
    for (const k of ['http://a:80/x', 'http://a:80/y/1', 'http://b:80/x/1']) assert.equal((await s.lookup(k)).length, 1, k);
    assert.equal(await s.purgePrefix('http://c:80/'), 0);
    assert.equal(await s.purgePrefix('http://'), 3);
    assert.equal(s.stats().entries, 0);
  });

  withStore('purgeTag removes every entry carrying the tag', big, async (s) => {
    await s.put(meta('http://h:80/1', '', {}, ['news', 'front']), bytes('1', 10));
    await s.put(meta('http://h:80/2', 'a', {}, ['news']), bytes('2', 10));
    await s.put(meta('http://h:80/2', 'b', {}, ['sport']), bytes('3', 10));
    await s.put(meta('http://h:80/3', '', {}, []), bytes('4', 10));
    assert.equal(await s.purgeTag('news'), 2);
    assert.deepEqual(await s.lookup('http://h:80/1'), []);
    assert.deepEqual((await s.lookup('http://h:80/2')).map((e) => e.variant), ['b']);
    assert.equal(await s.purgeTag('news'), 0);
    assert.equal(await s.purgeTag('front'), 0);
    assert.equal(await s.purgeTag('sport'), 1);
    assert.equal((await s.lookup('http://h:80/3')).length, 1);
  });

  withStore('updateData replaces the data and keeps the body', big, async (s) => {
    const k = 'http://h:80/u';
    const e = await s.put(meta(k, 'v', { status: 200, etag: '"1"' }, ['t']), bytes('u', 200));
    assert.equal(await s.updateData(k, 'v', { status: 200, etag: '"1"', date: 5 }), true);
    const [f] = await s.lookup(k);
    assert.deepEqual(f?.data, { status: 200, etag: '"1"', date: 5 });
    assert.equal(f?.digest, e.digest);
    assert.deepEqual([...(f?.tags ?? [])], ['t']);
    assert.deepEqual(await bodyOf(s, e.digest), bytes('u', 200));
    assert.equal(await s.updateData(k, 'other', {}), false);
    assert.equal(await s.updateData('http://h:80/none', '', {}), false);
    assert.equal(await s.purgeTag('t'), 1);
  });

  withStore('eviction: least recently used first, touch counts as use, bytes stay within maxBytes', { maxBytes: 64 * KiB }, async (s) => {
    const b = (n: string) => bytes(n, 16 * KiB);
    await s.put(meta('http://h:80/A'), b('A'));
    await s.put(meta('http://h:80/B'), b('B'));
    await s.put(meta('http://h:80/C'), b('C'));
    s.touch('http://h:80/A', '');
    await s.put(meta('http://h:80/D'), b('D'));
    assert.deepEqual(await s.lookup('http://h:80/B'), [], 'B was least recently used');
    for (const k of ['A', 'C', 'D']) {
      const [e] = await s.lookup(`http://h:80/${k}`);
      assert.ok(e, k);
      assert.deepEqual(await bodyOf(s, e.digest), b(k));
    }
    const st = s.stats();
    assert.ok(st.bytes <= 64 * KiB, `bytes ${st.bytes}`);
    assert.ok(st.evictions >= 1);
    assert.equal(st.entries, 3);
    assert.equal(st.maxBytes, 64 * KiB);
    for (let i = 0; i < 20; i++) await s.put(meta(`http://h:80/n${i}`), b(`n${i}`));
    assert.ok(s.stats().bytes <= 64 * KiB);
    assert.ok(s.stats().entries <= 3);
    assert.equal((await s.lookup('http://h:80/n19')).length, 1);
  });

  withStore('dedup: the same bytes under many keys are stored once and kept while referenced', big, async (s) => {
    const body = bytes('same', 10 * KiB);
    const e1 = await s.put(meta('http://h:80/1'), body);
    const e2 = await s.put(meta('http://h:80/2'), body);
    const e3 = await s.put(meta('http://m:80/3', 'x'), body);
    assert.equal(e1.digest, e2.digest);
    assert.equal(e2.digest, e3.digest);
    assert.equal(s.stats().entries, 3);
    assert.equal(s.stats().bodies, 1);
    assert.ok(s.stats().bytes < 2 * body.length, `bytes ${s.stats().bytes}`);
    await s.delete('http://h:80/1');
    await s.delete('http://h:80/2');
    assert.deepEqual(await bodyOf(s, e1.digest), body);
    await s.delete('http://m:80/3');
    assert.equal(await s.openBody(e1.digest), undefined);
    assert.equal(s.stats().bodies, 0);
    assert.equal(s.stats().entries, 0);
    assert.equal(s.stats().bytes, 0);
  });

  withStore('writer: streamed chunks are stored on commit only', big, async (s) => {
    const k = 'http://h:80/w';
    const body = bytes('w', 700 * KiB);
    const w = s.createWriter(meta(k));
    for (let at = 0; at < body.length; at += 10_000) {
      await w.write(body.subarray(at, at + 10_000));
      assert.deepEqual(await s.lookup(k), [], 'not visible before commit');
    }
    assert.equal(w.bytesWritten, body.length);
    const e = await w.commit();
    assert.equal(e.digest, sha(body));
    assert.equal(e.size, body.length);
    assert.deepEqual(await bodyOf(s, e.digest), body);
    const r = await s.openBody(e.digest);
    assert.ok(r);
    assert.deepEqual(await readAll(r, 300_000, 600_000), body.subarray(300_000, 600_001));
    assert.throws(() => w.write(Buffer.from('more')), (err) => isPeerwebError(err, 'PW_ERR_STORE_INVALID'));
    await assert.rejects(async () => w.commit(), (err) => isPeerwebError(err, 'PW_ERR_STORE_INVALID'));
  });

  withStore('writer: abort drops what was written', big, async (s) => {
    const k = 'http://h:80/ab';
    const w = s.createWriter(meta(k));
    await w.write(bytes('x', 300 * KiB));
    await w.write(bytes('y', 300 * KiB));
    await w.abort();
    assert.deepEqual(await s.lookup(k), []);
    assert.equal(s.stats().entries, 0);
    assert.equal(s.stats().bytes, 0);
    assert.equal(await s.openBody(sha(Buffer.concat([bytes('x', 300 * KiB), bytes('y', 300 * KiB)]))), undefined);
  });

  withStore('writer: expected digest and size are checked at commit', big, async (s) => {
    const k = 'http://h:80/exp';
    const body = bytes('e', 2000);
    const bad = s.createWriter(meta(k), { expectedDigest: sha(Buffer.from('other')) });
    await bad.write(body);
    await assert.rejects(bad.commit(), (err) => isPeerwebError(err, 'PW_ERR_STORE_MISMATCH') && /digest/.test((err as Error).message));
    assert.deepEqual(await s.lookup(k), []);
    assert.equal(await s.openBody(sha(body)), undefined);

    const short = s.createWriter(meta(k), { expectedSize: 2001 });
    await short.write(body);
    await assert.rejects(short.commit(), (err) => isPeerwebError(err, 'PW_ERR_STORE_MISMATCH'));
    const long = s.createWriter(meta(k), { expectedSize: 1999 });
    assert.throws(() => long.write(body), (err) => isPeerwebError(err, 'PW_ERR_STORE_MISMATCH'));
    assert.deepEqual(await s.lookup(k), []);

    const good = s.createWriter(meta(k), { expectedDigest: sha(body), expectedSize: 2000 });
    await good.write(body.subarray(0, 1000));
    await good.write(body.subarray(1000));
    assert.equal((await good.commit()).digest, sha(body));
    assert.equal(s.stats().entries, 1);
    assert.throws(() => s.createWriter(meta(k), { expectedDigest: 'ABC' }), (err) => isPeerwebError(err, 'PW_ERR_STORE_INVALID'));
  });

  withStore('maxObjectSize: larger bodies are refused', { maxBytes: 4 * 1024 * KiB, maxObjectSize: 100 * KiB }, async (s) => {
    await assert.rejects(s.put(meta('http://h:80/big'), bytes('big', 100 * KiB + 1)), (err) => isPeerwebError(err, 'PW_ERR_STORE_TOO_LARGE'));
    assert.throws(() => s.createWriter(meta('http://h:80/big'), { expectedSize: 200 * KiB }), (err) => isPeerwebError(err, 'PW_ERR_STORE_TOO_LARGE'));
    const w = s.createWriter(meta('http://h:80/big'));
    await w.write(bytes('p', 60 * KiB));
    assert.throws(() => w.write(bytes('q', 60 * KiB)), (err) => isPeerwebError(err, 'PW_ERR_STORE_TOO_LARGE'));
    await w.abort();
    assert.deepEqual(await s.lookup('http://h:80/big'), []);
    const ok = await s.put(meta('http://h:80/ok'), bytes('ok', 100 * KiB));
    assert.equal(ok.size, 100 * KiB);
    assert.equal(s.stats().entries, 1);
  });

  withStore('concurrent writers of the same key: the last commit wins, its body is served', big, async (s) => {
    const k = 'http://h:80/c';
    const a = bytes('A', 400 * KiB);
    const b = bytes('B', 300 * KiB);
    const wa = s.createWriter(meta(k, '', { w: 'a' }));
    const wb = s.createWriter(meta(k, '', { w: 'b' }));
    for (let at = 0; at < a.length; at += 50 * KiB) {
      await Promise.all([wa.write(a.subarray(at, at + 50 * KiB)), at < b.length ? wb.write(b.subarray(at, at + 50 * KiB)) : undefined]);
    }
    const eb = await wb.commit();
    const ea = await wa.commit();
    const found = await s.lookup(k);
    assert.equal(found.length, 1);
    assert.equal(found[0]?.digest, ea.digest);
    assert.deepEqual(found[0]?.data, { w: 'a' });
    assert.deepEqual(await bodyOf(s, ea.digest), a);
    assert.equal(await s.openBody(eb.digest), undefined);
    // Same bytes committed at once under two keys.
    const same = bytes('S', 200 * KiB);
    const w1 = s.createWriter(meta('http://h:80/s1'));
    const w2 = s.createWriter(meta('http://h:80/s2'));
    await Promise.all([w1.write(same), w2.write(same)]);
    const [e1, e2] = await Promise.all([w1.commit(), w2.commit()]);
    assert.equal(e1.digest, e2.digest);
    assert.deepEqual(await bodyOf(s, e1.digest), same);
    assert.equal(s.stats().bodies, 2);
    assert.equal(s.stats().entries, 3);
  });

  withStore('stats count entries, bodies and bytes', big, async (s) => {
    assert.deepEqual({ ...s.stats(), maxBytes: 0 }, { entries: 0, bodies: 0, bytes: 0, maxBytes: 0, evictions: 0, corruptDropped: 0 });
    await s.put(meta('http://h:80/1'), bytes('1', 1000));
    await s.put(meta('http://h:80/1', 'b'), bytes('2', 2000));
    await s.put(meta('http://h:80/2'), bytes('2', 2000));
    const st = s.stats();
    assert.equal(st.entries, 3);
    assert.equal(st.bodies, 2);
    assert.ok(st.bytes >= 3000 && st.bytes < 3000 + 3 * 2048, `bytes ${st.bytes}`);
    assert.equal(st.maxBytes, big.maxBytes);
  });

  withStore('malformed input is refused with PW_ERR_STORE_INVALID', big, async (s) => {
    const invalid = (err: unknown) => isPeerwebError(err, 'PW_ERR_STORE_INVALID');
    await assert.rejects(s.put(meta(''), Buffer.from('x')), invalid);
    await assert.rejects(s.put({ key: 'http://h:80/', variant: '', data: [] as unknown as Record<string, unknown>, tags: [] }, Buffer.from('x')), invalid);
    await assert.rejects(s.put({ key: 'http://h:80/', variant: '', data: {}, tags: 'x' as unknown as string[] }, Buffer.from('x')), invalid);
    await assert.rejects(s.put({ key: 'http://h:80/', variant: '', data: {}, tags: [''] }, Buffer.from('x')), invalid);
    await assert.rejects(s.put({ key: 'http://h:80/', variant: 3 as unknown as string, data: {}, tags: [] }, Buffer.from('x')), invalid);
    await assert.rejects(s.put(meta('http://h:80/'), 'text' as unknown as Buffer), invalid);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await assert.rejects(s.put(meta('http://h:80/', '', cyclic), Buffer.from('x')), invalid);
    await assert.rejects(s.lookup('x'.repeat(70_000)), invalid);
    assert.equal(s.stats().entries, 0);
  });

  withStore('returned data is a frozen copy', big, async (s) => {
    const data: Record<string, unknown> = { h: ['a'] };
    await s.put(meta('http://h:80/f', '', data), Buffer.from('x'));
    (data.h as string[]).push('b');
    const [e] = await s.lookup('http://h:80/f');
    assert.deepEqual(e?.data, { h: ['a'] });
    assert.ok(Object.isFrozen(e?.data));
  });

  test(`${name}: a closed store refuses calls`, async () => {
    const fx = await factory(big);
    await fx.store.put(meta('http://h:80/x'), Buffer.from('x'));
    await fx.close();
    await assert.rejects(fx.store.lookup('http://h:80/x'), (err) => isPeerwebError(err, 'PW_ERR_STORE_CLOSED'));
    await assert.rejects(fx.store.put(meta('http://h:80/y'), Buffer.from('y')), (err) => isPeerwebError(err, 'PW_ERR_STORE_CLOSED'));
  });
}
