import { PeerwebError } from '../errors/index.js';
import { Fields } from '../http/fields.js';
import { parseRange, contentRange, multipartByteranges, parseETagList, strongMatch, parseHttpDate } from '../http/index.js';
import { ageHeaderValue, evaluateConditional, notModifiedHeaders } from '../cache/index.js';
import type { BodyReader } from '../storage/index.js';
import type { HotEntry, Transaction } from './context.js';
import { streamBody } from './deliver.js';
import { finish } from './finish.js';
import { revalidateInBackground } from './fetch.js';
import type { Step } from './step-names.js';

const CONDITIONALS = ['if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since'];

/** Serves a stored entry: 304/412 for conditionals, 206/416 for ranges, else the whole body. */
export function hit(tx: Transaction): Step | Promise<Step> {
  const { req, res, ctx } = tx;
  const h = tx.candidate as HotEntry;
  const d = tx.decision;
  const ageMs = d && 'ageMs' in d ? d.ageMs : 0;
  if (tx.tag === 'MISS') tx.tag = d?.action === 'stale-while-revalidate' ? 'STALE' : 'HIT';
  if (d?.action === 'stale-while-revalidate') revalidateInBackground(tx, h);
  const age = ageHeaderValue(ageMs);
  const now = tx.start;
  if (now - h.touchedAt >= 1000) {
    h.touchedAt = now;
    ctx.store.touch(h.entry.key, h.entry.variant);
  }

  for (const n of CONDITIONALS) {
    if (!req.headers.has(n)) continue;
    const c = evaluateConditional(req.headers, h.stored, req.method);
    if (c === 304) {
      const f = notModifiedHeaders(h.stored);
      f.set('Age', age);
      tx.status = 304;
      res.writeHead(304, f);
      res.end();
      finish(tx);
      return 'done';
    }
    if (c === 412) {
      tx.status = 412;
      res.writeHead(412, new Fields([['Content-Length', '0']]));
      res.end();
      finish(tx);
      return 'done';
    }
    break;
  }

  if (req.method === 'GET' && h.stored.status === 200 && req.headers.has('range') && rangeApplies(tx, h)) {
    return serveRange(tx, h, age);
  }

  const buf = ctx.store.bodyBuffer(h.entry.digest);
  if (buf) {
    tx.status = h.stored.status;
    if (!res.isHead) tx.bytes = buf.length;
    res.sendPreserialized(h.head, `Age: ${age}\r\n`, buf);
    finish(tx);
    return 'done';
  }
  return openBody(tx, h).then(async (reader) => {
    if (!reader) return 'miss';
    tx.status = h.stored.status;
    if (reader.buffer) {
      if (!res.isHead) tx.bytes = reader.buffer.length;
      res.sendPreserialized(h.head, `Age: ${age}\r\n`, reader.buffer);
    } else {
      const f = h.stored.headers.clone();
      f.set('Content-Length', String(h.entry.size));
      f.set('Age', age);
      f.set('Cache-Status', `${ctx.config['proxy.name']}; hit`);
      res.writeHead(h.stored.status, f);
      if (res.isHead) res.end();
      else await streamBody(tx, reader.stream());
    }
    finish(tx);
    return 'done';
  });
}

/** Opens the body; a missing or corrupt body removes the entry and sends the request to the origin. */
async function openBody(tx: Transaction, h: HotEntry): Promise<BodyReader | undefined> {
  const reader = await tx.ctx.store.openBody(h.entry.digest);
  if (!reader) {
    await tx.ctx.store.delete(h.entry.key, h.entry.variant);
    tx.candidate = null;
    tx.decision = null;
  }
  return reader;
}

/** If-Range (RFC 9110 §13.1.5): a strong ETag match or an exact Last-Modified date. */
function rangeApplies(tx: Transaction, h: HotEntry): boolean {
  const ifRange = tx.req.headers.get('if-range');
  if (ifRange === undefined) return true;
  const v = ifRange.trim();
  if (v.startsWith('"') || v.startsWith('W/')) {
    const etag = h.stored.headers.get('etag');
    if (!etag) return false;
    const a = parseETagList(v).tags[0];
    const b = parseETagList(etag).tags[0];
    return a !== undefined && b !== undefined && strongMatch(a, b);
  }
  const date = parseHttpDate(v);
  const lm = parseHttpDate(h.stored.headers.get('last-modified'));
  return date !== undefined && lm !== undefined && date === lm;
}

async function rangeBytes(tx: Transaction, h: HotEntry, start: number, end: number): Promise<Buffer> {
  const buf = tx.ctx.store.bodyBuffer(h.entry.digest);
  if (buf) return buf.subarray(start, end + 1);
  const reader = await tx.ctx.store.openBody(h.entry.digest);
  if (!reader) throw new PeerwebError('PW_ERR_STORE_CORRUPT', { digest: h.entry.digest });
  if (reader.buffer) return reader.buffer.subarray(start, end + 1);
  const parts: Buffer[] = [];
  for await (const c of reader.stream(start, end)) parts.push(c);
  return Buffer.concat(parts);
}

async function serveRange(tx: Transaction, h: HotEntry, age: string): Promise<Step> {
  const { req, res, ctx } = tx;
  const size = h.entry.size;
  const r = parseRange(req.headers.get('range'), size, ctx.config['limits.maxRanges']);
  const base = h.stored.headers.clone();
  base.set('Age', age);
  base.set('Cache-Status', `${ctx.config['proxy.name']}; hit`);
  if (r.kind === 'unsatisfiable') {
    const f = new Fields([['Content-Range', `bytes */${size}`], ['Content-Length', '0']]);
    tx.status = 416;
    res.writeHead(416, f);
    res.end();
    finish(tx);
    return 'done';
  }
  if (r.kind === 'none') {
    tx.req.headers.delete('range');
    return 'hit';
  }
  if (r.ranges.length === 1) {
    const { start, end } = r.ranges[0] as { start: number; end: number };
    const body = await rangeBytes(tx, h, start, end);
    base.set('Content-Range', contentRange(start, end, size));
    base.set('Content-Length', String(body.length));
    tx.status = 206;
    res.writeHead(206, base);
    tx.bytes = body.length;
    res.end(body);
    finish(tx);
    return 'done';
  }
  const plan = multipartByteranges(r.ranges, size, h.stored.headers.get('content-type'));
  base.set('Content-Type', plan.contentType);
  base.set('Content-Length', String(plan.length));
  base.delete('content-range');
  tx.status = 206;
  res.writeHead(206, base);
  for (const p of plan.parts) {
    res.write(p.head);
    res.write(await rangeBytes(tx, h, p.start, p.end));
  }
  tx.bytes = plan.length;
  res.end(plan.tail);
  finish(tx);
  return 'done';
}
