import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { crc32, deflateRawSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import {
  buildArchive, openArchive, packArchive, writeZip, parseManifest, serializeManifest, signManifest, encodeTail, decodeTail, ZipReader, bufferSource,
  MANIFEST_NAME, SIGNATURE_NAME, type KeyResolver, type Manifest, type PackOptions, type PreparedEntry,
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
const META = {
  origin: `https://${HOST}`, prefix: '/', version: 5, notBefore: new Date(T0).toISOString(), notAfter: new Date(T0 + 7 * DAY).toISOString(), staleIfUnverified: 0, routes: [],
};

/** An archive from explicit files, signed by `by` (unsigned when undefined). */
function craft(files: Record<string, Buffer>, by: PublisherKey | undefined = key, opts: PackOptions & { stored?: Record<string, PreparedEntry> } = {}): Buffer {
  return packArchive(META, Object.entries(files).map(([path, data]) => ({ path, data, type: 'text/plain', ...(opts.stored?.[path] ? { stored: opts.stored[path] } : {}) })), by, opts);
}

/** The archive's entries as stored, for rewriting it. */
async function entriesOf(bytes: Buffer): Promise<{ zip: ZipReader; raw: PreparedEntry[] }> {
  const zip = await ZipReader.open(bufferSource(bytes), 'x');
  const raw: PreparedEntry[] = [];
  for (const n of zip.entries.keys()) raw.push(await zip.raw(n));
  return { zip, raw };
}

/** Rewrites an archive with another manifest (signed by `by`, or with the old signature when `by` is null): files and shards stay where they are. */
async function remanifest(bytes: Buffer, edit: (m: Manifest) => Manifest, by: PublisherKey | null = key): Promise<Buffer> {
  const { zip, raw } = await entriesOf(bytes);
  const { manifest, sig } = decodeTail(zip.comment, 'x');
  const mb = serializeManifest(edit(parseManifest(manifest)));
  const sb = by ? signManifest(mb, by) : sig;
  const body = raw.filter((e) => e.name !== MANIFEST_NAME && e.name !== SIGNATURE_NAME);
  return writeZip([...body, { name: MANIFEST_NAME, data: mb }, ...(sb ? [{ name: SIGNATURE_NAME, data: sb, store: true }] : [])], { comment: encodeTail(mb, sb) });
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

test('a forged manifest (one field changed after signing) is refused', async () => {
  const good = build();
  await refused(await remanifest(good, (m) => ({ ...m, version: m.version + 9 }), null), 'PW_ERR_ARCHIVE_BAD_SIGNATURE');
  // The same byte flipped in place in the end record's copy of the manifest.
  const at = good.lastIndexOf('"version":');
  const flipped = Buffer.from(good); flipped[at + 11] = flipped[at + 11] === 0x31 ? 0x32 : 0x31;
  await refused(flipped, 'PW_ERR_ARCHIVE_BAD_SIGNATURE');
});

test('an archive re-signed by another key is refused as an unknown key', async () => {
  await refused(build({ key: generatePublisherKey() }), 'PW_ERR_ARCHIVE_UNKNOWN_KEY');
});

test('a signature carrying the right key id over other bytes does not verify', async () => {
  const other = generatePublisherKey();
  const fake = { ...other, keyId: key.keyId };
  await refused(craft({ 'a.txt': Buffer.from('a') }, fake), 'PW_ERR_ARCHIVE_BAD_SIGNATURE');
  await refused(await remanifest(build(), (m) => m, fake), 'PW_ERR_ARCHIVE_BAD_SIGNATURE');
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
  // Renamed in every copy (the manifest names the first file, the zip headers name both).
  const base = craft({ 'aa/evil.txt': Buffer.from('x'), 'xetc/passwd': Buffer.from('y') });
  await refused(patchName(base, 'aa/evil.txt', '../evil.txt'), 'PW_ERR_ARCHIVE_ENTRY_NAME');
  await refused(patchName(base, 'xetc/passwd', '/etc/passwd'), 'PW_ERR_ARCHIVE_ENTRY_NAME');
  await refused(patchName(base, 'xetc/passwd', 'C:tc/passwd'), 'PW_ERR_ARCHIVE_ENTRY_NAME');
  await refused(patchName(base, 'xetc/passwd', 'x\\tc/passwd'), 'PW_ERR_ARCHIVE_ENTRY_NAME');
  assert.throws(() => parseManifest(Buffer.from(JSON.stringify({ format: 'peerweb-archive/2', origin: 'https://a.example', prefix: '/', version: 1, notBefore: '2026-01-01T00:00:00Z', notAfter: '2026-01-02T00:00:00Z', staleIfUnverified: 0, routes: [], index: [{ first: '../x', sha256: '0'.repeat(64), size: 10, csize: 10, offset: 100, base: 0, count: 1 }] }))),
    (e) => isPeerwebError(e, 'PW_ERR_ARCHIVE_ENTRY_NAME'));
  // A signed shard listing a parent-folder path: refused when the shard is read, also by a partial reader.
  const evil = craft({ 'a.txt': Buffer.from('a'), 'b.txt': Buffer.from('b') }, key, { editRow: (r) => (r.path === 'b.txt' ? { ...r, path: '../b' } : r) });
  await refused(evil, 'PW_ERR_ARCHIVE_ENTRY_NAME');
  const site = await openArchive({ bytes: evil }, trust, { now: () => T0 + DAY, checkWhole: false });
  await assert.rejects(site.readFile('a.txt'), (e) => isPeerwebError(e, 'PW_ERR_ARCHIVE_ENTRY_NAME'));
  await site.close();
});

test('zip bombs: an entry inflating beyond its declared size, a huge ratio, a huge declared size', async () => {
  // Signed as 2000 bytes of "a", stored as a deflate stream of 1 MiB: caught while inflating, never served.
  const small = Buffer.alloc(2000, 0x61);
  const stream = deflateRawSync(Buffer.alloc(1024 * 1024, 0x61), { level: 9 });
  const bomb = craft({ 'bomb.txt': small }, key, { stored: { 'bomb.txt': { name: 'bomb.txt', method: 8, crc32: crc32(small), size: small.length, compressed: stream } } });
  const site = await openArchive({ bytes: bomb }, trust, { now: () => T0 + DAY });
  await assert.rejects(site.readFile('bomb.txt'), (err) => isPeerwebError(err, 'PW_ERR_ARCHIVE_BOMB'));
  await assert.rejects(site.handle({ method: 'GET', url: '/bomb.txt', headers: [] }), (err) => isPeerwebError(err, 'PW_ERR_ARCHIVE_BOMB'));
  await site.close();
  // 10 MiB of one byte compresses about 1000:1, above the ratio bound: refused whole, and by a partial reader at its shard.
  const ratio = craft({ 'zeros.bin': Buffer.alloc(10 * 1024 * 1024) });
  await refused(ratio, 'PW_ERR_ARCHIVE_BOMB');
  const partial = await openArchive({ bytes: ratio }, trust, { now: () => T0 + DAY, checkWhole: false });
  await assert.rejects(partial.readFile('zeros.bin'), (err) => isPeerwebError(err, 'PW_ERR_ARCHIVE_BOMB'));
  await partial.close();
  // A declared size above the entry limit is refused before anything is inflated.
  await refused(craft({ 'a.bin': Buffer.alloc(200 * 1024, 1) }), 'PW_ERR_ARCHIVE_BOMB', { zip: { maxEntries: 10, maxEntrySize: 100 * 1024, maxRatio: 200 } });
});

test('zip64: a well-formed zip64 archive opens; malformed zip64 records are refused', async () => {
  const good = craft({ 'a.txt': Buffer.from('hello') }, key, { forceZip64: true });
  const site = await openArchive({ bytes: good }, trust, { now: () => T0 + DAY });
  assert.equal((await site.readFile('a.txt'))?.toString(), 'hello');
  await site.close();
  const loc = good.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06])) - 20;
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
  const site = await openArchive({ bytes: craft({ 'a.txt': Buffer.from('real') }, key, { editRow: (r) => ({ ...r, sha256: sha(Buffer.from('fake')) }) }) }, trust, { now: () => T0 + DAY });
  await assert.rejects(site.handle({ method: 'GET', url: '/a.txt', headers: [] }), (e) => isPeerwebError(e, 'PW_ERR_ARCHIVE_HASH_MISMATCH'));
  await site.close();
});

