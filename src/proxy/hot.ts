import { Fields } from '../http/fields.js';
import { currentAgeMs, freshnessLifetime, responseDirectives, varyFields, type StoredResponse, type PolicyOptions } from '../cache/index.js';
import type { StoredEntry } from '../storage/index.js';
import type { HotEntry } from './context.js';

/** The cache data stored with each entry (EntryMeta.data). */
export interface EntryData {
  readonly status: number;
  readonly reason: string;
  readonly headers: readonly [string, string][];
  readonly requestTime: number;
  readonly responseTime: number;
}

const REASONS: Readonly<Record<number, string>> = {
  200: 'OK', 203: 'Non-Authoritative Information', 204: 'No Content', 206: 'Partial Content', 300: 'Multiple Choices',
  301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 304: 'Not Modified', 307: 'Temporary Redirect',
  308: 'Permanent Redirect', 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  410: 'Gone', 412: 'Precondition Failed', 414: 'URI Too Long', 416: 'Range Not Satisfiable', 501: 'Not Implemented',
  500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout', 508: 'Loop Detected',
};

export function reasonPhrase(status: number): string {
  return REASONS[status] ?? 'Unknown';
}

export function entryDataOf(stored: StoredResponse, reason?: string): EntryData {
  return { status: stored.status, reason: reason ?? reasonPhrase(stored.status), headers: stored.headers.toJSON(), requestTime: stored.requestTime, responseTime: stored.responseTime };
}

const hot = new WeakMap<StoredEntry, HotEntry>();

/** A stored response with no-cache must be validated on every use: no fast path for it. */
function needsFullDecision(h: Fields, policy: PolicyOptions): boolean {
  return responseDirectives(h, policy).has('no-cache');
}

/** Derives (once per stored entry object) what the hit path needs. */
export function hotEntry(entry: StoredEntry, policy: PolicyOptions, proxyName: string): HotEntry {
  let h = hot.get(entry);
  if (h) return h;
  const data = entry.data as unknown as EntryData;
  const headers = new Fields(data.headers);
  const stored: StoredResponse = { status: data.status, headers, requestTime: data.requestTime, responseTime: data.responseTime };
  const v = varyFields(headers);
  const { lifetimeMs } = freshnessLifetime(stored, policy);
  const initialAge = currentAgeMs(stored, stored.responseTime);
  const freshUntil = needsFullDecision(headers, policy) ? 0 : stored.responseTime + lifetimeMs - initialAge;
  const forHead = headers.clone();
  forHead.delete('content-length');
  forHead.delete('age');
  forHead.delete('cache-status');
  const head = Buffer.from(
    `HTTP/1.1 ${data.status} ${data.reason}\r\n${forHead.serialize()}Content-Length: ${entry.size}\r\nCache-Status: ${proxyName}; hit\r\n`,
    'latin1',
  );
  h = { entry, stored, vary: v === '*' ? ['*'] : v, freshUntil, initialAge, head, touchedAt: 0 };
  hot.set(entry, h);
  return h;
}
