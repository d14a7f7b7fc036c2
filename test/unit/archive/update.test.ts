import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildArchive, bufferSource, openArchive, updateArchive, type KeyResolver, type RangeSource } from '../../../src/archive/index.js';
import { generatePublisherKey } from '../../../src/integrity/keys.js';
import { isPeerwebError } from '../../../src/errors/index.js';

const key = generatePublisherKey();
const trust: KeyResolver = { keysFor: async () => [key] };
const T0 = Date.parse('2026-01-01T00:00:00Z');

function counting(buf: Buffer): { src: RangeSource; stats: { reads: number; bytes: number } } {
  const stats = { reads: 0, bytes: 0 };
  const inner = bufferSource(buf);
  return { stats, src: { size: buf.length, read: async (s, e) => { stats.reads++; stats.bytes += e - s; return inner.read(s, e); } } };
}

test('an update fetches only the entries whose hash changed and yields a valid archive of the new version', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-update-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (let i = 0; i < 100; i++) writeFileSync(join(dir, `f${i}.bin`), randomBytes(20_000));
  const v1 = buildArchive({ dir, origin: 'https://www.example.com', prefix: '/', notBefore: T0, validFor: 30 * 86_400_000, version: 1, key });
  writeFileSync(join(dir, 'f42.bin'), randomBytes(20_000));
  const v2 = buildArchive({ dir, origin: 'https://www.example.com', prefix: '/', notBefore: T0, validFor: 30 * 86_400_000, version: 2, key });
  const old = await openArchive({ bytes: v1 }, trust, { now: () => T0 + 1000 });
  t.after(() => old.close());
  const { src, stats } = counting(v2);
  const r = await updateArchive(old, src, trust, { now: T0 + 1000 });
  assert.deepEqual(r.plan.changed, ['f42.bin']);
  assert.equal(r.plan.reused.length, 99);
  // Only the shard listing f42.bin changed; it and the file are fetched, nothing else.
  assert.ok(r.shards.total > 1, `${r.shards.total} shards`);
  assert.equal(r.shards.fetched, 1);
  assert.ok(stats.reads <= 3, `${stats.reads} reads`);
  // Transferred: the tail (manifest), one shard and the one changed entry.
  assert.ok(stats.bytes < 20_000 + 8192 + 8192, `${stats.bytes} bytes`);
  // The rebuilt copy is the signed archive, byte for byte.
  assert.ok(r.bytes.equals(v2), 'rebuilt archive equals the published one');
  const next = await openArchive({ bytes: r.bytes }, trust, { now: () => T0 + 1000 });
  t.after(() => next.close());
  assert.equal(next.manifest.version, 2);
  for (const name of (await next.files()).keys()) assert.ok(await next.readFile(name));
  // Going back is refused.
  await assert.rejects(updateArchive(next, bufferSource(v1), trust, { now: T0 + 1000 }), (e) => isPeerwebError(e, 'PW_ERR_ARCHIVE_REPLAYED'));
});

test('a large entry with scattered edits is updated by its changed chunks only', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-update-cdc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const big = randomBytes(8 * 1024 * 1024);
  writeFileSync(join(dir, 'big.bin'), big);
  writeFileSync(join(dir, 'index.html'), 'hi');
  const base = { dir, origin: 'https://www.example.com', prefix: '/', notBefore: T0, validFor: 30 * 86_400_000, key };
  const v1 = buildArchive({ ...base, version: 1 });
  // Three scattered edits: one byte changed, 100 bytes inserted, 50 bytes deleted.
  const edited = Buffer.concat([big.subarray(0, 1_000_000), Buffer.from([big[1_000_000]! ^ 1]), big.subarray(1_000_001, 4_000_000), randomBytes(100), big.subarray(4_000_000, 7_000_000), big.subarray(7_000_050)]);
  writeFileSync(join(dir, 'big.bin'), edited);
  const v2 = buildArchive({ ...base, version: 2 });
  const old = await openArchive({ bytes: v1 }, trust, { now: () => T0 + 1000 });
  t.after(() => old.close());
  assert.ok((await old.file('big.bin'))!.chunks!.length > 30);
  const { src, stats } = counting(v2);
  const r = await updateArchive(old, src, trust, { now: T0 + 1000 });
  const missing = r.plan.chunked['big.bin']!;
  assert.ok(missing.length >= 3 && missing.length <= 9, `${missing.length} chunks fetched`);
  assert.ok(r.plan.changedBytes < 9 * 256 * 1024);
  assert.ok(stats.bytes < r.plan.changedBytes * 1.1, `${stats.bytes} bytes for ${r.plan.changedBytes} changed`);
  assert.ok(r.bytes.equals(v2), 'rebuilt archive equals the published one');
  const next = await openArchive({ bytes: r.bytes }, trust, { now: () => T0 + 1000 });
  t.after(() => next.close());
  assert.ok((await next.readFile('big.bin'))!.equals(edited));
});

