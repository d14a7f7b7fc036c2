/** Connection-specific fields (RFC 9110 §7.6.1) and Via (RFC 9110 §7.6.3). */
import type { Fields } from './fields.js';
import { splitList } from './cache-control.js';

/** Field names that describe one connection and are never forwarded or stored. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
]);

/** Upper bound on names read from Connection. */
const MAX_CONNECTION_OPTIONS = 64;

/** Lower-cased field names listed in the Connection field(s). */
export function connectionOptions(fields: Fields): string[] {
  const v = fields.get('connection');
  if (v === undefined) return [];
  return splitList(v, MAX_CONNECTION_OPTIONS).map((s) => s.toLowerCase());
}

/** Removes every hop-by-hop field and every field named in Connection. */
export function stripHopByHop(fields: Fields): void {
  const named = connectionOptions(fields);
  for (const n of HOP_BY_HOP) fields.delete(n);
  for (const n of named) fields.delete(n);
}

/** Appends `1.1 pseudonym` (or `1.0 …`) to Via, after any existing entries. */
export function appendVia(fields: Fields, versionMinor: 0 | 1, pseudonym: string): void {
  fields.append('Via', `1.${versionMinor} ${pseudonym}`);
}

/** Upper bound on Via entries examined for loop detection. */
const MAX_VIA_ENTRIES = 256;

/**
 * True when some Via entry was received by `pseudonym` (compared case-insensitively, ignoring any
 * comment): the message already passed through this node.
 */
export function viaHasPseudonym(fields: Fields, pseudonym: string): boolean {
  const v = fields.get('via');
  if (v === undefined) return false;
  const want = pseudonym.toLowerCase();
  for (const entry of splitViaEntries(v)) {
    const parts = entry.split(/[ \t]+/);
    const by = parts[1];
    if (by !== undefined && by.toLowerCase() === want) return true;
  }
  return false;
}

/** Splits a Via value on commas that are outside comments (parentheses may nest) and quoted strings. */
function splitViaEntries(v: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < v.length && out.length < MAX_VIA_ENTRIES; i++) {
    const c = v[i];
    if (c === '\\' && depth > 0) i++;
    else if (c === '(') depth++;
    else if (c === ')' && depth > 0) depth--;
    else if (c === ',' && depth === 0) {
      out.push(v.slice(start, i).trim());
      start = i + 1;
    }
  }
  if (out.length < MAX_VIA_ENTRIES) out.push(v.slice(start).trim());
  return out.filter((s) => s !== '');
}
