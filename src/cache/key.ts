/** Cache keys: the primary key from the URI and the secondary key from Vary (RFC 9111 §2, §4.1). */
import { type Fields, splitList } from '../http/index.js';

const DEFAULT_PORTS: Readonly<Record<string, string>> = { 'http:': '80', 'https:': '443', 'ws:': '80', 'wss:': '443' };

/** `scheme://host:port/path?query`: host lower-cased, default port explicit, fragment dropped. */
export function cacheKey(url: URL): string {
  const port = url.port !== '' ? url.port : (DEFAULT_PORTS[url.protocol] ?? '');
  const host = url.hostname.toLowerCase();
  return `${url.protocol}//${host}${port === '' ? '' : `:${port}`}${url.pathname || '/'}${url.search}`;
}

/** Upper bound on the names read from Vary. */
const MAX_VARY_NAMES = 64;

/** Lower-cased field names listed in Vary (each once), or `'*'` when any member is `*`. */
export function varyFields(res: Fields): string[] | '*' {
  const v = res.get('vary');
  if (v === undefined) return [];
  const out: string[] = [];
  for (const raw of splitList(v, 1024)) {
    const name = raw.toLowerCase();
    if (name === '*') return '*';
    if (!out.includes(name) && out.length < MAX_VARY_NAMES) out.push(name);
  }
  return out;
}

/** Fields whose list members may be reordered without changing their meaning for selection. */
const ORDER_INSENSITIVE: ReadonlySet<string> = new Set(['accept-language', 'accept-encoding']);
const CASE_INSENSITIVE: ReadonlySet<string> = new Set(['accept-language', 'accept-encoding', 'accept-charset']);

function normaliseValue(name: string, value: string): string {
  let parts = splitList(value, 256).map((p) => p.replace(/[ \t]*;[ \t]*/g, ';').replace(/[ \t]+/g, ' '));
  if (CASE_INSENSITIVE.has(name)) parts = parts.map((p) => p.toLowerCase());
  if (ORDER_INSENSITIVE.has(name)) parts.sort();
  return parts.join(',');
}

/**
 * The secondary key of a request for a response that varies on `vary`: names sorted, each value
 * normalised (lines combined, whitespace around list separators removed, runs of whitespace
 * collapsed; Accept-Language and Accept-Encoding also lower-cased and sorted). An absent field and
 * an empty field give different keys. `''` when `vary` is empty.
 */
export function secondaryKey(vary: readonly string[], req: Fields): string {
  if (vary.length === 0) return '';
  const names = [...new Set(vary.map((n) => n.toLowerCase()))].sort();
  const parts: string[] = [];
  for (const name of names) {
    const v = req.get(name);
    parts.push(v === undefined ? `${name}` : `${name}:${JSON.stringify(normaliseValue(name, v))}`);
  }
  return parts.join('\n');
}
