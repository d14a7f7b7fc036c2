import { crc32, deflateRawSync, inflateRawSync } from 'node:zlib';
import { PeerwebError } from '../errors/index.js';

/**
 * A minimal, strict zip reader and a deterministic writer, just what site archives need:
 * stored and deflated entries, zip64 on read (and on write when sizes need it), range reads.
 * Everything the reader trusts is checked: offsets inside the file, no overlapping entries,
 * declared vs actual sizes, compression ratio, CRC-32, and entry names.
 */

/** Random access to an archive's bytes: the whole file in memory, a file on disk, or HTTP Range. */
export interface RangeSource {
  readonly size: number;
  /** Bytes [start, end) — end exclusive. */
  read(start: number, end: number): Promise<Buffer>;
}

export interface ZipLimits {
  readonly maxEntries: number;
  readonly maxEntrySize: number;
  /** Highest uncompressed / compressed ratio for entries above 64 KiB. */
  readonly maxRatio: number;
}

export const DEFAULT_ZIP_LIMITS: ZipLimits = Object.freeze({ maxEntries: 100_000, maxEntrySize: 256 * 1024 ** 2, maxRatio: 200 });

export interface ZipEntry {
  readonly name: string;
  readonly method: 0 | 8;
  readonly crc32: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localOffset: number;
  /** Length of the extra field in the central record (the local one usually matches). */
  readonly extraLength: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_Z64_EOCD = 0x06064b50;
const SIG_Z64_LOCATOR = 0x07064b50;
const EOCD_MIN = 22;
const RATIO_FLOOR = 64 * 1024;

function bad(archive: string, reason: string): never {
  throw new PeerwebError('PW_ERR_ARCHIVE_FORMAT', { archive, reason });
}

/** Rejects names that could escape a folder or confuse a file system; returns the name. */
export function checkEntryName(name: string): string {
  const refuse = (reason: string): never => { throw new PeerwebError('PW_ERR_ARCHIVE_ENTRY_NAME', { name, reason }); };
  if (name.length === 0 || Buffer.byteLength(name) > 1024) refuse('empty or longer than 1024 bytes');
  if (name.startsWith('/')) refuse('absolute path');
  if (/^[A-Za-z]:/.test(name)) refuse('drive letter');
  if (name.includes('\\')) refuse('backslash');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) refuse('control character');
  const parts = name.endsWith('/') ? name.slice(0, -1).split('/') : name.split('/');
  for (const p of parts) {
    if (p === '..') refuse('parent folder reference');
    if (p === '.' || p === '') refuse('empty or "." path segment');
  }
  return name;
}

/** What the end of a zip says: where its central directory is, how many entries, its comment. */
export interface ZipTail {
  readonly size: number;
  readonly cdOffset: number;
  readonly cdSize: number;
  readonly count: number;
  /** The end record's comment (a site archive keeps its signed manifest there). */
  readonly comment: Buffer;
  /** Bytes read from the end of the file (start offset and bytes), reused by later reads. */
  readonly start: number;
  readonly buf: Buffer;
  /** Source reads made (1, or 2 when the end record and its comment did not fit in the first). */
  readonly reads: number;
}

/** Bytes a site archive reader asks for first: the end of the file, holding the end record and the signed manifest. */
export const ARCHIVE_TAIL_READ = 8192;
const TAIL_MAX = EOCD_MIN + 0xffff + 20 + 56;

/**
 * Reads the end of a zip: one read of the last `tailBytes`, and a second only when the end record,
 * its comment and the zip64 records do not all fit in it. Checks the end record and zip64 fields;
 * does not read the central directory.
 */
