import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { PeerwebError } from '../errors/index.js';
import { MANIFEST_NAME, SIGNATURE_NAME, encodeTail, verifyManifest, type KeyResolver, type Manifest } from './manifest.js';
import { shardName, type IndexRow } from './file-index.js';
import { ArchiveIndex, readArchiveTail, readRanges, type LocatedFile } from './reader.js';
import type { ArchiveSite } from './site.js';
import { DEFAULT_ZIP_LIMITS, bufferSource, readZipTail, writeZip, type PreparedEntry, type RangeSource, type ZipLimits } from './zip.js';

export interface UpdatePlan {
  /** Files of the new version whose bytes the old version already has (by hash, under any name). */
  readonly reused: readonly string[];
  /** Large files rebuilt from old chunks plus fetched ones: name → indexes of the chunks to fetch. */
  readonly chunked: Readonly<Record<string, readonly number[]>>;
  /** Files fetched whole from the new archive. */
  readonly changed: readonly string[];
  /** Bytes of file data to fetch (changed files and changed chunks). */
  readonly changedBytes: number;
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const contentKey = (f: { sha256: string; size: number }): string => `${f.sha256}:${f.size}`;

/** Which files (or chunks of large files) of the new index can come from the old one and which must be fetched. */
export function planUpdate(prev: Iterable<IndexRow>, next: Iterable<IndexRow>): UpdatePlan {
  const have = new Map<string, IndexRow>();
  const oldChunks = new Set<string>();
  for (const f of prev) {
    have.set(contentKey(f), f);
    for (const c of f.chunks ?? []) oldChunks.add(contentKey(c));
  }
  const reused: string[] = [];
  const changed: string[] = [];
  const chunked: Record<string, number[]> = {};
  let changedBytes = 0;
  for (const f of next) {
    const old = have.get(contentKey(f));
    // Reused as stored: the old copy must be stored the same way (same size on disk), or the
    // signed layout of the new version could not be rebuilt.
    if (old && old.csize === f.csize) { reused.push(f.path); continue; }
    if (f.chunks && f.chunks.some((c) => oldChunks.has(contentKey(c)))) {
      const missing: number[] = [];
      f.chunks.forEach((c, i) => { if (!oldChunks.has(contentKey(c))) { missing.push(i); changedBytes += c.size; } });
      chunked[f.path] = missing;
      continue;
    }
    changed.push(f.path);
    changedBytes += f.size;
  }
  return { reused, chunked, changed, changedBytes };
}

export interface UpdateResult {
  /** A complete archive of the new version: the same manifest and signature, every file where the signed index says. */
  readonly bytes: Buffer;
  readonly plan: UpdatePlan;
  readonly manifest: Manifest;
  /** Index shards of the new version, and how many of them had to be fetched (the others were the same as the old ones). */
  readonly shards: { readonly total: number; readonly fetched: number };
  /** Reads made from the new archive's source. */
  readonly reads: number;
}

/**
 * Incremental update: from an open, verified `prev` and a range source of the next version (any
 * holder), reads the next version's signed manifest (in its tail), then fetches only the index
 * shards whose hash differs from the old ones, then only what `prev` lacks: whole files whose hash
 * is new, and for large chunked files only the chunks whose hash is new; close ranges go in one
 * request. Every shard, chunk and file is checked against the new manifest's hashes, and the
 * archive is rebuilt byte for byte where the signed index puts each file.
 */
export async function updateArchive(prev: ArchiveSite, next: RangeSource, trust: KeyResolver,
  opts: { now?: number; clockSkew?: number; zip?: ZipLimits; label?: string; maxManifestSize?: number } = {}): Promise<UpdateResult> {
  const label = opts.label ?? '(update)';
  const limits = opts.zip ?? DEFAULT_ZIP_LIMITS;
  const { tail, manifestBytes, sigBytes } = await readArchiveTail(next, label, limits, opts.maxManifestSize);
  const v = await verifyManifest(manifestBytes, sigBytes, trust, {
    ...(opts.now !== undefined ? { now: opts.now } : {}), ...(opts.clockSkew !== undefined ? { clockSkew: opts.clockSkew } : {}),
    expect: { origin: prev.origin, prefix: prev.prefix }, knownVersion: prev.manifest.version + 1,
  });
  const nidx = new ArchiveIndex(next, label, v.manifest, tail, limits, opts.maxManifestSize);
  const pidx = prev.index;

  // 1. Shards: the same hash means the same list of files; those come from the old archive.
  const oldShard = new Map<string, number>();
  pidx.manifest.index.forEach((r, i) => oldShard.set(`${r.sha256}:${r.csize}`, i));
  const shardRaw: Buffer[] = new Array<Buffer>(v.manifest.index.length);
  const fetchShards: number[] = [];
  for (const [j, r] of v.manifest.index.entries()) {
    const i = oldShard.get(`${r.sha256}:${r.csize}`);
    if (i === undefined) { fetchShards.push(j); continue; }
    const o = pidx.manifest.index[i]!;
    shardRaw[j] = await pidx.read(o.offset, o.offset + o.csize);
  }
  const fetched = await readRanges((s, e) => nidx.read(s, e), fetchShards.map((j) => ({ start: v.manifest.index[j]!.offset, end: v.manifest.index[j]!.offset + v.manifest.index[j]!.csize })));
  fetchShards.forEach((j, k) => { shardRaw[j] = fetched[k]!; });
  const shardBytes: Buffer[] = [];
  const files: LocatedFile[] = [];
  for (let j = 0; j < shardRaw.length; j++) {
    const { bytes, rows } = nidx.ingestShard(j, shardRaw[j]!);
    shardBytes.push(bytes);
    files.push(...rows);
  }

  // 2. Files: reused as stored, rebuilt from chunks, or fetched.
  const prevFiles = await pidx.all();
  const plan = planUpdate(prevFiles, files);
  const oldByContent = new Map<string, LocatedFile>();
  const oldChunk = new Map<string, { file: LocatedFile; offset: number; size: number }>();
  for (const f of prevFiles) {
    oldByContent.set(contentKey(f), f);
    let off = 0;
    for (const c of f.chunks ?? []) { oldChunk.set(contentKey(c), { file: f, offset: off, size: c.size }); off += c.size; }
  }
  const reused = new Set(plan.reused);
  const chunked = new Map(Object.entries(plan.chunked));
  // Everything to fetch from the new archive, in one pass of coalesced ranges.
  const wanted: { start: number; end: number }[] = [];
  const slot = new Map<string, number>();
  for (const f of files) {
    if (reused.has(f.path)) continue;
    const missing = chunked.get(f.path);
    if (missing && f.chunks) {
      let off = 0;
      const offs = f.chunks.map((c) => { const o = off; off += c.size; return o; });
      for (const k of missing) { slot.set(`${f.path}\0${k}`, wanted.length); wanted.push({ start: f.offset + offs[k]!, end: f.offset + offs[k]! + f.chunks[k]!.size }); }
    } else {
      slot.set(f.path, wanted.length);
      wanted.push({ start: f.offset, end: f.offset + f.csize });
    }
  }
  const got = await readRanges((s, e) => nidx.read(s, e), wanted);

  const entries: PreparedEntry[] = [];
  let lastOld: { path: string; bytes: Buffer } | undefined; // the last old file read for its chunks, verified once
  for (const f of files) {
    let raw: Buffer;
    let content: Buffer;
    if (reused.has(f.path)) {
      const old = oldByContent.get(contentKey(f))!;
      raw = await pidx.raw(old);
      content = pidx.decode(old, raw);
    } else if (chunked.has(f.path) && f.chunks) {
      const parts: Buffer[] = [];
      for (const [k, c] of f.chunks.entries()) {
        const at = slot.get(`${f.path}\0${k}`);
        let part: Buffer | undefined;
        if (at !== undefined) part = got[at];
        else {
          const loc = oldChunk.get(contentKey(c));
          if (loc && lastOld?.path !== loc.file.path) lastOld = { path: loc.file.path, bytes: await pidx.readFile(loc.file) };
          part = loc ? lastOld!.bytes.subarray(loc.offset, loc.offset + loc.size) : undefined;
        }
        if (!part || sha(part) !== c.sha256) throw new PeerwebError('PW_ERR_ARCHIVE_HASH_MISMATCH', { name: `${f.path} chunk ${k}` });
        parts.push(part);
      }
      content = Buffer.concat(parts);
      raw = content;
      if (content.length !== f.size || sha(content) !== f.sha256) throw new PeerwebError('PW_ERR_ARCHIVE_HASH_MISMATCH', { name: f.path });
    } else {
      raw = got[slot.get(f.path)!]!;
      content = nidx.decode(f, raw);
    }
    entries.push({ name: f.path, method: f.csize < f.size ? 8 : 0, crc32: crc32(content), size: f.size, compressed: raw });
  }
  for (const [j, r] of v.manifest.index.entries()) {
    entries.push({ name: shardName(j), method: r.csize < r.size ? 8 : 0, crc32: crc32(shardBytes[j]!), size: r.size, compressed: shardRaw[j]! });
  }
  const bytes = writeZip([...entries, { name: MANIFEST_NAME, data: manifestBytes }, ...(sigBytes ? [{ name: SIGNATURE_NAME, data: sigBytes, store: true }] : [])], { comment: encodeTail(manifestBytes, sigBytes) });
  // The rebuilt copy must be the signed layout: check it whole, as a holder serving it will be read.
  const src = bufferSource(bytes);
  await new ArchiveIndex(src, label, v.manifest, await readZipTail(src, label, limits), limits, opts.maxManifestSize).checkWhole(manifestBytes, sigBytes);
  return { bytes, plan, manifest: v.manifest, shards: { total: v.manifest.index.length, fetched: fetchShards.length }, reads: nidx.reads };
}
