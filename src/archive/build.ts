import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { PeerwebError } from '../errors/index.js';
import type { PublisherKey } from '../integrity/keys.js';
import {
  FORMAT, MANIFEST_NAME, SIGNATURE_NAME, checkFilePath, checkOrigin, checkPrefix, comparePaths, decodeTail, encodeTail, parseManifest, serializeManifest, signManifest,
  type IndexRef, type Manifest, type ManifestRoute,
} from './manifest.js';
import { cutShards, serializeShard, shardName, type IndexRow } from './file-index.js';
import { ARCHIVE_TAIL_READ, DEFAULT_ZIP_LIMITS, ZipReader, bufferSource, checkEntryName, localHeaderLength, prepareEntry, writeZip, type PreparedEntry, type ZipInput } from './zip.js';
import { chunksOf } from './chunks.js';

const TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8', htm: 'text/html; charset=utf-8', css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8', mjs: 'text/javascript; charset=utf-8', json: 'application/json',
  txt: 'text/plain; charset=utf-8', md: 'text/markdown; charset=utf-8', xml: 'application/xml', svg: 'image/svg+xml',
  png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp', avif: 'image/avif', ico: 'image/x-icon',
  woff: 'font/woff', woff2: 'font/woff2', pdf: 'application/pdf', wasm: 'application/wasm', csv: 'text/csv; charset=utf-8',
  mp4: 'video/mp4', webm: 'video/webm', mp3: 'audio/mpeg', zip: 'application/zip',
};

export function contentTypeOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return (dot >= 0 ? TYPES[name.slice(dot + 1).toLowerCase()] : undefined) ?? 'application/octet-stream';
}

export interface BuildOptions {
  readonly dir: string;
  readonly origin: string;
  readonly prefix: string;
  /** Start of validity, ms since the epoch; fixed for reproducible builds. */
  readonly notBefore: number;
  /** Length of validity in ms. */
  readonly validFor: number;
  /** Defaults to notBefore in seconds, so later builds get higher versions. */
  readonly version?: number;
  readonly staleIfUnverified?: number;
  readonly routes?: readonly ManifestRoute[];
  readonly previous?: { readonly version: number; readonly digest: string };
  /** Without a key the archive is unsigned (sign it later with `signArchive`). */
  readonly key?: PublisherKey;
  readonly maxFiles?: number;
  readonly maxFileSize?: number;
  /** Files at least this large are split into content-defined chunks and stored uncompressed (default 1 MiB; 0 never). */
  readonly chunkThreshold?: number;
}

function buildFail(dir: string, reason: string): never {
  throw new PeerwebError('PW_ERR_ARCHIVE_BUILD', { dir, reason });
}

/** Lists regular files under `dir` (sorted, `/`-separated); symlinks and special files are refused. */
function walk(dir: string, maxFiles: number): string[] {
  const out: string[] = [];
  const visit = (d: string): void => {
    for (const ent of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const full = join(d, ent.name);
      const st = lstatSync(full);
      if (st.isSymbolicLink()) buildFail(dir, `${full} is a symbolic link`);
      if (st.isDirectory()) visit(full);
      else if (st.isFile()) {
        out.push(relative(dir, full).split(sep).join('/'));
        if (out.length > maxFiles) buildFail(dir, `more than ${maxFiles} files`);
      } else buildFail(dir, `${full} is not a regular file`);
    }
  };
  try { visit(dir); } catch (err) {
    if (err instanceof PeerwebError) throw err;
    buildFail(dir, (err as Error).message);
  }
  return out.sort();
}

/** A file to pack: its path in the archive, bytes and media type; chunked files are split by content and stored. */
export interface PackFile {
  readonly path: string;
  readonly data: Buffer;
  readonly type: string;
  readonly chunked?: boolean;
  /** The entry exactly as written, instead of compressing `data` (tests craft bombs with it). */
  readonly stored?: PreparedEntry;
}

/** The manifest fields a packer is given (the index is computed). */
export type PackMeta = Omit<Manifest, 'format' | 'index'>;

export interface PackOptions {
  /** Zip64 records for every entry (tests). */
  readonly forceZip64?: boolean;
  /** Serialized bytes a shard aims at before the manifest would outgrow the first read; default SHARD_TARGET. */
  readonly shardTarget?: number;
  /** Changes a row before it is written (tests forge archives with it). */
  readonly editRow?: (row: IndexRow) => IndexRow;
}

