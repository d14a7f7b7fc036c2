import { PeerwebError, isPeerwebError } from '../errors/index.js';
import { Fields } from '../http/fields.js';
import { contentRange, parseCacheControl, parseRange, stripHopByHop } from '../http/index.js';
import {
  freshenFromNotModified, isStorable, revalidationHeaders, secondaryKey, storedFieldsToKeep, varyFields,
  currentAgeMs, type StoredResponse,
} from '../cache/index.js';
import type { BodyWriter, StoredEntry } from '../storage/index.js';
import type { ResultTag } from '../admin/metrics.js';
import type { HotEntry, RoutedResponse, Transaction } from './context.js';
import { fetchUrlOf, urlOf } from './route.js';
import { Flight, type Consumer, type FlightHead } from './collapse.js';
import { prepareHead } from '../accept/index.js';
import { downstreamResponseHeaders, upstreamRequestHeaders } from './headers.js';
import { entryDataOf, hotEntry, reasonPhrase } from './hot.js';
import { finish, fail } from './finish.js';
import { requestInfo } from './request-info.js';
import type { Step } from './step-names.js';

/** Requests whose response may depend on who asks are never collapsed with others. */
function collapsible(tx: Transaction): boolean {
  return !tx.noCollapse && !tx.req.headers.has('authorization');
}

function hasValidatorFields(tx: Transaction): boolean {
  const h = tx.req.headers;
  return h.has('if-range') || h.has('if-none-match') || h.has('if-modified-since') || h.has('if-match') || h.has('if-unmodified-since');
}

/** Client fields that need the stored copy (ranges, conditionals): served from the cache once stored. */
function needsStoredCopy(tx: Transaction): boolean {
  const h = tx.req.headers;
  return h.has('range') || h.has('if-none-match') || h.has('if-modified-since') || h.has('if-match') || h.has('if-unmodified-since');
}

/** Cache miss: join the in-flight fetch of this key, or start one. */
export function miss(tx: Transaction): Step | Promise<Step> {
  const { ctx } = tx;
  if (collapsible(tx)) {
    const f = ctx.flights.get(tx.key);
    if (f && !f.revalidation && f.canJoin()) {
      tx.tag = 'COLLAPSED';
      ctx.metrics.inc('peerweb_collapsed_total');
      return join(tx, f, false);
    }
    if (f && !f.canJoin() && f.joinable) throw new PeerwebError('PW_ERR_COLLAPSE_FULL', { key: tx.key });
  }
  const f = startFlight(tx, null);
  return join(tx, f, true);
}

/** A stored entry must be validated first: join or start a conditional fetch. */
export function revalidate(tx: Transaction): Step | Promise<Step> {
  const { ctx } = tx;
  const cand = tx.candidate as HotEntry;
  if (collapsible(tx)) {
    const f = ctx.flights.get(tx.key);
    if (f && f.canJoin()) {
      ctx.metrics.inc('peerweb_collapsed_total');
      return join(tx, f, false);
    }
  }
  const f = startFlight(tx, cand);
  return join(tx, f, true);
}

/** stale-while-revalidate: the client is served now; one background fetch refreshes the entry. */
export function revalidateInBackground(tx: Transaction, cand: HotEntry): void {
  if (tx.ctx.flights.get(tx.key)) return;
  const f = startFlight(tx, cand, true);
  void f.outcome;
}

function startFlight(tx: Transaction, cand: HotEntry | null, background = false): Flight {
  const { ctx } = tx;
  const f = new Flight(tx.key, cand !== null, ctx.config['cache.memoryMaxObjectSize'], ctx.config['collapse.maxWaiters']);
  if (collapsible(tx)) ctx.flights.register(f);
  void runFlight(tx, f, cand, background);
  return f;
}

async function fetchUpstream(tx: Transaction, headers: Fields, method: string, signal: AbortSignal): Promise<RoutedResponse> {
  const { ctx } = tx;
  const url = fetchUrlOf(tx);
  if (ctx.hooks.fetchFrom) {
    const routed = await ctx.hooks.fetchFrom(url, method, headers, signal, { address: tx.req.remoteAddress, viaPresent: tx.req.headers.has('via') });
    if (routed) {
      ctx.metrics.inc('peerweb_origin_requests_total', 1, routed.tag);
      return routed;
    }
  }
  ctx.metrics.inc('peerweb_origin_requests_total', 1, 'origin');
  // 103 Early Hints go on to the client whose request started the fetch (never stored).
  const onInfo = (status: number, fields: Fields): void => {
    if (status !== 103 || tx.res.headersSent) return;
    stripHopByHop(fields);
    tx.res.writeInformational(status, fields);
  };
  const up = await ctx.upstream.request({ url, method, headers, signal, onInfo });
  return { status: up.status, headers: up.headers, body: up.body, contentLength: up.contentLength, tag: 'MISS' };
}

