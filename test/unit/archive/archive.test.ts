import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ZipReader as ZipJsReader, Uint8ArrayReader, Uint8ArrayWriter } from '@zip.js/zip.js';
import { ARCHIVE_TAIL_READ, buildArchive, decodeTail, openArchive, packArchive, signArchive, ZipReader, bufferSource, MANIFEST_NAME, SIGNATURE_NAME, type KeyResolver } from '../../../src/archive/index.js';
import { generatePublisherKey, type PublisherKey } from '../../../src/integrity/keys.js';
import { isPeerwebError } from '../../../src/errors/index.js';

const SITE = fileURLToPath(new URL('../../fixtures/archive/site/', import.meta.url));
const T0 = Date.parse('2026-01-01T00:00:00Z');
const DAY = 86_400_000;

function trustOf(host: string, ...keys: PublisherKey[]): KeyResolver {
  return { keysFor: async (h) => (h === host ? keys : []) };
}

function build(key: PublisherKey | undefined, extra: Partial<Parameters<typeof buildArchive>[0]> = {}): Buffer {
  return buildArchive({
    dir: SITE, origin: 'https://www.example.com', prefix: '/', notBefore: T0, validFor: 7 * DAY, staleIfUnverified: 86400,
    routes: [{ pattern: '/search', handler: 'handlers/search.js' }], ...(key ? { key } : {}), ...extra,
  });
}

test('the same folder, options and key give the same bytes', () => {
  const key = generatePublisherKey();
  assert.ok(build(key).equals(build(key)));
  assert.ok(!build(key).equals(build(key, { notBefore: T0 + 1000 })));
});

test('a built archive verifies, serves static files and runs its search handler', async (t) => {
  const key = generatePublisherKey();
  const site = await openArchive({ bytes: build(key) }, trustOf('www.example.com', key), { now: () => T0 + DAY });
  t.after(() => site.close());
  assert.equal(site.origin, 'https://www.example.com');
  assert.equal(site.keyId, key.keyId);
  const home = await site.handle({ method: 'GET', url: 'https://www.example.com/', headers: [] });
  assert.equal(home?.status, 200);
  assert.match(home!.body.toString(), /<form action="search">/);
  assert.deepEqual(home!.headers.find(([k]) => k === 'content-type'), ['content-type', 'text/html; charset=utf-8']);
  const etag = home!.headers.find(([k]) => k === 'etag')![1];
  const again = await site.handle({ method: 'GET', url: '/', headers: [['if-none-match', etag]] });
  assert.equal(again?.status, 304);
  const search = await site.handle({ method: 'GET', url: 'https://www.example.com/search?q=guide', headers: [] });
  assert.equal(search?.status, 200, search?.body.toString());
  assert.match(search!.body.toString(), /Results for guide.*Caching guide/);
  assert.doesNotMatch(search!.body.toString(), /Getting started/);
  // The handler's clock is the request time the host passed, nothing else.
  assert.match(search!.body.toString(), /at 2026-01-02T00:00:00\.000Z/);
  assert.equal(await site.handle({ method: 'GET', url: 'https://www.example.com/missing', headers: [] }), undefined);
  assert.equal(await site.handle({ method: 'GET', url: 'https://other.example/', headers: [] }), undefined);
  assert.equal(await site.handle({ method: 'GET', url: 'https://www.example.com/%2e%2e/etc/passwd', headers: [] }), undefined);
  assert.equal((await site.handle({ method: 'POST', url: 'https://www.example.com/index.html', headers: [] }))?.status, 405);
});

test('an unsigned archive is refused; signing it later makes it valid', async () => {
  const key = generatePublisherKey();
  const unsigned = build(undefined);
  await assert.rejects(openArchive({ bytes: unsigned }, trustOf('www.example.com', key), { now: () => T0 + DAY }), (e) => isPeerwebError(e, 'PW_ERR_ARCHIVE_UNSIGNED'));
  const signed = await signArchive(unsigned, key);
  assert.ok(signed.equals(build(key)), 'signing later gives the same bytes as building signed');
  const site = await openArchive({ bytes: signed }, trustOf('www.example.com', key), { now: () => T0 + DAY });
  await site.close();
});

