import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { PeerwebError } from '../errors/index.js';
import type { PublisherKey } from '../integrity/keys.js';
import { FORMAT, MANIFEST_NAME, SIGNATURE_NAME, checkOrigin, checkPrefix, parseManifest, serializeManifest, signManifest, type Manifest, type ManifestFile, type ManifestRoute } from './manifest.js';
import { ZipReader, bufferSource, checkEntryName, writeZip, type ZipInput } from './zip.js';
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

function assemble(manifest: Manifest, entries: readonly ZipInput[], key: PublisherKey | undefined): Buffer {
  const manifestBytes = serializeManifest(manifest);
  parseManifest(manifestBytes); // the builder never writes what the reader would refuse
  const tail: ZipInput[] = [{ name: MANIFEST_NAME, data: manifestBytes }];
  if (key) tail.push({ name: SIGNATURE_NAME, data: signManifest(manifestBytes, key), store: true });
  // The manifest and signature go last, just before the central directory, so one read of the
  // archive's tail gets the table of contents, the manifest and the signature together.
  return writeZip([...entries, ...tail]);
}

/** Builds a `.pwar` from a folder; the same folder, options and key give the same bytes. */
export function buildArchive(o: BuildOptions): Buffer {
  try { checkOrigin(o.origin); checkPrefix(o.prefix); } catch (err) { buildFail(o.dir, (err as Error).message); }
  if (!Number.isFinite(o.notBefore) || !(o.validFor > 0)) buildFail(o.dir, 'validity must be a positive duration');
  const names = walk(o.dir, o.maxFiles ?? 100_000);
  const files: Record<string, ManifestFile> = {};
  const entries: ZipInput[] = [];
  for (const name of names) {
    try { checkEntryName(name); } catch (err) { buildFail(o.dir, (err as Error).message); }
    if (name.startsWith('peerweb/')) buildFail(o.dir, `${name} is under the reserved folder peerweb/`);
    const data = readFileSync(join(o.dir, ...name.split('/')));
    if (data.length > (o.maxFileSize ?? 1024 ** 3)) buildFail(o.dir, `${name} is larger than ${o.maxFileSize}`);
    const threshold = o.chunkThreshold ?? 1024 * 1024;
    const chunked = threshold > 0 && data.length >= threshold;
    files[name] = { sha256: createHash('sha256').update(data).digest('hex'), size: data.length, type: contentTypeOf(name), ...(chunked ? { chunks: chunksOf(data) } : {}) };
    entries.push({ name, data, ...(chunked ? { store: true } : {}) });
  }
  for (const r of o.routes ?? []) if (!(r.handler in files)) buildFail(o.dir, `route ${r.pattern} handler ${r.handler} is not a file of the folder`);
  const manifest: Manifest = {
    format: FORMAT, origin: o.origin, prefix: o.prefix,
    version: o.version ?? Math.floor(o.notBefore / 1000),
    notBefore: new Date(o.notBefore).toISOString(), notAfter: new Date(o.notBefore + o.validFor).toISOString(),
    staleIfUnverified: o.staleIfUnverified ?? 0, files, routes: o.routes ?? [],
    ...(o.previous ? { previous: o.previous } : {}),
  };
  return assemble(manifest, entries, o.key);
}

/** Re-signs an archive with `key` (replacing any signature); entries and manifest bytes are kept. */
export async function signArchive(archive: Buffer, key: PublisherKey): Promise<Buffer> {
  const zip = await ZipReader.open(bufferSource(archive), '(input)');
  const manifest = parseManifest(await zip.read(MANIFEST_NAME));
  const entries: ZipInput[] = [];
  for (const name of zip.entries.keys()) {
    if (name === MANIFEST_NAME || name === SIGNATURE_NAME) continue;
    entries.push({ name, data: await zip.read(name), ...(manifest.files[name]?.chunks ? { store: true } : {}) });
  }
  return assemble(manifest, entries, key);
}
