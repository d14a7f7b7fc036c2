import { open as openFile } from 'node:fs/promises';
import { request } from 'undici';
import { PeerwebError } from '../errors/index.js';
import { HandlerPool, DEFAULT_SANDBOX_LIMITS, staticImports, type SandboxLimits } from '../sandbox/index.js';

/** Modules one archive's handlers may load. */
const MAX_MODULES = 1024;
import { verifyManifest, type KeyResolver, type Manifest, type Verified } from './manifest.js';
import type { ManifestFile } from './file-index.js';
import { ArchiveIndex, readArchiveTail } from './reader.js';
import { ARCHIVE_TAIL_READ, DEFAULT_ZIP_LIMITS, bufferSource, type RangeSource, type ZipLimits } from './zip.js';

/** Where an archive's bytes come from. `fetchRange` gets bytes start..last inclusive (an HTTP Range). */
export type ArchiveSource =
  | { readonly url: string; readonly size: number; readonly fetchRange: (start: number, last: number) => Promise<Buffer> }
  | { readonly file: string }
  | { readonly bytes: Buffer; readonly url?: string };

export interface SiteRequest { readonly method: string; readonly url: string; readonly headers: readonly (readonly [string, string])[]; readonly body?: Buffer }
export interface SiteResponse { status: number; headers: [string, string][]; body: Buffer }

export interface OpenArchiveOptions {
  /** Clock in ms since the epoch (fake clocks in tests). */
  readonly now?: () => number;
  readonly clockSkew?: number;
  readonly expect?: { readonly origin?: string; readonly prefix?: string };
  readonly knownVersion?: number;
  readonly allowStale?: boolean;
  readonly zip?: ZipLimits;
  /** Largest manifest, and largest index shard. */
  readonly maxManifestSize?: number;
  /**
   * Check the archive as a whole when it is opened (central directory against the signed index);
   * default: when the source is a complete copy (bytes or file), not for a URL read by range.
   */
  readonly checkWhole?: boolean;
  readonly sandbox?: SandboxLimits;
  /** Bytes of verified entries kept in memory for reuse. */
  readonly entryCache?: number;
  /** Most bytes of handler module sources loaded into a VM. */
  readonly maxModuleBytes?: number;
}

/** A verified archive, opened partially (by Range) or fully. */
export interface ArchiveSite {
  readonly manifest: Manifest;
  readonly origin: string;
  readonly prefix: string;
  /** Hex SHA-256 of the manifest bytes: this version's identity in the directory. */
  readonly digest: string;
  readonly keyId: string;
  /** The archive is past notAfter and serves under staleIfUnverified. */
  readonly stale: boolean;
  /** Reads made from the source so far (ranged requests for a URL source). */
  readonly reads: number;
  /** Files in the archive (from the signed manifest). */
  readonly fileCount: number;
  /** The archive's index, for readers that need more than files by name (updates). */
  readonly index: ArchiveIndex;
  readonly handlerStats: { readonly created: number; readonly discarded: number; readonly runs: number };
  /** Answers a request under the prefix: a static entry (verified against its hash when read) or a handler route run in the sandbox; undefined when not covered. */
  handle(req: SiteRequest): Promise<SiteResponse | undefined>;
  /** Verified bytes of one entry (relative name); undefined when the archive has no such file. */
  readFile(name: string): Promise<Buffer | undefined>;
  /** What the signed index says of one file (reads its shard when needed). */
  file(name: string): Promise<ManifestFile | undefined>;
  /** Every file with what the index says of it, in path order (reads every shard). */
  files(): Promise<ReadonlyMap<string, ManifestFile>>;
  close(): Promise<void>;
}

function rangeSourceOf(source: ArchiveSource): Promise<{ src: RangeSource; label: string; close: () => Promise<void> }> {
  if ('bytes' in source) return Promise.resolve({ src: bufferSource(source.bytes), label: source.url ?? '(memory)', close: async () => {} });
  if ('file' in source) {
    return openFile(source.file, 'r').then(async (fh) => {
      const { size } = await fh.stat();
      return {
        label: source.file,
        close: () => fh.close(),
        src: {
          size,
          read: async (start: number, end: number) => {
            const buf = Buffer.alloc(Math.max(0, Math.min(end, size) - start));
            const { bytesRead } = await fh.read(buf, 0, buf.length, start);
            return buf.subarray(0, bytesRead);
          },
        },
      };
    });
  }
  return Promise.resolve({
    label: source.url,
    close: async () => {},
    src: { size: source.size, read: (start: number, end: number) => (end > start ? source.fetchRange(start, end - 1) : Promise.resolve(Buffer.alloc(0))) },
  });
}

