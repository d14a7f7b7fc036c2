import type { RequestInfo } from '../cache/index.js';
import type { Transaction } from './context.js';
import { urlOf } from './route.js';

export function requestInfo(tx: Transaction): RequestInfo {
  return { method: tx.req.method, headers: tx.req.headers, url: urlOf(tx) };
}
