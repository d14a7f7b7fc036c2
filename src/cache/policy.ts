/**
 * RFC 9111 cache policy (with RFC 5861 stale-while-revalidate / stale-if-error): storability,
 * freshness, age, the reuse decision, revalidation and invalidation. Pure functions of header
 * fields and times; no I/O.
 */
import {
  Fields,
  type CacheControl,
  parseCacheControl,
  deltaSeconds,
  directiveFieldNames,
  parseHttpDate,
  formatHttpDate,
  parseETag,
  parseETagList,
  strongMatch,
  weakMatch,
  HOP_BY_HOP,
  connectionOptions,
  DELTA_SECONDS_MAX,
  parseSfDictionary,
  SfToken,
} from '../http/index.js';
import { cacheKey, varyFields } from './key.js';

export interface PolicyOptions {
  /** A shared cache honours `private`, `s-maxage`, `proxy-revalidate` and the Authorization rule. */
  shared: boolean;
  /** Heuristic freshness = this fraction of (Date − Last-Modified) (RFC 9111 §4.2.2). */
  heuristicFraction: number;
  /** Upper bound on heuristic freshness. */
  heuristicMaxMs: number;
  /**
   * How stale a response may be served when the origin fails (RFC 9111 §4.2.4) in the absence of a
   * stale-if-error directive; 0 (the default) means only stale-if-error allows it.
   */
  staleOnErrorMs?: number;
  /**
   * Targeted cache-control fields this cache obeys (RFC 9213), lower-case, first match wins, e.g.
   * `['cdn-cache-control']` for a CDN. A valid, non-empty one replaces Cache-Control and Expires.
   */
  targetedFields?: readonly string[];
}

/** What the cache keeps about a stored response (besides the body). */
export interface StoredResponse { status: number; headers: Fields; requestTime: number; responseTime: number }

export interface RequestInfo { method: string; headers: Fields; url: URL }

export type Decision =
  | { action: 'fresh'; ageMs: number }
  | { action: 'stale-while-revalidate'; ageMs: number }
  | { action: 'revalidate'; ageMs: number; staleIfErrorMs: number }
  | { action: 'unusable' };

/** Status codes defined as heuristically cacheable (RFC 9110 §15.1). */
export const HEURISTIC_STATUSES: ReadonlySet<number> = new Set([200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501]);

/** Final status codes whose caching semantics this cache understands (for must-understand). */
export const UNDERSTOOD_STATUSES: ReadonlySet<number> = new Set([
  200, 203, 204, 300, 301, 302, 303, 307, 308, 400, 403, 404, 405, 410, 414, 451, 500, 501, 502, 503, 504,
]);

const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

const MAX_MS = DELTA_SECONDS_MAX * 1000;

/** The directives of the first valid, non-empty targeted field (RFC 9213), or undefined. */
function targetedCc(h: Fields, opts: PolicyOptions | undefined): CacheControl | undefined {
  for (const name of opts?.targetedFields ?? []) {
    const v = h.get(name);
    if (v === undefined) continue;
    let dict;
    try {
      dict = parseSfDictionary(v);
    } catch {
      continue; // an invalid targeted field is ignored (RFC 9213 §2.1)
    }
    if (dict.size === 0) continue;
    // Directives whose value must be an integer (RFC 9213 §2.1: a wrong type makes the field invalid).
    let valid = true;
    for (const name of ['max-age', 's-maxage', 'stale-while-revalidate', 'stale-if-error']) {
      const m = dict.get(name);
      if (m !== undefined && ('items' in m || typeof m.value !== 'number' || !Number.isInteger(m.value) || m.value < 0)) valid = false;
    }
    if (!valid) continue;
    const cc = new Map<string, string | true>();
    for (const [k, m] of dict) {
      if ('items' in m) continue;
      const val = m.value;
      cc.set(k, val === true ? true : typeof val === 'number' ? String(val) : typeof val === 'string' ? val : val instanceof SfToken ? val.value : String(val));
    }
    return cc;
  }
  return undefined;
}

function resCc(h: Fields, opts?: PolicyOptions): CacheControl {
  return targetedCc(h, opts) ?? parseCacheControl(h.get('cache-control'));
}

/** The response directives this cache obeys: a targeted field it is configured for, else Cache-Control. */
export function responseDirectives(h: Fields, opts: PolicyOptions): CacheControl {
  return resCc(h, opts);
}