/**
 * A `fetchRange` over HTTP with undici: each call is one `Range: bytes=a-b` request that must be
 * answered 206 with the matching Content-Range. `size` comes from a first ranged request.
 */
export async function httpRangeSource(url: string, opts: { timeout?: number; maxSize?: number; tailBytes?: number } = {}): Promise<{ url: string; size: number; fetchRange: (start: number, last: number) => Promise<Buffer> }> {
  const timeout = opts.timeout ?? 30_000;
  const get = async (start: number, last: number): Promise<{ body: Buffer; total: number }> => {
    const res = await request(url, { method: 'GET', headers: { range: `bytes=${start}-${last}`, 'accept-encoding': 'identity' }, headersTimeout: timeout, bodyTimeout: timeout });
    const cr = res.headers['content-range'];
    const m = typeof cr === 'string' ? /^bytes (\d+)-(\d+)\/(\d+)$/.exec(cr) : null;
    if (res.statusCode !== 206 || !m || Number(m[1]) !== start || Number(m[2]) !== Math.min(last, Number(m[3]) - 1)) {
      await res.body.dump();
      throw new PeerwebError('PW_ERR_UPSTREAM_BAD_RESPONSE', { origin: url, reason: `range ${start}-${last} answered ${res.statusCode} ${String(cr)}` });
    }
    const body = Buffer.from(await res.body.arrayBuffer());
    if (body.length !== Number(m[2]) - start + 1) throw new PeerwebError('PW_ERR_UPSTREAM_BAD_RESPONSE', { origin: url, reason: `range body of ${body.length} bytes` });
    return { body, total: Number(m[3]) };
  };
  // The first request asks for the archive's last bytes; its Content-Range tells the size, and its
  // body serves the reader's tail read (end record and the signed manifest in its comment).
  const probe = await (async () => {
    const res = await request(url, { method: 'GET', headers: { range: `bytes=-${opts.tailBytes ?? ARCHIVE_TAIL_READ}`, 'accept-encoding': 'identity' }, headersTimeout: timeout, bodyTimeout: timeout });
    const cr = res.headers['content-range'];
    const m = typeof cr === 'string' ? /^bytes (\d+)-(\d+)\/(\d+)$/.exec(cr) : null;
    if (res.statusCode !== 206 || !m) { await res.body.dump(); throw new PeerwebError('PW_ERR_UPSTREAM_BAD_RESPONSE', { origin: url, reason: `no range support (status ${res.statusCode})` }); }
    const body = Buffer.from(await res.body.arrayBuffer());
    return { start: Number(m[1]), body, total: Number(m[3]) };
  })();
  if (opts.maxSize !== undefined && probe.total > opts.maxSize) throw new PeerwebError('PW_ERR_UPSTREAM_TOO_LARGE', { limit: opts.maxSize });
  return {
    url,
    size: probe.total,
    fetchRange: async (start, last) => {
      if (start >= probe.start && last < probe.start + probe.body.length) return probe.body.subarray(start - probe.start, last - probe.start + 1);
      return (await get(start, last)).body;
    },
  };
}

/** Which way to get an archive: fetch it whole (and register as holder) or read it by Range. */
export function chooseFetchMode(size: number, requestsServed: number, policy: { fullFetchMaxSize: number; fullFetchAfterRequests: number }): 'full' | 'partial' {
  if (size <= policy.fullFetchMaxSize) return 'full';
  if (policy.fullFetchAfterRequests > 0 && requestsServed >= policy.fullFetchAfterRequests) return 'full';
  return 'partial';
}

function matchRoute(manifest: Manifest, rel: string): string | undefined {
  const path = '/' + rel;
  for (const r of manifest.routes) {
    if (r.pattern.endsWith('*') ? path.startsWith(r.pattern.slice(0, -1)) : path === r.pattern) return r.handler;
  }
  return undefined;
}

