import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import {
  buildArchive, openArchive, writeZip, parseManifest, serializeManifest, signManifest, ZipReader, bufferSource,
  MANIFEST_NAME, SIGNATURE_NAME, type KeyResolver, type Manifest, type ZipInput,
} from '../../../src/archive/index.js';
import { generatePublisherKey, type PublisherKey } from '../../../src/integrity/keys.js';
import { isPeerwebError, type ErrorCode } from '../../../src/errors/index.js';

const SITE = fileURLToPath(new URL('../../fixtures/archive/site/', import.meta.url));
const T0 = Date.parse('2026-01-01T00:00:00Z');
const DAY = 86_400_000;
const HOST = 'www.example.com';
const key = generatePublisherKey();
const trust: KeyResolver = { keysFor: async (h) => (h === HOST ? [key] : []) };

function build(extra: Partial<Parameters<typeof buildArchive>[0]> = {}): Buffer {
  return buildArchive({ dir: SITE, origin: `https://${HOST}`, prefix: '/', notBefore: T0, validFor: 7 * DAY, staleIfUnverified: 2 * 86400, key, ...extra });
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** An archive from explicit entries and a manifest, signed by `by`. */
function craft(files: Record<string, Buffer>, by: PublisherKey | undefined = key, edit: (m: Manifest) => Manifest = (m) => m, opts: { forceZip64?: boolean } = {}): Buffer {
  const m: Manifest = edit({
    format: 'peerweb-archive/1', origin: `https://${HOST}`, prefix: '/', version: 5,
    notBefore: new Date(T0).toISOString(), notAfter: new Date(T0 + 7 * DAY).toISOString(), staleIfUnverified: 0,
    files: Object.fromEntries(Object.entries(files).map(([n, b]) => [n, { sha256: sha(b), size: b.length, type: 'text/plain' }])), routes: [],
  });
  const mb = serializeManifest(m);
  const entries: ZipInput[] = [...Object.entries(files).map(([name, data]) => ({ name, data })), { name: MANIFEST_NAME, data: mb }];
  if (by) entries.push({ name: SIGNATURE_NAME, data: signManifest(mb, by), store: true });
  return writeZip(entries, opts);
}

async function refused(bytes: Buffer, code: ErrorCode, opts: Parameters<typeof openArchive>[2] = {}): Promise<void> {
  await assert.rejects(openArchive({ bytes }, trust, { now: () => T0 + DAY, ...opts }), (e) => {
    assert.ok(isPeerwebError(e, code), `expected ${code}, got ${String(e)}`);
    return true;
  });
}

/** Replaces every occurrence of `from` with `to` (same length) in the archive bytes. */
function patchName(buf: Buffer, from: string, to: string): Buffer {
  assert.equal(from.length, to.length);
  const out = Buffer.from(buf);
  let i = out.indexOf(from);
  assert.ok(i >= 0);
  while (i >= 0) { out.write(to, i, 'latin1'); i = out.indexOf(from, i + 1); }
  return out;
}

test('a forged manifest (one byte changed after signing) is refused', async () => {
  const good = build();
  const zip = await ZipReader.open(bufferSource(good), 'x');
  const mb = Buffer.from((await zip.read(MANIFEST_NAME)).toString().replace('"version": ', '"version": 9'));
  const entries: ZipInput[] = [];
  for (const n of zip.entries.keys()) entries.push({ name: n, data: n === MANIFEST_NAME ? mb : await zip.read(n), store: n === SIGNATURE_NAME });
  await refused(writeZip(entries), 'PW_ERR_ARCHIVE_BAD_SIGNATURE');
});

test('an archive re-signed by another key is refused as an unknown key', async () => {
  await refused(build({ key: generatePublisherKey() }), 'PW_ERR_ARCHIVE_UNKNOWN_KEY');
});

test('a signature carrying the right key id over other bytes does not verify', async () => {
  const other = generatePublisherKey();
  const fake = { ...other, keyId: key.keyId };
  await refused(craft({ 'a.txt': Buffer.from('a') }, fake), 'PW_ERR_ARCHIVE_BAD_SIGNATURE');
});

test('expired, not-yet-valid and stale-if-unverified windows', async () => {
  const bytes = build();
  await refused(bytes, 'PW_ERR_ARCHIVE_EXPIRED', { now: () => T0 + 8 * DAY });
  await refused(bytes, 'PW_ERR_ARCHIVE_NOT_YET_VALID', { now: () => T0 - DAY });
  // No newer archive could be fetched: it may still serve within staleIfUnverified (2 days), not after.
  const site = await openArchive({ bytes }, trust, { now: () => T0 + 8 * DAY, allowStale: true });
  assert.equal(site.stale, true);
  await site.close();
  await refused(bytes, 'PW_ERR_ARCHIVE_EXPIRED', { now: () => T0 + 10 * DAY, allowStale: true });
});

test('an older version replayed after a newer one is refused', async () => {
  const older = build({ version: 3 });
  await refused(older, 'PW_ERR_ARCHIVE_REPLAYED', { knownVersion: 4 });
  const site = await openArchive({ bytes: older }, trust, { now: () => T0 + DAY, knownVersion: 3 });
  await site.close();
});

test('an archive for another site than expected is refused', async () => {
  await refused(build(), 'PW_ERR_ARCHIVE_ORIGIN_MISMATCH', { expect: { origin: 'https://evil.example' } });
  await refused(build(), 'PW_ERR_ARCHIVE_ORIGIN_MISMATCH', { expect: { prefix: '/docs/' } });
});

test('parent-folder and absolute entry names are refused', async () => {
  const base = craft({ 'aa/evil.txt': Buffer.from('x'), 'xetc/passwd': Buffer.from('y') }, undefined);
  await refused(patchName(base, 'aa/evil.txt', '../evil.txt'), 'PW_ERR_ARCHIVE_ENTRY_NAME');
  await refused(patchName(base, 'xetc/passwd', '/etc/passwd'), 'PW_ERR_ARCHIVE_ENTRY_NAME');
  await refused(patchName(base, 'xetc/passwd', 'C:tc/passwd'), 'PW_ERR_ARCHIVE_ENTRY_NAME');
  await refused(patchName(base, 'xetc/passwd', 'x\\tc/passwd'), 'PW_ERR_ARCHIVE_ENTRY_NAME');
  assert.throws(() => parseManifest(Buffer.from(JSON.stringify({ format: 'peerweb-archive/1', origin: 'https://a.example', prefix: '/', version: 1, notBefore: '2026-01-01T00:00:00Z', notAfter: '2026-01-02T00:00:00Z', staleIfUnverified: 0, files: { '../x': { sha256: '0'.repeat(64), size: 1, type: 'text/plain' } }, routes: [] }))),
    (e) => isPeerwebError(e, 'PW_ERR_ARCHIVE_ENTRY_NAME'));
});

test('zip bombs: an entry inflating beyond its declared size, a huge ratio, a huge declared size', async () => {
  // Declared 1000 bytes, inflates to 1 MiB: caught while reading, never served.
  const big = Buffer.alloc(1024 * 1024, 0x61);
  const small = Buffer.alloc(1000, 0x61);
  // The entry is written stored with a deflate stream of 1 MiB as its bytes, then its method is
  // flipped to deflate and its declared size set to 1000 in both headers (the signed manifest says 1000).
  const bigStream = deflateRawSync(big, { level: 9 });
  const raw = writeZip([{ name: 'bomb.txt', data: bigStream, store: true }, { name: MANIFEST_NAME, data: serializeManifest(manifestFor({ 'bomb.txt': small })) }, { name: SIGNATURE_NAME, data: signManifest(serializeManifest(manifestFor({ 'bomb.txt': small })), key), store: true }]);
  const r = await ZipReader.open(bufferSource(raw), 'x');
  const be = r.entries.get('bomb.txt')!;
  const out = Buffer.from(raw);
  out.writeUInt16LE(8, be.localOffset + 8); // method deflate
  out.writeUInt32LE(1000, be.localOffset + 22); // declared uncompressed size
  const cd = r.centralOffset;
  assert.equal(out.readUInt32LE(cd), 0x02014b50);
  out.writeUInt16LE(8, cd + 10);
  out.writeUInt32LE(1000, cd + 24);
  const site = await openArchive({ bytes: out }, trust, { now: () => T0 + DAY });
  await assert.rejects(site.readFile('bomb.txt'), (err) => isPeerwebError(err, 'PW_ERR_ARCHIVE_BOMB'));
  await assert.rejects(site.handle({ method: 'GET', url: '/bomb.txt', headers: [] }), (err) => isPeerwebError(err, 'PW_ERR_ARCHIVE_BOMB'));
  await site.close();
  // 10 MiB of one byte compresses about 1000:1, above the ratio bound.
  const ratio = craft({ 'zeros.bin': Buffer.alloc(10 * 1024 * 1024) });
  await refused(ratio, 'PW_ERR_ARCHIVE_BOMB');
  // A declared size above the entry limit is refused before anything is inflated.
  await refused(craft({ 'a.bin': Buffer.alloc(200 * 1024, 1) }), 'PW_ERR_ARCHIVE_BOMB', { zip: { maxEntries: 10, maxEntrySize: 100 * 1024, maxRatio: 200 } });
});

function manifestFor(files: Record<string, Buffer>): Manifest {
  return {
    format: 'peerweb-archive/1', origin: `https://${HOST}`, prefix: '/', version: 5,
    notBefore: new Date(T0).toISOString(), notAfter: new Date(T0 + 7 * DAY).toISOString(), staleIfUnverified: 0,
    files: Object.fromEntries(Object.entries(files).map(([n, b]) => [n, { sha256: sha(b), size: b.length, type: 'text/plain' }])), routes: [],
  };
}

test('zip64: a well-formed zip64 archive opens; malformed zip64 records are refused', async () => {
  const good = craft({ 'a.txt': Buffer.from('hello') }, key, (m) => m, { forceZip64: true });
  const site = await openArchive({ bytes: good }, trust, { now: () => T0 + DAY });
  assert.equal((await site.readFile('a.txt'))?.toString(), 'hello');
  await site.close();
  const n = good.length;
  const loc = n - 22 - 20;
  assert.equal(good.readUInt32LE(loc), 0x07064b50);
  const rec = Number(good.readBigUInt64LE(loc + 8));
  const bad1 = Buffer.from(good); bad1.writeBigUInt64LE(BigInt(rec + 7), loc + 8);
  await refused(bad1, 'PW_ERR_ARCHIVE_FORMAT');
  const bad2 = Buffer.from(good); bad2.writeBigUInt64LE(BigInt(rec - 3), rec + 48); // central directory offset
  await refused(bad2, 'PW_ERR_ARCHIVE_FORMAT');
  const bad3 = Buffer.from(good); bad3.writeBigUInt64LE(2n ** 62n, rec + 40); // absurd size
  await refused(bad3, 'PW_ERR_ARCHIVE_FORMAT');
  const bad4 = Buffer.from(good); bad4.writeBigUInt64LE(1_000_000n, rec + 32); // entry count
  await refused(bad4, 'PW_ERR_ARCHIVE_FORMAT');
  const bad5 = Buffer.from(good); bad5.writeUInt32LE(0, loc); // locator signature gone
  await refused(bad5, 'PW_ERR_ARCHIVE_FORMAT');
});

test('entry bytes that differ from the signed hash are never served', async () => {
  const site = await openArchive({ bytes: craft({ 'a.txt': Buffer.from('real') }, key, (m) => ({ ...m, files: { 'a.txt': { sha256: sha(Buffer.from('fake')), size: 4, type: 'text/plain' } } })) }, trust, { now: () => T0 + DAY });
  await assert.rejects(site.handle({ method: 'GET', url: '/a.txt', headers: [] }), (e) => isPeerwebError(e, 'PW_ERR_ARCHIVE_HASH_MISMATCH'));
  await site.close();
});

test('entries not listed in the signed manifest, and listed files that are missing, are refused', async () => {
  const mb = serializeManifest(manifestFor({ 'a.txt': Buffer.from('a') }));
  const sig = signManifest(mb, key);
  const extra = writeZip([{ name: 'a.txt', data: Buffer.from('a') }, { name: 'smuggled.js', data: Buffer.from('x') }, { name: MANIFEST_NAME, data: mb }, { name: SIGNATURE_NAME, data: sig }]);
  await refused(extra, 'PW_ERR_ARCHIVE_FORMAT');
  const missing = writeZip([{ name: MANIFEST_NAME, data: mb }, { name: SIGNATURE_NAME, data: sig }]);
  await refused(missing, 'PW_ERR_ARCHIVE_FORMAT');
});

test('truncated archives, overlapping entries and flipped bytes are refused', async () => {
  const good = craft({ 'a.txt': Buffer.from('hello world, hello world') });
  await refused(good.subarray(0, good.length - 5), 'PW_ERR_ARCHIVE_FORMAT');
  await refused(Buffer.from('not a zip at all, not a zip at all'), 'PW_ERR_ARCHIVE_FORMAT');
  // Point the manifest's local offset at the first entry: two entries share bytes.
  const r = await ZipReader.open(bufferSource(good), 'x');
  let p = r.centralOffset;
  const out = Buffer.from(good);
  for (let i = 0; i < r.entries.size; i++) {
    const nameLen = out.readUInt16LE(p + 28);
    if (out.subarray(p + 46, p + 46 + nameLen).toString() === SIGNATURE_NAME) out.writeUInt32LE(0, p + 42);
    p += 46 + nameLen + out.readUInt16LE(p + 30) + out.readUInt16LE(p + 32);
  }
  await refused(out, 'PW_ERR_ARCHIVE_FORMAT');
  // A flipped byte inside a stored entry fails its CRC-32 (and would fail its hash).
  const stored = craft({ 'b.bin': Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]) });
  const idx = stored.indexOf(Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]));
  const flipped = Buffer.from(stored); flipped.writeUInt8(flipped.readUInt8(idx + 3) ^ 0xff, idx + 3);
  const site = await openArchive({ bytes: flipped }, trust, { now: () => T0 + DAY });
  await assert.rejects(site.readFile('b.bin'), (e) => isPeerwebError(e, 'PW_ERR_ARCHIVE_FORMAT'));
  await site.close();
});
