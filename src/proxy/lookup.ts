import { PeerwebError } from '../errors/index.js';
import { decide, isOnlyIfCached, secondaryKey } from '../cache/index.js';
import type { StoredEntry } from '../storage/index.js';
import type { Transaction } from './context.js';
import { hotEntry } from './hot.js';
import type { Step } from './step-names.js';
import { requestInfo } from './request-info.js';

/** Request fields that need the full RFC 9111 decision or special serving (not the fast path). */
const NOT_PLAIN = ['cache-control', 'pragma', 'if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range', 'range', 'authorization'];

function isPlain(tx: Transaction): boolean {
  const h = tx.req.headers;
  for (const n of NOT_PLAIN) if (h.has(n)) return false;
  return true;
}

/** Finds a stored variant for the request and decides: hit, revalidate, or miss. */
export function lookup(tx: Transaction): Step | Promise<Step> {
  const peeked = tx.ctx.store.peek(tx.key);
  if (peeked !== undefined) return choose(tx, peeked);
  return tx.ctx.store.lookup(tx.key).then((entries) => choose(tx, entries));
}

function choose(tx: Transaction, entries: readonly StoredEntry[]): Step {
  const { ctx, req } = tx;
  const now = Date.now();
  tx.candidate = null;
  tx.decision = null;
  for (const e of entries) {
    const h = hotEntry(e, ctx.policy, ctx.config['proxy.name']);
    if (h.vary.length > 0 && (h.vary[0] === '*' || secondaryKey(h.vary as string[], req.headers) !== e.variant)) continue;
    if (h.freshUntil > now && isPlain(tx)) {
      tx.candidate = h;
      tx.decision = { action: 'fresh', ageMs: h.initialAge + (now - h.stored.responseTime) };
      return 'hit';
    }
    const d = decide(requestInfo(tx), h.stored, now, ctx.policy);
    if (d.action === 'unusable') continue;
    tx.candidate = h;
    tx.decision = d;
    if (d.action === 'revalidate') {
      if (isOnlyIfCached(req.headers)) throw new PeerwebError('PW_ERR_ONLY_IF_CACHED');
      return 'revalidate';
    }
    return 'hit';
  }
  if (isOnlyIfCached(req.headers)) throw new PeerwebError('PW_ERR_ONLY_IF_CACHED');
  return 'miss';
}