/** Surrogate keys for purge by tag: Surrogate-Key or Cache-Tag, space or comma separated. */
function tagsOf(h: Fields): string[] {
  const v = `${h.get('surrogate-key') ?? ''} ${h.get('cache-tag') ?? ''}`;
  return [...new Set(v.split(/[\s,]+/).filter(Boolean))].slice(0, 64);
}

/** May other clients be handed this response? Never private, personalised or cookie-setting ones. */
function shareable(tx: Transaction, status: number, h: Fields, storable: boolean): boolean {
  if (storable) return !h.has('set-cookie');
  const cc = parseCacheControl(h.get('cache-control'));
  return status >= 500 && !cc.has('private') && !cc.has('no-store') && !h.has('set-cookie') && !tx.req.headers.has('authorization') && !tx.req.headers.has('cookie');
}

/** The one upstream fetch of a flight: head to all waiters, body into the flight and the store. */
async function runFlight(tx: Transaction, f: Flight, cand: HotEntry | null, background: boolean): Promise<void> {
  const { ctx } = tx;
  const abort = new AbortController();
  let writer: BodyWriter | null = null;
  let settled = false;
  try {
    const extra = cand ? revalidationHeaders(cand.stored) : undefined;
    const headers = upstreamRequestHeaders(tx, { forStore: true, ...(extra ? { extra } : {}) });
    const requestTime = Date.now();
    // HEAD misses are fetched as GET so the response can be stored for everyone.
    const up = await fetchUpstream(tx, headers, 'GET', abort.signal);
    const responseTime = Date.now();

    if (cand && up.status === 304) {
      for await (const _ of up.body) { /* drain */ }
      const fresh = freshenFromNotModified(cand.stored, downstreamResponseHeaders(tx, up.headers), requestTime, responseTime);
      await ctx.store.updateData(cand.entry.key, cand.entry.variant, entryDataOf(fresh) as unknown as Record<string, unknown>);
      settled = true;
      f.settle({ kind: 'not-modified' });
      f.finish(null);
      return;
    }

    const h = downstreamResponseHeaders(tx, up.headers);
    ctx.hooks.decorateResponse?.(urlOf(tx), up.status, h);
    const vary = varyFields(h);
    const fetcherVariant = vary === '*' ? '' : secondaryKey(vary, tx.req.headers);
    const info = requestInfo(tx);
    const maxSize = ctx.config['cache.maxObjectSize'];
    const reqNoStore = parseCacheControl(tx.req.headers.get('cache-control')).has('no-store');
    let storable = !reqNoStore && isStorable({ ...info, method: 'GET' }, up.status, h, ctx.policy).storable && (up.contentLength ?? 0) <= maxSize;
    if (vary === '*') storable = false;
    const head: FlightHead = { status: up.status, headers: h, contentLength: up.contentLength, shareable: shareable(tx, up.status, h, storable), vary, fetcherVariant, tag: up.tag, storing: storable };
    if (storable) {
      const stored: StoredResponse = { status: up.status, headers: storedFieldsToKeep(h), requestTime, responseTime };
      writer = ctx.store.createWriter(
        { key: tx.key, variant: fetcherVariant, data: entryDataOf(stored, reasonPhrase(up.status)) as unknown as Record<string, unknown>, tags: tagsOf(h) },
        up.contentLength !== null ? { expectedSize: up.contentLength } : {},
      );
    }
    settled = true;
    f.settle({ kind: 'response', head });
    if (!storable && !head.shareable) ctx.flights.end(f);

    for await (const chunk of up.body as AsyncIterable<Buffer>) {
      ctx.metrics.inc('peerweb_origin_bytes_received_total', chunk.length);
      f.push(chunk);
      if (writer) {
        if (writer.bytesWritten + chunk.length > maxSize) {
          await writer.abort();
          writer = null;
          ctx.metrics.inc('peerweb_store_failures_total');
        } else {
          const w = writer.write(chunk);
          if (w) await w;
        }
      }
      const space = f.waitForSpace();
      if (space) await space;
    }
    if (writer) {
      try {
        await writer.commit();
        ctx.metrics.inc('peerweb_stored_total');
      } catch (err) {
        ctx.metrics.inc('peerweb_store_failures_total');
        ctx.logger.warn({ err, key: tx.key }, 'store failed');
      }
      writer = null;
    }
    f.finish(null);
  } catch (err) {
    abort.abort();
    if (writer) await writer.abort().catch(() => undefined);
    const e = isPeerwebError(err) ? err : new PeerwebError('PW_ERR_UPSTREAM_CONNECT', { origin: tx.fetchUrl?.origin ?? tx.key, reason: (err as Error).message });
    if (!settled) f.settle({ kind: 'error', error: e });
    f.finish(e);
    if (background) ctx.logger.warn({ err: e.message, key: tx.key }, 'background revalidation failed');
  } finally {
    ctx.flights.end(f);
  }
}

