import { Fields, formatHttpDate } from '../../../src/http/index.js';
import type { PolicyOptions, RequestInfo, StoredResponse } from '../../../src/cache/index.js';

/** A fixed "response received" time for table-driven tests. */
export const T0 = Date.UTC(2024, 5, 1, 12, 0, 0);
export const SHARED: PolicyOptions = { shared: true, heuristicFraction: 0.1, heuristicMaxMs: 86_400_000 };
export const PRIVATE: PolicyOptions = { ...SHARED, shared: false };

/** Header list where a number value n means "HTTP-date of T0 + n seconds". */
export type H = [string, string | number][];

export function fields(h: H = []): Fields {
  return new Fields(h.map(([n, v]) => [n, typeof v === 'number' ? formatHttpDate(T0 + v * 1000) : v] as const));
}

export function stored(h: H, status = 200, requestTime = T0, responseTime = T0): StoredResponse {
  return { status, headers: fields(h), requestTime, responseTime };
}

export function req(h: H = [], method = 'GET', url = 'http://example.com/a'): RequestInfo {
  return { method, headers: fields(h), url: new URL(url) };
}
