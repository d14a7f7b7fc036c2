import { isIP } from 'node:net';
import { PeerwebError } from '../errors/index.js';
import { cacheKey } from '../cache/index.js';
import { isInternalAddress } from '../upstream/index.js';
import type { Transaction } from './context.js';

/** Joins an origin base URL (which may have a path) and an origin-form target. */
function join(base: URL, pathAndQuery: string): URL {
  const prefix = base.pathname.endsWith('/') ? base.pathname.slice(0, -1) : base.pathname;
  return new URL(`${base.protocol}//${base.host}${prefix}${pathAndQuery}`);
}

function badTarget(reason: string): PeerwebError {
  return new PeerwebError('PW_ERR_HTTP_PARSE', { reason });
}

/** A forward proxy refuses internal destinations given as literals (names are checked when resolved). */
export function checkDestinationHost(tx: Transaction, hostname: string): void {
  if (tx.ctx.config['forward.allowPrivate']) return;
  const bare = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  const lower = bare.toLowerCase().replace(/\.$/, '');
  if ((isIP(bare) && isInternalAddress(bare)) || lower === 'localhost' || lower.endsWith('.localhost')) {
    throw new PeerwebError('PW_ERR_ROUTE_FORBIDDEN_DEST', { host: hostname, reason: 'loopback, link-local and private destinations are not allowed' });
  }
}

/** Where the request is sent upstream (built with the URL on the fast path). */
export function fetchUrlOf(tx: Transaction): URL {
  urlOf(tx);
  return tx.fetchUrl as URL;
}

/**
 * Targets whose cache key is the origin's key prefix plus the target itself: characters that URL
 * parsing keeps as they are (no %, no quotes or brackets, no backslash) and no dot segment.
 */
const PLAIN_TARGET = /^\/[A-Za-z0-9\-._~!$&()*+,;=:@/?]*$/;

/** The key prefix of a single origin (`http://host:port` plus its base path), computed once. */
const prefixes = new WeakMap<URL, string>();
function keyPrefix(base: URL): string {
  let p = prefixes.get(base);
  if (p === undefined) {
    p = cacheKey(join(base, '/')).slice(0, -1);
    prefixes.set(base, p);
  }
  return p;
}

/** The request's URL in key space, built on first use when routing took the fast path. */
export function urlOf(tx: Transaction): URL {
  if (tx.url === null && tx.lazyPath !== null && tx.ctx.singleOrigin) {
    tx.url = join(tx.ctx.singleOrigin, tx.lazyPath);
    tx.fetchUrl = tx.url;
  }
  return tx.url as URL;
}

/**
 * Works out the URL in cache-key space (`tx.url`), where to fetch it (`tx.fetchUrl`) and the key.
 * Reverse proxy: one origin, or an origin chosen by Host. Forward proxy: the absolute-form target.
 */
export function route(tx: Transaction): void {
  const { req, ctx } = tx;
  const target = req.target;
  if (ctx.singleOrigin && target.charCodeAt(0) === 47 && PLAIN_TARGET.test(target) && !target.includes('/.')) {
    tx.lazyPath = target;
    tx.key = keyPrefix(ctx.singleOrigin) + target;
    return;
  }
  if (ctx.singleOrigin || ctx.routes.size > 0) {
    let path: string;
    let host: string | undefined;
    if (target.charCodeAt(0) === 47 /* / */) {
      path = target;
      host = req.headers.get('host');
    } else if (/^https?:\/\//i.test(target)) {
      const u = new URL(target);
      path = u.pathname + u.search;
      host = u.host;
    } else {
      throw badTarget(`request target ${JSON.stringify(target.slice(0, 100))} is not origin-form or absolute-form`);
    }
    if (ctx.singleOrigin) {
      tx.fetchUrl = join(ctx.singleOrigin, path);
      tx.url = tx.fetchUrl;
    } else {
      const h = (host ?? '').toLowerCase();
      const base = ctx.routes.get(h) ?? ctx.routes.get(h.replace(/:\d+$/, ''));
      if (!base) throw new PeerwebError('PW_ERR_ROUTE_NO_ORIGIN', { host: host ?? '(none)' });
      tx.fetchUrl = join(base, path);
      tx.url = new URL(`${base.protocol}//${h}${path}`);
    }
  } else {
    if (!/^http:\/\//i.test(target)) {
      throw badTarget(/^https:\/\//i.test(target)
        ? 'https:// targets go through CONNECT'
        : `a forward proxy needs an absolute-form target such as http://host/path, got ${JSON.stringify(target.slice(0, 100))}`);
    }
    const u = new URL(target);
    u.username = '';
    u.password = '';
    u.hash = '';
    checkDestinationHost(tx, u.hostname);
    tx.url = u;
    tx.fetchUrl = u;
  }
  tx.key = cacheKey(tx.url);
}