export function isUnsafeMethod(method: string): boolean {
  return !SAFE_METHODS.has(method);
}

/** Request `Cache-Control: no-cache`, or `Pragma: no-cache` when the request has no Cache-Control (RFC 9111 §5.4). */
export function requestHasNoCache(req: Fields): boolean {
  const cc = req.get('cache-control');
  if (cc !== undefined) return parseCacheControl(cc).has('no-cache');
  const pragma = req.get('pragma');
  return pragma !== undefined && pragma.split(',').some((p) => p.trim().toLowerCase() === 'no-cache');
}

export function isOnlyIfCached(req: Fields): boolean {
  return parseCacheControl(req.get('cache-control')).has('only-if-cached');
}

function hasExplicitFreshness(cc: CacheControl, res: Fields, opts: PolicyOptions): boolean {
  return cc.has('max-age') || (opts.shared && cc.has('s-maxage')) || (res.has('expires') && targetedCc(res, opts) === undefined);
}

/**
 * May the response be stored (RFC 9111 §3)? Only full responses to GET are stored; a HEAD
 * response may only update a stored one (the caller decides that).
 */
export function isStorable(req: RequestInfo, status: number, res: Fields, opts: PolicyOptions): { storable: boolean; reason: string } {
  const no = (reason: string): { storable: boolean; reason: string } => ({ storable: false, reason });
  if (req.method !== 'GET') return no(`method ${req.method} is not stored`);
  if (status < 200 || status > 599 || !Number.isInteger(status)) return no(`status ${status} is not final`);
  if (status === 206) return no('partial responses are not stored');
  if (status === 304) return no('a 304 only updates a stored response');
  const cc = resCc(res, opts);
  const reqCc = parseCacheControl(req.headers.get('cache-control'));
  if (cc.has('must-understand')) {
    if (!UNDERSTOOD_STATUSES.has(status)) return no(`must-understand with status ${status} not understood`);
  } else if (cc.has('no-store')) {
    return no('response no-store');
  }
  if (reqCc.has('no-store')) return no('request no-store');
  if (opts.shared && cc.get('private') === true) return no('private response in a shared cache');
  const vary = varyFields(res);
  if (vary === '*') return no('Vary: *');
  const explicit = hasExplicitFreshness(cc, res, opts);
  const credentials = req.headers.has('authorization');
  if (opts.shared && credentials && !(cc.has('public') || cc.has('s-maxage') || cc.has('must-revalidate'))) {
    return no('request with Authorization and no public, s-maxage or must-revalidate');
  }
  if (explicit) return { storable: true, reason: 'explicit freshness' };
  if ((credentials || req.headers.has('cookie')) && !cc.has('public')) {
    return no('request with credentials and only heuristic freshness');
  }
  if (cc.has('public')) return { storable: true, reason: 'public' };
  if (!opts.shared && cc.has('private')) return { storable: true, reason: 'private in a private cache' };
  if (HEURISTIC_STATUSES.has(status) && (res.has('last-modified') || res.has('etag'))) {
    return { storable: true, reason: `heuristically cacheable status ${status} with a validator` };
  }
  return no('no explicit freshness, validator or heuristically cacheable status');
}

function dateOf(stored: StoredResponse): number {
  return parseHttpDate(stored.headers.get('date')) ?? stored.responseTime;
}

/**
 * Freshness lifetime (RFC 9111 §4.2.1): s-maxage (shared), then max-age, then Expires − Date, then
 * a heuristic from Last-Modified for heuristically cacheable statuses or `public`. An invalid
 * s-maxage, max-age or Expires makes the response stale (lifetime 0).
 */
export function freshnessLifetime(stored: StoredResponse, opts: PolicyOptions): { lifetimeMs: number; heuristic: boolean } {
  const h = stored.headers;
  const targeted = targetedCc(h, opts);
  const cc = targeted ?? resCc(h);
  if (opts.shared && cc.has('s-maxage')) return { lifetimeMs: (deltaSeconds(cc, 's-maxage') ?? 0) * 1000, heuristic: false };
  if (cc.has('max-age')) return { lifetimeMs: (deltaSeconds(cc, 'max-age') ?? 0) * 1000, heuristic: false };
  const expiresRaw = targeted ? undefined : h.get('expires');
  if (expiresRaw !== undefined) {
    const expires = parseHttpDate(expiresRaw);
    if (expires === undefined) return { lifetimeMs: 0, heuristic: false };
    return { lifetimeMs: Math.min(MAX_MS, Math.max(0, expires - dateOf(stored))), heuristic: false };
  }
  if (!HEURISTIC_STATUSES.has(stored.status) && !cc.has('public')) return { lifetimeMs: 0, heuristic: false };
  const lm = parseHttpDate(h.get('last-modified'));
  if (lm === undefined) return { lifetimeMs: 0, heuristic: false };
  const since = dateOf(stored) - lm;
  if (since <= 0) return { lifetimeMs: 0, heuristic: true };
  return { lifetimeMs: Math.floor(Math.min(since * opts.heuristicFraction, opts.heuristicMaxMs)), heuristic: true };
}

