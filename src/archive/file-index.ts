import { PeerwebError } from '../errors/index.js';
import { HEX64, checkFilePath, comparePaths, type IndexRef } from './manifest.js';

/**
 * The file index of a site archive, split into shards (`peerweb/index/NNNNN.json`) that each cover
 * a range of paths. The signed manifest lists every shard with its hash, so a reader that needs one
 * file fetches and checks one shard, not a list of every file.
 */

export const INDEX_FORMAT = 'peerweb-index/1';
export const INDEX_FOLDER = 'peerweb/index/';

/** What the index says of one file. */
export interface ManifestFile {
  /** Lowercase hex SHA-256 of the file's (uncompressed) bytes. */
  readonly sha256: string;
  readonly size: number;
  /** Content-Type to serve it with. */
  readonly type: string;
  /** Offset of the file's data (after its local header), relative to the shard's `base`. */
  readonly at: number;
  /** Stored size: below `size` when deflated, equal when stored. */
  readonly csize: number;
  /**
   * Content-defined chunks of a large file (stored uncompressed, so each chunk can be fetched by
   * range): an update fetches only chunks whose hash is new. Sizes add up to `size`.
   */
  readonly chunks?: readonly { readonly sha256: string; readonly size: number }[];
}

export interface IndexRow extends ManifestFile { readonly path: string }

export function shardName(i: number): string {
  return `${INDEX_FOLDER}${String(i).padStart(5, '0')}.json`;
}

/** Canonical bytes of one shard: compact JSON, fields in a fixed order. */
export function serializeShard(rows: readonly IndexRow[]): Buffer {
  const files = rows.map((r) => ({
    path: r.path, sha256: r.sha256, size: r.size, type: r.type, at: r.at, csize: r.csize,
    ...(r.chunks ? { chunks: r.chunks.map((c) => ({ sha256: c.sha256, size: c.size })) } : {}),
  }));
  return Buffer.from(JSON.stringify({ format: INDEX_FORMAT, files }) + '\n', 'utf8');
}

const ROW_KEYS = new Set(['path', 'sha256', 'size', 'type', 'at', 'csize', 'chunks']);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Parses shard `i` (bytes already checked against the manifest's hash) and checks that its rows
 * are what the manifest says: `count` of them, in path order, from `first` up to (not including)
 * `nextFirst`, each file stored after the previous one, a deflated file smaller than its data.
 */
export function parseShard(bytes: Buffer, i: number, ref: IndexRef, nextFirst: string | undefined): IndexRow[] {
  const label = shardName(i);
  const fail: (reason: string) => never = (reason) => { throw new PeerwebError('PW_ERR_ARCHIVE_FORMAT', { archive: label, reason }); };
  let o: unknown;
  try { o = JSON.parse(bytes.toString('utf8')); } catch (err) { fail(`not JSON: ${(err as Error).message}`); }
  const oo = o as Record<string, unknown>;
  if (typeof oo !== 'object' || oo === null || Array.isArray(oo) || Object.keys(oo).length !== 2 || oo.format !== INDEX_FORMAT || !Array.isArray(oo.files)) fail(`must be { format: "${INDEX_FORMAT}", files: [...] }`);
  const files = oo.files as unknown[];
  if (files.length !== ref.count) fail(`lists ${files.length} files, the manifest says ${ref.count}`);
  const rows: IndexRow[] = [];
  let prev: IndexRow | undefined;
  for (const f of files) {
    if (typeof f !== 'object' || f === null || Array.isArray(f)) fail('a file is not an object');
    const ff = f as Record<string, unknown>;
    if (Object.keys(ff).some((k) => !ROW_KEYS.has(k))) fail('a file has unknown fields');
    if (typeof ff.path !== 'string') fail('a file has no path');
    const path = ff.path;
    checkFilePath(path, fail);
    if (typeof ff.sha256 !== 'string' || !HEX64.test(ff.sha256)) fail(`file ${path} sha256 must be 64 lowercase hex digits`);
    if (!isCount(ff.size)) fail(`file ${path} size must be a non-negative integer`);
    if (typeof ff.type !== 'string' || !/^[\x21-\x7e][\x20-\x7e]{0,200}$/.test(ff.type)) fail(`file ${path} type must be a media type`);
    if (!isCount(ff.at) || !isCount(ff.csize)) fail(`file ${path} at and csize must be non-negative integers`);
    if (ff.csize > ff.size) fail(`file ${path} is stored larger (${ff.csize}) than it is (${ff.size})`);
    if (ff.chunks !== undefined) {
      if (!Array.isArray(ff.chunks) || ff.chunks.length === 0 || ff.chunks.length > 1_000_000) fail(`file ${path} chunks must be a non-empty list`);
      if (ff.csize !== ff.size) fail(`chunked file ${path} must be stored uncompressed`);
      let total = 0;
      for (const c of ff.chunks as unknown[]) {
        const cc = c as Record<string, unknown>;
        if (typeof cc !== 'object' || cc === null || Object.keys(cc).length !== 2 || typeof cc.sha256 !== 'string' || !HEX64.test(cc.sha256)
          || !isCount(cc.size) || cc.size === 0) fail(`file ${path} has a malformed chunk`);
        total += cc.size as number;
      }
      if (total !== ff.size) fail(`file ${path} chunks add up to ${total}, not ${ff.size}`);
    }
    const row = ff as unknown as IndexRow;
    if (prev) {
      if (comparePaths(prev.path, path) >= 0) fail(`file ${path} does not follow ${prev.path} in path order`);
      if (row.at < prev.at + prev.csize + 30 + Buffer.byteLength(path)) fail(`file ${path} overlaps ${prev.path}`);
    } else {
      if (path !== ref.first) fail(`first file is ${path}, the manifest says ${ref.first}`);
      if (row.at < 30 + Buffer.byteLength(path)) fail(`file ${path} leaves no room for its local header`);
    }
    rows.push(row);
    prev = row;
  }
  if (nextFirst !== undefined && prev && comparePaths(prev.path, nextFirst) >= 0) fail(`file ${prev.path} belongs to the next shard`);
  return rows;
}

/** The shard whose path range holds `path`, or -1. */
export function findShard(index: readonly IndexRef[], path: string): number {
  let lo = 0;
  let hi = index.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (comparePaths(index[mid]!.first, path) <= 0) { found = mid; lo = mid + 1; } else hi = mid - 1;
  }
  return found;
}

/**
 * Cuts rows (in path order) into shards of about `target` serialized bytes (a file is never split;
 * one with a long chunk list may make a shard larger). Returns the index of each shard's first row.
 */
export function cutShards(rows: readonly IndexRow[], target: number): number[] {
  const starts: number[] = [];
  let bytes = 0;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const len = 120 + Buffer.byteLength(r.path) + r.type.length + (r.chunks ? r.chunks.length * 88 : 0);
    if (starts.length === 0 || (bytes > 0 && bytes + len > target)) { starts.push(i); bytes = 0; }
    bytes += len;
  }
  return starts;
}