/** Smallest shard size the packer aims at; larger when the manifest would not fit in the reader's first read. */
export const SHARD_TARGET = 8192;
/** Room for the manifest block in the end record comment so that end record, zip64 records and comment fit in ARCHIVE_TAIL_READ. */
const TAIL_BUDGET = ARCHIVE_TAIL_READ - 22 - 56 - 20 - 64;

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/**
 * Lays out a site archive: files in path order, then the index shards, then the manifest and its
 * signature, then the central directory, and the manifest block in the end record's comment. Shards
 * are as small as the manifest allows: the shard size grows only when the manifest (one line per
 * shard) would no longer fit in a reader's first read. The same input and key give the same bytes.
 */
export function packArchive(meta: PackMeta, input: readonly PackFile[], key: PublisherKey | undefined, opts: PackOptions = {}): Buffer {
  const force = opts.forceZip64 === true;
  const files = [...input].sort((a, b) => comparePaths(a.path, b.path));
  for (let i = 1; i < files.length; i++) if (files[i]!.path === files[i - 1]!.path) throw new PeerwebError('PW_ERR_ARCHIVE_FORMAT', { archive: '(writer)', reason: `duplicate entry ${files[i]!.path}` });
  const prepared: PreparedEntry[] = [];
  const localOffsets: number[] = [];
  const dataOffsets: number[] = [];
  const rows: IndexRow[] = [];
  let offset = 0;
  for (const f of files) {
    checkFilePath(f.path);
    const e = f.stored ?? prepareEntry({ name: f.path, data: f.data, ...(f.chunked ? { store: true } : {}) });
    prepared.push(e);
    localOffsets.push(offset);
    offset += localHeaderLength(f.path, e.size, e.compressed.length, offset, force);
    dataOffsets.push(offset);
    offset += e.compressed.length;
    rows.push({ path: f.path, sha256: sha(f.data), size: f.data.length, type: f.type, at: 0, csize: e.compressed.length, ...(f.chunked ? { chunks: chunksOf(f.data) } : {}) });
  }
  // Shard size: the smallest target whose manifest fits the budget (estimated first, then checked).
  const fixed = serializeManifest({ ...meta, format: FORMAT, index: [] }).length + 20 + (key ? 160 : 0);
  const estimate = (starts: number[]): number => fixed + starts.reduce((n, s) => n + 180 + Buffer.byteLength(rows[s]!.path), 0);
  const dataEnd = offset;
  const shardsFor = (starts: number[]): { shards: PreparedEntry[]; index: IndexRef[] } => {
    const shards: PreparedEntry[] = [];
    const index: IndexRef[] = [];
    let at = dataEnd;
    for (let s = 0; s < starts.length; s++) {
      const from = starts[s]!;
      const to = starts[s + 1] ?? rows.length;
      const base = localOffsets[from]!;
      const part: IndexRow[] = [];
      for (let i = from; i < to; i++) {
        let row: IndexRow = { ...rows[i]!, at: dataOffsets[i]! - base };
        if (opts.editRow) row = opts.editRow(row);
        part.push(row);
      }
      const bytes = serializeShard(part);
      const e = prepareEntry({ name: shardName(s), data: bytes });
      shards.push(e);
      at += localHeaderLength(e.name, e.size, e.compressed.length, at, force);
      index.push({ first: part[0]!.path, sha256: sha(bytes), size: bytes.length, csize: e.compressed.length, offset: at, base, count: part.length });
      at += e.compressed.length;
    }
    return { shards, index };
  };
  let target = opts.shardTarget ?? SHARD_TARGET;
  let starts = cutShards(rows, target);
  while (starts.length > 1 && estimate(starts) > TAIL_BUDGET) { target = Math.ceil(target * 1.25); starts = cutShards(rows, target); }
  let { shards, index } = shardsFor(starts);
  while (starts.length > 1 && serializeManifest({ ...meta, format: FORMAT, index }).length + fixed - serializeManifest({ ...meta, format: FORMAT, index: [] }).length > TAIL_BUDGET) {
    target = Math.ceil(target * 1.25);
    starts = cutShards(rows, target);
    ({ shards, index } = shardsFor(starts));
  }
  // The builder never writes what a reader with default limits would refuse.
  const entries = prepared.length + shards.length + 2;
  if (entries > DEFAULT_ZIP_LIMITS.maxEntries) {
    throw new PeerwebError('PW_ERR_ARCHIVE_FORMAT', { archive: '(writer)', reason: `${files.length} files and ${shards.length} index shards make ${entries} zip entries, more than readers accept (${DEFAULT_ZIP_LIMITS.maxEntries}, archive.maxEntries): split the site into several archives by prefix` });
  }
  const manifest: Manifest = { ...meta, format: FORMAT, index };
  const manifestBytes = serializeManifest(manifest);
  parseManifest(manifestBytes);
  const sig = key ? signManifest(manifestBytes, key) : undefined;
  const comment = encodeTail(manifestBytes, sig);
  if (comment.length > 0xffff) throw new PeerwebError('PW_ERR_ARCHIVE_FORMAT', { archive: '(writer)', reason: `manifest of ${manifestBytes.length} bytes does not fit in the end record comment (65535 bytes): too many routes` });
  const tail: ZipInput[] = [{ name: MANIFEST_NAME, data: manifestBytes }];
  if (sig) tail.push({ name: SIGNATURE_NAME, data: sig, store: true });
  return writeZip([...prepared, ...shards, ...tail], { comment, forceZip64: force });
}

