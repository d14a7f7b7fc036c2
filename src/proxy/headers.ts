import { Fields } from '../http/fields.js';
import { appendVia, stripHopByHop, httpDateNow } from '../http/index.js';
import type { Transaction } from './context.js';
import { fetchUrlOf } from './route.js';

/**
 * Request fields that change what an origin answers without being part of the cache key.
 * They are dropped on the way upstream unless `proxy.forwardUnkeyedHeaders` lists them.
 */
export const UNKEYED_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  'x-forwarded-host', 'x-forwarded-server', 'x-forwarded-scheme', 'x-forwarded-proto', 'x-forwarded-port',
  'x-host', 'x-original-url', 'x-rewrite-url', 'x-original-host', 'x-http-method-override', 'x-http-method',
  'x-method-override', 'forwarded',
]);

/** Conditional and range fields a cache removes when it fetches a full response to store. */
const CONDITIONALS = ['if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range', 'range'];

/** Fields for the upstream request: hop-by-hop removed, Host set, Via added, unkeyed headers dropped. */
export function upstreamRequestHeaders(tx: Transaction, opts: { forStore: boolean; extra?: Fields }): Fields {
  const { req, ctx } = tx;
  const h = req.headers.clone();
  stripHopByHop(h);
  h.delete('expect');
  h.delete('host');
  const allowed = ctx.config['proxy.forwardUnkeyedHeaders'];
  for (const name of UNKEYED_REQUEST_HEADERS) if (!allowed.includes(name)) h.delete(name);
  if (opts.forStore) for (const name of CONDITIONALS) h.delete(name);
  if (!tx.req.hasBody || tx.req.method === 'GET' || tx.req.method === 'HEAD') {
    h.delete('content-length');
  }
  if (opts.extra) for (const [n, v] of opts.extra.entries()) h.set(n, v);
  h.set('Host', fetchUrlOf(tx).host);
  appendVia(h, req.versionMinor, ctx.config['proxy.name']);
  return h;
}

/** Fields of an upstream response as the cache stores and forwards them. */
export function downstreamResponseHeaders(tx: Transaction, upstream: Fields): Fields {
  const h = upstream.clone();
  stripHopByHop(h);
  if (!h.has('date')) h.set('Date', httpDateNow());
  appendVia(h, 1, tx.ctx.config['proxy.name']);
  return h;
}
