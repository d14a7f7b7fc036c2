import type { KeyObject } from 'node:crypto';
import { PeerwebError } from '../errors/index.js';
import { digestEquals, fieldReader, formatDigestField, parseDigestField, sha256, signMessage, verifyMessage, type PublisherKey } from '../integrity/index.js';
import { authorityOf, type Delisting } from './registry.js';

/**
 * Delisting notices: the origin's signed statement of which mirror hosts it has delisted and
 * until when. The same JSON body is served at GET /.well-known/peerweb/delisted (a signed
 * response, like the map) and POSTed to every mirror, configured peer and subscribed node
 * (a signed request). The signature (RFC 9421, Ed25519, tag "peerweb-delisted") covers
 * Content-Digest and Content-Type, so it covers the body; `seq` only grows, so a replayed
 * older notice never replaces a newer one, and `created` older than an hour is refused.
 */
export const NOTICE_PATH = '/.well-known/peerweb/delisted';
export const NOTICE_TAG = 'peerweb-delisted';
/** Surrogate key of every stored answer that carries mirror links (purged when the list changes). */
export const MIRROR_LINKS_TAG = 'peerweb-mirror-links';
export const MAX_NOTICE_BYTES = 1024 * 1024;
const MAX_AGE_SEC = 3600;

export interface NoticeEntry {
  readonly authority: string;
  readonly bases: readonly string[];
  readonly reason: string;
  readonly delisted: string;
  readonly until: string;
}

export interface DelistNotice {
  readonly type: 'peerweb-delisted';
  readonly origin: string;
  readonly seq: number;
  readonly issued: string;
  readonly mirrors: readonly NoticeEntry[];
}

export function buildNotice(origin: string, seq: number, list: readonly Delisting[], now: number): DelistNotice {
  return {
    type: 'peerweb-delisted', origin, seq, issued: new Date(now).toISOString(),
    mirrors: list.map((d) => ({ authority: d.authority, bases: [...d.bases], reason: d.reason, delisted: new Date(d.at).toISOString(), until: new Date(d.until).toISOString() })),
  };
}

/** Body and fields of a notice, signed as a response (GET) or as a POST request. */
export function signNotice(notice: DelistNotice, key: PublisherKey, as: 'response' | 'request'): { body: Buffer; headers: Record<string, string> } {
  const body = Buffer.from(JSON.stringify(notice));
  const headers: Record<string, string> = { 'content-type': 'application/json', 'content-digest': formatDigestField(sha256(body)) };
  const msg = as === 'response' ? { status: 200, field: fieldReader(headers) } : { method: 'POST', field: fieldReader(headers) };
  const components = [as === 'response' ? '@status' : '@method', 'content-digest', 'content-type'];
  const s = signMessage(msg, { key, components, tag: NOTICE_TAG });
  headers['signature-input'] = s.signatureInput;
  headers.signature = s.signature;
  return { body, headers };
}

function bad(reason: string): PeerwebError {
  return new PeerwebError('PW_ERR_MIRROR_NOTICE_INVALID', { reason });
}

/** Reads the body's JSON without trusting it (used to find the origin whose key must verify it). */
export function parseNotice(body: Buffer): DelistNotice {
  if (body.length > MAX_NOTICE_BYTES) throw bad(`body is larger than ${MAX_NOTICE_BYTES} bytes`);
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    throw bad('body is not JSON');
  }
  const n = v as Partial<DelistNotice> | null;
  if (!n || n.type !== 'peerweb-delisted') throw bad('type is not peerweb-delisted');
  if (typeof n.origin !== 'string' || authorityOf(n.origin) !== n.origin) throw bad(`origin ${JSON.stringify(n.origin)} is not scheme://host[:port]`);
  if (typeof n.seq !== 'number' || !Number.isSafeInteger(n.seq) || n.seq < 0) throw bad(`seq ${JSON.stringify(n.seq)} is not a non-negative integer`);
  if (!Array.isArray(n.mirrors) || n.mirrors.length > 4096) throw bad('mirrors must be a list of at most 4096 entries');
  const mirrors: NoticeEntry[] = [];
  for (const m of n.mirrors as unknown[]) {
    const e = m as Partial<NoticeEntry> | null;
    if (!e || typeof e.authority !== 'string' || authorityOf(e.authority) !== e.authority) throw bad(`entry authority ${JSON.stringify(e?.authority)} is not scheme://host[:port]`);
    if (typeof e.until !== 'string' || Number.isNaN(Date.parse(e.until))) throw bad(`entry ${e.authority} has no valid until time`);
    mirrors.push({
      authority: e.authority, until: e.until,
      bases: Array.isArray(e.bases) ? e.bases.filter((b): b is string => typeof b === 'string').slice(0, 64) : [],
      reason: typeof e.reason === 'string' ? e.reason.slice(0, 500) : '',
      delisted: typeof e.delisted === 'string' ? e.delisted : '',
    });
  }
  return { type: 'peerweb-delisted', origin: n.origin, seq: n.seq, issued: typeof n.issued === 'string' ? n.issued : '', mirrors };
}

