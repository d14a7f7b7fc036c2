import { opt, invalid } from './options-types.js';

/** One configured reverse-proxy site: requests whose Host matches `host` go to `url`. */
export interface OriginRoute { readonly host: string; readonly url: string }

function parseOriginRoute(raw: unknown): OriginRoute {
  if (typeof raw === 'string') {
    const eq = raw.indexOf('=');
    if (eq < 0) invalid('must be HOST=URL');
    raw = { host: raw.slice(0, eq), url: raw.slice(eq + 1) };
  }
  if (typeof raw !== 'object' || raw === null) invalid('must be { host, url }');
  const { host, url } = raw as Record<string, unknown>;
  if (typeof host !== 'string' || !/^[A-Za-z0-9.-]+(:\d+)?$/.test(host)) invalid('needs a host name in "host"');
  if (typeof url !== 'string') invalid('needs an origin URL in "url"');
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') invalid('url must be http or https');
  } catch {
    invalid(`url ${JSON.stringify(url)} is not an absolute URL`);
  }
  return Object.freeze({ host: host.toLowerCase(), url });
}

/** The core's options: listeners, storage, HTTP limits, upstream, collapsing, forward-proxy safety, logs. */
export const coreOptions = {
  listen: opt.hostPort({ default: { host: '127.0.0.1', port: 8080 }, flag: 'listen', doc: 'Address of the proxy listener.' }),
  admin: opt.hostPort({ default: { host: '127.0.0.1', port: 8081 }, flag: 'admin', doc: 'Address of the admin listener (metrics, purge, health). Keep it on loopback.' }),
  origin: opt.optionalUrl({ flag: 'origin', doc: 'Reverse proxy for this origin: every request goes to it, whatever its Host. Without origin or origins the node is a forward proxy.' }),
  origins: opt.list({ default: [], item: 'HOST=URL or { host, url }', parseItem: parseOriginRoute, doc: 'Reverse proxy for several sites, chosen by the request Host.' }),
  data: opt.string({ default: './.peerweb', flag: 'data', doc: 'Folder for the disk cache and other state.' }),
  'cache.memory': opt.size({ default: 256 * 1024 ** 2, min: 0, flag: 'memory-cache', doc: 'Memory tier size (bodies and metadata held in RAM).' }),
  'cache.disk': opt.size({ default: 10 * 1024 ** 3, min: 0, flag: 'disk-cache', doc: 'Disk tier size; 0 keeps the cache in memory only.' }),
  'cache.maxObjectSize': opt.size({ default: 1024 ** 3, min: 0, doc: 'Largest response body that is stored.' }),
  'cache.memoryMaxObjectSize': opt.size({ default: 16 * 1024 ** 2, min: 0, doc: 'Largest body kept in the memory tier (larger ones live on disk only).' }),
  'cache.heuristicFraction': opt.number({ default: 0.1, min: 0, max: 1, doc: 'Heuristic freshness as a fraction of the time since Last-Modified (RFC 9111 §4.2.2).' }),
  'cache.heuristicMax': opt.duration({ default: 86_400_000, min: 0, doc: 'Upper bound on heuristic freshness.' }),
  'cache.staleOnError': opt.duration({ default: 3_600_000, min: 0, doc: 'How stale a stored response may be served when the origin cannot be reached or answers 5xx and the response has no stale-if-error (never for must-revalidate, proxy-revalidate or no-cache); 0 turns it off.' }),
  'cache.targetedFields': opt.list({ default: ['cdn-cache-control'], item: 'header name', parseItem: (v) => { if (typeof v !== 'string' || !/^[A-Za-z0-9-]+$/.test(v)) invalid('must be a header name'); return v.toLowerCase(); }, doc: 'Reverse proxy: targeted cache-control fields obeyed instead of Cache-Control and Expires (RFC 9213), first match wins.' }),
  'cache.shared': opt.bool({ default: true, doc: 'Behave as a shared cache (honour private and s-maxage).' }),
  'limits.requestLine': opt.size({ default: 8192, min: 64, max: 1024 * 1024, doc: 'Longest request line.' }),
  'limits.headerSize': opt.size({ default: 64 * 1024, min: 256, max: 16 * 1024 * 1024, doc: 'Largest request header section (all lines).' }),
  'limits.headerCount': opt.int({ default: 100, min: 1, max: 10_000, doc: 'Most request header fields.' }),
  'limits.requestBody': opt.size({ default: 64 * 1024 ** 2, min: 0, doc: 'Largest request body.' }),
  'limits.responseHeaderSize': opt.size({ default: 64 * 1024, min: 1024, doc: 'Largest upstream response header section.' }),
  'limits.headerTimeout': opt.duration({ default: 10_000, min: 100, doc: 'Time a client has to send a complete header section.' }),
  'limits.bodyTimeout': opt.duration({ default: 30_000, min: 100, doc: 'Longest pause while a client sends its body.' }),
  'limits.idleTimeout': opt.duration({ default: 60_000, min: 100, doc: 'Idle keep-alive connections are closed after this long.' }),
  'limits.maxConnections': opt.int({ default: 20_000, min: 1, doc: 'Most client connections at once.' }),
  'limits.pipelineDepth': opt.int({ default: 32, min: 1, max: 1024, doc: 'Most pipelined requests queued on one connection.' }),
  'limits.unsentBytes': opt.size({ default: 32 * 1024, min: 0, max: 64 * 1024 ** 2, doc: 'Response bytes the kernel may hold unsent per client connection (TCP_NOTSENT_LOWAT, Linux): large responses then go out as clients take them, from bytes still in the CPU cache and fairly shared between connections; bytes in flight are not limited. 0 keeps the system setting.' }),
  'limits.maxRanges': opt.int({ default: 16, min: 1, max: 1000, doc: 'Most ranges served in one multipart/byteranges response.' }),
  'upstream.connectTimeout': opt.duration({ default: 10_000, min: 10, doc: 'Time to connect to an origin.' }),
  'upstream.headersTimeout': opt.duration({ default: 30_000, min: 10, doc: 'Time for an origin to send its response headers.' }),
  'upstream.bodyTimeout': opt.duration({ default: 60_000, min: 10, doc: 'Longest pause while an origin sends its body.' }),
  'upstream.connections': opt.int({ default: 64, min: 1, max: 10_000, doc: 'Most connections to one origin.' }),
  'upstream.pipelining': opt.int({ default: 1, min: 1, max: 100, doc: 'Requests pipelined on one origin connection.' }),
  'collapse.maxWaiters': opt.int({ default: 10_000, min: 0, doc: 'Most clients waiting on one in-flight fetch; more get 503.' }),
  'forward.allowPrivate': opt.bool({ default: false, doc: 'Forward proxy: allow requests and tunnels to loopback, link-local and private addresses.' }),
  'forward.connectPorts': opt.list({ default: [443], item: 'port', parseItem: (v) => { const n = Number(v); if (!Number.isInteger(n) || n < 1 || n > 65535) invalid('must be a port number'); return n; }, doc: 'Ports CONNECT may tunnel to.' }),
  'proxy.name': opt.string({ default: 'peerweb', pattern: /^[A-Za-z0-9._-]{1,64}$/, patternDoc: 'a token of letters, digits, dot, dash or underscore', doc: 'Pseudonym in Via, Cache-Status and loop detection. Left at "peerweb", each node uses peerweb-HOST-PORT so that chained nodes do not take each other for loops.' }),
  'proxy.forwardUnkeyedHeaders': opt.list({ default: [], item: 'header name', parseItem: (v) => { if (typeof v !== 'string' || !/^[A-Za-z0-9-]+$/.test(v)) invalid('must be a header name'); return v.toLowerCase(); }, doc: 'Request headers that change responses without being in the cache key (X-Forwarded-Host, X-Original-URL, …) are dropped unless listed here.' }),
  'log.access': opt.string({ default: '-', doc: 'Access log: "-" for stdout, a file path, or "off".' }),
  'log.level': opt.enumOf({ default: 'info', values: ['debug', 'info', 'warn', 'error', 'silent'] as const, doc: 'Level of the structured (JSON) log on stderr.' }),
} as const;