test('a fetched chunk whose bytes differ from its signed hash fails the update', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-update-bad-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const big = randomBytes(2 * 1024 * 1024);
  writeFileSync(join(dir, 'big.bin'), big);
  const base = { dir, origin: 'https://www.example.com', prefix: '/', notBefore: T0, validFor: 30 * 86_400_000, key };
  const v1 = buildArchive({ ...base, version: 1 });
  big[1_500_000] = big[1_500_000]! ^ 0xff;
  writeFileSync(join(dir, 'big.bin'), big);
  const v2 = Buffer.from(buildArchive({ ...base, version: 2 }));
  // The holder serving v2 flips a byte of the edited region (the stored entry starts near the beginning).
  const at = v2.indexOf(big.subarray(1_500_000 - 8, 1_500_000 + 8));
  assert.ok(at > 0);
  v2[at + 20] = v2[at + 20]! ^ 0x01;
  const old = await openArchive({ bytes: v1 }, trust, { now: () => T0 + 1000 });
  t.after(() => old.close());
  await assert.rejects(updateArchive(old, bufferSource(v2), trust, { now: T0 + 1000 }), (e) => isPeerwebError(e, 'PW_ERR_ARCHIVE_HASH_MISMATCH'));
});

test('a renamed file is reused, files of other sizes move, and the new layout is rebuilt exactly', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-update-move-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (let i = 0; i < 400; i++) writeFileSync(join(dir, `p${String(i).padStart(3, '0')}.html`), `<p>page ${i}</p>`.repeat(50 + (i % 7)));
  const base = { dir, origin: 'https://www.example.com', prefix: '/', notBefore: T0, validFor: 30 * 86_400_000, key };
  const v1 = buildArchive({ ...base, version: 1 });
  // p010 grows (everything after it moves), p200 is renamed, p300 is deleted.
  writeFileSync(join(dir, 'p010.html'), '<p>page 10, much longer now</p>'.repeat(400));
  writeFileSync(join(dir, 'q200.html'), `<p>page 200</p>`.repeat(50 + (200 % 7)));
  rmSync(join(dir, 'p200.html'));
  rmSync(join(dir, 'p300.html'));
  const v2 = buildArchive({ ...base, version: 2 });
  const old = await openArchive({ bytes: v1 }, trust, { now: () => T0 + 1000 });
  t.after(() => old.close());
  const { src, stats } = counting(v2);
  const r = await updateArchive(old, src, trust, { now: T0 + 1000 });
  assert.deepEqual(r.plan.changed, ['p010.html']);
  assert.ok(r.plan.reused.includes('q200.html'));
  assert.ok(r.shards.fetched < r.shards.total, `${r.shards.fetched} of ${r.shards.total} shards fetched`);
  assert.ok(r.bytes.equals(v2));
  // Transferred: the tail, the shards whose hash changed, and p010.html; nothing else.
  const oldShards = new Set(old.manifest.index.map((x) => x.sha256));
  const shardBytes = r.manifest.index.filter((x) => !oldShards.has(x.sha256)).reduce((n, x) => n + x.csize, 0);
  const p010 = (await openArchive({ bytes: v2 }, trust, { now: () => T0 + 1000 }).then(async (s) => { const f = await s.file('p010.html'); await s.close(); return f!; }));
  assert.ok(stats.bytes <= 8192 + shardBytes + p010.csize + 1024 * r.shards.fetched, `${stats.bytes} bytes; shards ${shardBytes}, file ${p010.csize}`);
});

test('an update whose holder serves a forged shard fails', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-update-shard-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (let i = 0; i < 50; i++) writeFileSync(join(dir, `f${i}.bin`), randomBytes(2000));
  const base = { dir, origin: 'https://www.example.com', prefix: '/', notBefore: T0, validFor: 30 * 86_400_000, key };
  const v1 = buildArchive({ ...base, version: 1 });
  writeFileSync(join(dir, 'f7.bin'), randomBytes(2000));
  const v2 = Buffer.from(buildArchive({ ...base, version: 2 }));
  const old = await openArchive({ bytes: v1 }, trust, { now: () => T0 + 1000 });
  t.after(() => old.close());
  const probe = await openArchive({ bytes: v2 }, trust, { now: () => T0 + 1000 });
  const ref = probe.manifest.index[0]!;
  await probe.close();
  v2[ref.offset + 5] = v2[ref.offset + 5]! ^ 0x01;
  await assert.rejects(updateArchive(old, bufferSource(v2), trust, { now: T0 + 1000 }), (e) => isPeerwebError(e, 'PW_ERR_ARCHIVE_HASH_MISMATCH') || isPeerwebError(e, 'PW_ERR_ARCHIVE_FORMAT'));
});
