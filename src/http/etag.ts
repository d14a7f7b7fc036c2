/** Entity tags (RFC 9110 §8.8.3) and the conditional header values built from them. */
import type { Fields } from './fields.js';
import { parseHttpDate } from './date.js';

/** One entity-tag; `opaque` keeps its double quotes (`"abc"`), so `W/` + opaque is the wire form. */
export interface ETag { weak: boolean; opaque: string }

export interface ETagList { any: boolean; tags: ETag[] }

/** Upper bound on tags read from one field. */
const MAX_TAGS = 256;
// etagc = %x21 / %x23-7E / obs-text
const ETAG_AT = /^[ \t]*(W\/)?("[\x21\x23-\x7e\x80-\xff]*")[ \t]*(?:,|$)/;

/** Parses a single ETag field value; undefined if it is not exactly one valid entity-tag. */
export function parseETag(value: string | undefined): ETag | undefined {
  if (value === undefined) return undefined;
  const m = /^[ \t]*(W\/)?("[\x21\x23-\x7e\x80-\xff]*")[ \t]*$/.exec(value);
  return m ? { weak: m[1] !== undefined, opaque: m[2] as string } : undefined;
}

/** The wire form of an entity-tag. */
export function formatETag(tag: ETag): string {
  return tag.weak ? `W/${tag.opaque}` : tag.opaque;
}

/**
 * Parses If-Match / If-None-Match: `*` or a list of entity-tags. Elements that are not valid
 * entity-tags are skipped (so they can never match).
 */
export function parseETagList(value: string | undefined): ETagList {
  const out: ETagList = { any: false, tags: [] };
  if (value === undefined) return out;
  const v = value.trim();
  if (v === '*') {
    out.any = true;
    return out;
  }
  let rest = v;
  while (rest.length > 0 && out.tags.length < MAX_TAGS) {
    const m = ETAG_AT.exec(rest);
    if (m) {
      out.tags.push({ weak: m[1] !== undefined, opaque: m[2] as string });
      rest = rest.slice(m[0].length);
      continue;
    }
    // Skip an invalid element up to the next comma outside a quoted string.
    let i = 0;
    let q = false;
    for (; i < rest.length; i++) {
      const c = rest[i];
      if (c === '"') q = !q;
      else if (c === ',' && !q) break;
    }
    rest = rest.slice(i + 1);
  }
  return out;
}

/** Strong comparison: both strong and identical opaque-tags. */
export function strongMatch(a: ETag | undefined, b: ETag | undefined): boolean {
  return a !== undefined && b !== undefined && !a.weak && !b.weak && a.opaque === b.opaque;
}

/** Weak comparison: identical opaque-tags, whatever their weakness. */
export function weakMatch(a: ETag | undefined, b: ETag | undefined): boolean {
  return a !== undefined && b !== undefined && a.opaque === b.opaque;
}

export type IfRange = { kind: 'etag'; tag: ETag } | { kind: 'date'; ms: number };

/** Parses If-Range: an entity-tag or an HTTP-date; undefined when absent or invalid. */
export function parseIfRange(value: string | undefined): IfRange | undefined {
  if (value === undefined) return undefined;
  const tag = parseETag(value);
  if (tag) return { kind: 'etag', tag };
  const ms = parseHttpDate(value);
  return ms === undefined ? undefined : { kind: 'date', ms };
}

/**
 * RFC 9110 §13.1.5: may the Range of a request carrying `ifRange` be honoured for a selected
 * representation with header fields `res`? True when there is no If-Range; an invalid If-Range,
 * a weak entity-tag, or a date that is not a strong Last-Modified validator means "send it all".
 */
export function ifRangeMatches(ifRange: string | undefined, res: Fields): boolean {
  if (ifRange === undefined) return true;
  const parsed = parseIfRange(ifRange);
  if (!parsed) return false;
  if (parsed.kind === 'etag') return strongMatch(parsed.tag, parseETag(res.get('etag')));
  const lm = parseHttpDate(res.get('last-modified'));
  if (lm === undefined || lm !== parsed.ms) return false;
  // Last-Modified is strong only when at least one second before Date (RFC 9110 §8.8.2.2).
  const date = parseHttpDate(res.get('date'));
  return date !== undefined && date - lm >= 1000;
}