/** Waits for the flight's outcome and serves this client from it. */
async function join(tx: Transaction, f: Flight, fetcher: boolean): Promise<Step> {
  const { ctx } = tx;
  f.waiters++;
  let o;
  try {
    o = await f.outcome;
  } finally {
    f.waiters--;
  }
  if (o.kind === 'not-modified') {
    const entries = await ctx.store.lookup(tx.key);
    const cand = tx.candidate;
    const e = entries.find((x: StoredEntry) => x.variant === (cand?.entry.variant ?? ''));
    if (!e) return 'miss';
    const h = hotEntry(e, ctx.policy, ctx.config['proxy.name']);
    tx.candidate = h;
    tx.decision = { action: 'fresh', ageMs: currentAgeMs(h.stored, Date.now()) };
    tx.tag = 'REFRESH_HIT';
    return 'hit';
  }
  if (o.kind === 'error') {
    const d = tx.decision;
    const cand = tx.candidate;
    if (cand && d && d.action === 'revalidate' && d.staleIfErrorMs > 0) {
      tx.tag = 'STALE';
      return 'hit';
    }
    return fail(tx, o.error);
  }
  const head = o.head;
  if (!fetcher) {
    if (!head.shareable) {
      tx.noCollapse = true;
      return 'miss';
    }
    if (head.vary === '*' || (head.vary.length > 0 && secondaryKey(head.vary as string[], tx.req.headers) !== head.fetcherVariant)) {
      tx.noCollapse = true;
      return 'miss';
    }
  }
  // stale-if-error also covers a 5xx answer to a revalidation.
  if (head.status >= 500 && tx.candidate && tx.decision?.action === 'revalidate' && tx.decision.staleIfErrorMs > 0) {
    tx.tag = 'STALE';
    return 'hit';
  }
  if (tx.tag !== 'COLLAPSED') tx.tag = tx.candidate ? 'REFRESH_MISS' : (head.tag as ResultTag);
  if (needsStoredCopy(tx) && head.status === 200) {
    const range = tx.req.headers.get('range');
    // Nothing will be stored to serve the range from: ask upstream for just that range now.
    if (range !== undefined && !head.storing) {
      tx.noCollapse = true;
      return 'pass';
    }
    // One range and no validators: streamed from the flight as its bytes arrive, not after the whole body.
    if (range !== undefined && head.contentLength !== null && !hasValidatorFields(tx)) {
      const r = parseRange(range, head.contentLength, ctx.config['limits.maxRanges']);
      if (r.kind === 'ranges' && r.ranges.length === 1) return deliverFlightRange(tx, f, head, r.ranges[0] as { start: number; end: number });
    }
    await flightDone(f);
    tx.noCollapse = true;
    const entries = await ctx.store.lookup(tx.key);
    if (entries.length > 0) return 'lookup';
    if (tx.req.headers.has('range')) return 'pass';
  }
  return deliverFlight(tx, f, head);
}

function flightDone(f: Flight): Promise<void> {
  if (f.done) return Promise.resolve();
  return new Promise((resolve) => {
    const c: Consumer = { cursor: 0, wake: () => { if (f.done) { f.removeConsumer(c); resolve(); } } };
    f.addConsumer(c);
  });
}

interface FlightReader {
  readonly c: Consumer;
  /** Resolves once a chunk past the cursor has arrived or the flight ended. */
  more(): Promise<void>;
}

/**
 * Runs `send` for this client as a reader of the flight (from chunk 0) and finishes the request.
 * A failure aborts the client's response; leaving the flight lets it free what nobody needs.
 */