class LruBytes {
  private readonly map = new Map<string, Buffer>();
  private total = 0;
  constructor(private readonly max: number) {}
  get(k: string): Buffer | undefined {
    const v = this.map.get(k);
    if (v) { this.map.delete(k); this.map.set(k, v); }
    return v;
  }
  set(k: string, v: Buffer): void {
    if (v.length > this.max / 4) return;
    this.map.set(k, v);
    this.total += v.length;
    for (const [key, val] of this.map) {
      if (this.total <= this.max) break;
      this.map.delete(key); this.total -= val.length;
    }
  }
}

/** Opens and verifies an archive (signature, key for the origin's host, validity) and returns a site that serves it, checking each file against its hash when read. */
export async function openArchive(source: ArchiveSource, trust: KeyResolver, opts: OpenArchiveOptions = {}): Promise<ArchiveSite> {
  const { src, label, close: closeSource } = await rangeSourceOf(source);
  try {
    const limits = opts.zip ?? DEFAULT_ZIP_LIMITS;
    const maxSize = opts.maxManifestSize ?? 16 * 1024 ** 2;
    const { tail, manifestBytes, sigBytes } = await readArchiveTail(src, label, limits, maxSize);
    if (sigBytes && sigBytes.length > 4096) throw new PeerwebError('PW_ERR_ARCHIVE_FORMAT', { archive: label, reason: 'signature entry is too large' });
    const now = opts.now ?? Date.now;
    const verified: Verified = await verifyManifest(manifestBytes, sigBytes, trust, {
      now: now(), ...(opts.clockSkew !== undefined ? { clockSkew: opts.clockSkew } : {}), ...(opts.expect ? { expect: opts.expect } : {}),
      ...(opts.knownVersion !== undefined ? { knownVersion: opts.knownVersion } : {}), ...(opts.allowStale !== undefined ? { allowStale: opts.allowStale } : {}),
    });
    const index = new ArchiveIndex(src, label, verified.manifest, tail, limits, maxSize);
    // A complete copy is checked whole: every entry of the zip signed for, each where the index says.
    if (opts.checkWhole ?? !('url' in source && 'fetchRange' in source)) await index.checkWhole(manifestBytes, sigBytes);
    return new Site(index, verified, closeSource, opts);
  } catch (err) {
    await closeSource();
    throw err;
  }
}

class Site implements ArchiveSite {
  readonly manifest: Manifest;
  readonly origin: string;
  readonly prefix: string;
  readonly digest: string;
  readonly keyId: string;
  readonly stale: boolean;
  private readonly cache: LruBytes;
  private pool: HandlerPool | undefined;
  /** Verified module sources loaded so far, their bytes, and imported names the archive lacks. */
  private readonly modules = new Map<string, string>();
  private moduleBytes = 0;
  private readonly absent = new Set<string>();
  private closed = false;

  constructor(readonly index: ArchiveIndex, v: Verified, private readonly closeSource: () => Promise<void>, private readonly opts: OpenArchiveOptions) {
    this.manifest = v.manifest;
    this.origin = v.manifest.origin;
    this.prefix = v.manifest.prefix;
    this.digest = v.digest;
    this.keyId = v.keyId;
    this.stale = v.stale;
    this.cache = new LruBytes(opts.entryCache ?? 32 * 1024 ** 2);
  }

  get reads(): number { return this.index.reads; }
  get fileCount(): number { return this.index.fileCount; }
  get handlerStats() { return this.pool?.stats ?? { created: 0, discarded: 0, runs: 0 }; }

  file(name: string): Promise<ManifestFile | undefined> {
    return this.index.lookup(name);
  }

  async files(): Promise<ReadonlyMap<string, ManifestFile>> {
    return new Map((await this.index.all()).map((f) => [f.path, f]));
  }

  async readFile(name: string): Promise<Buffer | undefined> {
    const hit = this.cache.get(name);
    if (hit) return hit;
    const f = await this.index.lookup(name);
    if (!f) return undefined;
    const bytes = await this.index.readFile(f);
    this.cache.set(name, bytes);
    return bytes;
  }

  private handlerPool(): HandlerPool {
    this.pool ??= new HandlerPool({
      loadModule: (n) => this.modules.get(n),
      readFile: (n) => this.readFile(n.replace(/^\/+/, '')),
    }, this.opts.sandbox ?? DEFAULT_SANDBOX_LIMITS);
    return this.pool;
  }

