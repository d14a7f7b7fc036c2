import { createHash } from 'node:crypto';
import { PeerwebError } from '../errors/index.js';
import { INDEX_FOLDER, findShard, parseShard, shardName, type IndexRow, type ManifestFile } from './file-index.js';
import { MANIFEST_NAME, SIGNATURE_NAME, comparePaths, decodeTail, parseManifest, type Manifest } from './manifest.js';
import { ARCHIVE_TAIL_READ, DEFAULT_ZIP_LIMITS, ZipReader, inflateChecked, readZipTail, type RangeSource, type ZipLimits, type ZipTail } from './zip.js';

/** Ranges closer than this are fetched as one request (the gap's bytes are read and dropped). */
export const RANGE_MERGE_GAP = 1024;

/** A file of the index with its place in the archive. */
export interface LocatedFile extends IndexRow {
  /** Absolute offset of the file's stored bytes. */
  readonly offset: number;
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
/** The writer's rule: an entry is deflated exactly when that made it smaller. */
const methodOf = (size: number, csize: number): 0 | 8 => (csize < size ? 8 : 0);

export interface TailRead {
  readonly tail: ZipTail;
  readonly manifestBytes: Buffer;
  readonly sigBytes: Buffer | undefined;
}

/** The first read of a site archive: the end record and the manifest block of its comment (nothing verified yet). */
export async function readArchiveTail(src: RangeSource, label: string, limits: ZipLimits = DEFAULT_ZIP_LIMITS, maxManifestSize = 16 * 1024 ** 2): Promise<TailRead> {
  const tail = await readZipTail(src, label, limits, ARCHIVE_TAIL_READ);
  const { manifest, sig } = decodeTail(tail.comment, label);
  if (manifest.length > maxManifestSize) throw new PeerwebError('PW_ERR_ARCHIVE_FORMAT', { archive: label, reason: `manifest of ${manifest.length} bytes is too large` });
  return { tail, manifestBytes: manifest, sigBytes: sig };
}

/** Reads a list of byte ranges, adjacent or close ones in one source read each. */
export async function readRanges(read: (start: number, end: number) => Promise<Buffer>, ranges: readonly { start: number; end: number }[], gap = RANGE_MERGE_GAP): Promise<Buffer[]> {
  const order = ranges.map((r, i) => ({ ...r, i })).sort((a, b) => a.start - b.start);
  const out: Buffer[] = new Array<Buffer>(ranges.length);
  for (let k = 0; k < order.length;) {
    let j = k;
    let end = order[k]!.end;
    while (j + 1 < order.length && order[j + 1]!.start <= end + gap) { j++; end = Math.max(end, order[j]!.end); }
    const start = order[k]!.start;
    const buf = end > start ? await read(start, end) : Buffer.alloc(0);
    for (let m = k; m <= j; m++) out[order[m]!.i] = buf.subarray(order[m]!.start - start, order[m]!.end - start);
    k = j + 1;
  }
  return out;
}

/**
 * Reads files of a verified archive through its index: a file's shard (checked against the hash the
 * signed manifest gives), then the file's bytes (checked against the hash its shard gives). Nothing
 * else of the archive is read: not the central directory, not other shards.
 */
export class ArchiveIndex {
  readonly fileCount: number;
  private readCount: number;
  private readonly shards = new Map<number, IndexRow[]>();
  private readonly dataEnd: number;

  constructor(private readonly src: RangeSource, private readonly label: string, readonly manifest: Manifest, private readonly tail: ZipTail,
    private readonly limits: ZipLimits = DEFAULT_ZIP_LIMITS, maxShardSize = 16 * 1024 ** 2, private readonly maxShardsCached = 256) {
    this.readCount = tail.reads;
    const fail: (reason: string) => never = (reason) => { throw new PeerwebError('PW_ERR_ARCHIVE_FORMAT', { archive: label, reason }); };
    let count = 0;
    for (const [i, ref] of manifest.index.entries()) {
      if (ref.offset + ref.csize > tail.cdOffset) fail(`index shard ${i} (offset ${ref.offset}, ${ref.csize} bytes) lies outside the archive body`);
      if (ref.size > maxShardSize) fail(`index shard ${i} of ${ref.size} bytes is too large`);
      if (ref.csize < ref.size && ref.size > 64 * 1024 && ref.size > ref.csize * limits.maxRatio) throw new PeerwebError('PW_ERR_ARCHIVE_BOMB', { name: shardName(i), reason: `compression ratio ${Math.round(ref.size / Math.max(1, ref.csize))} is above ${limits.maxRatio}` });
      count += ref.count;
    }
    if (count > limits.maxEntries) fail(`${count} files, more than the limit ${limits.maxEntries}`);
    this.fileCount = count;
    this.dataEnd = manifest.index[0]?.offset ?? 0;
  }

