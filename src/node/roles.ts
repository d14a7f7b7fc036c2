import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KeyObject } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { Agent, request } from 'undici';
import type { Config } from '../config/index.js';
import { PeerwebError, isPeerwebError } from '../errors/index.js';
import type { IncomingRequest } from '../accept/types.js';
import {
  createFolderSource, createMirror, createOriginFront, createUpstreamSource, createAdmission, createClientAuth,
  createDelistBook, verifyNotice, authorityOf, MIRROR_LINKS_TAG, NOTICE_PATH, MAX_NOTICE_BYTES,
  type Mirror, type OriginFront, type ContentSource, type DelistBook, type Delisting,
} from '../mirror/index.js';
import { fieldReader } from '../integrity/index.js';
import { generatePublisherKey, loadPrivateKey, loadPublicKey, saveKey, zoneFileLine, type PublisherKey } from '../integrity/keys.js';
import { dnsKeyResolver } from '../directory/index.js';
import type { Metrics } from '../admin/metrics.js';
import type { Logger } from '../util/log.js';
import type { LocalRequest, LocalResponse, LocalService } from './local.js';

/**
 * The origin-front and mirror roles run as handlers on an internal loopback server; the caching
 * pipeline is a reverse proxy in front of it, so a flash crowd still costs one internal fetch per
 * object and every response is cached, collapsed and counted like any other.
 */
export interface Roles {
  /** The internal server the pipeline forwards to, when a role is active. */
  readonly internalOrigin: string | undefined;
  readonly front: OriginFront | undefined;
  readonly mirrors: readonly Mirror[];
  /** Rate limits, address rules and credentials for outside clients; an error refuses the request. */
  readonly admit: ((req: IncomingRequest) => PeerwebError | undefined | Promise<PeerwebError | undefined>) | undefined;
  /** Well-known endpoints of this node: delisting notices it receives, reports it forwards to the origin. */
  readonly services: readonly LocalService[];
  /** What the node knows of delisted mirrors (verified notices), for taking misses from mirrors. */
  readonly notices: NoticeWatch | undefined;
  /** Creates the front and mirrors once the node's public address is known. */
  start(publicBase: string): Promise<void>;
  close(): Promise<void>;
}

/** The delisting notices a node follows, as the mirror-fetch hook uses them. */
export interface NoticeWatch {
  readonly book: DelistBook;
  /**
   * An origin that answered with digests: follow its notices (fetch now, poll, and unless
   * `subscribe` is false, ask it to push them; mirrors need not ask, the origin pushes to them).
   */
  learn(origin: string, subscribe?: boolean): void;
  /** Fetches and applies the notice of one origin now; true when it was newer than the one held. */
  poll(origin: string): Promise<boolean>;
}

export interface RoleDeps {
  /** Drops stored answers by surrogate key (the node's cache). */
  readonly purgeTag?: (tag: string) => Promise<number>;
  readonly metrics?: Metrics;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

const REPORTS_PATH = '/.well-known/peerweb/reports';
const MAX_FOLLOWED = 256;

async function listenInternal(handler: { current: Handler | undefined }): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const h = handler.current;
    if (!h) { res.writeHead(503, { 'retry-after': '1' }).end('starting\n'); return; }
    h(req, res).catch((err: Error) => { if (!res.headersSent) res.writeHead(500).end(`${err.message}\n`); else res.destroy(err); });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** The publisher key: the configured file, or one generated once into the data folder (its TXT record is logged). */
function publisherKey(config: Config, logger: Logger): PublisherKey {
  const file = config['mirror.key'];
  if (file) return loadPrivateKey(file);
  const dir = join(resolve(config.data), 'keys');
  const path = join(dir, 'publisher.key');
  if (existsSync(path)) return loadPrivateKey(path);
  const key = generatePublisherKey();
  saveKey(key, dir, 'publisher');
  logger.warn({ file: path, record: zoneFileLine('HOST', key.publicKey) }, 'generated a publisher key; publish its TXT record at _peerweb-key.<host>');
  return key;
}

function json(status: number, value: unknown, extra: [string, string][] = []): LocalResponse {
  return { status, headers: [['Content-Type', 'application/json'], ['Cache-Control', 'no-store'], ...extra], body: Buffer.from(JSON.stringify(value)) };
}

function errorResponse(err: unknown): LocalResponse {
  const pe = isPeerwebError(err) ? err : new PeerwebError('PW_ERR_MIRROR_BAD_REQUEST', { reason: (err as Error)?.message ?? String(err) });
  return json(pe.status >= 400 ? pe.status : 400, { error: pe.code, message: pe.message });
}

function header(r: LocalRequest): (name: string) => string | undefined {
  const lower = new Map<string, string>();
  for (const [k, v] of r.headers) {
    const n = k.toLowerCase();
    const prev = lower.get(n);
    lower.set(n, prev === undefined ? v : `${prev}, ${v}`);
  }
  return (n) => lower.get(n);
}

/** Delistings the origin front keeps across restarts, so a liar is not listed again by a restart. */
async function loadDelistings(file: string): Promise<Delisting[]> {
  try {
    const v = JSON.parse(await readFile(file, 'utf8')) as { delisted?: unknown };
    if (!Array.isArray(v.delisted)) return [];
    return v.delisted.filter((d): d is Delisting => typeof d === 'object' && d !== null && typeof (d as Delisting).authority === 'string' && typeof (d as Delisting).until === 'number').slice(0, 4096);
  } catch {
    return [];
  }
}

async function saveDelistings(file: string, list: readonly Delisting[]): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify({ delisted: list }));
  await rename(tmp, file);
}