/**
 * A notice checked against its Content-Digest but not its signature: for a client that asked the
 * origin itself and knows no publisher key, as it takes the origin's HEAD. Such a notice can only
 * take sources away, never add bytes.
 */
export function readNoticeUnsigned(field: (name: string) => string | undefined, body: Buffer): DelistNotice {
  const cd = field('content-digest');
  const expected = cd ? parseDigestField(cd) : undefined;
  if (!expected || !digestEquals(expected, sha256(body))) throw bad('body does not match its Content-Digest');
  return parseNotice(body);
}

/**
 * Checks a received notice: body against Content-Digest, signature against the publisher keys of
 * its origin (`keysFor`), age. Returns the notice; throws PW_ERR_MIRROR_NOTICE_INVALID or a
 * signature error otherwise.
 */
export async function verifyNotice(
  field: (name: string) => string | undefined, body: Buffer, as: 'response' | 'request',
  keysFor: (origin: string) => Promise<readonly PublisherKey[]>, nowSec?: number,
): Promise<DelistNotice> {
  const notice = readNoticeUnsigned(field, body);
  const keys = await keysFor(notice.origin);
  if (keys.length === 0) throw bad(`no publisher key is known for ${notice.origin}`);
  const byId = new Map<string, KeyObject>(keys.map((k) => [k.keyId, k.publicKey]));
  const msg = as === 'response' ? { status: 200, field } : { method: 'POST', field };
  verifyMessage(msg, {
    keys: (id) => byId.get(id), required: [as === 'response' ? '@status' : '@method', 'content-digest', 'content-type'],
    tag: NOTICE_TAG, maxAgeSec: MAX_AGE_SEC, ...(nowSec !== undefined ? { now: nowSec } : {}),
  });
  return notice;
}

/** What a node knows of delistings, from verified notices: one current notice per origin. */
export interface DelistBook {
  /** Applies a verified notice; false when it is not newer than the one held for its origin. */
  apply(notice: DelistNotice): boolean;
  /** True when the host of `url` is delisted by any origin whose notice this node holds. */
  isDelisted(url: string): boolean;
  /** The `seq` held for an origin. */
  seq(origin: string): number | undefined;
  /** Delisted hosts and the origin that delisted each. */
  entries(): { origin: string; authority: string; until: number }[];
}

export function createDelistBook(opts: { now?: () => number; maxOrigins?: number } = {}): DelistBook {
  const now = opts.now ?? Date.now;
  const maxOrigins = opts.maxOrigins ?? 1024;
  const byOrigin = new Map<string, { seq: number; until: Map<string, number> }>();
  return {
    apply(notice) {
      const held = byOrigin.get(notice.origin);
      if (held && notice.seq <= held.seq) return false;
      if (!held && byOrigin.size >= maxOrigins) {
        const oldest = byOrigin.keys().next().value;
        if (oldest !== undefined) byOrigin.delete(oldest);
      }
      const until = new Map<string, number>();
      for (const m of notice.mirrors) until.set(m.authority, Date.parse(m.until));
      byOrigin.set(notice.origin, { seq: notice.seq, until });
      return true;
    },
    isDelisted(url) {
      const a = authorityOf(url);
      if (a === undefined) return false;
      const t = now();
      for (const o of byOrigin.values()) {
        const u = o.until.get(a);
        if (u !== undefined && u > t) return true;
      }
      return false;
    },
    seq: (origin) => byOrigin.get(origin)?.seq,
    entries() {
      const t = now();
      const out: { origin: string; authority: string; until: number }[] = [];
      for (const [origin, o] of byOrigin) for (const [authority, until] of o.until) if (until > t) out.push({ origin, authority, until });
      return out;
    },
  };
}