test('the archive tail holds the signed manifest: one read opens it, one more per shard and per file', async () => {
  const key = generatePublisherKey();
  const bytes = build(key);
  const reads: [number, number][] = [];
  const inner = bufferSource(bytes);
  const src = { size: bytes.length, read: (s: number, e: number) => { reads.push([s, e]); return inner.read(s, e); } };
  const site = await openArchive({ url: 'x', size: src.size, fetchRange: (s, l) => src.read(s, l + 1) }, trustOf('www.example.com', key), { now: () => T0 + DAY });
  assert.equal(reads.length, 1);
  assert.equal(reads[0]![1] - reads[0]![0], Math.min(bytes.length, ARCHIVE_TAIL_READ));
  assert.ok(await site.readFile('index.html'));
  assert.ok(site.reads <= 3, `${site.reads} reads`);
  await site.close();
  // The zip end record's comment carries the manifest block; the manifest entry holds the same bytes.
  const zip = await ZipReader.open(bufferSource(bytes), 'x');
  const { manifest } = decodeTail(zip.comment, 'x');
  assert.ok(manifest.equals(await zip.read(MANIFEST_NAME)));
});

test('an independent zip library reads every entry and the comment', async () => {
  const bytes = build(generatePublisherKey());
  const reader = new ZipJsReader(new Uint8ArrayReader(bytes));
  const entries = await reader.getEntries();
  const names = entries.map((e) => e.filename);
  assert.deepEqual(names.slice(-3), ['peerweb/index/00000.json', MANIFEST_NAME, SIGNATURE_NAME]);
  for (const e of entries) assert.equal(e.directory, false, e.filename);
  const page = entries.find((e) => e.filename === 'index.html');
  assert.ok(page && !page.directory);
  const data = await page.getData(new Uint8ArrayWriter(), { checkSignature: true });
  assert.match(Buffer.from(data).toString(), /<form action="search">/);
  assert.match(Buffer.from(reader.comment).toString(), /^peerweb-archive\/2 \d+ \d+\n\{"format":"peerweb-archive\/2"/);
  await reader.close();
});

test('standard zip tools accept the archive', { skip: spawnSync('unzip', ['-v']).status !== 0 && 'unzip is not installed' }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-unzip-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'site.pwar');
  writeFileSync(file, build(generatePublisherKey()));
  const r = spawnSync('unzip', ['-t', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /No errors detected/);
  assert.match(r.stdout, /testing: peerweb\/index\/00000\.json/);
  assert.match(r.stdout, /testing: handlers\/search\.js/);
});

test('the builder refuses an archive with more zip entries than readers accept by default', () => {
  // 99,990 files fit the file count, but with the index shards, manifest and signature the zip would
  // hold more than 100,000 entries: a reader with default limits would refuse what was built.
  const files = Array.from({ length: 99_990 }, (_, i) => ({ path: `p/${i}.txt`, data: Buffer.from('x'), type: 'text/plain' }));
  const meta = { origin: 'https://www.example.com', prefix: '/', version: 1, notBefore: new Date(T0).toISOString(), notAfter: new Date(T0 + DAY).toISOString(), staleIfUnverified: 0, routes: [] };
  assert.throws(() => packArchive(meta, files, undefined), (e) => isPeerwebError(e, 'PW_ERR_ARCHIVE_FORMAT') && /zip entries, more than readers accept \(100000/.test(e.message));
});

test('a large index: the manifest still fits the first read, one file costs one shard', async () => {
  const key = generatePublisherKey();
  const files = Array.from({ length: 5000 }, (_, i) => ({ path: `docs/page-${String(i).padStart(4, '0')}.html`, data: Buffer.from(`<p>page ${i}</p>`), type: 'text/html' }));
  const bytes = packArchive({ origin: 'https://www.example.com', prefix: '/', version: 1, notBefore: new Date(T0).toISOString(), notAfter: new Date(T0 + 7 * DAY).toISOString(), staleIfUnverified: 0, routes: [] }, files, key);
  const reads: number[] = [];
  const inner = bufferSource(bytes);
  const site = await openArchive({ url: 'x', size: bytes.length, fetchRange: (s, l) => { reads.push(l + 1 - s); return inner.read(s, l + 1); } }, trustOf('www.example.com', key), { now: () => T0 + DAY });
  assert.ok(site.manifest.index.length > 20, `${site.manifest.index.length} shards`);
  assert.equal(site.fileCount, 5000);
  assert.equal((await site.readFile('docs/page-3210.html'))?.toString(), '<p>page 3210</p>');
  assert.equal(reads.length, 3, `reads ${reads.join(', ')}`);
  assert.equal(reads[0], ARCHIVE_TAIL_READ);
  const largest = Math.max(...site.manifest.index.map((r) => r.csize));
  assert.ok(reads[1]! <= largest, `shard read of ${reads[1]} bytes`);
  assert.equal(reads[2], 16);
  assert.equal(await site.readFile('aaa.html'), undefined, 'before the first shard: nothing read');
  assert.equal(reads.length, 3);
  assert.equal(await site.readFile('docs/page-3210x.html'), undefined, 'in a shard already read: nothing read');
  assert.equal(reads.length, 3);
  await site.close();
});
