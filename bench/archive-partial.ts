// Partial retrieval of one entry from a ~100 MB site archive over HTTP Range.
// Target: at most 3 ranged requests and at most 1 % of the archive's bytes.
// Run: npx tsx bench/archive-partial.ts   (prints a Markdown table)
import { randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildArchive, httpRangeSource, openArchive } from '../src/archive/index.js';
import { generatePublisherKey } from '../src/integrity/keys.js';
import { benchSection } from './report.js';
import { rangeHolder } from '../test/helpers/range-holder.js';

const key = generatePublisherKey();
const rows: string[] = [];
for (const [files, size] of [[100, 1024 * 1024], [1000, 100 * 1024], [10000, 10 * 1024], [90000, 1152]] as const) {
  const dir = mkdtempSync(join(tmpdir(), 'pw-bench-archive-'));
  mkdirSync(join(dir, 'f'));
  for (let i = 0; i < files; i++) writeFileSync(join(dir, 'f', `${i}.bin`), randomBytes(size));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>bench</title>');
  const t0 = performance.now();
  const bytes = buildArchive({ dir, origin: 'https://www.example.com', prefix: '/', notBefore: Date.now() - 1000, validFor: 86_400_000, key });
  const buildMs = performance.now() - t0;
  rmSync(dir, { recursive: true, force: true });
  const h = await rangeHolder(bytes);
  const stats = h.stats;
  const url = h.url;
  const t1 = performance.now();
  const site = await openArchive(await httpRangeSource(url), { keysFor: async () => [key] });
  const res = await site.handle({ method: 'GET', url: `https://www.example.com/f/${Math.floor(files / 2)}.bin`, headers: [] });
  const ms = performance.now() - t1;
  if (res?.status !== 200 || res.body.length !== size) throw new Error('entry not served');
  const entry = (await site.file(`f/${Math.floor(files / 2)}.bin`))!.csize; // already read: no request
  await site.close();
  await h.close();
  const share = (100 * stats.bytes) / bytes.length;
  const met = stats.requests <= 3 && stats.bytes <= 0.01 * bytes.length;
  const overhead = stats.bytes - entry;
  rows.push(`| ${files} × ${+(size / 1024).toFixed(3)} KiB | ${(bytes.length / 1024 ** 2).toFixed(1)} MiB | ${site.manifest.index.length} | ${stats.requests} | ${(stats.bytes / 1024).toFixed(1)} KiB | ${(entry / 1024).toFixed(1)} KiB | ${(overhead / 1024).toFixed(1)} KiB (${((100 * overhead) / bytes.length).toFixed(3)} %) | ${share.toFixed(3)} % | ${met ? 'met' : `not met${stats.requests <= 3 && entry > 0.01 * bytes.length - 1024 ? ' (the entry alone is ' + ((100 * entry) / bytes.length).toFixed(3) + ' %)' : ''}`} | ${ms.toFixed(1)} ms | ${(buildMs / 1000).toFixed(1)} s |`);
}
const table = `| archive | size | index shards | ranged requests | bytes fetched | the entry (stored) | overhead: bytes beyond the entry | share of the archive | target | open + verify + serve one entry | build |\n|---|---|---|---|---|---|---|---|---|---|---|\n${rows.join('\n')}`;
console.log(table);
benchSection('archive-partial', {
  title: 'Partial retrieval of one entry from a ~100 MB archive',
  command: 'npx tsx bench/archive-partial.ts',
  what: 'A holder serving the archive by Range on loopback; a reader verifies the signed manifest (first request: the archive tail), reads the index shard of the entry (second) and the entry (third). Overhead is everything fetched beyond the entry\'s stored bytes. Timings are from a shared 2-core machine and noisy.',
  target: '≤ 3 ranged requests and ≤ 1 % of the archive\'s bytes.',
  table,
});
