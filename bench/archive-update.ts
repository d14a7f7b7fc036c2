// Incremental update: a holder of version N gets N+1 with 1 % of its entries changed.
// Target: transferred bytes ≤ 1.1 × the changed bytes. Run: npx tsx bench/archive-update.ts
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildArchive, bufferSource, openArchive, updateArchive, type RangeSource, type UpdateResult } from '../src/archive/index.js';
import { generatePublisherKey } from '../src/integrity/keys.js';
import { benchSection } from './report.js';

const key = generatePublisherKey();
const trust = { keysFor: async () => [key] };
const rows: string[] = [];
function row(label: string, changed: string, r: UpdateResult, stats: { reads: number; bytes: number }): string {
  const ratio = stats.bytes / r.plan.changedBytes;
  return `| ${label} | ${changed} | ${(r.plan.changedBytes / 1024).toFixed(0)} KiB | ${(stats.bytes / 1024).toFixed(1)} KiB in ${stats.reads} reads | ${r.shards.fetched} of ${r.shards.total} | ${((stats.bytes - r.plan.changedBytes) / 1024).toFixed(1)} KiB | ${ratio.toFixed(3)} × | ${ratio <= 1.1 ? 'met' : 'not met'} |`;
}

/** Updates an archive held as `v1` to the published `v2` by ranged reads, counting the reads and their bytes. */
async function update(v1: Buffer, v2: Buffer) {
  const old = await openArchive({ bytes: v1 }, trust);
  const stats = { reads: 0, bytes: 0 };
  const inner = bufferSource(v2);
  const src: RangeSource = { size: v2.length, read: async (s, e) => { stats.reads++; stats.bytes += e - s; return inner.read(s, e); } };
  try {
    return { r: await updateArchive(old, src, trust), stats };
  } finally {
    await old.close();
  }
}

for (const [files, size] of [[1000, 100 * 1024], [200, 512 * 1024]] as const) {
  const dir = mkdtempSync(join(tmpdir(), 'pw-bench-update-'));
  for (let i = 0; i < files; i++) writeFileSync(join(dir, `f${i}.bin`), randomBytes(size));
  const base = { dir, origin: 'https://www.example.com', prefix: '/', notBefore: Date.now() - 1000, validFor: 86_400_000, key };
  const v1 = buildArchive({ ...base, version: 1 });
  const changedCount = Math.max(1, Math.round(files / 100));
  for (let i = 0; i < changedCount; i++) writeFileSync(join(dir, `f${Math.floor((i * files) / changedCount)}.bin`), randomBytes(size));
  const v2 = buildArchive({ ...base, version: 2 });
  rmSync(dir, { recursive: true, force: true });
  const { r, stats } = await update(v1, v2);
  if (!r.bytes.equals(v2)) throw new Error('rebuilt archive differs from the published one');
  rows.push(row(`${files} × ${size / 1024} KiB (${(v2.length / 1024 ** 2).toFixed(0)} MiB)`, `${r.plan.changed.length} of ${files}`, r, stats));
}
// Content-defined chunks: one 64 MiB entry with 10 scattered one-byte edits.
{
  const dir = mkdtempSync(join(tmpdir(), 'pw-bench-update-'));
  const big = randomBytes(64 * 1024 * 1024);
  writeFileSync(join(dir, 'big.bin'), big);
  const base = { dir, origin: 'https://www.example.com', prefix: '/', notBefore: Date.now() - 1000, validFor: 86_400_000, key };
  const v1 = buildArchive({ ...base, version: 1 });
  for (let i = 0; i < 10; i++) { const at = Math.floor(((i + 0.5) * big.length) / 10); big[at] = big[at]! ^ 0xff; }
  writeFileSync(join(dir, 'big.bin'), big);
  const v2 = buildArchive({ ...base, version: 2 });
  rmSync(dir, { recursive: true, force: true });
  const { r, stats } = await update(v1, v2);
  const n = r.plan.chunked['big.bin']?.length ?? 0;
  const check = await openArchive({ bytes: r.bytes }, trust);
  const total = (await check.file('big.bin'))!.chunks!.length;
  await check.close();
  if (!r.bytes.equals(v2)) throw new Error('rebuilt archive differs from the published one');
  rows.push(row('1 × 64 MiB, 10 one-byte edits (chunked)', `${n} of ${total} chunks`, r, stats));
}
const table = `| archive | changed | changed bytes | transferred | index shards fetched | overhead: bytes beyond the changed ones | ratio | target |\n|---|---|---|---|---|---|---|---|\n${rows.join('\n')}`;
console.log(table);
benchSection('archive-update', {
  title: 'Incremental archive update',
  command: 'npx tsx bench/archive-update.ts',
  what: 'A node holding version N fetches N+1 by range: the tail (signed manifest), the index shards whose hash changed, then changed entries only (large entries by content-defined chunks), close ranges in one request; the rebuilt copy is checked to equal the published archive byte for byte.',
  target: 'transferred bytes ≤ 1.1× the changed bytes with 1 % of entries changed.',
  table,
});
