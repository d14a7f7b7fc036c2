import { readFile, readdir, realpath, stat } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import { DigestBuilder, type Sha256 } from '../integrity/index.js';

/** The publisher's own bytes for one path. */
export interface SourceEntry {
  readonly body: Buffer;
  readonly contentType: string;
  readonly cacheControl?: string;
  /** Changes whenever the bytes may have changed (mtime and size for files). */
  readonly version: string;
}

/** Where an origin front reads what it publishes: a folder, or (from the pipeline) its origin. */
export interface ContentSource {
  get(path: string): Promise<SourceEntry | undefined>;
  /** Paths under `prefix`, sorted, at most `limit`. */
  list(prefix: string, limit: number): Promise<string[]>;
  /** The current version of `path` without reading its bytes (lets the front answer HEAD from its cache). */
  version?(path: string): Promise<string | undefined>;
}

/** What the origin front publishes about a representation. */
export interface Description {
  readonly path: string;
  readonly size: number;
  readonly digest: Sha256;
  readonly contentType: string;
  readonly cacheControl?: string;
  readonly pieceSize?: number;
  readonly pieces?: readonly Sha256[];
  readonly version: string;
}

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8', '.htm': 'text/html; charset=utf-8', '.txt': 'text/plain; charset=utf-8',
  '.css': 'text/css', '.js': 'text/javascript', '.mjs': 'text/javascript', '.json': 'application/json',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif',
  '.webp': 'image/webp', '.ico': 'image/x-icon', '.pdf': 'application/pdf', '.zip': 'application/zip',
  '.iso': 'application/octet-stream', '.gz': 'application/gzip', '.xml': 'application/xml', '.wasm': 'application/wasm',
};

export function contentTypeOf(path: string): string {
  return TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

/** True for a normalised absolute URL path without dot segments, NUL or backslashes. */
export function isSafePath(path: string): boolean {
  if (!path.startsWith('/') || path.length > 2048 || /[\0\\]/.test(path)) return false;
  return !path.split('/').some((seg) => seg === '..' || seg === '.');
}

/**
 * Serves the files of a folder. Paths are decoded, checked for dot segments and resolved
 * through realpath so that no symlink leads out of the folder; hidden files are not served.
 */
export function createFolderSource(dir: string, opts: { maxObjectSize: number; maxFiles?: number }): ContentSource {
  const maxFiles = opts.maxFiles ?? 100_000;
  let rootReal: string | undefined;
  const root = async () => (rootReal ??= await realpath(dir));
  async function resolve(path: string): Promise<string | undefined> {
    let decoded: string;
    try {
      decoded = decodeURIComponent(path.split('?')[0] ?? '');
    } catch {
      return undefined;
    }
    if (!isSafePath(decoded) || decoded.split('/').some((s) => s.startsWith('.'))) return undefined;
    const r = await root();
    let real: string;
    try {
      real = await realpath(join(r, decoded));
    } catch {
      return undefined;
    }
    if (real !== r && !real.startsWith(r + sep)) return undefined;
    return real;
  }
  return {
    async get(path) {
      const file = await resolve(path);
      if (!file) return undefined;
      const st = await stat(file).catch(() => undefined);
      if (!st?.isFile() || st.size > opts.maxObjectSize) return undefined;
      const body = await readFile(file);
      // A file changed while it was read gets a version that matches no later stat.
      const after = await stat(file).catch(() => undefined);
      const stable = after && after.mtimeMs === st.mtimeMs && after.size === body.length;
      return { body, contentType: contentTypeOf(file), version: stable ? `${st.mtimeMs}:${st.size}` : `unstable:${Date.now()}:${Math.random()}` };
    },
    async version(path) {
      const file = await resolve(path);
      if (!file) return undefined;
      const st = await stat(file).catch(() => undefined);
      if (!st?.isFile() || st.size > opts.maxObjectSize) return undefined;
      return `${st.mtimeMs}:${st.size}`;
    },
    async list(prefix, limit) {
      const r = await root();
      const out: string[] = [];
      const start = await resolve(prefix.endsWith('/') ? prefix.slice(0, -1) || '/' : prefix);
      if (!start) return out;
      const walk = async (d: string): Promise<void> => {
        const entries = await readdir(d, { withFileTypes: true }).catch(() => []);
        entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        for (const e of entries) {
          if (out.length >= Math.min(limit, maxFiles) || e.name.startsWith('.')) continue;
          const p = join(d, e.name);
          if (e.isDirectory()) await walk(p);
          else if (e.isFile()) out.push('/' + relative(r, p).split(sep).map(encodeURIComponent).join('/'));
        }
      };
      const st = await stat(start).catch(() => undefined);
      if (st?.isDirectory()) await walk(start);
      else if (st?.isFile()) out.push(prefix);
      return out;
    },
  };
}

/** Digest, size and (above `pieceThreshold`) piece hashes of an entry. */
export function describeEntry(path: string, e: SourceEntry, pieceSize: number, pieceThreshold: number): Description {
  const withPieces = e.body.length > pieceThreshold;
  const b = new DigestBuilder(withPieces ? pieceSize : 0);
  b.update(e.body);
  const r = b.finish();
  return {
    path, size: r.size, digest: r.digest, contentType: e.contentType, version: e.version,
    ...(e.cacheControl !== undefined ? { cacheControl: e.cacheControl } : {}),
    ...(withPieces ? { pieceSize, pieces: r.pieces } : {}),
  };
}
