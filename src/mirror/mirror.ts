import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KeyObject } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { PeerwebError } from '../errors/index.js';
import {
  digestEquals, fieldReader, formatDigestField, parseDigestField, sha256, strongEtag, verifyMessage, type PublisherKey, type Sha256,
} from '../integrity/index.js';
import { clientAddress, readBody, sendError } from './http-util.js';
import { formatLink } from './link.js';
import { parseSingleRange } from './range.js';
import { createAdmission } from './admission.js';
import { createClientAuth } from './credentials.js';
import { isSafePath } from './source.js';

export interface StoredEntry {
  readonly path: string;
  readonly body: Buffer;
  readonly digest: Sha256;
  readonly contentType: string;
  readonly cacheControl: string;
  /** `created` of the push signature that brought it (0 when synced); older pushes are refused. */
  readonly signedAt?: number;
}

export interface MirrorOptions {
  /** The mirrored origin (scheme, host, port). */
  readonly origin: string;
  readonly prefixes: readonly string[];
  /** This mirror's public base URL for the origin, ending in "/"; resource /a/b is served at base + "a/b". */
  readonly base: string;
  /** The origin's publisher key(s): pushes and the signed index must verify against them. */
  readonly originKeys: readonly PublisherKey[];
  /** Folder for a persistent copy (content-addressed objects + index.json); memory only without it. */
  readonly dir?: string;
  readonly maxObjectSize: number;
  /** Total bytes held (default 4 GiB). */
  readonly maxStoreBytes?: number;
  readonly rate?: number;
  readonly burst?: number;
  readonly globalRate?: number;
  /** Address ranges let in without credentials (default: everyone, unless `clients` is set). */
  readonly allowClients?: readonly string[];
  readonly exemptClients?: readonly string[];
  /**
   * Credentials that let a client in from any address: token entries (`NAME:sha256:HEX`) and user
   * entries (scrypt), as `peerweb mirror credential` makes them. Either an allowed address or a
   * credential lets a client in; each credential has its own rate bucket.
   */
  readonly clients?: { readonly tokens?: readonly string[]; readonly users?: readonly string[] };
  /**
   * Said in the offer: this mirror lets in only some clients, so the origin marks it in its map
   * and leaves it out of Link lists and Metalinks. Default: true when `allowClients` or `clients`
   * is set (a node that checks clients itself says so here).
   */
  readonly restricted?: boolean;
  readonly timeoutMs?: number;
  /** Allow an index without a signature when no origin key is known (tests, closed networks). */
  readonly allowUnsigned?: boolean;
}

export interface SyncReport {
  readonly added: number;
  readonly updated: number;
  readonly removed: number;
  readonly unchanged: number;
  readonly bytes: number;
  readonly failed: readonly { path: string; reason: string }[];
}

export interface Mirror {
  readonly base: string;
  readonly origin: string;
  /** Serves GET/HEAD/PUT under the base path; false when the request is not for this mirror. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** Copies the prefixes incrementally: only entries whose digest changed, each verified. */
  sync(opts?: { onProgress?: (done: number, total: number, bytes: number) => void; signal?: AbortSignal }): Promise<SyncReport>;
  /** Offers this mirror to its origin (POST /.well-known/peerweb/offers). */
  offer(): Promise<{ state: string; priority: number }>;
  get(path: string): StoredEntry | undefined;
  paths(): string[];
  close(): Promise<void>;
}

interface IndexFile { origin: string; entries: Record<string, { digest: string; type: string; cc: string; at?: number }> }