test('entries not listed in the signed index, and listed files that are missing, are refused', async () => {
  const good = craft({ 'a.txt': Buffer.from('a'), 'b.txt': Buffer.from('b') });
  const { raw } = await entriesOf(good);
  const { manifest, sig } = decodeTail((await ZipReader.open(bufferSource(good), 'x')).comment, 'x');
  // Smuggled after the shards (nothing signed moves): a whole-archive check refuses it; a partial reader never serves it.
  const at = raw.findIndex((e) => e.name === MANIFEST_NAME);
  const extra = writeZip([...raw.slice(0, at), { name: 'smuggled.js', data: Buffer.from('x') }, ...raw.slice(at)], { comment: encodeTail(manifest, sig) });
  await refused(extra, 'PW_ERR_ARCHIVE_FORMAT');
  const partial = await openArchive({ bytes: extra }, trust, { now: () => T0 + DAY, checkWhole: false });
  assert.equal(await partial.handle({ method: 'GET', url: '/smuggled.js', headers: [] }), undefined);
  assert.equal((await partial.readFile('b.txt'))?.toString(), 'b');
  await partial.close();
  const missing = writeZip(raw.filter((e) => e.name !== 'b.txt'), { comment: encodeTail(manifest, sig) });
  await refused(missing, 'PW_ERR_ARCHIVE_FORMAT');
  // The manifest entry differs from the signed copy in the end record.
  const other = writeZip(raw.map((e) => (e.name === MANIFEST_NAME ? { name: MANIFEST_NAME, data: Buffer.from('{}\n') } : e)), { comment: encodeTail(manifest, sig) });
  await refused(other, 'PW_ERR_ARCHIVE_FORMAT');
});