export async function readZipTail(src: RangeSource, label: string, limits: ZipLimits = DEFAULT_ZIP_LIMITS, tailBytes = ARCHIVE_TAIL_READ): Promise<ZipTail> {
  const size = src.size;
  if (!Number.isSafeInteger(size) || size < EOCD_MIN) bad(label, `size ${size} is too small for a zip`);
  let reads = 0;
  let start = Math.max(0, size - Math.max(EOCD_MIN, tailBytes));
  let tail = await src.read(start, size);
  reads++;
  if (tail.length !== size - start) bad(label, `read of the last ${size - start} bytes returned ${tail.length}`);
  /** Makes `tail` reach back to `from` with one more read. */
  const extend = async (from: number): Promise<void> => {
    from = Math.max(0, from);
    if (from >= start) return;
    const more = await src.read(from, start);
    reads++;
    if (more.length !== start - from) bad(label, `read of ${start - from} bytes at ${from} returned ${more.length}`);
    tail = Buffer.concat([more, tail]);
    start = from;
  };
  // The end record: the last signature whose comment length reaches exactly to the end.
  const findEocd = (): number => {
    for (let i = tail.length - EOCD_MIN; i >= 0 && i >= tail.length - EOCD_MIN - 0xffff; i--) {
      if (tail.readUInt32LE(i) === SIG_EOCD && i + EOCD_MIN + tail.readUInt16LE(i + 20) === tail.length) return i;
    }
    return -1;
  };
  let eocd = findEocd();
  if (eocd < 0 && start > 0) { await extend(size - TAIL_MAX); eocd = findEocd(); }
  if (eocd < 0) bad(label, 'no end of central directory record');
  const disk = tail.readUInt16LE(eocd + 4);
  const cdDisk = tail.readUInt16LE(eocd + 6);
  let countDisk = tail.readUInt16LE(eocd + 8);
  let count = tail.readUInt16LE(eocd + 10);
  let cdSize = tail.readUInt32LE(eocd + 12);
  let cdOffset = tail.readUInt32LE(eocd + 16);
  const comment = tail.subarray(eocd + EOCD_MIN);
  let cdEnd = start + eocd;
  const z64 = count === 0xffff || countDisk === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff;
  if (z64) {
    if (eocd < 76 && start > 0) { const before = start; await extend(start + eocd - 76); eocd += before - start; }
    const loc = eocd - 20;
    if (loc < 0 || tail.readUInt32LE(loc) !== SIG_Z64_LOCATOR) bad(label, 'zip64 fields without a zip64 locator');
    const recOffset = Number(tail.readBigUInt64LE(loc + 8));
    if (tail.readUInt32LE(loc + 4) !== 0 || tail.readUInt32LE(loc + 16) > 1) bad(label, 'zip64 locator names another disk');
    const recAt = recOffset - start;
    if (!Number.isSafeInteger(recOffset) || recAt < 0 || recAt + 56 > loc) bad(label, `zip64 end record offset ${recOffset} is outside the tail`);
    if (tail.readUInt32LE(recAt) !== SIG_Z64_EOCD) bad(label, 'zip64 end record signature missing');
    const recSize = Number(tail.readBigUInt64LE(recAt + 4));
    if (recAt + 12 + recSize !== loc) bad(label, `zip64 end record size ${recSize} does not reach the locator`);
    if (tail.readUInt32LE(recAt + 16) !== 0 || tail.readUInt32LE(recAt + 20) !== 0) bad(label, 'zip64 end record names another disk');
    const big = (o: number): number => {
      const v = tail.readBigUInt64LE(recAt + o);
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) bad(label, `zip64 value ${v} too large`);
      return Number(v);
    };
    countDisk = big(24); count = big(32); cdSize = big(40); cdOffset = big(48);
    cdEnd = recOffset;
  }
  if (disk !== 0 || cdDisk !== 0 || countDisk !== count) bad(label, 'multi-disk archives are not supported');
  if (count > limits.maxEntries) bad(label, `${count} entries, more than the limit ${limits.maxEntries}`);
  if (cdOffset + cdSize !== cdEnd) bad(label, `central directory (offset ${cdOffset}, size ${cdSize}) does not end at ${cdEnd}`);
  if (cdSize < count * 46) bad(label, `central directory of ${cdSize} bytes cannot hold ${count} entries`);
  return { size, cdOffset, cdSize, count, comment: Buffer.from(comment), start, buf: tail, reads };
}