  /** Source reads so far, the tail read included. */
  get reads(): number { return this.readCount; }

  /** Bytes [start, end) of the archive: from the tail already read when they lie in it. */
  async read(start: number, end: number): Promise<Buffer> {
    if (!(start >= 0 && end >= start && end <= this.tail.size)) throw new PeerwebError('PW_ERR_ARCHIVE_FORMAT', { archive: this.label, reason: `range ${start}-${end} is outside the archive of ${this.tail.size} bytes` });
    if (start >= this.tail.start) return this.tail.buf.subarray(start - this.tail.start, end - this.tail.start);
    const buf = await this.src.read(start, end);
    this.readCount++;
    if (buf.length !== end - start) throw new PeerwebError('PW_ERR_ARCHIVE_FORMAT', { archive: this.label, reason: `short read at ${start}: ${buf.length} of ${end - start} bytes` });
    return buf;
  }

  /** Checks shard `i` from its stored bytes (read here or elsewhere) and keeps its files; returns its bytes and files. */
  ingestShard(i: number, raw: Buffer): { bytes: Buffer; rows: LocatedFile[] } {
    if (!(i >= 0 && i < this.manifest.index.length)) throw new PeerwebError('PW_ERR_ARCHIVE_FORMAT', { archive: this.label, reason: `no index shard ${i}` });
    const { bytes, rows } = this.shardFrom(i, raw);
    this.remember(i, rows);
    return { bytes, rows: rows.map((r) => this.locate(i, r)) };
  }

  private shardFrom(i: number, raw: Buffer): { bytes: Buffer; rows: IndexRow[] } {
    const ref = this.manifest.index[i]!;
    const bytes = inflateChecked(raw, methodOf(ref.size, ref.csize), ref.size, shardName(i), this.label);
    if (sha(bytes) !== ref.sha256) throw new PeerwebError('PW_ERR_ARCHIVE_HASH_MISMATCH', { name: shardName(i) });
    const rows = parseShard(bytes, i, ref, this.manifest.index[i + 1]?.first);
    for (const r of rows) {
      if (ref.base + r.at + r.csize > this.dataEnd) throw new PeerwebError('PW_ERR_ARCHIVE_FORMAT', { archive: this.label, reason: `file ${r.path} lies outside the files' part of the archive` });
      if (r.size > this.limits.maxEntrySize) throw new PeerwebError('PW_ERR_ARCHIVE_BOMB', { name: r.path, reason: `declared size ${r.size} is above the limit ${this.limits.maxEntrySize}` });
      if (r.csize < r.size && r.size > 64 * 1024 && r.size > r.csize * this.limits.maxRatio) throw new PeerwebError('PW_ERR_ARCHIVE_BOMB', { name: r.path, reason: `compression ratio ${Math.round(r.size / Math.max(1, r.csize))} is above ${this.limits.maxRatio}` });
    }
    return { bytes, rows };
  }

  private remember(i: number, rows: IndexRow[]): void {
    this.shards.set(i, rows);
    if (this.shards.size > this.maxShardsCached) this.shards.delete(this.shards.keys().next().value!);
  }

  /** The verified files of shards `which` (close shards in one read each). */
  async shardRows(which: readonly number[]): Promise<IndexRow[][]> {
    const missing = [...new Set(which)].filter((i) => !this.shards.has(i));
    for (const i of missing) if (!(i >= 0 && i < this.manifest.index.length)) throw new PeerwebError('PW_ERR_ARCHIVE_FORMAT', { archive: this.label, reason: `no index shard ${i}` });
    const raws = await readRanges((s, e) => this.read(s, e), missing.map((i) => ({ start: this.manifest.index[i]!.offset, end: this.manifest.index[i]!.offset + this.manifest.index[i]!.csize })));
    const got = new Map<number, IndexRow[]>();
    missing.forEach((i, k) => { const { rows } = this.shardFrom(i, raws[k]!); got.set(i, rows); this.remember(i, rows); });
    return which.map((i) => got.get(i) ?? this.shards.get(i)!);
  }

  private locate(i: number, row: IndexRow): LocatedFile {
    return { ...row, offset: this.manifest.index[i]!.base + row.at };
  }

  /** What the index says of `path` (one shard read at most); undefined when the archive has no such file. */
  async lookup(path: string): Promise<LocatedFile | undefined> {
    const i = findShard(this.manifest.index, path);
    if (i < 0) return undefined;
    const [rows] = await this.shardRows([i]);
    let lo = 0;
    let hi = rows!.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const c = comparePaths(rows![mid]!.path, path);
      if (c === 0) return this.locate(i, rows![mid]!);
      if (c < 0) lo = mid + 1; else hi = mid - 1;
    }
    return undefined;
  }

