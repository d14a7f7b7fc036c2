import { createHash } from 'node:crypto';
import { PeerwebError } from '../errors/index.js';
import { MANIFEST_NAME, SIGNATURE_NAME, verifyManifest, type KeyResolver, type Manifest, type ManifestFile } from './manifest.js';
import type { ArchiveSite } from './site.js';
import { DEFAULT_ZIP_LIMITS, ZipReader, writeZip, type RangeSource, type ZipInput, type ZipLimits } from './zip.js';

export interface UpdatePlan {
  /** Files of the new version whose bytes the old version already has (by hash, under any name). */
  readonly reused: readonly string[];
  /** Large files rebuilt from old chunks plus fetched ones: name → indexes of the chunks to fetch. */
  readonly chunked: Readonly<Record<string, readonly number[]>>;
  /** Files fetched whole from the new archive. */
  readonly changed: readonly string[];
  /** Bytes of entry data to fetch (changed files and changed chunks). */
  readonly changedBytes: number;
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const fileKey = (f: ManifestFile): string => `${f.sha256}:${f.size}`;

/** Which files (or chunks of large files) of `next` can come from `prev` and which must be fetched. */
export function planUpdate(prev: Manifest, next: Manifest): UpdatePlan {
  const have = new Set(Object.values(prev.files).map(fileKey));
  const oldChunks = new Set<string>();
  for (const f of Object.values(prev.files)) for (const c of f.chunks ?? []) oldChunks.add(`${c.sha256}:${c.size}`);
  const reused: string[] = [];
  const changed: string[] = [];
  const chunked: Record<string, number[]> = {};
  let changedBytes = 0;
  for (const [name, f] of Object.entries(next.files)) {
    if (have.has(fileKey(f))) { reused.push(name); continue; }
    if (f.chunks && f.chunks.some((c) => oldChunks.has(`${c.sha256}:${c.size}`))) {
      const missing: number[] = [];
      f.chunks.forEach((c, i) => { if (!oldChunks.has(`${c.sha256}:${c.size}`)) { missing.push(i); changedBytes += c.size; } });
      chunked[name] = missing;
      continue;
    }
    changed.push(name);
    changedBytes += f.size;
  }
  return { reused, chunked, changed, changedBytes };
}

export interface UpdateResult {
  /** A complete archive of the new version (same manifest and signature bytes; entries repacked). */
  readonly bytes: Buffer;
  readonly plan: UpdatePlan;
  readonly manifest: Manifest;
  /** Reads made from the new archive's source. */
  readonly reads: number;
}

/**
 * Incremental update: from an open, verified `prev` and a range source of the next version (any
 * holder), reads the next version's table of contents, manifest and signature, verifies them
 * (same site, higher version), then fetches only what `prev` lacks: whole entries whose hash is
 * new, and for large chunked entries only the chunks whose hash is new (adjacent ones in one
 * range). Every chunk and every entry is checked against the new manifest's hashes.
 */
export async function updateArchive(prev: ArchiveSite, next: RangeSource, trust: KeyResolver,
  opts: { now?: number; clockSkew?: number; zip?: ZipLimits; label?: string } = {}): Promise<UpdateResult> {
  const label = opts.label ?? '(update)';
  const zip = await ZipReader.open(next, label, opts.zip ?? DEFAULT_ZIP_LIMITS);
  if (!zip.entries.has(MANIFEST_NAME)) throw new PeerwebError('PW_ERR_ARCHIVE_FORMAT', { archive: label, reason: `no ${MANIFEST_NAME}` });
  const manifestBytes = await zip.read(MANIFEST_NAME);
  const sigBytes = zip.entries.has(SIGNATURE_NAME) ? await zip.read(SIGNATURE_NAME) : undefined;
  const v = await verifyManifest(manifestBytes, sigBytes, trust, {
    ...(opts.now !== undefined ? { now: opts.now } : {}), ...(opts.clockSkew !== undefined ? { clockSkew: opts.clockSkew } : {}),
    expect: { origin: prev.origin, prefix: prev.prefix }, knownVersion: prev.manifest.version + 1,
  });
  const plan = planUpdate(prev.manifest, v.manifest);
  const byHash = new Map<string, string>();
  for (const [name, f] of Object.entries(prev.manifest.files)) byHash.set(fileKey(f), name);
  // Where each old chunk lives: file name and offset.
  const oldChunk = new Map<string, { name: string; offset: number; size: number }>();
  for (const [name, f] of Object.entries(prev.manifest.files)) {
    let off = 0;
    for (const c of f.chunks ?? []) { oldChunk.set(`${c.sha256}:${c.size}`, { name, offset: off, size: c.size }); off += c.size; }
  }
  const missingEntry = (name: string): never => { throw new PeerwebError('PW_ERR_ARCHIVE_FORMAT', { archive: label, reason: `manifest file ${name} is missing from the archive` }); };
  const oldFiles = new Map<string, Buffer>();
  const entries: ZipInput[] = [];
  for (const [name, f] of Object.entries(v.manifest.files).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    let data: Buffer | undefined;
    const old = byHash.get(fileKey(f));
    if (old !== undefined) data = await prev.readFile(old);
    const missing = plan.chunked[name];
    if (data === undefined && missing && f.chunks) {
      const e = zip.entries.get(name) ?? missingEntry(name);
      if (e.method !== 0) throw new PeerwebError('PW_ERR_ARCHIVE_FORMAT', { archive: label, reason: `chunked entry ${name} is not stored` });
      const parts: Buffer[] = [];
      const offsets: number[] = [];
      let off = 0;
      for (const c of f.chunks) { offsets.push(off); off += c.size; }
      const fetched = new Map<number, Buffer>();
      // Adjacent missing chunks are fetched in one range.
      for (let i = 0; i < missing.length;) {
        let j = i;
        while (j + 1 < missing.length && missing[j + 1] === missing[j]! + 1) j++;
        const first = missing[i]!;
        const last = missing[j]!;
        const buf = await zip.readStoredRange(name, offsets[first]!, offsets[last]! + f.chunks[last]!.size);
        for (let k = first; k <= last; k++) fetched.set(k, buf.subarray(offsets[k]! - offsets[first]!, offsets[k]! - offsets[first]! + f.chunks[k]!.size));
        i = j + 1;
      }
      for (let k = 0; k < f.chunks.length; k++) {
        const c = f.chunks[k]!;
        let part = fetched.get(k);
        if (!part) {
          const loc = oldChunk.get(`${c.sha256}:${c.size}`);
          let whole = loc ? oldFiles.get(loc.name) : undefined;
          if (loc && !whole) {
            whole = await prev.readFile(loc.name);
            if (whole) { oldFiles.clear(); oldFiles.set(loc.name, whole); } // the last old file used, verified once
          }
          part = whole?.subarray(loc!.offset, loc!.offset + loc!.size);
        }
        if (!part || sha(part) !== c.sha256) throw new PeerwebError('PW_ERR_ARCHIVE_HASH_MISMATCH', { name: `${name} chunk ${k}` });
        parts.push(part);
      }
      data = Buffer.concat(parts);
    }
    if (data === undefined) {
      if (!zip.entries.has(name)) missingEntry(name);
      data = await zip.read(name);
    }
    if (data.length !== f.size || sha(data) !== f.sha256) throw new PeerwebError('PW_ERR_ARCHIVE_HASH_MISMATCH', { name });
    entries.push({ name, data, ...(f.chunks ? { store: true } : {}) });
  }
  entries.push({ name: MANIFEST_NAME, data: manifestBytes });
  if (sigBytes) entries.push({ name: SIGNATURE_NAME, data: sigBytes, store: true });
  return { bytes: writeZip(entries), plan, manifest: v.manifest, reads: zip.reads };
}
