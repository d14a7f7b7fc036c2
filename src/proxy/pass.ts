import { cacheKey, invalidationTargets, isUnsafeMethod } from '../cache/index.js';
import type { Transaction } from './context.js';
import { fetchUrlOf } from './route.js';
import { downstreamResponseHeaders, upstreamRequestHeaders } from './headers.js';
import { streamBody } from './deliver.js';
import { finish } from './finish.js';
import { requestInfo } from './request-info.js';
import type { Step } from './step-names.js';

/** Not cacheable: forward the request (with its body) and stream the answer back; unsafe methods invalidate. */
export async function pass(tx: Transaction): Promise<Step> {
  const { req, res, ctx } = tx;
  if (tx.tag === 'MISS') tx.tag = 'PASS';
  const headers = upstreamRequestHeaders(tx, { forStore: false });
  const sendBody = req.hasBody && req.method !== 'GET' && req.method !== 'HEAD';
  ctx.metrics.inc('peerweb_origin_requests_total', 1, 'origin');
  const up = await ctx.upstream.request({ url: fetchUrlOf(tx), method: req.method, headers, body: sendBody ? req.body() : null, signal: req.signal });
  const h = downstreamResponseHeaders(tx, up.headers);
  if (isUnsafeMethod(req.method) && up.status < 400) {
    for (const u of invalidationTargets(requestInfo(tx), up.status, h)) {
      const n = await ctx.store.delete(cacheKey(u));
      if (n) ctx.metrics.inc('peerweb_invalidations_total', n);
    }
  }
  h.set('Cache-Status', `${ctx.config['proxy.name']}; fwd=request`);
  tx.status = up.status;
  res.writeHead(up.status, h);
  if (res.isHead) {
    up.body.destroy();
    res.end();
  } else {
    await streamBody(tx, up.body);
  }
  finish(tx);
  return 'done';
}
