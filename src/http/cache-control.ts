/**
 * Cache-Control (RFC 9111 §5.2) parsing. Directive names are lower-cased, quoted-string values are
 * unquoted, the first occurrence of a directive wins, and elements with broken syntax are skipped
 * (their arguments never leak into other directives).
 */

/** Directive name → argument (unquoted) or `true` when the directive has no argument. */
export type CacheControl = ReadonlyMap<string, string | true>;

const EMPTY: CacheControl = new Map();
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Upper bound on directives kept from one field value (the rest are ignored). */
const MAX_DIRECTIVES = 128;
/** delta-seconds larger than this are treated as this value (RFC 9111 §1.2.2). */
export const DELTA_SECONDS_MAX = 2 ** 31;

/**
 * Splits a comma-separated list into its elements, keeping commas inside quoted strings, and
 * trimming optional whitespace. Empty elements are dropped (RFC 9110 §5.6.1).
 */
export function splitList(value: string, limit = 1024): string[] {
  const out: string[] = [];
  let start = 0;
  let inQuote = false;
  const push = (end: number): boolean => {
    const el = value.slice(start, end).replace(/^[ \t]+|[ \t]+$/g, '');
    if (el !== '') out.push(el);
    return out.length < limit;
  };
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (inQuote) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inQuote = false;
    } else if (c === 34) {
      inQuote = true;
    } else if (c === 44 /* , */) {
      if (!push(i)) return out;
      start = i + 1;
    }
  }
  push(value.length);
  return out;
}

/** Removes the quotes and backslash escapes of an RFC 9110 quoted-string; undefined if it is not one. */
export function unquote(s: string): string | undefined {
  if (s.length < 2 || s.charCodeAt(0) !== 34 || s.charCodeAt(s.length - 1) !== 34) return undefined;
  let out = '';
  for (let i = 1; i < s.length - 1; i++) {
    let c = s[i] as string;
    if (c === '"') return undefined;
    if (c === '\\') {
      i++;
      if (i >= s.length - 1) return undefined;
      c = s[i] as string;
    }
    out += c;
  }
  return out;
}

/** Quotes `s` as a quoted-string when it is not a token. */
export function quoteIfNeeded(s: string): string {
  return TOKEN.test(s) ? s : `"${s.replace(/["\\]/g, '\\$&')}"`;
}

export function isToken(s: string): boolean {
  return TOKEN.test(s);
}

/**
 * Parses one or more Cache-Control field values (lines joined with ", "). Invalid elements such as
 * `max-age =5` or `"foo"` are ignored; `max-age="5"` is accepted as 5; an argument that is not a
 * token or quoted-string (`max-age= 5`) is kept as written so that `deltaSeconds` rejects it.
 */
export function parseCacheControl(value: string | undefined): CacheControl {
  if (value === undefined || value === '') return EMPTY;
  const out = new Map<string, string | true>();
  for (const el of splitList(value, MAX_DIRECTIVES)) {
    const eq = el.indexOf('=');
    const name = (eq < 0 ? el : el.slice(0, eq)).toLowerCase();
    if (!TOKEN.test(name)) continue;
    if (out.has(name)) continue;
    if (eq < 0) {
      out.set(name, true);
      continue;
    }
    const raw = el.slice(eq + 1);
    const q = raw.startsWith('"') ? unquote(raw) : undefined;
    out.set(name, q ?? raw);
  }
  return out;
}

/**
 * The delta-seconds argument of directive `name`: undefined when the directive is absent, has no
 * argument, or its argument is not 1*DIGIT (a negative, decimal or alphabetic value is invalid).
 * Values above 2^31 are clamped to 2^31.
 */
export function deltaSeconds(cc: CacheControl, name: string): number | undefined {
  const v = cc.get(name);
  if (typeof v !== 'string') return undefined;
  return parseDeltaSeconds(v);
}

/** `1*DIGIT` → number clamped to 2^31; anything else → undefined. */
export function parseDeltaSeconds(v: string): number | undefined {
  if (!/^[0-9]+$/.test(v)) return undefined;
  if (v.length > 10) return DELTA_SECONDS_MAX;
  const n = Number(v);
  return n > DELTA_SECONDS_MAX ? DELTA_SECONDS_MAX : n;
}

/**
 * The field names listed in the argument of a directive such as `no-cache="Set-Cookie, X-Foo"` or
 * `private="x"`, lower-cased; empty when the directive has no argument.
 */
export function directiveFieldNames(cc: CacheControl, name: string): string[] {
  const v = cc.get(name);
  if (typeof v !== 'string') return [];
  return v.split(',').map((s) => s.trim().toLowerCase()).filter((s) => TOKEN.test(s));
}
