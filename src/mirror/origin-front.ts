import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'undici';
import { PeerwebError } from '../errors/index.js';
import { Fields } from '../http/index.js';
import {
  fieldReader, formatDigestField, formatLegacyDigest, sha256, signMessage, strongEtag, type PublisherKey, type Sha256,
} from '../integrity/index.js';
import { parseSfList as parseList, isInnerList } from '../http/index.js';
import { createAuditor, type Auditor, type AuditResult } from './auditor.js';
import { readJson, sendError, sendJson } from './http-util.js';
import { formatLink } from './link.js';
import { buildMetalink, METALINK_TYPE } from './metalink.js';
import { isMirrorable, refuseOffer, type MirrorPolicy } from './policy.js';
import { parseSingleRange } from './range.js';
import { authorityOf, createRegistry, mirrorUrl, type MirrorRecord, type MirrorRegistry, type RegistryChange } from './registry.js';
import { buildNotice, MIRROR_LINKS_TAG, NOTICE_PATH, signNotice } from './delist.js';
import { describeEntry, isSafePath, type ContentSource, type Description, type SourceEntry } from './source.js';

export const WELL_KNOWN = '/.well-known/peerweb/';
const MAX_INDEX = 100_000;
const MAX_DESCRIPTIONS = 4096;

export interface OriginFrontOptions {
  /** Publisher key; without its private half the map is sent unsigned and pushes are impossible. */
  readonly key?: PublisherKey;
  readonly source: ContentSource;
  readonly policy: MirrorPolicy;
  /** Public URL of the origin (scheme, host, port): links and the map use it. */
  readonly publicBase: string;
  readonly pieceSize: number;
  readonly pieceThreshold: number;
  readonly auditRanges?: number;
  readonly auditProxies?: readonly string[];
  /** Local address of direct audits and pushes. */
  readonly localAddress?: string;
  readonly timeoutMs?: number;
  readonly onAudit?: (r: AuditResult) => void;
  readonly now?: () => number;
  /** How long a delisted mirror host may not offer itself again (ms, default one day). */
  readonly cooldownMs?: number;
  /** Nodes (base URLs) that get every delisting notice, besides the mirrors and the subscribers. */
  readonly notify?: readonly string[];
  /** Most nodes subscribed to delisting notices at once, and how long a subscription lasts (ms). */
  readonly maxSubscribers?: number;
  readonly subscriptionMs?: number;
  /**
   * Called after every change of the live list or the delistings (the node purges the answers
   * with mirror links it holds); a report is answered only once the returned promise settles.
   */
  readonly onListChange?: (c: RegistryChange) => void | Promise<void>;
}

/** What the pipeline knows about a response it is about to send. */
export interface RequestInfo {
  readonly path: string;
  readonly method: string;
  readonly requestHeaders: Fields | Readonly<Record<string, string | readonly string[] | undefined>>;
}

export interface NotifyResult {
  readonly url: string;
  readonly status: number | undefined;
  readonly error?: string;
}

export interface PushResult {
  readonly mirror: string;
  readonly url: string;
  readonly status: number | undefined;
  readonly error?: string;
}

