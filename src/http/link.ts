/** Link field (RFC 8288): parsing and formatting of `<uri>; rel=…; param=…` lists. */
import { quoteIfNeeded } from './cache-control.js';

export interface Link { uri: string; params: Record<string, string> }

/** Upper bound on links read from one field value. */
const MAX_LINKS = 1024;
const PARAM = /^;[ \t]*([!#$%&'*+\-.^_`|~0-9A-Za-z]+)[ \t]*(?:=[ \t]*(?:"((?:[^"\\]|\\.)*)"|([!#$%&'*+\-.^_`|~0-9A-Za-z]+)))?[ \t]*/;

/**
 * Parses a Link field value. Parameter names are lower-cased; a parameter without a value maps to
 * ''; only the first occurrence of a parameter counts (RFC 8288 §3). Parsing stops at the first
 * syntax error, keeping the links read before it.
 */
export function parseLinkHeader(value: string | undefined): Link[] {
  const out: Link[] = [];
  if (value === undefined) return out;
  let s = value;
  for (;;) {
    s = s.replace(/^[ \t,]+/, '');
    if (s === '' || out.length >= MAX_LINKS) return out;
    const m = /^<([^>]*)>[ \t]*/.exec(s);
    if (!m) return out;
    s = s.slice(m[0].length);
    const params: Record<string, string> = Object.create(null) as Record<string, string>;
    for (;;) {
      const p = PARAM.exec(s);
      if (!p) break;
      const name = (p[1] as string).toLowerCase();
      const val = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
      if (!(name in params)) params[name] = val;
      s = s.slice(p[0].length);
    }
    if (s !== '' && s[0] !== ',') return out;
    out.push({ uri: m[1] as string, params: { ...params } });
  }
}

/** Formats one link-value; characters that would break the `<…>` form are percent-encoded. */
export function formatLink(uri: string, params: Readonly<Record<string, string | number>> = {}): string {
  const safe = uri.replace(/[\x00-\x20<>"\x7f-\u{10ffff}]/gu, (c) => {
    try {
      return encodeURIComponent(c);
    } catch {
      return '%EF%BF%BD'; // a lone surrogate
    }
  });
  let s = `<${safe}>`;
  for (const [k, v] of Object.entries(params)) s += `; ${k}=${quoteIfNeeded(String(v))}`;
  return s;
}