  /**
   * Loads the module sources a route's handler needs before it runs (the engine loads imports
   * synchronously): the handler, then what it imports statically, level by level, each read
   * through its own index shard and checked against its hash. Nothing else of the index is read,
   * and a later route loads only what it adds. Bounded by `maxModuleBytes` and a module count; an
   * imported name the archive lacks is skipped (the engine then fails that request, not the node).
   */
  private async loadModules(handler: string): Promise<void> {
    const max = this.opts.maxModuleBytes ?? 8 * 1024 ** 2;
    let level = [handler].filter((n) => !this.modules.has(n));
    while (level.length) {
      const got = await Promise.all(level.map(async (n) => [n, await this.file(n)] as const));
      const next = new Set<string>();
      for (const [n, f] of got) {
        if (this.modules.has(n) || this.absent.has(n)) continue;
        if (!f) {
          if (n === handler) throw new PeerwebError('PW_ERR_SANDBOX_HANDLER', { handler: n, reason: 'not in the archive' });
          this.absent.add(n);
          continue;
        }
        if (this.moduleBytes + f.size > max || this.modules.size >= MAX_MODULES) {
          throw new PeerwebError('PW_ERR_SANDBOX_HANDLER', { handler, reason: `its modules exceed ${max} bytes or ${MAX_MODULES} modules` });
        }
        const b = await this.readFile(n);
        if (!b) continue;
        const source = b.toString('utf8');
        this.modules.set(n, source);
        this.moduleBytes += b.length;
        for (const dep of staticImports(n, source)) if (!this.modules.has(dep) && !this.absent.has(dep)) next.add(dep);
      }
      level = [...next];
    }
  }

  async handle(req: SiteRequest): Promise<SiteResponse | undefined> {
    if (this.closed) return undefined;
    let u: URL;
    try { u = new URL(req.url, this.origin); } catch { return undefined; }
    if (u.origin !== this.origin || !u.pathname.startsWith(this.prefix)) return undefined;
    let rel: string;
    try { rel = decodeURIComponent(u.pathname.slice(this.prefix.length)); } catch { return undefined; }
    if (rel.split('/').some((s) => s === '..' || s === '.') || rel.includes('\0') || rel.includes('\\')) return undefined;
    const handler = matchRoute(this.manifest, rel);
    if (handler) {
      const pool = this.handlerPool();
      try {
        await this.loadModules(handler);
        const res = await pool.run(handler, { method: req.method, url: u.href, headers: req.headers, body: req.body }, (this.opts.now ?? Date.now)());
        return { status: res.status, headers: [...res.headers, ['x-peerweb-archive', String(this.manifest.version)]], body: req.method === 'HEAD' ? Buffer.alloc(0) : res.body };
      } catch (err) {
        if (err instanceof PeerwebError && (err.code === 'PW_ERR_SANDBOX_LIMIT' || err.code === 'PW_ERR_SANDBOX_HANDLER' || err.code === 'PW_ERR_SANDBOX_BUSY')) {
          return { status: err.status, headers: [['content-type', 'text/plain; charset=utf-8'], ['cache-control', 'no-store']], body: Buffer.from(`${err.message}\n`) };
        }
        throw err;
      }
    }
    const name = rel === '' || rel.endsWith('/') ? `${rel}index.html` : rel;
    const f = await this.file(name);
    if (!f) return undefined;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return { status: 405, headers: [['allow', 'GET, HEAD'], ['content-length', '0']], body: Buffer.alloc(0) };
    }
    const etag = `"${f.sha256.slice(0, 32)}"`;
    const inm = req.headers.find(([k]) => k.toLowerCase() === 'if-none-match')?.[1];
    const headers: [string, string][] = [['content-type', f.type], ['etag', etag], ['x-peerweb-archive', String(this.manifest.version)]];
    if (inm !== undefined && inm.split(',').map((s) => s.trim().replace(/^W\//, '')).some((t) => t === etag || t === '*')) return { status: 304, headers, body: Buffer.alloc(0) };
    const body = await this.readFile(name);
    if (!body) return undefined;
    headers.push(['content-length', String(body.length)]);
    return { status: 200, headers, body: req.method === 'HEAD' ? Buffer.alloc(0) : body };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool?.close();
    await this.closeSource();
  }
}