/** Builds a `.pwar` from a folder; the same folder, options and key give the same bytes. */
export function buildArchive(o: BuildOptions): Buffer {
  try { checkOrigin(o.origin); checkPrefix(o.prefix); } catch (err) { buildFail(o.dir, (err as Error).message); }
  if (!Number.isFinite(o.notBefore) || !(o.validFor > 0)) buildFail(o.dir, 'validity must be a positive duration');
  const names = walk(o.dir, o.maxFiles ?? 100_000);
  const files: PackFile[] = [];
  const threshold = o.chunkThreshold ?? 1024 * 1024;
  for (const name of names) {
    try { checkEntryName(name); } catch (err) { buildFail(o.dir, (err as Error).message); }
    if (name.startsWith('peerweb/')) buildFail(o.dir, `${name} is under the reserved folder peerweb/`);
    const data = readFileSync(join(o.dir, ...name.split('/')));
    if (data.length > (o.maxFileSize ?? 1024 ** 3)) buildFail(o.dir, `${name} is larger than ${o.maxFileSize}`);
    files.push({ path: name, data, type: contentTypeOf(name), chunked: threshold > 0 && data.length >= threshold });
  }
  const paths = new Set(names);
  for (const r of o.routes ?? []) if (!paths.has(r.handler)) buildFail(o.dir, `route ${r.pattern} handler ${r.handler} is not a file of the folder`);
  const meta: PackMeta = {
    origin: o.origin, prefix: o.prefix,
    version: o.version ?? Math.floor(o.notBefore / 1000),
    notBefore: new Date(o.notBefore).toISOString(), notAfter: new Date(o.notBefore + o.validFor).toISOString(),
    staleIfUnverified: o.staleIfUnverified ?? 0, routes: o.routes ?? [],
    ...(o.previous ? { previous: o.previous } : {}),
  };
  return packArchive(meta, files, o.key);
}

/** Re-signs an archive with `key` (replacing any signature): every other entry is copied unchanged, so the layout the manifest signs stays. */
export async function signArchive(archive: Buffer, key: PublisherKey): Promise<Buffer> {
  const zip = await ZipReader.open(bufferSource(archive), '(input)');
  const { manifest: manifestBytes } = decodeTail(zip.comment, '(input)');
  parseManifest(manifestBytes);
  if (zip.entries.has(MANIFEST_NAME) && !(await zip.read(MANIFEST_NAME)).equals(manifestBytes)) {
    throw new PeerwebError('PW_ERR_ARCHIVE_FORMAT', { archive: '(input)', reason: `${MANIFEST_NAME} differs from the manifest in the end record` });
  }
  const entries: PreparedEntry[] = [];
  for (const name of zip.entries.keys()) {
    if (name === MANIFEST_NAME || name === SIGNATURE_NAME) continue;
    entries.push(await zip.raw(name));
  }
  const sig = signManifest(manifestBytes, key);
  return writeZip([...entries, { name: MANIFEST_NAME, data: manifestBytes }, { name: SIGNATURE_NAME, data: sig, store: true }], { comment: encodeTail(manifestBytes, sig) });
}