export interface OriginFront {
  readonly registry: MirrorRegistry;
  readonly auditor: Auditor;
  /** Digest, size and pieces of a published path (cached by version); undefined if not offered. */
  describe(path: string): Promise<Description | undefined>;
  /**
   * Adds Repr-Digest, Digest, a strong ETag, the Metalink link (large bodies) and, when the request
   * asked with List-Mirrors: ?1, one rel=duplicate link per live mirror holding the path. Does
   * nothing for responses that must never be mirrored.
   */
  decorate(info: RequestInfo, status: number, headers: Fields, body: { digest: Sha256; size: number }): void;
  /** Answers /.well-known/peerweb/* and notes Will-Mirror offers; true when it answered. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** A complete origin for a folder source: well-known endpoints, then the files (GET, HEAD, Range, 304). */
  serve(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Handles an offer by the policy, then audits the mirror; returns its record. */
  /** `restricted`: the mirror lets in only some clients (see MirrorRecord.restricted). */
  offer(base: string, prefixes: readonly string[], opts?: { restricted?: boolean }): Promise<MirrorRecord>;
  /** Signed PUT of `path` to the given mirror bases (default: every listed or pending mirror covering it). */
  push(path: string, bases?: readonly string[]): Promise<PushResult[]>;
  /** Sends the current delisting notice to every mirror, configured node and subscriber; resolves when all have answered or failed. */
  notifyAll(): Promise<NotifyResult[]>;
  /** Resolves when the effects of list changes so far are done: purges, and with `withNotices` the notices sent. */
  settled(withNotices?: boolean): Promise<void>;
  /** The site-wide map, as served at /.well-known/peerweb/mirrors. */
  map(): { origin: string; updated: string; mirrors: { base: string; prefixes: string[]; priority: number; lastVerified: string | null }[] };
  close(): Promise<void>;
}

function headerGetter(h: RequestInfo['requestHeaders']): (n: string) => string | undefined {
  return fieldReader(h as Parameters<typeof fieldReader>[0]);
}

function parseBase(raw: unknown): string {
  if (typeof raw !== 'string' || raw.length > 1024) throw new PeerwebError('PW_ERR_MIRROR_BAD_REQUEST', { reason: 'base must be a URL string' });
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new PeerwebError('PW_ERR_MIRROR_BAD_REQUEST', { reason: `base ${JSON.stringify(raw)} is not an absolute URL` });
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.search || u.hash || u.username) throw new PeerwebError('PW_ERR_MIRROR_BAD_REQUEST', { reason: `base ${raw} must be a plain http(s) URL` });
  return u.toString().endsWith('/') ? u.toString() : `${u.toString()}/`;
}

function parsePrefixes(raw: unknown): string[] {
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > 64) throw new PeerwebError('PW_ERR_MIRROR_BAD_REQUEST', { reason: 'prefixes must be a list of 1 to 64 paths' });
  return raw.map((p) => {
    if (typeof p !== 'string' || !isSafePath(p)) throw new PeerwebError('PW_ERR_MIRROR_BAD_REQUEST', { reason: `prefix ${JSON.stringify(p)} is not an absolute path` });
    return p;
  });
}

/** `Will-Mirror: "/docs/", "/img/"; base="https://me.example/m/"` → base and prefixes. */
export function parseWillMirror(value: string): { base: string; prefixes: string[]; restricted: boolean } {
  let members;
  try {
    members = parseList(value);
  } catch (err) {
    throw new PeerwebError('PW_ERR_MIRROR_BAD_REQUEST', { reason: `Will-Mirror: ${(err as Error).message}` });
  }
  const prefixes: string[] = [];
  let base: unknown;
  let restricted = false;
  for (const m of members) {
    if (isInnerList(m) || typeof m.value !== 'string') throw new PeerwebError('PW_ERR_MIRROR_BAD_REQUEST', { reason: 'Will-Mirror members must be path strings' });
    prefixes.push(m.value);
    base ??= m.params.get('base');
    if (m.params.get('restricted') === true) restricted = true;
  }
  return { base: parseBase(base), prefixes: parsePrefixes(prefixes), restricted };
}