/** The Age field as received: the first member of the first line, when it is delta-seconds (parameters ignored). */
function ageValueSeconds(h: Fields): number {
  const first = h.getAll('age')[0];
  if (first === undefined) return 0;
  const m = /^[ \t]*([0-9]+)[ \t]*(?:[,;]|$)/.exec(first);
  if (!m) return 0;
  const digits = m[1] as string;
  return digits.length > 10 ? DELTA_SECONDS_MAX : Math.min(DELTA_SECONDS_MAX, Number(digits));
}

/** Current age (RFC 9111 §4.2.3), in milliseconds. */
export function currentAgeMs(stored: StoredResponse, now: number): number {
  const ageValue = ageValueSeconds(stored.headers) * 1000;
  const dateValue = dateOf(stored);
  const apparentAge = Math.max(0, stored.responseTime - dateValue);
  const responseDelay = Math.max(0, stored.responseTime - stored.requestTime);
  const correctedAgeValue = ageValue + responseDelay;
  const correctedInitialAge = Math.max(apparentAge, correctedAgeValue);
  const residentTime = Math.max(0, now - stored.responseTime);
  return correctedInitialAge + residentTime;
}

/** Staleness may not be served without revalidation: must-revalidate, or proxy-revalidate / s-maxage in a shared cache. */
function staleForbidden(cc: CacheControl, opts: PolicyOptions): boolean {
  return cc.has('must-revalidate') || (opts.shared && (cc.has('proxy-revalidate') || cc.has('s-maxage')));
}

/**
 * Does the response's no-cache apply? Unqualified no-cache always does. A qualified one
 * (`no-cache="Set-Cookie"`) only forbids reusing the listed fields without revalidation; those are
 * removed by `storedFieldsToKeep`, so it applies only while one of them is still in the stored fields.
 */
function responseNoCache(cc: CacheControl, stored: Fields): boolean {
  const v = cc.get('no-cache');
  if (v === undefined) return false;
  if (v === true) return true;
  const names = directiveFieldNames(cc, 'no-cache');
  return names.length === 0 || names.some((n) => stored.has(n));
}

function secondsDirective(cc: CacheControl, name: string): number | undefined {
  return deltaSeconds(cc, name);
}

/**
 * Can the stored response answer this request (RFC 9111 §4, §4.2.4, §5.2.1; RFC 5861)?
 * `fresh` may also be returned for a stale response the request's max-stale accepts.
 * `revalidate.staleIfErrorMs` is non-zero only when the stored response may be served stale if
 * validation fails (5xx or no answer): it is then the window that covers the current staleness.
 * only-if-cached is left to the caller.
 */