  /** Every file, in path order (all shards, read together). */
  async all(): Promise<LocatedFile[]> {
    const ids = this.manifest.index.map((_, i) => i);
    const out: LocatedFile[] = [];
    // Keep the cache bound: read in groups, each group of adjacent shards in one request.
    for (let k = 0; k < ids.length; k += this.maxShardsCached) {
      const group = ids.slice(k, k + this.maxShardsCached);
      const rows = await this.shardRows(group);
      group.forEach((i, g) => { for (const r of rows[g]!) out.push(this.locate(i, r)); });
    }
    return out;
  }

  /** A file's bytes as stored (deflated or not), unchecked. */
  raw(f: LocatedFile): Promise<Buffer> {
    return this.read(f.offset, f.offset + f.csize);
  }

  /** A file's bytes, inflated within its size and checked against its SHA-256. */
  decode(f: LocatedFile, raw: Buffer): Buffer {
    const bytes = inflateChecked(raw, methodOf(f.size, f.csize), f.size, f.path, this.label);
    if (sha(bytes) !== f.sha256) throw new PeerwebError('PW_ERR_ARCHIVE_HASH_MISMATCH', { name: f.path });
    return bytes;
  }

  async readFile(f: LocatedFile): Promise<Buffer> {
    return this.decode(f, await this.raw(f));
  }

  /**
   * Checks the archive as a whole (for a complete copy at hand): the central directory lists exactly
   * the indexed files, the shards, the manifest and the signature, each where and as large as the
   * signed index says, and the manifest and signature entries equal the copies in the end record.
   */
  async checkWhole(manifestBytes: Buffer, sigBytes: Buffer | undefined): Promise<void> {
    const fail: (reason: string) => never = (reason) => { throw new PeerwebError('PW_ERR_ARCHIVE_FORMAT', { archive: this.label, reason }); };
    const zip = await ZipReader.open(this.src, this.label, this.limits);
    const files = new Map((await this.all()).map((f) => [f.path, f]));
    const at = (name: string, localOffset: number, offset: number): void => {
      const header = offset - localOffset;
      const min = 30 + Buffer.byteLength(name);
      if (header !== min && header !== min + 20) fail(`entry ${name} is not where the index says (${offset})`);
    };
    let seen = 0;
    for (const [name, e] of zip.entries) {
      if (name === MANIFEST_NAME) { if (!(await zip.read(name)).equals(manifestBytes)) fail(`${MANIFEST_NAME} differs from the manifest in the end record`); continue; }
      if (name === SIGNATURE_NAME) { if (!sigBytes || !(await zip.read(name)).equals(sigBytes)) fail(`${SIGNATURE_NAME} differs from the signature in the end record`); continue; }
      if (name.startsWith(INDEX_FOLDER)) {
        const i = Number(name.slice(INDEX_FOLDER.length, -'.json'.length));
        const ref = this.manifest.index[i] ?? fail(`entry ${name} is not a shard of the signed manifest`);
        if (shardName(i) !== name) fail(`entry ${name} is not a shard of the signed manifest`);
        if (e.size !== ref.size || e.compressedSize !== ref.csize || e.method !== methodOf(ref.size, ref.csize)) fail(`entry ${name} differs from the signed manifest`);
        at(name, e.localOffset, ref.offset);
        seen++;
        continue;
      }
      const f = files.get(name) ?? fail(`entry ${name} is not in the signed index`);
      if (e.size !== f.size) throw new PeerwebError('PW_ERR_ARCHIVE_HASH_MISMATCH', { name });
      if (e.compressedSize !== f.csize || e.method !== methodOf(f.size, f.csize)) fail(`entry ${name} is stored otherwise than the index says`);
      at(name, e.localOffset, f.offset);
      seen++;
    }
    if (!zip.entries.has(MANIFEST_NAME)) fail(`no ${MANIFEST_NAME}`);
    if (sigBytes && !zip.entries.has(SIGNATURE_NAME)) fail(`no ${SIGNATURE_NAME}`);
    if (seen !== files.size + this.manifest.index.length) {
      for (const name of files.keys()) if (!zip.entries.has(name)) fail(`index file ${name} is missing from the archive`);
      fail('index shards are missing from the archive');
    }
  }
}

export type { ManifestFile };

/** What an archive holds, read without checking its signature (for `peerweb archive inspect`); shards are still checked against the manifest. */
export async function inspectArchive(src: RangeSource, label: string, limits: ZipLimits = DEFAULT_ZIP_LIMITS): Promise<{ manifest: Manifest; manifestBytes: Buffer; sigBytes: Buffer | undefined; files: LocatedFile[] }> {
  const { tail, manifestBytes, sigBytes } = await readArchiveTail(src, label, limits);
  const manifest = parseManifest(manifestBytes);
  const index = new ArchiveIndex(src, label, manifest, tail, limits);
  return { manifest, manifestBytes, sigBytes, files: await index.all() };
}