test('a forged shard is refused: by a whole-archive check and by a partial reader', async () => {
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < 300; i++) files[`f/${String(i).padStart(3, '0')}.txt`] = Buffer.from(`file ${i} `.repeat(20));
  const good = craft(files);
  const m = parseManifest(decodeTail((await ZipReader.open(bufferSource(good), 'x')).comment, 'x').manifest);
  assert.ok(m.index.length > 1, `${m.index.length} shards`);
  const ref = m.index[1]!;
  // Its stored bytes changed: no longer a valid deflate stream, or one that inflates to other bytes than the signed hash.
  const forged = Buffer.from(good); forged[ref.offset + 10] = forged[ref.offset + 10]! ^ 0x20;
  const badShard = (e: unknown): boolean => isPeerwebError(e, 'PW_ERR_ARCHIVE_HASH_MISMATCH') || (isPeerwebError(e, 'PW_ERR_ARCHIVE_FORMAT') && /00001\.json/.test(e.message));
  await assert.rejects(openArchive({ bytes: forged }, trust, { now: () => T0 + DAY }), badShard);
  const site = await openArchive({ bytes: forged }, trust, { now: () => T0 + DAY, checkWhole: false });
  assert.equal((await site.readFile(m.index[0]!.first))?.length, files[m.index[0]!.first]!.length, 'other shards still serve');
  await assert.rejects(site.readFile(ref.first), badShard);
  // A shard whose bytes inflate fine but differ from the signed hash.
  const other = await remanifest(good, (mm) => ({ ...mm, index: mm.index.map((r, i) => (i === 1 ? { ...r, sha256: sha(Buffer.from('other')) } : r)) }));
  const site2 = await openArchive({ bytes: other }, trust, { now: () => T0 + DAY, checkWhole: false });
  await assert.rejects(site2.readFile(ref.first), (e) => isPeerwebError(e, 'PW_ERR_ARCHIVE_HASH_MISMATCH'));
  await site.close();
  await site2.close();
});

test('forged locators: a broken manifest block, a shard or file placed outside the archive', async () => {
  const files: Record<string, Buffer> = { 'a.txt': Buffer.from('a'.repeat(100)), 'b.txt': Buffer.from('b'.repeat(100)) };
  const good = craft(files);
  const eocd = good.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  // The block's lengths no longer add up to the comment.
  const header = good.indexOf('peerweb-archive/2 ', eocd);
  const lengths = Buffer.from(good); lengths[header + 18] = lengths[header + 18] === 0x39 ? 0x38 : lengths[header + 18]! + 1;
  await refused(lengths, 'PW_ERR_ARCHIVE_FORMAT');
  // No manifest block at all.
  const { raw } = await entriesOf(good);
  await refused(writeZip(raw), 'PW_ERR_ARCHIVE_FORMAT');
  await refused(writeZip(raw, { comment: Buffer.from('just a comment') }), 'PW_ERR_ARCHIVE_FORMAT');
  // Signed, but the shard lies past the central directory, or the file past the shards: refused, not read.
  const far = await remanifest(good, (m) => ({ ...m, index: m.index.map((r) => ({ ...r, offset: r.offset + 1_000_000 })) }));
  await refused(far, 'PW_ERR_ARCHIVE_FORMAT');
  await refused(far, 'PW_ERR_ARCHIVE_FORMAT', { checkWhole: false });
  const wild = craft(files, key, { editRow: (r) => (r.path === 'b.txt' ? { ...r, at: 2 ** 40 } : r) });
  const site = await openArchive({ bytes: wild }, trust, { now: () => T0 + DAY, checkWhole: false });
  await assert.rejects(site.readFile('b.txt'), (e) => isPeerwebError(e, 'PW_ERR_ARCHIVE_FORMAT'));
  await site.close();
  // A file that the index places on top of another.
  await refused(craft(files, key, { editRow: (r) => (r.path === 'b.txt' ? { ...r, at: r.at - 60 } : r) }), 'PW_ERR_ARCHIVE_FORMAT');
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
  await assert.rejects(site.readFile('b.bin'), (e) => isPeerwebError(e, 'PW_ERR_ARCHIVE_HASH_MISMATCH'));
  await site.close();
});