export function createMirror(opts: MirrorOptions): Mirror {
  const origin = new URL(opts.origin).origin;
  const baseUrl = new URL(opts.base);
  if (!baseUrl.pathname.endsWith('/')) throw new PeerwebError('PW_ERR_MIRROR_BAD_REQUEST', { reason: `mirror base ${opts.base} must end with /` });
  const base = baseUrl.toString();
  const basePath = baseUrl.pathname;
  const maxStore = opts.maxStoreBytes ?? 4 * 1024 ** 3;
  const store = new Map<string, StoredEntry>();
  let storeBytes = 0;
  const keys = new Map<string, KeyObject>(opts.originKeys.map((k) => [k.keyId, k.publicKey]));
  const tokens = opts.clients?.tokens ?? [];
  const users = opts.clients?.users ?? [];
  const restricted = opts.restricted ?? ((opts.allowClients?.length ?? 0) > 0 || tokens.length > 0 || users.length > 0);
  const admit = createAdmission({
    rate: opts.rate ?? 50, burst: opts.burst ?? 100, globalRate: opts.globalRate ?? 2000,
    allowClients: opts.allowClients ?? [], exemptClients: opts.exemptClients ?? [],
    ...(tokens.length || users.length ? { clientAuth: createClientAuth({ tokens, users }) } : {}),
    originKeys: () => keys, base: () => baseUrl.origin,
  });
  const agent = new Agent({ connect: { timeout: opts.timeoutMs ?? 10_000 } });
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const signedIndexes = new Map<string, { body: Buffer; headers: Record<string, string> }>();
  let loaded: Promise<void> | undefined;
  let closed = false;
  const covered = (path: string) => opts.prefixes.some((p) => path.startsWith(p));

  async function load(): Promise<void> {
    if (!opts.dir) return;
    let idx: IndexFile;
    try {
      idx = JSON.parse(await readFile(join(opts.dir, 'index.json'), 'utf8')) as IndexFile;
    } catch {
      return;
    }
    if (idx.origin !== origin || typeof idx.entries !== 'object') return;
    for (const [path, e] of Object.entries(idx.entries)) {
      if (!isSafePath(path) || !/^[0-9a-f]{64}$/.test(e.digest)) continue;
      const body = await readFile(join(opts.dir, 'objects', e.digest)).catch(() => undefined);
      const digest = Buffer.from(e.digest, 'hex');
      // A body that no longer matches its digest is dropped, never served.
      if (!body || !digestEquals(sha256(body), digest)) continue;
      put({ path, body, digest, contentType: e.type, cacheControl: e.cc, ...(typeof e.at === 'number' ? { signedAt: e.at } : {}) });
    }
  }
  const ready = () => (loaded ??= load());

  function put(e: StoredEntry): void {
    const old = store.get(e.path);
    if (old) storeBytes -= old.body.length;
    if (storeBytes + e.body.length > maxStore) throw new PeerwebError('PW_ERR_STORE_IO', { reason: `mirror store full (${maxStore} bytes)` });
    store.set(e.path, e);
    storeBytes += e.body.length;
  }

  async function persist(): Promise<void> {
    if (!opts.dir) return;
    await mkdir(join(opts.dir, 'objects'), { recursive: true });
    const entries: IndexFile['entries'] = {};
    for (const e of store.values()) {
      const hex = e.digest.toString('hex');
      const file = join(opts.dir, 'objects', hex);
      const exists = await readFile(file).then((b) => digestEquals(sha256(b), e.digest)).catch(() => false);
      if (!exists) {
        const tmp = `${file}.${process.pid}.tmp`;
        await writeFile(tmp, e.body);
        await rename(tmp, file);
      }
      entries[e.path] = { digest: hex, type: e.contentType, cc: e.cacheControl, ...(e.signedAt !== undefined ? { at: e.signedAt } : {}) };
    }
    const tmp = join(opts.dir, `index.json.${process.pid}.tmp`);
    await writeFile(tmp, JSON.stringify({ origin, entries } satisfies IndexFile));
    await rename(tmp, join(opts.dir, 'index.json'));
  }

  function serveEntry(req: IncomingMessage, res: ServerResponse, e: StoredEntry): void {
    const etag = strongEtag(e.digest);
    const common: Record<string, string> = {
      'content-type': e.contentType, 'cache-control': e.cacheControl, etag, 'repr-digest': formatDigestField(e.digest),
      'accept-ranges': 'bytes', link: formatLink(origin + e.path, 'canonical'),
    };
    if (req.headers['if-none-match']?.split(',').map((s) => s.trim()).includes(etag)) {
      res.writeHead(304, common);
      res.end();
      return;
    }
    const r = parseSingleRange(req.headers.range, e.body.length);
    if (r === 'unsatisfiable') {
      res.writeHead(416, { 'content-range': `bytes */${e.body.length}`, 'content-length': '0' });
      res.end();
      return;
    }
    const part = r ? e.body.subarray(r.start, r.end + 1) : e.body;
    res.writeHead(r ? 206 : 200, { ...common, 'content-length': String(part.length), ...(r ? { 'content-range': `bytes ${r.start}-${r.end}/${e.body.length}` } : {}) });
    res.end(req.method === 'HEAD' ? undefined : part);
  }

  async function acceptPush(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (!covered(path)) throw new PeerwebError('PW_ERR_MIRROR_PUSH_REJECTED', { path, reason: 'path is outside the mirrored prefixes' });
    const targetUri = new URL(req.url ?? '/', base).toString();
    const cd = req.headers['content-digest'];
    if (typeof cd !== 'string') throw new PeerwebError('PW_ERR_MIRROR_PUSH_REJECTED', { path, reason: 'no Content-Digest' });
    let created: number | undefined;
    try {
      created = verifyMessage({ method: 'PUT', targetUri, field: fieldReader(req.headers) }, { keys: (id) => keys.get(id), required: ['@method', '@target-uri', 'content-digest'], maxAgeSec: 3600 }).created;
    } catch (err) {
      throw new PeerwebError('PW_ERR_MIRROR_PUSH_REJECTED', { path, reason: (err as Error).message });
    }
    if (created === undefined) throw new PeerwebError('PW_ERR_MIRROR_PUSH_REJECTED', { path, reason: 'signature has no created time' });
    // A replayed older push must not roll the copy back.
    const current = store.get(path);
    if (current?.signedAt !== undefined && created < current.signedAt) throw new PeerwebError('PW_ERR_MIRROR_PUSH_REJECTED', { path, reason: `signature created ${created} is older than the held copy` });
    const expected = parseDigestField(cd);
    if (!expected) throw new PeerwebError('PW_ERR_MIRROR_PUSH_REJECTED', { path, reason: 'Content-Digest has no sha-256' });
    const body = await readBody(req, opts.maxObjectSize);
    const digest = sha256(body);
    if (!digestEquals(digest, expected)) throw new PeerwebError('PW_ERR_MIRROR_PUSH_REJECTED', { path, reason: 'body does not match Content-Digest' });
    const existed = store.has(path);
    put({ path, body, digest, signedAt: created, contentType: String(req.headers['content-type'] ?? 'application/octet-stream').slice(0, 200), cacheControl: String(req.headers['cache-control'] ?? 'public, max-age=60').slice(0, 200) });
    await persist();
    res.writeHead(existed ? 204 : 201, { 'content-length': '0' });
    res.end();
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? '/', base);
    if (!url.pathname.startsWith(basePath)) return false;
    await ready();
    const path = '/' + url.pathname.slice(basePath.length);
    const method = req.method ?? 'GET';
    const addr = clientAddress(req);
    try {
      if (method === 'PUT') {
        await acceptPush(req, res, path);
        return true;
      }
      const header = (n: string) => { const v = req.headers[n]; return Array.isArray(v) ? v.join(', ') : v; };
      const refused = await admit({ method, target: req.url ?? '/', remoteAddress: addr, header });
      if (refused) {
        const { retryAfter, challenge } = refused.details;
        sendError(res, refused, {
          ...(typeof retryAfter === 'number' ? { 'retry-after': String(retryAfter) } : {}),
          ...(refused.status === 401 && typeof challenge === 'string' && challenge ? { 'www-authenticate': challenge } : {}),
        });
        return true;
      }
      if (method !== 'GET' && method !== 'HEAD') throw new PeerwebError('PW_ERR_METHOD_NOT_ALLOWED', { method });
      if (path === '/.well-known/peerweb/index') {
        const covering = url.searchParams.get('covering') ?? '';
        const hit = [...signedIndexes].filter(([p]) => covering.startsWith(p)).sort((a, b) => b[0].length - a[0].length)[0];
        if (!hit) throw new PeerwebError('PW_ERR_MIRROR_NOT_HELD', { path: covering });
        res.writeHead(200, { ...hit[1].headers, 'content-length': String(hit[1].body.length), 'cache-control': 'no-cache' });
        res.end(method === 'HEAD' ? undefined : hit[1].body);
        return true;
      }
      const e = store.get(path);
      if (!e) throw new PeerwebError('PW_ERR_MIRROR_NOT_HELD', { path });
      serveEntry(req, res, e);
    } catch (err) {
      if (!res.headersSent && method === 'PUT') req.resume();
      sendError(res, err, method === 'GET' || method === 'HEAD' ? {} : { connection: 'close' });
    }
    return true;
  }

  async function fetchIndex(prefix: string): Promise<{ path: string; digest: Sha256; size: number; type: string }[]> {
    const url = `${origin}/.well-known/peerweb/index?prefix=${encodeURIComponent(prefix)}`;
    const res = await request(url, { dispatcher: agent, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    const body = Buffer.from(await res.body.arrayBuffer());
    if (res.statusCode !== 200) throw new PeerwebError('PW_ERR_MIRROR_SYNC', { prefix, origin, reason: `index answered ${res.statusCode}` });
    const headers = fieldReader(res.headers as Record<string, string | string[] | undefined>);
    const cd = headers('content-digest');
    if (!cd || !digestEquals(parseDigestField(cd) ?? Buffer.alloc(0), sha256(body))) throw new PeerwebError('PW_ERR_MIRROR_SYNC', { prefix, origin, reason: 'index body does not match its Content-Digest' });
    if (keys.size > 0) verifyMessage({ status: 200, field: headers }, { keys: (id) => keys.get(id), required: ['@status', 'content-digest'], tag: 'peerweb-index' });
    else if (!opts.allowUnsigned) throw new PeerwebError('PW_ERR_MIRROR_SYNC', { prefix, origin, reason: 'no origin key to verify the index' });
    const json = JSON.parse(body.toString('utf8')) as { origin?: string; files?: { path: string; digest: string; size: number; type: string }[] };
    if (json.origin !== origin || !Array.isArray(json.files)) throw new PeerwebError('PW_ERR_MIRROR_SYNC', { prefix, origin, reason: 'index is for another origin or has no files' });
    if (keys.size > 0) {
      // Kept byte for byte so clients can check digests against the publisher's signature while the origin is down.
      const keep: Record<string, string> = { 'content-type': headers('content-type') ?? 'application/json', 'content-digest': cd };
      for (const n of ['signature-input', 'signature']) keep[n] = headers(n) ?? '';
      signedIndexes.set(prefix, { body, headers: keep });
    }
    return json.files.filter((f) => typeof f.path === 'string' && isSafePath(f.path) && f.path.startsWith(prefix)).map((f) => {
      const d = parseDigestField(String(f.digest));
      if (!d) throw new PeerwebError('PW_ERR_MIRROR_SYNC', { prefix, origin, reason: `index entry ${f.path} has no sha-256` });
      return { path: f.path, digest: d, size: Number(f.size), type: String(f.type ?? 'application/octet-stream').slice(0, 200) };
    });
  }

  async function sync(o: { onProgress?: (done: number, total: number, bytes: number) => void; signal?: AbortSignal } = {}): Promise<SyncReport> {
    await ready();
    let added = 0, updated = 0, removed = 0, unchanged = 0, bytes = 0;
    const failed: { path: string; reason: string }[] = [];
    for (const prefix of opts.prefixes) {
      const files = await fetchIndex(prefix);
      const wanted = new Set(files.map((f) => f.path));
      for (const path of [...store.keys()]) {
        if (path.startsWith(prefix) && !wanted.has(path)) {
          storeBytes -= store.get(path)?.body.length ?? 0;
          store.delete(path);
          removed++;
        }
      }
      const total = files.reduce((s, f) => s + f.size, 0);
      let done = 0;
      for (const f of files) {
        if (o.signal?.aborted) break;
        const have = store.get(f.path);
        if (have && digestEquals(have.digest, f.digest)) {
          unchanged++;
          done += f.size;
          o.onProgress?.(done, total, bytes);
          continue;
        }
        if (f.size > opts.maxObjectSize) {
          failed.push({ path: f.path, reason: `larger than ${opts.maxObjectSize} bytes` });
          continue;
        }
        try {
          const res = await request(origin + f.path, { dispatcher: agent, headers: { 'accept-encoding': 'identity' }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
          const chunks: Buffer[] = [];
          let n = 0;
          for await (const c of res.body) {
            n += (c as Buffer).length;
            if (n > opts.maxObjectSize) throw new Error(`body exceeds ${opts.maxObjectSize} bytes`);
            chunks.push(c as Buffer);
          }
          if (res.statusCode !== 200) throw new Error(`origin answered ${res.statusCode}`);
          const body = Buffer.concat(chunks);
          if (!digestEquals(sha256(body), f.digest)) throw new Error('bytes do not match the signed index digest');
          const cc = res.headers['cache-control'];
          put({ path: f.path, body, digest: f.digest, contentType: f.type, cacheControl: typeof cc === 'string' ? cc.slice(0, 200) : 'public, max-age=60' });
          if (have) updated++;
          else added++;
          bytes += body.length;
        } catch (err) {
          failed.push({ path: f.path, reason: (err as Error).message });
        }
        done += f.size;
        o.onProgress?.(done, total, bytes);
      }
    }
    await persist();
    return { added, updated, removed, unchanged, bytes, failed };
  }

  async function offer(): Promise<{ state: string; priority: number }> {
    const res = await request(`${origin}/.well-known/peerweb/offers`, {
      method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ base, prefixes: opts.prefixes, ...(restricted ? { restricted } : {}) }), headersTimeout: timeoutMs, bodyTimeout: timeoutMs,
    });
    const json = (await res.body.json().catch(() => ({}))) as { state?: string; priority?: number; message?: string };
    if (res.statusCode !== 202) throw new PeerwebError('PW_ERR_MIRROR_OFFER_REFUSED', { base, reason: json.message ?? `origin answered ${res.statusCode}` });
    return { state: String(json.state), priority: Number(json.priority) };
  }

  return {
    base, origin, handle, sync, offer,
    get: (path) => store.get(path),
    paths: () => [...store.keys()].sort(),
    async close() {
      if (closed) return;
      closed = true;
      await agent.close();
    },
  };
}

/** Removes a mirror's persistent folder (tests and `mirror sync --reset`). */
export async function removeMirrorDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