export function createOriginFront(opts: OriginFrontOptions): OriginFront {
  const now = opts.now ?? Date.now;
  const publicBase = new URL(opts.publicBase).origin;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  // Effects of list changes still running: purges (awaited before a report is answered) and notices.
  const pending = new Set<Promise<unknown>>();
  const sending = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>, set = pending) => {
    const q: Promise<unknown> = p.catch(() => undefined).finally(() => set.delete(q));
    set.add(q);
  };
  // Notices: seq only grows (milliseconds, so a restarted origin starts above what it sent before).
  let seq = now();
  const subscribers = new Map<string, number>();
  const maxSubscribers = opts.maxSubscribers ?? 256;
  const subscriptionMs = opts.subscriptionMs ?? 24 * 3600_000;
  let verifying = 0;
  const registry = createRegistry({
    ...(opts.cooldownMs !== undefined ? { cooldownMs: opts.cooldownMs } : {}),
    now,
    onChange(c) {
      if (c.kind === 'delisted') {
        seq = Math.max(seq + 1, now());
        track(notifyAll(), sending);
      }
      const r = opts.onListChange?.(c);
      if (r) track(r);
    },
  });
  const auditor = createAuditor({
    registry, source: opts.source, ranges: opts.auditRanges ?? 3, ...(opts.key?.privateKey ? { key: opts.key } : {}),
    ...(opts.auditProxies ? { proxies: opts.auditProxies } : {}),
    ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
    ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.onAudit ? { onResult: opts.onAudit } : {}),
    now,
  });
  const pushAgent = new Agent({ connect: { timeout: timeoutMs }, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
  const descriptions = new Map<string, Description>();
  let closed = false;
  const metalinkPath = (path: string) => `${WELL_KNOWN}metalink${path}`;

  async function describe(path: string): Promise<Description | undefined> {
    if (opts.source.version) {
      const v = await opts.source.version(path);
      if (v === undefined) return undefined;
      const hit = descriptions.get(path);
      if (hit && hit.version === v) return hit;
    }
    const e = await opts.source.get(path);
    if (!e) return undefined;
    const cached = descriptions.get(path);
    if (cached && cached.version === e.version) return cached;
    const d = describeEntry(path, e, opts.pieceSize, opts.pieceThreshold);
    if (descriptions.size >= MAX_DESCRIPTIONS) {
      const first = descriptions.keys().next().value;
      if (first !== undefined) descriptions.delete(first);
    }
    descriptions.set(path, d);
    return d;
  }

  function decorate(info: RequestInfo, status: number, headers: Fields, body: { digest: Sha256; size: number }): void {
    const reqGet = headerGetter(info.requestHeaders);
    if (!isMirrorable(reqGet, status, (n) => headers.get(n))) return;
    headers.set('Repr-Digest', formatDigestField(body.digest));
    headers.set('Digest', formatLegacyDigest(body.digest));
    headers.set('ETag', strongEtag(body.digest));
    // The mirror links depend on List-Mirrors: caches must keep the two answers apart.
    const vary = headers.get('vary');
    if (!vary || !/(^|,)\s*(list-mirrors|\*)\s*(,|$)/i.test(vary)) headers.set('Vary', vary ? `${vary}, List-Mirrors` : 'List-Mirrors');
    if (body.size > opts.pieceThreshold) headers.append('Link', formatLink(publicBase + metalinkPath(info.path), 'describedby', { type: METALINK_TYPE }));
    if (/^\s*\?1\s*$/.test(reqGet('list-mirrors') ?? '')) {
      for (const m of openHolding(info.path)) headers.append('Link', formatLink(mirrorUrl(m.base, info.path), 'duplicate', { pri: m.priority }));
      // Stored copies of this answer (the node's own cache, downstream peerweb caches) are purged by this tag when the list changes.
      const sk = headers.get('surrogate-key');
      if (!sk || !sk.split(/\s+/).includes(MIRROR_LINKS_TAG)) headers.set('Surrogate-Key', sk ? `${sk} ${MIRROR_LINKS_TAG}` : MIRROR_LINKS_TAG);
    }
  }

  /** Live mirrors of `path` that any client may use: what Link lists and Metalinks name. */
  function openHolding(path: string) {
    return registry.holding(path).filter((m) => !m.restricted);
  }

  function map() {
    return {
      origin: publicBase,
      updated: new Date(now()).toISOString(),
      mirrors: registry.live().map((m) => ({
        base: m.base, prefixes: m.prefixes, priority: m.priority, lastVerified: m.lastVerified ? new Date(m.lastVerified).toISOString() : null,
        ...(m.restricted ? { restricted: true } : {}),
      })),
    };
  }

  /** A JSON response signed by the publisher key over @status, content-digest and content-type. */
  function sendSigned(res: ServerResponse, value: unknown, tag: string): void {
    const body = Buffer.from(JSON.stringify(value));
    const headers: Record<string, string> = {
      'content-type': 'application/json', 'content-digest': formatDigestField(sha256(body)), 'cache-control': 'no-cache',
      'content-length': String(body.length), 'surrogate-key': MIRROR_LINKS_TAG,
    };
    if (opts.key?.privateKey) {
      const s = signMessage({ status: 200, field: fieldReader(headers) }, { key: opts.key, components: ['@status', 'content-digest', 'content-type'], tag });
      headers['signature-input'] = s.signatureInput;
      headers.signature = s.signature;
    }
    res.writeHead(200, headers);
    res.end(body);
  }

  async function offer(base: string, prefixes: readonly string[], o: { restricted?: boolean } = {}): Promise<MirrorRecord> {
    const b = parseBase(base);
    const ps = parsePrefixes(prefixes);
    const existing = registry.get(b);
    const d = registry.delisting(b);
    if (d) throw new PeerwebError('PW_ERR_MIRROR_OFFER_REFUSED', { base: b, reason: `its host ${d.authority} is delisted until ${new Date(d.until).toISOString()}: ${d.reason}` });
    if (!existing || existing.state === 'delisted') {
      const refusal = refuseOffer(opts.policy, b, registry.count());
      if (refusal) throw new PeerwebError('PW_ERR_MIRROR_OFFER_REFUSED', { base: b, reason: refusal });
    }
    const r = registry.add(b, ps, o.restricted === true);
    await auditor.audit(b);
    await settled();
    return r;
  }

  async function settled(withNotices = false): Promise<void> {
    while (pending.size > 0 || (withNotices && sending.size > 0)) await Promise.allSettled([...pending, ...(withNotices ? sending : [])]);
  }

  /** Where a node takes notices: the root of its authority. */
  function noticeTargets(): string[] {
    const t = now();
    for (const [u, exp] of subscribers) if (exp <= t) subscribers.delete(u);
    const roots = new Set<string>();
    for (const r of registry.all()) {
      const a = authorityOf(r.base);
      if (a) roots.add(a + NOTICE_PATH);
    }
    for (const n of opts.notify ?? []) {
      const a = authorityOf(n);
      if (a) roots.add(a + NOTICE_PATH);
    }
    for (const u of subscribers.keys()) roots.add(u);
    return [...roots].slice(0, 4096);
  }

  async function notifyAll(): Promise<NotifyResult[]> {
    if (!opts.key?.privateKey || closed) return [];
    const { body, headers } = signNotice(buildNotice(publicBase, seq, registry.delistings(), now()), opts.key, 'request');
    const targets = noticeTargets();
    const results: NotifyResult[] = [];
    // A few at a time; each bounded by the timeout.
    const queue = [...targets];
    const worker = async () => {
      for (let url = queue.shift(); url !== undefined; url = queue.shift()) {
        try {
          const r = await request(url, { method: 'POST', dispatcher: pushAgent, headers, body, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
          await r.body.dump();
          results.push({ url, status: r.statusCode });
        } catch (err) {
          results.push({ url, status: undefined, error: (err as Error).message });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, queue.length) }, worker));
    return results;
  }

  /**
   * A node asks for notices at `notify` (its own NOTICE_PATH). Like a WebSub hub, the origin first
   * checks that the URL wants them: a GET with ?challenge=… must answer 200 with the challenge.
   */
  async function subscribe(notify: unknown): Promise<{ notify: string; expires: string }> {
    if (typeof notify !== 'string' || notify.length > 1024) throw new PeerwebError('PW_ERR_MIRROR_SUBSCRIBE', { reason: 'notify must be a URL string' });
    let u: URL;
    try {
      u = new URL(notify);
    } catch {
      throw new PeerwebError('PW_ERR_MIRROR_SUBSCRIBE', { reason: `notify ${JSON.stringify(notify)} is not an absolute URL` });
    }
    if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.username || u.password || u.search || u.hash) throw new PeerwebError('PW_ERR_MIRROR_SUBSCRIBE', { reason: `notify ${notify} must be a plain http(s) URL` });
    const url = u.toString();
    if (!subscribers.has(url) && subscribers.size >= maxSubscribers) {
      noticeTargets();
      if (subscribers.size >= maxSubscribers) throw new PeerwebError('PW_ERR_MIRROR_SUBSCRIBE', { reason: `the origin already has ${maxSubscribers} subscribers` });
    }
    if (verifying >= 8) throw new PeerwebError('PW_ERR_MIRROR_SUBSCRIBE', { reason: 'too many subscriptions being checked; try again' });
    verifying++;
    try {
      const challenge = randomBytes(16).toString('hex');
      const res = await request(`${url}?challenge=${challenge}`, { dispatcher: pushAgent, headersTimeout: timeoutMs, bodyTimeout: timeoutMs }).catch(() => undefined);
      const text = res ? await readLimited(res.body, 256) : '';
      if (!res || res.statusCode !== 200 || text.trim() !== challenge) throw new PeerwebError('PW_ERR_MIRROR_SUBSCRIBE', { reason: `${url} did not echo the challenge` });
    } finally {
      verifying--;
    }
    const expires = now() + subscriptionMs;
    subscribers.delete(url);
    subscribers.set(url, expires);
    return { notify: url, expires: new Date(expires).toISOString() };
  }

  async function handleWellKnown(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const sub = url.pathname.slice(WELL_KNOWN.length);
    const method = req.method ?? 'GET';
    if (sub === 'mirrors' && (method === 'GET' || method === 'HEAD')) return sendSigned(res, map(), 'peerweb-map');
    if (sub === 'delisted' && (method === 'GET' || method === 'HEAD')) {
      if (!opts.key?.privateKey) throw new PeerwebError('PW_ERR_SIGNATURE_MISSING', { reason: 'delisting notices need the publisher private key' });
      const { body, headers } = signNotice(buildNotice(publicBase, seq, registry.delistings(), now()), opts.key, 'response');
      res.writeHead(200, { ...headers, 'content-length': String(body.length), 'cache-control': 'no-cache' });
      res.end(method === 'HEAD' ? undefined : body);
      return;
    }
    if (sub === 'subscriptions' && method === 'POST') {
      const body = (await readJson(req)) as { notify?: unknown } | null;
      return sendJson(res, 202, { ...(await subscribe(body?.notify)), seq });
    }
    if (sub === 'index' && (method === 'GET' || method === 'HEAD')) {
      const prefix = url.searchParams.get('prefix') ?? '/';
      if (!isSafePath(prefix)) throw new PeerwebError('PW_ERR_MIRROR_BAD_REQUEST', { reason: `prefix ${JSON.stringify(prefix)} is not an absolute path` });
      const files = [];
      for (const path of await opts.source.list(prefix, MAX_INDEX)) {
        const d = await describe(path);
        if (!d || (d.cacheControl && /\b(private|no-store)\b/i.test(d.cacheControl))) continue;
        files.push({ path, size: d.size, digest: formatDigestField(d.digest), type: d.contentType });
      }
      return sendSigned(res, { origin: publicBase, prefix, updated: new Date(now()).toISOString(), files }, 'peerweb-index');
    }
    if (sub.startsWith('metalink/') && (method === 'GET' || method === 'HEAD')) {
      const path = url.pathname.slice(`${WELL_KNOWN}metalink`.length);
      const d = await describe(path);
      if (!d) throw new PeerwebError('PW_ERR_MIRROR_NOT_HELD', { path });
      const mirrors = openHolding(path);
      const urls = [...mirrors.map((m, i) => ({ url: mirrorUrl(m.base, path), priority: i + 1 })), { url: publicBase + path, priority: mirrors.length + 1 }];
      const xml = buildMetalink({
        name: decodeURIComponent(path.split('/').pop() || 'index'), size: d.size, digest: d.digest, urls,
        ...(d.pieces && d.pieceSize ? { pieces: d.pieces, pieceSize: d.pieceSize } : {}), published: new Date(now()),
      });
      res.writeHead(200, { 'content-type': METALINK_TYPE, 'content-length': Buffer.byteLength(xml), 'cache-control': 'no-cache' });
      res.end(method === 'HEAD' ? undefined : xml);
      return;
    }
    if (sub === 'offers' && method === 'POST') {
      const body = (await readJson(req)) as { base?: unknown; prefixes?: unknown; restricted?: unknown } | null;
      const r = await offer(parseBase(body?.base), parsePrefixes(body?.prefixes), { restricted: body?.restricted === true });
      return sendJson(res, 202, { base: r.base, state: r.state, priority: r.priority });
    }
    if (sub === 'reports' && method === 'POST') {
      const body = (await readJson(req)) as { url?: unknown; mirror?: unknown; range?: { start?: unknown; end?: unknown } } | null;
      const mirrorRef = typeof body?.mirror === 'string' ? body.mirror : undefined;
      const target = typeof body?.url === 'string' ? body.url : undefined;
      if (!mirrorRef || !target) throw new PeerwebError('PW_ERR_MIRROR_BAD_REQUEST', { reason: 'a report needs url and mirror' });
      const rec = registry.all().find((m) => mirrorRef.startsWith(m.base));
      if (!rec) return sendJson(res, 202, { audited: false });
      let path: string;
      try {
        path = new URL(target, publicBase).pathname;
      } catch {
        throw new PeerwebError('PW_ERR_MIRROR_BAD_REQUEST', { reason: `url ${JSON.stringify(target)} is invalid` });
      }
      const s = Number(body?.range?.start);
      const e = Number(body?.range?.end);
      const range = Number.isSafeInteger(s) && Number.isSafeInteger(e) && s >= 0 && e >= s ? { start: s, end: e } : undefined;
      const result = await auditor.audit(rec.base, { path, ...(range ? { range } : {}) });
      // The answer comes once the delisting (if any) has left every list this node hands out (its cache purged).
      await settled();
      return sendJson(res, 202, { audited: result !== undefined, verdict: result?.verdict ?? null, state: rec.state });
    }
    throw new PeerwebError('PW_ERR_MIRROR_NOT_HELD', { path: url.pathname });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const will = req.headers['will-mirror'];
    if (typeof will === 'string') {
      try {
        const o = parseWillMirror(will);
        void offer(o.base, o.prefixes, { restricted: o.restricted }).catch(() => undefined);
      } catch {
        // A malformed offer is ignored; the request itself goes on.
      }
    }
    const url = new URL(req.url ?? '/', publicBase);
    if (!url.pathname.startsWith(WELL_KNOWN)) return false;
    try {
      await handleWellKnown(req, res, url);
    } catch (err) {
      sendError(res, err);
    }
    return true;
  }

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (await handle(req, res)) return;
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') return sendError(res, new PeerwebError('PW_ERR_METHOD_NOT_ALLOWED', { method }), { allow: 'GET, HEAD' });
    const url = new URL(req.url ?? '/', publicBase);
    const path = url.pathname;
    let d = await describe(path);
    if (!d) return sendError(res, new PeerwebError('PW_ERR_MIRROR_NOT_HELD', { path }));
    // HEAD and 304 are answered from the description; the bytes are read only to send them.
    const notModified = (req.headers['if-none-match'] ?? '').split(',').map((s) => s.trim().replace(/^W\//, '')).includes(strongEtag(d.digest));
    let entry: SourceEntry | undefined;
    if (method === 'GET' && !notModified) {
      entry = await opts.source.get(path);
      if (!entry) return sendError(res, new PeerwebError('PW_ERR_MIRROR_NOT_HELD', { path }));
      // Changed since it was described: describe what is actually sent.
      if (entry.version !== d.version) d = describeEntry(path, entry, opts.pieceSize, opts.pieceThreshold);
    }
    const headers = new Fields([['Content-Type', d.contentType], ['Accept-Ranges', 'bytes'], ['Cache-Control', d.cacheControl ?? 'public, max-age=60']]);
    decorate({ path, method, requestHeaders: req.headers }, 200, headers, { digest: d.digest, size: d.size });
    if (notModified) {
      res.writeHead(304, [...headers.entries()].flat());
      res.end();
      return;
    }
    const range = parseSingleRange(req.headers.range, d.size);
    if (range === 'unsatisfiable') {
      res.writeHead(416, { 'content-range': `bytes */${d.size}`, 'content-length': '0' });
      res.end();
      return;
    }
    const out: [string, string][] = [...headers.entries()];
    if (range) out.push(['Content-Range', `bytes ${range.start}-${range.end}/${d.size}`]);
    out.push(['Content-Length', String(range ? range.end - range.start + 1 : d.size)]);
    res.writeHead(range ? 206 : 200, out.flat());
    if (method === 'HEAD' || !entry) res.end();
    else res.end(range ? entry.body.subarray(range.start, range.end + 1) : entry.body);
  }

  async function push(path: string, bases?: readonly string[]): Promise<PushResult[]> {
    if (!opts.key?.privateKey) throw new PeerwebError('PW_ERR_SIGNATURE_MISSING', { reason: 'pushing needs the publisher private key' });
    const entry = await opts.source.get(path);
    const d = entry ? await describe(path) : undefined;
    if (!entry || !d) throw new PeerwebError('PW_ERR_MIRROR_NOT_HELD', { path });
    const targets = bases ?? registry.all().filter((m) => m.state !== 'delisted' && m.prefixes.some((p) => path.startsWith(p))).map((m) => m.base);
    const results: PushResult[] = [];
    for (const base of targets) {
      const url = mirrorUrl(base, path);
      const headers: Record<string, string> = {
        'content-type': d.contentType, 'cache-control': d.cacheControl ?? 'public, max-age=60',
        'content-digest': formatDigestField(d.digest), 'repr-digest': formatDigestField(d.digest),
      };
      const s = signMessage({ method: 'PUT', targetUri: url, field: fieldReader(headers) }, { key: opts.key, components: ['@method', '@target-uri', 'content-digest'], tag: 'peerweb-push' });
      try {
        const res = await request(url, { method: 'PUT', dispatcher: pushAgent, headers: { ...headers, 'signature-input': s.signatureInput, signature: s.signature }, body: entry.body });
        await res.body.dump();
        results.push({ mirror: base, url, status: res.statusCode });
      } catch (err) {
        results.push({ mirror: base, url, status: undefined, error: (err as Error).message });
      }
    }
    return results;
  }

  return {
    registry, auditor, describe, decorate, handle, serve, offer, push, map, notifyAll, settled,
    async close() {
      if (closed) return;
      await settled(true);
      closed = true;
      await auditor.close();
      await pushAgent.close();
    },
  };
}

async function readLimited(body: AsyncIterable<unknown> & { destroy?: () => void }, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    const b = c as Buffer;
    chunks.push(b);
    n += b.length;
    if (n > limit) {
      body.destroy?.();
      break;
    }
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, limit);
}
