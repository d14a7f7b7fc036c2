import { PeerwebError, isPeerwebError } from '../errors/index.js';
import { Fields } from '../http/fields.js';
import type { Transaction } from './context.js';

/** Records the finished request: one access-log line, the result tag and status counters. */
export function finish(tx: Transaction): void {
  const { ctx } = tx;
  ctx.metrics.request(tx.tag, tx.status, tx.bytes);
  if (ctx.accessLog.enabled) {
    ctx.accessLog.write(tx.req.remoteAddress, tx.req.method, tx.url?.href ?? (tx.key || tx.req.target), tx.status, tx.bytes, Date.now() - tx.start, tx.tag);
  }
}

/** Answers with an error (plain text, never stored) or, when the head is already out, cuts the connection. */
export function fail(tx: Transaction, err: unknown): 'done' {
  const e = isPeerwebError(err) ? err : new PeerwebError('PW_ERR_STORE_IO', { reason: (err as Error)?.message ?? String(err) }, { cause: err });
  if (!isPeerwebError(err)) tx.ctx.logger.error({ err, url: tx.req.target }, 'internal error');
  tx.ctx.metrics.inc('peerweb_errors_total', 1, e.code);
  const status = e.status || 500;
  if (tx.tag !== 'DENIED') tx.tag = status === 401 || status === 403 || status === 508 || status === 429 ? 'DENIED' : 'ERROR';
  tx.status = status;
  if (tx.res.headersSent) {
    tx.res.abort(e);
  } else {
    const body = Buffer.from(`${status} ${e.message} [${e.code}]\n`);
    const h = new Fields([
      ['Content-Type', 'text/plain; charset=utf-8'],
      ['Content-Length', String(body.length)],
      ['Cache-Control', 'no-store'],
    ]);
    const retryAfter = e.details.retryAfter;
    if (typeof retryAfter === 'number') h.set('Retry-After', String(retryAfter));
    const challenge = e.details.challenge;
    if (status === 401 && typeof challenge === 'string' && challenge) h.set('WWW-Authenticate', challenge);
    tx.res.writeHead(status, h);
    tx.res.end(body);
    tx.bytes += body.length;
  }
  finish(tx);
  return 'done';
}