async function asReader(tx: Transaction, f: Flight, send: (r: FlightReader) => Promise<void>): Promise<Step> {
  let wakeUp: (() => void) | null = null;
  const c: Consumer = { cursor: 0, wake: () => { const w = wakeUp; wakeUp = null; w?.(); } };
  f.addConsumer(c);
  const more = (): Promise<void> => new Promise<void>((r) => { wakeUp = r; if (c.cursor < f.chunks.length || f.done) { wakeUp = null; r(); } });
  try {
    await send({ c, more });
  } catch (err) {
    tx.res.abort(err as Error);
    tx.tag = 'ERROR';
  } finally {
    f.removeConsumer(c);
  }
  finish(tx);
  return 'done';
}

/**
 * Streams the flight's body to this client from its own cursor. The head waits for the first body
 * bytes so that head and body leave together: one write per client when a crowd is answered.
 */
async function deliverFlight(tx: Transaction, f: Flight, head: FlightHead): Promise<Step> {
  const { res, ctx } = tx;
  // Every client of the flight gets one of a few heads: each is checked and serialised once.
  const cacheStatus = `${ctx.config['proxy.name']}; fwd=${tx.candidate ? 'stale' : 'uri-miss'}${tx.tag === 'COLLAPSED' ? '; collapsed' : ''}`;
  let prepared = f.heads.get(cacheStatus);
  if (!prepared) {
    const h = head.headers.clone();
    h.set('Cache-Status', cacheStatus);
    prepared = prepareHead(head.status, h);
    f.heads.set(cacheStatus, prepared);
  }
  const p = prepared;
  tx.status = head.status;
  if (res.isHead) {
    res.writePreparedHead(p);
    res.end();
    finish(tx);
    return 'done';
  }
  return asReader(tx, f, async ({ c, more }) => {
    if (f.chunks.length === 0 && !f.done) await more();
    let ended = false;
    let drained = true;
    /** Writes what the flight holds from this client's cursor; stops early when the socket is full. */
    const writeAvailable = (): void => {
      while (drained && c.cursor < f.chunks.length) {
        const chunk = f.chunks[c.cursor];
        if (!chunk) throw new Error('flight released a chunk this client still needed');
        c.cursor++;
        tx.bytes += chunk.length;
        drained = res.write(chunk);
      }
      if (c.cursor === f.chunks.length && f.done && !f.failed) {
        res.end();
        ended = true;
      }
    };
    res.batch(() => {
      res.writePreparedHead(p);
      writeAvailable();
    });
    while (!ended) {
      if (tx.req.aborted) throw new Error('client went away');
      if (!drained) {
        await res.waitDrain();
        drained = true;
      }
      f.release();
      if (f.failed) throw f.failed;
      if (c.cursor === f.chunks.length && !f.done) await more();
      writeAvailable();
    }
  });
}

/** Serves one byte range of a 200 response from the flight, writing each part as soon as it has arrived. */
async function deliverFlightRange(tx: Transaction, f: Flight, head: FlightHead, range: { start: number; end: number }): Promise<Step> {
  const { res, ctx } = tx;
  const h = head.headers.clone();
  h.set('Content-Range', contentRange(range.start, range.end, head.contentLength as number));
  h.set('Content-Length', String(range.end - range.start + 1));
  h.set('Cache-Status', `${ctx.config['proxy.name']}; fwd=uri-miss${tx.tag === 'COLLAPSED' ? '; collapsed' : ''}`);
  tx.status = 206;
  let offset = 0; // body offset of chunk c.cursor
  return asReader(tx, f, async ({ c, more }) => {
    res.writeHead(206, h);
    if (res.isHead) offset = range.end + 1;
    while (offset <= range.end) {
      if (tx.req.aborted) throw new Error('client went away');
      if (c.cursor === f.chunks.length) {
        if (f.done) throw f.failed ?? new Error('upstream body ended before the requested range');
        await more();
        continue;
      }
      const chunk = f.chunks[c.cursor];
      if (!chunk) throw new Error('flight released a chunk this client still needed');
      c.cursor++;
      const from = Math.max(range.start - offset, 0);
      const to = Math.min(range.end + 1 - offset, chunk.length);
      offset += chunk.length;
      if (to <= from) continue;
      tx.bytes += to - from;
      if (!res.write(chunk.subarray(from, to))) await res.waitDrain();
      f.release();
    }
    res.end();
  });
}