/** Reads and checks the whole central directory; `label` names the archive in errors. */
export class ZipReader {
  readonly entries: ReadonlyMap<string, ZipEntry>;
  /** Offset where the central directory starts (entries' data all lie before it). */
  readonly centralOffset: number;
  /** The end record's comment. */
  readonly comment: Buffer;
  /** Number of source reads so far (for tests and benchmarks). */
  get reads(): number { return this.readCount; }
  private readCount: number;
  private readonly cached: { start: number; buf: Buffer }[];

  private constructor(private readonly src: RangeSource, private readonly label: string,
    entries: Map<string, ZipEntry>, centralOffset: number, comment: Buffer, cached: { start: number; buf: Buffer }[], reads: number) {
    this.entries = entries;
    this.centralOffset = centralOffset;
    this.comment = comment;
    this.cached = cached;
    this.readCount = reads;
  }

  /** Opens an archive: the tail (see readZipTail), then the central directory when it starts before the tail. */
  static async open(src: RangeSource, label: string, limits: ZipLimits = DEFAULT_ZIP_LIMITS, tailBytes = 64 * 1024): Promise<ZipReader> {
    const t = await readZipTail(src, label, limits, tailBytes);
    let reads = t.reads;
    const { cdOffset, cdSize, count } = t;
    const cached = [{ start: t.start, buf: t.buf }];
    let cd: Buffer;
    if (cdOffset >= t.start) {
      cd = t.buf.subarray(cdOffset - t.start, cdOffset - t.start + cdSize);
    } else {
      const more = await src.read(cdOffset, t.start);
      reads++;
      if (more.length !== t.start - cdOffset) bad(label, 'short read of the central directory');
      cached.push({ start: cdOffset, buf: more });
      cd = Buffer.concat([more, t.buf]).subarray(0, cdSize);
    }
    const entries = new Map<string, ZipEntry>();
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== SIG_CENTRAL) bad(label, `central record ${i} is missing or truncated`);
      const flags = cd.readUInt16LE(p + 8);
      const method = cd.readUInt16LE(p + 10);
      const crc = cd.readUInt32LE(p + 16);
      let compressedSize = cd.readUInt32LE(p + 20);
      let size = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      const diskStart = cd.readUInt16LE(p + 34);
      let localOffset = cd.readUInt32LE(p + 42);
      const end = p + 46 + nameLen + extraLen + commentLen;
      if (end > cd.length) bad(label, `central record ${i} overruns the central directory`);
      const nameBytes = cd.subarray(p + 46, p + 46 + nameLen);
      const name = new TextDecoder('utf-8', { fatal: false }).decode(nameBytes);
      if ((flags & 0x0800) === 0 && nameBytes.some((b) => b > 0x7e)) bad(label, `entry ${i} has a non-UTF-8 name`);
      if (Buffer.from(name, 'utf8').compare(nameBytes) !== 0) bad(label, `entry ${i} name is not valid UTF-8`);
      checkEntryName(name);
      if (flags & 0x0001) bad(label, `entry ${name} is encrypted`);
      if (method !== 0 && method !== 8) bad(label, `entry ${name} uses compression method ${method}`);
      if (diskStart !== 0 && diskStart !== 0xffff) bad(label, `entry ${name} starts on disk ${diskStart}`);
      if (compressedSize === 0xffffffff || size === 0xffffffff || localOffset === 0xffffffff) {
        // Zip64 extended information: only the fields that overflowed are present, in this order.
        let q = p + 46 + nameLen;
        const extraEnd = q + extraLen;
        let found = false;
        while (q + 4 <= extraEnd) {
          const id = cd.readUInt16LE(q);
          const len = cd.readUInt16LE(q + 2);
          if (q + 4 + len > extraEnd) bad(label, `entry ${name} extra field overruns`);
          if (id === 0x0001) {
            found = true;
            let r = q + 4;
            const take = (): number => {
              if (r + 8 > q + 4 + len) bad(label, `entry ${name} zip64 extra field is too short`);
              const v = cd.readBigUInt64LE(r); r += 8;
              if (v > BigInt(Number.MAX_SAFE_INTEGER)) bad(label, `entry ${name} zip64 value ${v} too large`);
              return Number(v);
            };
            if (size === 0xffffffff) size = take();
            if (compressedSize === 0xffffffff) compressedSize = take();
            if (localOffset === 0xffffffff) localOffset = take();
            break;
          }
          q += 4 + len;
        }
        if (!found) bad(label, `entry ${name} has zip64 markers but no zip64 extra field`);
      }
      if (entries.has(name)) bad(label, `duplicate entry ${name}`);
      if (method === 0 && compressedSize !== size) bad(label, `stored entry ${name} declares ${size} bytes but holds ${compressedSize}`);
      if (size > limits.maxEntrySize) {
        throw new PeerwebError('PW_ERR_ARCHIVE_BOMB', { name, reason: `declared size ${size} is above the limit ${limits.maxEntrySize}` });
      }
      if (method === 8 && size > RATIO_FLOOR && size > compressedSize * limits.maxRatio) {
        throw new PeerwebError('PW_ERR_ARCHIVE_BOMB', { name, reason: `compression ratio ${Math.round(size / Math.max(1, compressedSize))} is above ${limits.maxRatio}` });
      }
      if (localOffset + 30 + nameLen + compressedSize > cdOffset) bad(label, `entry ${name} data lies outside the archive body`);
      entries.set(name, Object.freeze({ name, method: method as 0 | 8, crc32: crc, compressedSize, size, localOffset, extraLength: extraLen }));
      p = end;
    }
    if (p !== cd.length) bad(label, 'central directory has trailing bytes');
    // No two entries may share bytes (overlapping entries are a known zip-bomb construction).
    const sorted = [...entries.values()].sort((a, b) => a.localOffset - b.localOffset);
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1]!;
      const cur = sorted[i]!;
      if (prev.localOffset + 30 + Buffer.byteLength(prev.name) + prev.compressedSize > cur.localOffset) bad(label, `entries ${prev.name} and ${cur.name} overlap`);
    }
    return new ZipReader(src, label, entries, cdOffset, t.comment, cached, reads);
  }

  private async readRange(start: number, end: number): Promise<Buffer> {
    for (const c of this.cached) {
      if (start >= c.start && end <= c.start + c.buf.length) return c.buf.subarray(start - c.start, end - c.start);
    }
    const buf = await this.src.read(start, end);
    this.readCount++;
    if (buf.length !== end - start) bad(this.label, `short read at ${start}: ${buf.length} of ${end - start} bytes`);
    return buf;
  }

  /** The raw (still compressed) bytes of an entry, after checking its local header. */
  private async rawData(e: ZipEntry): Promise<Buffer> {
    const nameLen = Buffer.byteLength(e.name);
    const guessExtra = e.extraLength;
    const start = e.localOffset;
    const end = Math.min(this.centralOffset, start + 30 + nameLen + guessExtra + e.compressedSize);
    let buf = await this.readRange(start, end);
    if (buf.length < 30 || buf.readUInt32LE(0) !== SIG_LOCAL) bad(this.label, `entry ${e.name} has no local header`);
    if (buf.readUInt16LE(26) !== nameLen || buf.subarray(30, 30 + nameLen).toString('utf8') !== e.name) bad(this.label, `entry ${e.name} local name differs from the central directory`);
    if (buf.readUInt16LE(8) !== e.method) bad(this.label, `entry ${e.name} local method differs from the central directory`);
    const localExtra = buf.readUInt16LE(28);
    const dataStart = start + 30 + nameLen + localExtra;
    const dataEnd = dataStart + e.compressedSize;
    if (dataEnd > this.centralOffset) bad(this.label, `entry ${e.name} data runs into the central directory`);
    if (dataEnd - start <= buf.length) return buf.subarray(dataStart - start, dataEnd - start);
    buf = await this.readRange(dataStart, dataEnd);
    return buf;
  }

  /** The entry's bytes, inflated within its declared size and checked against its CRC-32. */
  async read(name: string): Promise<Buffer> {
    const e = this.entries.get(name);
    if (!e) bad(this.label, `no entry ${name}`);
    const out = inflateChecked(await this.rawData(e), e.method, e.size, e.name, this.label);
    if (crc32(out) !== e.crc32) bad(this.label, `entry ${e.name} fails its CRC-32`);
    return out;
  }

  /** The entry as stored (still compressed), with what a writer needs to copy it unchanged. */
  async raw(name: string): Promise<PreparedEntry> {
    const e = this.entries.get(name);
    if (!e) bad(this.label, `no entry ${name}`);
    return { name, method: e.method, crc32: e.crc32, size: e.size, compressed: await this.rawData(e) };
  }
}

