import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { open as openFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { PeerwebError, isPeerwebError } from '../errors/index.js';
import type { KeyResolver } from './manifest.js';
import { chooseFetchMode, httpRangeSource, openArchive, type ArchiveSite, type OpenArchiveOptions, type SiteRequest, type SiteResponse } from './site.js';

/** A site served from an archive: requests for `origin` under `prefix` are answered from the archive at `url`. */
export interface ArchiveSiteConfig { readonly origin: string; readonly prefix: string; readonly url: string }

/** The part of a directory the manager uses (see src/directory): find holders, register as one. */
export interface HolderDirectory {
  lookup(site: string, prefix?: string): Promise<readonly { readonly holder: string; readonly version: number }[]>;
  register(r: { site: string; prefix: string; version: number; digest: string; holder: string; ttl?: number }): Promise<unknown>;
}

export interface ArchiveManagerOptions {
  readonly sites: readonly ArchiveSiteConfig[];
  readonly trust: KeyResolver;
  /** Folder for full archives and the highest versions seen (replay protection across restarts). */
  readonly dataDir: string;
  readonly policy?: { readonly fullFetchMaxSize: number; readonly fullFetchAfterRequests: number };
  /** Limits passed to openArchive (zip, sandbox, clock skew, caches). */
  readonly open?: Omit<OpenArchiveOptions, 'expect' | 'knownVersion' | 'allowStale' | 'now'>;
  readonly now?: () => number;
  /** How often to look for a newer archive, ms. */
  readonly refreshAfter?: number;
  /** Other holders are found here when `url` fails, and this node registers once it holds a full copy. */
  readonly directory?: HolderDirectory;
  /** Base URL at which this node serves held archives (see holderRequestHandler); registration needs it. */
  readonly selfUrl?: string;
  readonly registrationTtl?: number;
  readonly timeout?: number;
}

export const HOLDER_PATH = '/.well-known/peerweb/archives/';

interface State {
  readonly cfg: ArchiveSiteConfig;
  current?: ArchiveSite;
  file?: string;
  checkedAt: number;
  requests: number;
  refreshing?: Promise<void>;
}

/** Serves configured sites from their archives: fetch (partial or full), verify, refresh, fall back to a stored copy, register as holder. */
export interface ArchiveManager {
  /** Answers from the archive of the request's site; undefined when no archive covers it (or none is usable). */
  handle(req: SiteRequest): Promise<SiteResponse | undefined>;
  /** The verified archive currently used for a site, opening it when needed. */
  site(origin: string, prefix?: string): Promise<ArchiveSite | undefined>;
  /** Looks for a newer archive now (normally done every refreshAfter). */
  refresh(origin: string, prefix?: string): Promise<void>;
  /** Full archives held, by manifest digest (what holderRequestHandler serves). */
  heldFile(digest: string): string | undefined;
  close(): Promise<void>;
}

async function fetchWhole(url: string, maxSize: number, timeout: number): Promise<Buffer> {
  const res = await request(url, { method: 'GET', headersTimeout: timeout, bodyTimeout: timeout, headers: { 'accept-encoding': 'identity' } });
  if (res.statusCode !== 200) { await res.body.dump(); throw new PeerwebError('PW_ERR_UPSTREAM_BAD_RESPONSE', { origin: url, reason: `status ${res.statusCode}` }); }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of res.body) {
    size += (c as Buffer).length;
    if (size > maxSize) { res.body.destroy(); throw new PeerwebError('PW_ERR_UPSTREAM_TOO_LARGE', { limit: maxSize }); }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

export function createArchiveManager(opts: ArchiveManagerOptions): ArchiveManager {
  const now = opts.now ?? Date.now;
  const policy = opts.policy ?? { fullFetchMaxSize: 64 * 1024 ** 2, fullFetchAfterRequests: 100 };
  const refreshAfter = opts.refreshAfter ?? 300_000;
  const timeout = opts.timeout ?? 30_000;
  mkdirSync(opts.dataDir, { recursive: true });
  const versionsFile = join(opts.dataDir, 'versions.json');
  let versions: Record<string, number> = {};
  try { versions = JSON.parse(readFileSync(versionsFile, 'utf8')) as Record<string, number>; } catch { versions = {}; }
  const held = new Map<string, string>();
  const states = opts.sites.map((cfg): State => ({ cfg, checkedAt: -Infinity, requests: 0 }));
  const keyOf = (c: ArchiveSiteConfig): string => `${c.origin}${c.prefix}`;
  const fileOf = (c: ArchiveSiteConfig): string => join(opts.dataDir, `${Buffer.from(keyOf(c)).toString('base64url')}.pwar`);
  const remember = (s: State, site: ArchiveSite): void => {
    const k = keyOf(s.cfg);
    if ((versions[k] ?? -1) < site.manifest.version) {
      versions = { ...versions, [k]: site.manifest.version };
      const tmp = `${versionsFile}.tmp`;
      writeFileSync(tmp, JSON.stringify(versions));
      renameSync(tmp, versionsFile);
    }
  };
  const openOpts = (s: State, allowStale: boolean): OpenArchiveOptions => ({
    ...opts.open, now, expect: { origin: s.cfg.origin, prefix: s.cfg.prefix }, allowStale,
    ...(versions[keyOf(s.cfg)] !== undefined ? { knownVersion: versions[keyOf(s.cfg)] } : {}),
  });

  /** Fetches from one URL: whole when the policy says so (stored, then registered), else by range. */
  const fetchFrom = async (s: State, url: string): Promise<ArchiveSite> => {
    let probe: Awaited<ReturnType<typeof httpRangeSource>> | undefined;
    try {
      probe = await httpRangeSource(url, { timeout });
    } catch (err) {
      // A holder without Range support (a plain file server) can still hand over a small archive whole.
      if (!isPeerwebError(err, 'PW_ERR_UPSTREAM_BAD_RESPONSE')) throw err;
    }
    if (probe && chooseFetchMode(probe.size, s.requests, policy) === 'partial') return openArchive(probe, opts.trust, openOpts(s, false));
    const bytes = await fetchWhole(url, probe ? Math.max(policy.fullFetchMaxSize, probe.size) : policy.fullFetchMaxSize, timeout);
    const site = await openArchive({ bytes, url }, opts.trust, openOpts(s, false));
    // Keep it (temp file + rename) so a restart with the origin down still serves it.
    const file = fileOf(s.cfg);
    writeFileSync(`${file}.tmp`, bytes);
    renameSync(`${file}.tmp`, file);
    held.set(site.digest, file);
    if (opts.directory && opts.selfUrl) {
      await opts.directory.register({ site: s.cfg.origin, prefix: s.cfg.prefix, version: site.manifest.version, digest: site.digest,
        holder: `${opts.selfUrl.replace(/\/$/, '')}${HOLDER_PATH}${site.digest}.pwar`, ...(opts.registrationTtl ? { ttl: opts.registrationTtl } : {}) }).catch(() => {});
    }
    return site;
  };

  const refreshState = (s: State): Promise<void> => {
    s.refreshing ??= (async () => {
      s.checkedAt = now();
      const urls = [s.cfg.url];
      if (opts.directory) {
        const found = await opts.directory.lookup(s.cfg.origin, s.cfg.prefix).catch(() => []);
        for (const e of found) if (!urls.includes(e.holder) && (!opts.selfUrl || !e.holder.startsWith(opts.selfUrl))) urls.push(e.holder);
      }
      let fresh: ArchiveSite | undefined;
      let lastErr: unknown;
      for (const url of urls.slice(0, 8)) {
        try { fresh = await fetchFrom(s, url); break; } catch (err) { lastErr = err; }
      }
      if (!fresh && !s.current && existsSync(fileOf(s.cfg))) {
        // Nothing reachable: the copy kept from an earlier run, stale if its window allows.
        fresh = await openArchive({ file: fileOf(s.cfg) }, opts.trust, openOpts(s, true)).catch((err: unknown) => { lastErr = err; return undefined; });
        if (fresh) held.set(fresh.digest, fileOf(s.cfg));
      }
      if (!fresh) { if (!s.current) throw lastErr; return; }
      if (s.current && s.current.digest === fresh.digest) { await fresh.close(); return; }
      const old = s.current;
      s.current = fresh;
      remember(s, fresh);
      await old?.close();
    })().finally(() => { s.refreshing = undefined; });
    return s.refreshing;
  };

  const stateFor = (origin: string, path: string): State | undefined => {
    let best: State | undefined;
    for (const s of states) if (s.cfg.origin === origin && path.startsWith(s.cfg.prefix) && (!best || s.cfg.prefix.length > best.cfg.prefix.length)) best = s;
    return best;
  };

  /** Usable now: within its window, or past it only as far as staleIfUnverified allows. */
  const usable = (site: ArchiveSite): boolean => {
    const skew = opts.open?.clockSkew ?? 300_000;
    const t = now();
    const notAfter = Date.parse(site.manifest.notAfter);
    return t - skew <= notAfter + site.manifest.staleIfUnverified * 1000 && t + skew >= Date.parse(site.manifest.notBefore);
  };

  const ensure = async (s: State): Promise<ArchiveSite | undefined> => {
    const expired = s.current !== undefined && now() > Date.parse(s.current.manifest.notAfter);
    if (!s.current || expired || now() - s.checkedAt >= refreshAfter) {
      const r = refreshState(s).catch(() => {}); // a failed refresh keeps the current archive
      // Without a usable archive the request waits for the fetch; otherwise the refresh runs behind it.
      if (!s.current || expired) await r;
    }
    return s.current && usable(s.current) ? s.current : undefined;
  };

  return {
    async handle(req) {
      let u: URL;
      try { u = new URL(req.url); } catch { return undefined; }
      const s = stateFor(u.origin, u.pathname);
      if (!s) return undefined;
      const site = await ensure(s);
      if (!site) return undefined;
      s.requests++;
      return site.handle(req);
    },
    async site(origin, prefix) {
      const s = states.find((x) => x.cfg.origin === origin && (prefix === undefined || x.cfg.prefix === prefix));
      return s ? ensure(s) : undefined;
    },
    async refresh(origin, prefix) {
      for (const s of states) if (s.cfg.origin === origin && (prefix === undefined || s.cfg.prefix === prefix)) await refreshState(s).catch(() => {});
    },
    heldFile(digest) {
      return held.get(digest);
    },
    async close() {
      for (const s of states) { await s.refreshing?.catch(() => {}); await s.current?.close(); s.current = undefined; }
    },
  };
}

/**
 * Serves held archives to other nodes at `/.well-known/peerweb/archives/<digest>.pwar`, with a single
 * `Range` (what partial readers send). Answers undefined for other paths.
 */
export function holderRequestHandler(manager: Pick<ArchiveManager, 'heldFile'>): (req: { method: string; url: string; headers: readonly (readonly [string, string])[] }) => Promise<SiteResponse | undefined> {
  return async (req) => {
    let u: URL;
    try { u = new URL(req.url, 'http://holder.invalid'); } catch { return undefined; }
    const m = /^\/\.well-known\/peerweb\/archives\/([0-9a-f]{64})\.pwar$/.exec(u.pathname);
    if (!m) return undefined;
    const file = manager.heldFile(m[1]!);
    if (!file) return { status: 404, headers: [['content-length', '0']], body: Buffer.alloc(0) };
    if (req.method !== 'GET' && req.method !== 'HEAD') return { status: 405, headers: [['allow', 'GET, HEAD'], ['content-length', '0']], body: Buffer.alloc(0) };
    const size = (await stat(file)).size;
    const range = req.headers.find(([k]) => k.toLowerCase() === 'range')?.[1];
    let start = 0;
    let last = size - 1;
    let status = 200;
    if (range !== undefined) {
      const r = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(range.trim());
      if (!r || (r[1] === '' && r[2] === '')) return { status: 416, headers: [['content-range', `bytes */${size}`]], body: Buffer.alloc(0) };
      if (r[1] === '') { start = Math.max(0, size - Number(r[2])); } else { start = Number(r[1]); if (r[2] !== '') last = Math.min(last, Number(r[2])); }
      if (start > last || start >= size) return { status: 416, headers: [['content-range', `bytes */${size}`]], body: Buffer.alloc(0) };
      status = 206;
    }
    if (last - start + 1 > 64 * 1024 ** 2) { last = start + 64 * 1024 ** 2 - 1; status = 206; } // bounded per response
    const headers: [string, string][] = [['content-type', 'application/zip'], ['accept-ranges', 'bytes'], ['content-length', String(last - start + 1)], ['etag', `"${m[1]!.slice(0, 32)}"`]];
    if (status === 206) headers.push(['content-range', `bytes ${start}-${last}/${size}`]);
    if (req.method === 'HEAD') return { status, headers, body: Buffer.alloc(0) };
    const fh = await openFile(file, 'r');
    try {
      const body = Buffer.alloc(last - start + 1);
      await fh.read(body, 0, body.length, start);
      return { status, headers, body };
    } finally {
      await fh.close();
    }
  };
}
