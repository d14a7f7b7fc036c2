import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import type { Config } from '../config/index.js';
import { PeerwebError } from '../errors/index.js';
import type { IncomingRequest } from '../accept/types.js';
import { createFolderSource, createMirror, createOriginFront, createUpstreamSource, createRateLimiter, addressRanges, type Mirror, type OriginFront, type ContentSource } from '../mirror/index.js';
import { generatePublisherKey, loadPrivateKey, loadPublicKey, saveKey, zoneFileLine, type PublisherKey } from '../integrity/keys.js';
import { dnsKeyResolver } from '../directory/index.js';
import type { Logger } from '../util/log.js';

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
  /** Rate limits and address rules for outside clients; an error refuses the request. */
  readonly admit: ((req: IncomingRequest) => PeerwebError | undefined) | undefined;
  /** Creates the front and mirrors once the node's public address is known. */
  start(publicBase: string): Promise<void>;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

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

export async function setUpRoles(config: Config, logger: Logger): Promise<Roles> {
  const publishing = config['mirror.publish'] || config['mirror.serve'] !== undefined;
  const mirroring = config['mirror.mirror'].length > 0;
  if (!publishing && !mirroring) {
    return { internalOrigin: undefined, front: undefined, mirrors: [], admit: undefined, start: async () => {}, close: async () => {} };
  }
  if (publishing && mirroring) throw new PeerwebError('PW_ERR_CONFIG_INVALID', { key: 'mirror.mirror', value: JSON.stringify(config['mirror.mirror']), reason: 'one node is either an origin front (--publish/--serve) or a mirror' });
  if (mirroring && config.origin) throw new PeerwebError('PW_ERR_CONFIG_INVALID', { key: 'origin', value: config.origin, reason: 'a mirror node serves its mirrored origins; run the reverse proxy as another node' });
  if (config['mirror.serve'] !== undefined && !existsSync(config['mirror.serve'])) throw new PeerwebError('PW_ERR_CONFIG_INVALID', { key: 'mirror.serve', value: config['mirror.serve'], reason: 'folder does not exist' });
  if (publishing && config['mirror.serve'] === undefined && !config.origin) throw new PeerwebError('PW_ERR_CONFIG_INVALID', { key: 'mirror.publish', value: 'true', reason: 'needs --origin URL or --serve DIR' });

  const handler: { current: Handler | undefined } = { current: undefined };
  const internal = await listenInternal(handler);
  let front: OriginFront | undefined;
  let source: (ContentSource & { close?: () => Promise<void> }) | undefined;
  const mirrors: Mirror[] = [];
  const timers: NodeJS.Timeout[] = [];
  const maxObjectSize = config['mirror.maxObjectSize'];

  // Outside clients of a mirror: address rules and token buckets (429 + Retry-After), checked before the cache.
  let admit: Roles['admit'];
  if (mirroring) {
    const limiter = createRateLimiter({ rate: config['mirror.rate'] || Number.POSITIVE_INFINITY, burst: config['mirror.burst'], globalRate: config['mirror.globalRate'] || Number.POSITIVE_INFINITY });
    const allowed = config['mirror.allowClients'].length ? addressRanges(config['mirror.allowClients']) : undefined;
    const exempt = addressRanges(config['mirror.exemptClients']);
    admit = (req) => {
      const addr = req.remoteAddress;
      if (exempt(addr)) return undefined;
      if (allowed && !allowed(addr)) return new PeerwebError('PW_ERR_ACCESS_DENIED', { source: addr });
      const wait = limiter.take(addr);
      return wait > 0 ? new PeerwebError('PW_ERR_RATE_LIMITED', { source: addr, retryAfter: Math.ceil(wait) }) : undefined;
    };
  }

  return {
    internalOrigin: internal.url,
    get front() { return front; },
    mirrors,
    admit,
    async start(publicBase: string) {
      const base = (config['mirror.publicBase'] ?? publicBase).replace(/\/$/, '');
      if (publishing) {
        source = config['mirror.serve'] !== undefined
          ? createFolderSource(config['mirror.serve'], { maxObjectSize })
          : createUpstreamSource({ origin: config.origin as string, maxObjectSize, timeoutMs: config['upstream.headersTimeout'] });
        front = createOriginFront({
          key: publisherKey(config, logger),
          source,
          policy: { mode: config['mirror.policy'], allow: config['mirror.allow'], maxMirrors: config['mirror.maxMirrors'] },
          publicBase: base,
          pieceSize: config['mirror.pieceSize'],
          pieceThreshold: config['mirror.pieceThreshold'],
          auditRanges: config['mirror.auditRanges'],
          ...(config['mirror.auditProxies'].length ? { auditProxies: config['mirror.auditProxies'] } : {}),
          timeoutMs: config['upstream.headersTimeout'],
        });
        front.auditor.start(config['mirror.auditInterval']);
        const f = front;
        handler.current = (req, res) => f.serve(req, res);
        return;
      }
      const pinned = config['mirror.originKey'] ? [loadPublicKey(config['mirror.originKey'])] : undefined;
      const resolver = pinned ? undefined : dnsKeyResolver({ ...(config['archive.dnsServer'] ? { server: config['archive.dnsServer'] } : {}) });
      for (const raw of config['mirror.mirror']) {
        const m = /^(https?:\/\/[^/\s]+)(\/\S*)?$/.exec(raw) as RegExpExecArray;
        const spec = { origin: m[1] as string, prefix: m[2] ?? '/' };
        const originUrl = new URL(spec.origin);
        const keys = pinned ?? (await resolver!.keysFor(originUrl.hostname));
        if (keys.length === 0) throw new PeerwebError('PW_ERR_CONFIG_INVALID', { key: 'mirror.originKey', value: '(none)', reason: `no publisher key for ${originUrl.hostname} in DNS; pin one with --origin-key` });
        mirrors.push(createMirror({
          origin: spec.origin,
          prefixes: [spec.prefix],
          base: `${base}/m/${originUrl.host}/`,
          originKeys: keys,
          dir: join(resolve(config.data), 'mirror', originUrl.host.replace(/[^A-Za-z0-9.-]/g, '_')),
          maxObjectSize,
          rate: 0,
          globalRate: 0,
          timeoutMs: config['upstream.headersTimeout'],
        }));
      }
      handler.current = async (req, res) => {
        for (const m of mirrors) if (await m.handle(req, res)) return;
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not mirrored here\n');
      };
      // Copy, then offer; keep current in the background.
      const syncAll = async () => {
        for (const m of mirrors) {
          try {
            const r = await m.sync();
            logger.info({ added: r.added, updated: r.updated, removed: r.removed, failed: r.failed.length }, 'mirror sync');
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
      await new Promise<void>((r) => { internal.server.close(() => r()); internal.server.closeAllConnections(); });
    },
  };
}