export function decide(req: RequestInfo, stored: StoredResponse, now: number, opts: PolicyOptions): Decision {
  if (req.method !== 'GET' && req.method !== 'HEAD') return { action: 'unusable' };
  const cc = resCc(stored.headers, opts);
  const reqCc = parseCacheControl(req.headers.get('cache-control'));
  const ageMs = currentAgeMs(stored, now);
  const { lifetimeMs } = freshnessLifetime(stored, opts);
  const stalenessMs = ageMs - lifetimeMs;
  const noCache = responseNoCache(cc, stored.headers);
  const noStale = staleForbidden(cc, opts) || noCache;

  const staleIfErrorMs = (): number => {
    if (noStale) return 0;
    const windowMs = Math.max(
      (secondsDirective(reqCc, 'stale-if-error') ?? 0) * 1000,
      (secondsDirective(cc, 'stale-if-error') ?? 0) * 1000,
      opts.staleOnErrorMs ?? 0,
    );
    return windowMs > 0 && windowMs >= Math.max(0, stalenessMs) ? windowMs : 0;
  };
  const revalidate = (): Decision => ({ action: 'revalidate', ageMs, staleIfErrorMs: staleIfErrorMs() });

  if (noCache) return revalidate();
  if (requestHasNoCache(req.headers)) return revalidate();

  const reqMaxAge = secondsDirective(reqCc, 'max-age');
  if (reqMaxAge !== undefined && (reqMaxAge === 0 || Math.floor(ageMs / 1000) > reqMaxAge)) return revalidate();
  const minFresh = secondsDirective(reqCc, 'min-fresh');
  if (minFresh !== undefined && lifetimeMs - ageMs < minFresh * 1000) return revalidate();

  if (stalenessMs < 0) return { action: 'fresh', ageMs };

  if (!staleForbidden(cc, opts)) {
    const maxStale = reqCc.get('max-stale');
    if (maxStale === true) return { action: 'fresh', ageMs };
    if (maxStale !== undefined) {
      const s = secondsDirective(reqCc, 'max-stale');
      if (s !== undefined && stalenessMs <= s * 1000) return { action: 'fresh', ageMs };
    }
    const swr = secondsDirective(cc, 'stale-while-revalidate');
    if (swr !== undefined && stalenessMs < swr * 1000) return { action: 'stale-while-revalidate', ageMs };
  }
  return revalidate();
}

/** Age field value: whole seconds, clamped to [0, 2^31]. */
export function ageHeaderValue(ageMs: number): string {
  if (!Number.isFinite(ageMs) || ageMs <= 0) return '0';
  return String(Math.min(DELTA_SECONDS_MAX, Math.floor(ageMs / 1000)));
}

/**
 * Validators for a conditional request (RFC 9111 §4.3.1): If-None-Match with the stored ETag, and
 * If-Modified-Since with Last-Modified (or Date when there is neither ETag nor Last-Modified).
 */
export function revalidationHeaders(stored: StoredResponse): Fields {
  const out = new Fields();
  const etags = stored.headers.getAll('etag').map((v) => parseETag(v)).filter((t) => t !== undefined);
  if (etags.length > 0) out.set('If-None-Match', etags.map((t) => (t.weak ? `W/${t.opaque}` : t.opaque)).join(', '));
  const lmRaw = stored.headers.get('last-modified');
  const lm = parseHttpDate(lmRaw);
  if (lm !== undefined && lmRaw !== undefined) out.set('If-Modified-Since', lmRaw.trim());
  else if (etags.length === 0) {
    const date = stored.headers.get('date');
    if (date !== undefined && parseHttpDate(date) !== undefined) out.set('If-Modified-Since', date.trim());
  }
  return out;
}

/** Fields never taken from a 304 or HEAD update because they describe the stored bytes (RFC 9111 §3.2). */
const NOT_UPDATED: ReadonlySet<string> = new Set([
  'content-length',
  'content-encoding',
  'content-range',
  'transfer-encoding',
  'repr-digest',
  'content-digest',
  'digest',
  'content-md5',
]);

/** Fields removed before storing (besides hop-by-hop and Connection options). */
const NOT_STORED: ReadonlySet<string> = new Set(['proxy-authentication-info']);

/**
 * The header fields to store: drops hop-by-hop fields, fields named in Connection, and fields named
 * in `no-cache="…"` or `private="…"` (RFC 9111 §3.1, §5.2.2.4, §5.2.2.7).
 */
export function storedFieldsToKeep(res: Fields): Fields {
  const out = res.clone();
  const named = connectionOptions(out);
  for (const n of HOP_BY_HOP) out.delete(n);
  for (const n of named) out.delete(n);
  for (const n of NOT_STORED) out.delete(n);
  const cc = resCc(out);
  for (const n of [...directiveFieldNames(cc, 'no-cache'), ...directiveFieldNames(cc, 'private')]) {
    if (n !== 'cache-control') out.delete(n);
  }
  return out;
}

/**
 * The stored response freshened by a 304 (RFC 9111 §3.2, §4.3.4): each field of the 304 replaces
 * the stored field of that name, except hop-by-hop fields and the fields describing the stored
 * body (Content-Length, Content-Encoding, Content-Range, digests). Times are the new exchange's.
 */