export async function setUpRoles(config: Config, logger: Logger, deps: RoleDeps = {}): Promise<Roles> {
  const publishing = config['mirror.publish'] || config['mirror.serve'] !== undefined;
  const mirroring = config['mirror.mirror'].length > 0;
  const fetching = config['mirror.fetchFromMirrors'];
  if (publishing && mirroring) throw new PeerwebError('PW_ERR_CONFIG_INVALID', { key: 'mirror.mirror', value: JSON.stringify(config['mirror.mirror']), reason: 'one node is either an origin front (--publish/--serve) or a mirror' });
  if (mirroring && config.origin) throw new PeerwebError('PW_ERR_CONFIG_INVALID', { key: 'origin', value: config.origin, reason: 'a mirror node serves its mirrored origins; run the reverse proxy as another node' });
  if (config['mirror.serve'] !== undefined && !existsSync(config['mirror.serve'])) throw new PeerwebError('PW_ERR_CONFIG_INVALID', { key: 'mirror.serve', value: config['mirror.serve'], reason: 'folder does not exist' });
  if (publishing && config['mirror.serve'] === undefined && !config.origin) throw new PeerwebError('PW_ERR_CONFIG_INVALID', { key: 'mirror.publish', value: 'true', reason: 'needs --origin URL or --serve DIR' });
  const clientsConfigured = config['mirror.clients.tokens'].length > 0 || config['mirror.clients.users'].length > 0;
  if (clientsConfigured && !mirroring) throw new PeerwebError('PW_ERR_CONFIG_INVALID', { key: config['mirror.clients.tokens'].length ? 'mirror.clients.tokens' : 'mirror.clients.users', value: '(set)', reason: 'client credentials apply to a mirror node (--mirror)' });
  // Built first so that a malformed entry stops the node before anything listens.
  const clientAuth = clientsConfigured ? createClientAuth({ tokens: config['mirror.clients.tokens'], users: config['mirror.clients.users'] }) : undefined;

  const timers: NodeJS.Timeout[] = [];
  const agent = new Agent({ connect: { timeout: config['upstream.connectTimeout'] } });
  const timeoutMs = config['upstream.headersTimeout'];
  let publicBase = '';

  // Publisher keys of the origins this node follows: pinned, or from DNS by host name.
  const pinned = config['mirror.originKey'] ? [loadPublicKey(config['mirror.originKey'])] : undefined;
  const resolver = pinned || (!mirroring && !fetching) ? undefined : dnsKeyResolver({ ...(config['archive.dnsServer'] ? { server: config['archive.dnsServer'] } : {}) });
  const keysFor = async (origin: string): Promise<readonly PublisherKey[]> => pinned ?? (resolver ? await resolver.keysFor(new URL(origin).hostname) : []);

  // Delisting notices: received (pushed), polled, and applied to the book; the node's own cached mirror links are dropped.
  let notices: NoticeWatch | undefined;
  const services: LocalService[] = [];
  const count = (outcome: string) => deps.metrics?.inc('peerweb_mirror_notices_total', 1, outcome);
  if (!publishing && (mirroring || fetching)) {
    const book = createDelistBook();
    const followed = new Map<string, { subscribedUntil: number; subscribed: boolean; wantsPush: boolean }>();
    const apply = async (field: (n: string) => string | undefined, body: Buffer, as: 'response' | 'request'): Promise<boolean> => {
      const notice = await verifyNotice(field, body, as, keysFor);
      if (!book.apply(notice)) {
        count('stale');
        return false;
      }
      count('applied');
      await deps.purgeTag?.(MIRROR_LINKS_TAG).catch(() => 0);
      logger.info({ origin: notice.origin, seq: notice.seq, delisted: notice.mirrors.map((m) => m.authority) }, 'delisting notice applied');
      return true;
    };
    const poll = async (origin: string): Promise<boolean> => {
      try {
        const res = await request(origin + NOTICE_PATH, { dispatcher: agent, headers: { 'cache-control': 'no-cache' }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
        const chunks: Buffer[] = [];
        let n = 0;
        for await (const c of res.body) {
          n += (c as Buffer).length;
          if (n > MAX_NOTICE_BYTES) throw new PeerwebError('PW_ERR_MIRROR_NOTICE_INVALID', { reason: `body is larger than ${MAX_NOTICE_BYTES} bytes` });
          chunks.push(c as Buffer);
        }
        if (res.statusCode !== 200) return false;
        return await apply(fieldReader(res.headers as Record<string, string | string[] | undefined>), Buffer.concat(chunks), 'response');
      } catch (err) {
        count('refused');
        logger.warn({ origin, err: (err as Error).message }, 'delisting notice not fetched');
        return false;
      }
    };
    /** Asks the origin to push notices to this node (it checks the URL with a challenge first). */
    const subscribe = async (origin: string): Promise<void> => {
      const f = followed.get(origin);
      if (!f || !f.wantsPush || !publicBase || f.subscribedUntil > Date.now()) return;
      try {
        const res = await request(origin + '/.well-known/peerweb/subscriptions', {
          method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ notify: publicBase + NOTICE_PATH }),
          headersTimeout: timeoutMs, bodyTimeout: timeoutMs,
        });
        const v = (await res.body.json().catch(() => ({}))) as { expires?: string };
        const expires = Date.parse(v.expires ?? '');
        f.subscribed = res.statusCode === 202;
        // Renewed half-way through; a refusal is retried at the next poll.
        f.subscribedUntil = res.statusCode === 202 && Number.isFinite(expires) ? Date.now() + (expires - Date.now()) / 2 : Date.now() + config['mirror.delistPoll'];
      } catch (err) {
        logger.warn({ origin, err: (err as Error).message }, 'subscription to delisting notices failed');
      }
    };
    notices = {
      book,
      poll,
      learn(origin, wantsPush = true) {
        if (followed.has(origin) || followed.size >= MAX_FOLLOWED) return;
        followed.set(origin, { subscribedUntil: 0, subscribed: false, wantsPush });
        void poll(origin).then(() => subscribe(origin));
      },
    };
    deps.metrics?.addGauge({ name: 'peerweb_mirror_delisted_hosts', help: 'Mirror hosts delisted by the origins this node follows (verified notices)', read: () => book.entries().length });
    deps.metrics?.addGauge({ name: 'peerweb_mirror_notice_subscriptions', help: 'Origins that accepted this node as a subscriber to their delisting notices', read: () => [...followed.values()].filter((f) => f.subscribed).length });
    const t = setInterval(() => {
      for (const origin of followed.keys()) void poll(origin).then(() => subscribe(origin));
    }, config['mirror.delistPoll']);
    t.unref();
    timers.push(t);
    services.push({
      name: 'delisting-notices',
      scope: 'well-known',
      covers: (u) => u.pathname === NOTICE_PATH,
      async handle(r) {
        const u = new URL(r.url);
        const challenge = u.searchParams.get('challenge');
        if (r.method === 'GET' && challenge !== null) {
          // The origin checks a subscription: echo its challenge (only nodes that want notices answer).
          if (!/^[A-Za-z0-9_-]{1,128}$/.test(challenge)) return errorResponse(new PeerwebError('PW_ERR_MIRROR_BAD_REQUEST', { reason: 'challenge must be 1 to 128 letters, digits, - or _' }));
          return { status: 200, headers: [['Content-Type', 'text/plain'], ['Cache-Control', 'no-store']], body: Buffer.from(challenge) };
        }
        if (r.method !== 'POST') return undefined;
        try {
          const applied = await apply(header(r), r.body ?? Buffer.alloc(0), 'request');
          return json(202, { applied });
        } catch (err) {
          count('refused');
          return errorResponse(err);
        }
      },
    });
  }

  // Reports reaching a node that is not the origin are forwarded to the origin, which audits.
  const knownOrigins = (): string[] => [
    ...config['mirror.mirror'].map((raw) => authorityOf(raw)).filter((o): o is string => o !== undefined),
    ...(config.origin ? [new URL(config.origin).origin] : []),
    ...config.origins.map((r) => authorityOf(r.url)).filter((o): o is string => o !== undefined),
  ];
  if (!publishing && (mirroring || fetching)) {
    services.push({
      name: 'report-forwarder',
      scope: 'well-known',
      covers: (u) => u.pathname === REPORTS_PATH,
      async handle(r) {
        if (r.method !== 'POST') return undefined;
        try {
          let body: { url?: unknown; mirror?: unknown; range?: unknown };
          try {
            body = JSON.parse((r.body ?? Buffer.alloc(0)).toString('utf8')) as typeof body;
          } catch {
            throw new PeerwebError('PW_ERR_MIRROR_BAD_REQUEST', { reason: 'body is not JSON' });
          }
          if (typeof body !== 'object' || body === null || typeof body.url !== 'string' || typeof body.mirror !== 'string' || body.url.length > 4096 || body.mirror.length > 4096) {
            throw new PeerwebError('PW_ERR_MIRROR_BAD_REQUEST', { reason: 'a report needs url and mirror strings' });
          }
          const origins = [...new Set(knownOrigins())];
          let target: string | undefined;
          const abs = authorityOf(body.url);
          if (abs && origins.includes(abs)) target = abs;
          else if (origins.length === 1) target = origins[0];
          else {
            for (const m of mirrors) if (body.url.startsWith(m.base)) target = m.origin;
          }
          if (!target) throw new PeerwebError('PW_ERR_MIRROR_BAD_REQUEST', { reason: `url ${JSON.stringify(body.url.slice(0, 200))} is not of a site this node serves or mirrors` });
          const res = await request(target + REPORTS_PATH, {
            method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ url: body.url, mirror: body.mirror, ...(body.range !== undefined ? { range: body.range } : {}) }),
            headersTimeout: timeoutMs, bodyTimeout: timeoutMs,
          });
          const chunks: Buffer[] = [];
          let n = 0;
          for await (const c of res.body) {
            n += (c as Buffer).length;
            if (n <= 64 * 1024) chunks.push(c as Buffer);
          }
          return { status: res.statusCode, headers: [['Content-Type', 'application/json'], ['Cache-Control', 'no-store']], body: Buffer.concat(chunks) };
        } catch (err) {
          if (isPeerwebError(err)) return errorResponse(err);
          return errorResponse(new PeerwebError('PW_ERR_UPSTREAM_CONNECT', { origin: 'the origin of the report', reason: (err as Error).message }));
        }
      },
    });
  }

  const base = (): string => (config['mirror.publicBase'] ?? publicBase).replace(/\/$/, '');
  const mirrors: Mirror[] = [];
  if (!publishing && !mirroring) {
    return {
      internalOrigin: undefined, front: undefined, mirrors, admit: undefined, services, notices,
      async start(pb: string) {
        const host = new URL(pb).hostname;
        // A node listening on every address does not know its public URL: without mirror.publicBase it only polls.
        publicBase = config['mirror.publicBase'] ? base() : host === '0.0.0.0' || host === '[::]' ? '' : pb.replace(/\/$/, '');
      },
      async close() {
        for (const t of timers) clearInterval(t);
        await agent.close();
      },
    };
  }

  const handler: { current: Handler | undefined } = { current: undefined };
  const internal = await listenInternal(handler);
  let front: OriginFront | undefined;
  let source: (ContentSource & { close?: () => Promise<void> }) | undefined;
  const maxObjectSize = config['mirror.maxObjectSize'];

  // Outside clients of a mirror: address rules, credentials and token buckets (429 + Retry-After), checked before the cache.
  let admit: Roles['admit'];
  const originKeys = new Map<string, KeyObject>();
  if (mirroring) {
    const admission = createAdmission({
      rate: config['mirror.rate'], burst: config['mirror.burst'], globalRate: config['mirror.globalRate'],
      allowClients: config['mirror.allowClients'], exemptClients: config['mirror.exemptClients'],
      ...(clientAuth ? { clientAuth } : {}), originKeys: () => originKeys, base,
    });
    admit = (req) => admission({ method: req.method, target: req.target, remoteAddress: req.remoteAddress, header: (n: string) => req.headers.get(n) ?? undefined });
  }

  const delistedFile = join(resolve(config.data), 'mirror', 'delisted.json');
  return {
    internalOrigin: internal.url,
    get front() { return front; },
    mirrors,
    admit,
    services,
    notices,
    async start(pb: string) {
      publicBase = pb.replace(/\/$/, '');
      if (publishing) {
        source = config['mirror.serve'] !== undefined
          ? createFolderSource(config['mirror.serve'], { maxObjectSize })
          : createUpstreamSource({ origin: config.origin as string, maxObjectSize, timeoutMs: config['upstream.headersTimeout'] });
        const f: OriginFront = createOriginFront({
          key: publisherKey(config, logger),
          source,
          policy: { mode: config['mirror.policy'], allow: config['mirror.allow'], maxMirrors: config['mirror.maxMirrors'] },
          publicBase: base(),
          pieceSize: config['mirror.pieceSize'],
          pieceThreshold: config['mirror.pieceThreshold'],
          auditRanges: config['mirror.auditRanges'],
          ...(config['mirror.auditProxies'].length ? { auditProxies: config['mirror.auditProxies'] } : {}),
          timeoutMs: config['upstream.headersTimeout'],
          cooldownMs: config['mirror.delistCooldown'],
          notify: config['mirror.notify'],
          // The list changed: answers with mirror links held by this node's cache go, and delistings are kept on disk.
          onListChange: async (c) => {
            await deps.purgeTag?.(MIRROR_LINKS_TAG).catch(() => 0);
            if (c.kind === 'delisted') await saveDelistings(delistedFile, f.registry.delistings()).catch((err: Error) => logger.warn({ err: err.message }, 'delistings not saved'));
          },
        });
        f.registry.restore(await loadDelistings(delistedFile));
        front = f;
        front.auditor.start(config['mirror.auditInterval']);
        handler.current = (req, res) => f.serve(req, res);
        return;
      }
      for (const raw of config['mirror.mirror']) {
        const m = /^(https?:\/\/[^/\s]+)(\/\S*)?$/.exec(raw) as RegExpExecArray;
        const spec = { origin: m[1] as string, prefix: m[2] ?? '/' };
        const originUrl = new URL(spec.origin);
        const keys = await keysFor(originUrl.origin);
        if (keys.length === 0) throw new PeerwebError('PW_ERR_CONFIG_INVALID', { key: 'mirror.originKey', value: '(none)', reason: `no publisher key for ${originUrl.hostname} in DNS; pin one with --origin-key` });
        for (const k of keys) originKeys.set(k.keyId, k.publicKey);
        mirrors.push(createMirror({
          origin: spec.origin,
          prefixes: [spec.prefix],
          base: `${base()}/m/${originUrl.host}/`,
          originKeys: keys,
          dir: join(resolve(config.data), 'mirror', originUrl.host.replace(/[^A-Za-z0-9.-]/g, '_')),
          maxObjectSize,
          rate: 0,
          globalRate: 0,
          // The node checks clients itself (admit); the origin still has to know.
          restricted: config['mirror.allowClients'].length > 0 || clientAuth !== undefined,
          timeoutMs: config['upstream.headersTimeout'],
        }));
        notices?.learn(originUrl.origin, false);
      }
      handler.current = async (req, res) => {
        for (const m of mirrors) if (await m.handle(req, res)) return;
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not mirrored here\n');
      };
      // Copy, then offer; keep current in the background. A mirror its origin delisted does not offer itself during the cool-down.
      const syncAll = async () => {
        for (const m of mirrors) {
          try {
            const r = await m.sync();
            logger.info({ added: r.added, updated: r.updated, removed: r.removed, failed: r.failed.length }, 'mirror sync');
            if (notices?.book.isDelisted(m.base)) {
              logger.warn({ base: m.base }, 'delisted by the origin; not offering during the cool-down');
              continue;
            }
            await m.offer();
          } catch (err) {
            logger.warn({ err: (err as Error).message }, 'mirror sync or offer failed');
          }
        }
      };
      void syncAll();
      const t = setInterval(() => void syncAll(), config['mirror.auditInterval']);
      t.unref();
      timers.push(t);
    },
    async close() {
      for (const t of timers) clearInterval(t);
      await front?.close();
      for (const m of mirrors) await m.close();
      await source?.close?.();
      await agent.close();
      await new Promise<void>((r) => { internal.server.close(() => r()); internal.server.closeAllConnections(); });
    },
  };
}
