import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { join, resolve } from 'node:path';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Config } from '../config/index.js';
import type { CliIo } from '../cli/io.js';
import { createAcceptServer, type AcceptServer } from '../accept/index.js';
import { createDiskStore, createMemoryStore, createTieredStore, type CacheStore, type SyncPeek } from '../storage/index.js';
import { createUpstream, type Upstream } from '../upstream/index.js';
import { createProxy, type ProxyHooks } from '../proxy/index.js';
import { Metrics } from '../admin/metrics.js';
import { createAccessLog, type AccessLog } from '../admin/access-log.js';
import { createAdminServer } from '../admin/server.js';
import { createLogger, silentLogger, type Logger } from '../util/log.js';
import { formatHostPort } from '../util/units.js';
import { wirePeers } from './peers.js';
import { setUpRoles } from './roles.js';
import { mirrorFetchHook } from './mirror-fetch.js';
import { localHook, type LocalService } from './local.js';
import { directoryFromConfig, directoryRequestHandler } from '../directory/index.js';
import { archiveManagerFromConfig, holderRequestHandler } from '../archive/index.js';

export interface NodeOptions {
  readonly logger?: Logger;
  readonly hooks?: ProxyHooks;
}

export interface PeerwebNode {
  readonly config: Config;
  readonly metrics: Metrics;
  readonly store: CacheStore & SyncPeek;
  /** Bound addresses once started (port 0 in the config → the port picked). */
  readonly proxyAddress: { host: string; port: number };
  readonly adminAddress: { host: string; port: number };
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Assembles a node from a frozen config: store, upstream client, proxy pipeline, admin listener. */
export async function createNode(givenConfig: Config, opts: NodeOptions = {}): Promise<PeerwebNode> {
  let config = withDistinctName(givenConfig);
  const logger = opts.logger ?? silentLogger;
  const metrics = new Metrics();
  const memory = createMemoryStore({ maxBytes: config['cache.memory'], maxObjectSize: config['cache.memoryMaxObjectSize'] });
  const disk = config['cache.disk'] > 0
    ? await createDiskStore({ dir: join(resolve(config.data), 'cache'), maxBytes: config['cache.disk'], maxObjectSize: config['cache.maxObjectSize'], logger })
    : null;
  const store = createTieredStore(memory, disk, { memoryMaxObjectSize: config['cache.memoryMaxObjectSize'] }) as CacheStore & SyncPeek;
  const roles = await setUpRoles(config, logger, { purgeTag: (tag) => store.purgeTag(tag), metrics });
  if (roles.internalOrigin) config = Object.freeze({ ...config, origin: roles.internalOrigin });
  const forward = !config.origin && config.origins.length === 0;
  const upstream: Upstream = createUpstream({
    connectTimeout: config['upstream.connectTimeout'],
    headersTimeout: config['upstream.headersTimeout'],
    bodyTimeout: config['upstream.bodyTimeout'],
    connections: config['upstream.connections'],
    pipelining: config['upstream.pipelining'],
    maxResponseHeaderSize: config['limits.responseHeaderSize'],
    guardAddresses: forward && !config['forward.allowPrivate'],
  });
  const accessLog: AccessLog = createAccessLog(config['log.access']);
  // The node's own services: the directory, archives it holds, sites served from signed archives.
  const directory = await directoryFromConfig(config);
  const archives = archiveManagerFromConfig(config, { directory });
  const dirHandler = directoryRequestHandler(directory);
  const holder = holderRequestHandler(archives);
  const sites = config['archive.sites'];
  const services: LocalService[] = [
    { name: 'directory', scope: 'well-known', covers: (u) => u.pathname === '/.well-known/peerweb/directory', handle: dirHandler },
    { name: 'archive-holder', scope: 'well-known', covers: (u) => u.pathname.startsWith('/.well-known/peerweb/archives/'), handle: holder },
    ...roles.services,
    ...(sites.length > 0
      ? [{
          name: 'archive-sites',
          scope: 'site' as const,
          covers: (u: URL) => sites.some((site) => site.origin === u.origin && u.pathname.startsWith(site.prefix)),
          handle: (r: Parameters<typeof archives.handle>[0]) => archives.handle(r),
        }]
      : []),
  ];
  const local = opts.hooks?.local ?? localHook(services, config['proxy.name']);
  // The peers hook needs the proxy's memory index and the proxy needs the hook: bind late.
  let fetchFrom: ProxyHooks['fetchFrom'];
  const hooks: ProxyHooks = {
    ...opts.hooks,
    ...(local ? { local } : {}),
    ...(roles.admit ? { admit: roles.admit } : {}),
    fetchFrom: opts.hooks?.fetchFrom ?? ((...args) => (fetchFrom ? fetchFrom(...args) : Promise.resolve(undefined))),
  };
  const proxy = createProxy({ config, store, upstream, metrics, accessLog, logger, hooks });
  const peers = await wirePeers(config, { upstream, metrics, logger, freshInMemory: proxy.freshInMemory });
  // Misses go to mirrors first (when asked to), then to peers, then to the origin.
  const sources = [mirrorFetchHook(config, { upstream, metrics, ...(roles.notices ? { notices: roles.notices } : {}) }), peers.fetchFrom].filter((f) => f !== undefined);
  fetchFrom = sources.length === 0 ? undefined : async (...args) => {
    for (const source of sources) {
      const r = await source(...args);
      if (r) return r;
    }
    return undefined;
  };
  const accept: AcceptServer = createAcceptServer({
    limits: {
      requestLine: config['limits.requestLine'],
      headerSize: config['limits.headerSize'],
      headerCount: config['limits.headerCount'],
      requestBody: config['limits.requestBody'],
      headerTimeout: config['limits.headerTimeout'],
      bodyTimeout: config['limits.bodyTimeout'],
      idleTimeout: config['limits.idleTimeout'],
      maxConnections: config['limits.maxConnections'],
      pipelineDepth: config['limits.pipelineDepth'],
      unsentBytes: config['limits.unsentBytes'],
    },
    onRequest: proxy.handler,
    onError: (err) => metrics.inc('peerweb_errors_total', 1, (err as { code?: string }).code ?? 'PW_ERR_HTTP_PARSE'),
  });
  const started = Date.now();
  metrics.addGauge({ name: 'peerweb_store_bytes', help: 'Bytes held by the cache store', read: () => store.stats().bytes });
  metrics.addGauge({ name: 'peerweb_store_entries', help: 'Entries in the cache store', read: () => store.stats().entries });
  metrics.addGauge({ name: 'peerweb_client_connections', help: 'Open client connections', read: () => accept.connections });
  metrics.addGauge({ name: 'peerweb_inflight_fetches', help: 'Upstream fetches in flight (collapsed)', read: () => proxy.inFlight() });
  const admin: Server = createAdminServer({
    metrics,
    store,
    push: (path, to) => roles.front?.push(path, to),
    health: () => ({
      uptimeSeconds: Math.round((Date.now() - started) / 1000),
      mode: forward ? 'forward' : 'reverse',
      proxy: formatHostPort(node.proxyAddress),
      store: store.stats(),
      connections: accept.connections,
      inFlight: proxy.inFlight(),
      ...(peers.icp ? { icp: formatHostPort(peers.icp.address) } : {}),
      ...(peers.router ? { peers: peers.router.stats() } : {}),
    }),
  });

  const node: PeerwebNode = {
    config,
    metrics,
    store,
    proxyAddress: { ...config.listen },
    adminAddress: { ...config.admin },
    async start() {
      const bound = await accept.listen(config.listen.host, config.listen.port);
      (node as { proxyAddress: { host: string; port: number } }).proxyAddress = bound;
      await new Promise<void>((res, rej) => {
        admin.once('error', rej);
        admin.listen(config.admin.port, config.admin.host, () => res());
      });
      const a = admin.address() as AddressInfo;
      (node as { adminAddress: { host: string; port: number } }).adminAddress = { host: a.address, port: a.port };
      await roles.start(`http://${formatHostPort(node.proxyAddress)}`);
      logger.info({ proxy: formatHostPort(node.proxyAddress), admin: formatHostPort(node.adminAddress), mode: forward ? 'forward' : 'reverse' }, 'node started');
    },
    async stop() {
      await accept.close(2000);
      await new Promise<void>((res) => { admin.close(() => res()); admin.closeAllConnections(); });
      await peers.close();
      await roles.close();
      await archives.close();
      await directory.close();
      await upstream.close();
      await accessLog.close();
      await store.close();
    },
  };
  return node;
}

/**
 * Nodes in a chain (a cache in front of an origin front, peers, arrays) must not share a Via
 * pseudonym, or each would take the other's requests for loops: a node left on the default name
 * gets one derived from its host and port (a random suffix when the port is picked at start).
 */
function withDistinctName(config: Config): Config {
  if (config['proxy.name'] !== 'peerweb') return config;
  const port = config.listen.port || randomBytes(3).toString('hex');
  const host = hostname().replace(/[^A-Za-z0-9.-]/g, '').slice(0, 40) || 'node';
  return Object.freeze({ ...config, 'proxy.name': `peerweb-${host}-${port}` });
}

/** `peerweb start`: runs a node until SIGINT/SIGTERM (or the io signal), then stops it cleanly. */
export async function runNode(config: Config, io: CliIo): Promise<number> {
  const logger = createLogger(config['log.level']);
  const node = await createNode(config, { logger });
  await node.start();
  io.stderr.write(
    `peerweb: ${config.origin || config.origins.length ? 'reverse' : 'forward'} proxy on http://${formatHostPort(node.proxyAddress)}, ` +
      `admin on http://${formatHostPort(node.adminAddress)} (metrics at /metrics)\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    io.signal?.addEventListener('abort', stop, { once: true });
  });
  io.stderr.write('peerweb: stopping\n');
  await node.stop();
  return 0;
}