export function freshenFromNotModified(stored: StoredResponse, res304: Fields, requestTime: number, responseTime: number): StoredResponse {
  const incoming = storedFieldsToKeep(res304);
  const headers = stored.headers.clone();
  for (const name of incoming.names()) {
    if (NOT_UPDATED.has(name)) continue;
    headers.delete(name);
  }
  for (const [raw, value] of incoming.entries()) {
    if (NOT_UPDATED.has(raw.toLowerCase())) continue;
    headers.append(raw, value);
  }
  return { status: stored.status, headers: storedFieldsToKeep(headers), requestTime, responseTime };
}

/**
 * Does a 304 apply to this stored response (RFC 9111 §4.3.4)? A strong ETag must match strongly, a
 * weak one weakly; without an ETag, Last-Modified must be equal when the 304 carries one. A 304
 * with no validator at all answers the conditional request made from this stored response and is
 * accepted.
 */
export function notModifiedMatches(res304: Fields, stored: StoredResponse): boolean {
  const newTag = parseETag(res304.get('etag'));
  const oldTag = parseETag(stored.headers.get('etag'));
  if (newTag) return newTag.weak ? weakMatch(newTag, oldTag) : strongMatch(newTag, oldTag);
  if (res304.has('etag')) return false; // present but invalid
  const newLm = parseHttpDate(res304.get('last-modified'));
  if (newLm !== undefined) return newLm === parseHttpDate(stored.headers.get('last-modified'));
  return true;
}

/**
 * Evaluates the client's preconditions against a stored response, in RFC 9110 §13.2.2 order:
 * If-Match, If-Unmodified-Since (→ 412), If-None-Match, If-Modified-Since (→ 304 for GET/HEAD).
 * null means "serve normally". Only 2xx stored responses are evaluated.
 */
export function evaluateConditional(req: Fields, stored: StoredResponse, method: string): 304 | 412 | null {
  if (stored.status < 200 || stored.status > 299) return null;
  const h = stored.headers;
  const etag = parseETag(h.get('etag'));
  const lm = parseHttpDate(h.get('last-modified'));
  const getOrHead = method === 'GET' || method === 'HEAD';

  const ifMatch = req.get('if-match');
  if (ifMatch !== undefined) {
    const list = parseETagList(ifMatch);
    if (!list.any && !list.tags.some((t) => strongMatch(t, etag))) return 412;
  } else {
    const ius = parseHttpDate(req.get('if-unmodified-since'));
    if (ius !== undefined && lm !== undefined && lm > ius) return 412;
  }

  const ifNoneMatch = req.get('if-none-match');
  if (ifNoneMatch !== undefined) {
    const list = parseETagList(ifNoneMatch);
    if (list.any || list.tags.some((t) => weakMatch(t, etag))) return getOrHead ? 304 : 412;
    return null;
  }
  if (getOrHead) {
    const ims = parseHttpDate(req.get('if-modified-since'));
    if (ims !== undefined) {
      const modified = lm ?? parseHttpDate(h.get('date')) ?? stored.responseTime;
      if (modified <= ims) return 304;
    }
  }
  return null;
}

/** Fields a 304 generated from the cache carries (RFC 9110 §15.4.5); the caller adds Age. */
export function notModifiedHeaders(stored: StoredResponse): Fields {
  const out = new Fields();
  const h = stored.headers;
  const names = ['cache-control', 'content-location', 'date', 'etag', 'expires', 'vary'];
  if (!h.has('etag')) names.push('last-modified');
  for (const [raw, value] of h.entries()) {
    if (names.includes(raw.toLowerCase())) out.append(raw, value);
  }
  if (!out.has('date')) out.set('Date', formatHttpDate(stored.responseTime));
  return out;
}

/**
 * URIs to invalidate after a response to an unsafe method (RFC 9111 §4.4): none for 1xx/4xx/5xx;
 * otherwise the target URI, plus Location and Content-Location when they resolve to the same origin.
 */
export function invalidationTargets(req: RequestInfo, status: number, res: Fields): URL[] {
  if (!isUnsafeMethod(req.method) || status < 200 || status > 399) return [];
  const out: URL[] = [req.url];
  const seen = new Set([cacheKey(req.url)]);
  for (const name of ['location', 'content-location']) {
    const v = res.getAll(name)[0];
    if (v === undefined) continue;
    let u: URL;
    try {
      u = new URL(v.trim(), req.url);
    } catch {
      continue;
    }
    if (u.origin !== req.url.origin) continue;
    u.hash = '';
    const k = cacheKey(u);
    if (!seen.has(k)) {
      seen.add(k);
      out.push(u);
    }
  }
  return out;
}
