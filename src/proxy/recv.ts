import { PeerwebError } from '../errors/index.js';
import { viaHasPseudonym } from '../http/index.js';
import type { Transaction } from './context.js';
import { finish } from './finish.js';
import { route, urlOf } from './route.js';
import type { Step } from './step-names.js';

/** Method tokens: anything the parser accepted is forwarded, but only GET and HEAD are looked up. */
const LOOKUP_METHODS = new Set(['GET', 'HEAD']);

/** First step: loop check, routing, the node's own endpoints, then lookup or pass. */
export function recv(tx: Transaction): Step | Promise<Step> {
  const { req, ctx } = tx;
  if (ctx.hooks.admit) {
    const refused = ctx.hooks.admit(req);
    // A check that needs to wait (a password hash) settles before anything else happens.
    if (refused instanceof Promise) return refused.then((r) => { if (r) throw r; return admitted(tx); });
    if (refused) throw refused;
  }
  return admitted(tx);
}

function admitted(tx: Transaction): Step | Promise<Step> {
  const { req, ctx } = tx;
  if (req.method === 'CONNECT') {
    if (!ctx.forwardMode) throw new PeerwebError('PW_ERR_METHOD_NOT_ALLOWED', { method: 'CONNECT' });
    return 'tunnel';
  }
  if (req.headers.has('via') && viaHasPseudonym(req.headers, ctx.config['proxy.name'])) {
    throw new PeerwebError('PW_ERR_LOOP', { via: req.headers.get('via') ?? '' });
  }
  // The node's own endpoints (well-known paths, archive sites) come before routing errors.
  const local = ctx.hooks.local;
  if (local) {
    let routed = true;
    try {
      route(tx);
    } catch {
      routed = false;
    }
    const handled = local(req, tx.res, () => (routed ? urlOf(tx) : null));
    if (handled === true) return localDone(tx);
    if (handled !== false) return handled.then((h) => (h ? localDone(tx) : afterLocal(tx)));
    return afterLocal(tx);
  }
  route(tx);
  return LOOKUP_METHODS.has(req.method) ? 'lookup' : 'pass';
}

function afterLocal(tx: Transaction): Step {
  if (tx.key === '') route(tx);
  return LOOKUP_METHODS.has(tx.req.method) ? 'lookup' : 'pass';
}

function localDone(tx: Transaction): Step {
  tx.tag = 'LOCAL';
  tx.status = 200;
  finish(tx);
  return 'done';
}