/**
 * Inflates (or takes as is, for a stored entry) the raw bytes of an entry, stopping one byte past
 * its declared size: a stream that reaches it is a zip bomb.
 */
export function inflateChecked(raw: Buffer, method: 0 | 8, size: number, name: string, label: string): Buffer {
  let out: Buffer;
  if (method === 0) out = raw;
  else {
    try {
      out = inflateRawSync(raw, { maxOutputLength: size + 1 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
        throw new PeerwebError('PW_ERR_ARCHIVE_BOMB', { name, reason: `inflates beyond its declared size ${size}` });
      }
      bad(label, `entry ${name} is not valid deflate data: ${(err as Error).message}`);
    }
    if (out.length > size) throw new PeerwebError('PW_ERR_ARCHIVE_BOMB', { name, reason: `inflates beyond its declared size ${size}` });
  }
  if (out.length !== size) bad(label, `entry ${name} holds ${out.length} bytes, not the declared ${size}`);
  return out;
}

/** A RangeSource over bytes in memory. */
export function bufferSource(buf: Buffer): RangeSource {
  return { size: buf.length, read: async (s, e) => buf.subarray(Math.max(0, s), Math.min(buf.length, e)) };
}

export interface ZipInput { readonly name: string; readonly data: Buffer; /** Store even when deflate would be smaller. */ readonly store?: boolean }

/** An entry ready to be written: its bytes as stored (deflated or not), and what its headers say. */
export interface PreparedEntry { readonly name: string; readonly method: 0 | 8; readonly crc32: number; readonly size: number; readonly compressed: Buffer }

/** Compresses an entry the way the writer does: deflate level 9 only when that saves bytes, so a deflated entry is always smaller than its data. */
export function prepareEntry(inp: ZipInput): PreparedEntry {
  const deflated = inp.store || inp.data.length === 0 ? undefined : deflateRawSync(inp.data, { level: 9 });
  const useDeflate = deflated !== undefined && deflated.length < inp.data.length;
  return { name: inp.name, method: useDeflate ? 8 : 0, crc32: crc32(inp.data), size: inp.data.length, compressed: useDeflate ? deflated : inp.data };
}

/** Whether the writer gives an entry zip64 fields: when a size or its offset does not fit in 32 bits. */
export function needsZip64(size: number, compressedSize: number, offset: number, force = false): boolean {
  return force || size >= 0xffffffff || compressedSize >= 0xffffffff || offset >= 0xffffffff;
}

/** Length of the local header the writer puts before an entry's data at `offset`. */
export function localHeaderLength(name: string, size: number, compressedSize: number, offset: number, force = false): number {
  return 30 + Buffer.byteLength(name) + (needsZip64(size, compressedSize, offset, force) ? 20 : 0);
}

/**
 * Writes a zip deterministically: entries in the given order, fixed timestamps (1980-01-01),
 * deflate level 9 only when it saves bytes (entries given prepared are copied as they are), and
 * the given comment in the end record. Zip64 records are written when a size or offset needs
 * them, or always with `forceZip64` (tests).
 */
export function writeZip(inputs: readonly (ZipInput | PreparedEntry)[], opts: { forceZip64?: boolean; comment?: Buffer } = {}): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  const names = new Set<string>();
  const comment = opts.comment ?? Buffer.alloc(0);
  if (comment.length > 0xffff) throw new PeerwebError('PW_ERR_ARCHIVE_FORMAT', { archive: '(writer)', reason: `comment of ${comment.length} bytes is longer than 65535` });
  for (const given of inputs) {
    const inp = 'compressed' in given ? given : prepareEntry(given);
    checkEntryName(inp.name);
    if (names.has(inp.name)) throw new PeerwebError('PW_ERR_ARCHIVE_FORMAT', { archive: '(writer)', reason: `duplicate entry ${inp.name}` });
    names.add(inp.name);
    const name = Buffer.from(inp.name, 'utf8');
    const body = inp.compressed;
    const useDeflate = inp.method === 8;
    const crc = inp.crc32;
    const size = inp.size;
    const z64 = needsZip64(size, body.length, offset, opts.forceZip64 === true);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(SIG_LOCAL, 0);
    local.writeUInt16LE(z64 ? 45 : 20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(useDeflate ? 8 : 0, 8);
    local.writeUInt16LE(0, 10); // time 00:00:00
    local.writeUInt16LE(0x0021, 12); // date 1980-01-01
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(z64 ? 0xffffffff : body.length, 18);
    local.writeUInt32LE(z64 ? 0xffffffff : size, 22);
    local.writeUInt16LE(name.length, 26);
    let localExtra = Buffer.alloc(0);
    if (z64) {
      localExtra = Buffer.alloc(20);
      localExtra.writeUInt16LE(1, 0); localExtra.writeUInt16LE(16, 2);
      localExtra.writeBigUInt64LE(BigInt(size), 4); localExtra.writeBigUInt64LE(BigInt(body.length), 12);
    }
    local.writeUInt16LE(localExtra.length, 28);
    let cextra = Buffer.alloc(0);
    if (z64) {
      cextra = Buffer.alloc(28);
      cextra.writeUInt16LE(1, 0); cextra.writeUInt16LE(24, 2);
      cextra.writeBigUInt64LE(BigInt(size), 4); cextra.writeBigUInt64LE(BigInt(body.length), 12); cextra.writeBigUInt64LE(BigInt(offset), 20);
    }
    const c = Buffer.alloc(46);
    c.writeUInt32LE(SIG_CENTRAL, 0);
    c.writeUInt16LE((3 << 8) | (z64 ? 45 : 20), 4); // made by: unix
    c.writeUInt16LE(z64 ? 45 : 20, 6);
    c.writeUInt16LE(0x0800, 8);
    c.writeUInt16LE(useDeflate ? 8 : 0, 10);
    c.writeUInt16LE(0, 12);
    c.writeUInt16LE(0x0021, 14);
    c.writeUInt32LE(crc, 16);
    c.writeUInt32LE(z64 ? 0xffffffff : body.length, 20);
    c.writeUInt32LE(z64 ? 0xffffffff : size, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt16LE(cextra.length, 30);
    c.writeUInt32LE((0o100644 << 16) >>> 0, 38);
    c.writeUInt32LE(z64 ? 0xffffffff : offset, 42);
    central.push(c, name, cextra);
    parts.push(local, name, localExtra, body);
    offset += local.length + name.length + localExtra.length + body.length;
  }
  const cd = Buffer.concat(central);
  const count = inputs.length;
  const z64 = opts.forceZip64 === true || count >= 0xffff || cd.length >= 0xffffffff || offset >= 0xffffffff;
  const tail: Buffer[] = [];
  if (z64) {
    const rec = Buffer.alloc(56);
    rec.writeUInt32LE(SIG_Z64_EOCD, 0);
    rec.writeBigUInt64LE(44n, 4);
    rec.writeUInt16LE(45, 12); rec.writeUInt16LE(45, 14);
    rec.writeBigUInt64LE(BigInt(count), 24); rec.writeBigUInt64LE(BigInt(count), 32);
    rec.writeBigUInt64LE(BigInt(cd.length), 40); rec.writeBigUInt64LE(BigInt(offset), 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(SIG_Z64_LOCATOR, 0);
    loc.writeBigUInt64LE(BigInt(offset + cd.length), 8);
    loc.writeUInt32LE(1, 16);
    tail.push(rec, loc);
  }
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(SIG_EOCD, 0);
  eocd.writeUInt16LE(z64 ? 0xffff : count, 8);
  eocd.writeUInt16LE(z64 ? 0xffff : count, 10);
  eocd.writeUInt32LE(z64 ? 0xffffffff : cd.length, 12);
  eocd.writeUInt32LE(z64 ? 0xffffffff : offset, 16);
  eocd.writeUInt16LE(comment.length, 20);
  tail.push(eocd, comment);
  return Buffer.concat([...parts, cd, ...tail]);
}
