import { PeerwebError } from '../errors/index.js';

/** One holder of one archive version: who serves which site prefix, until when. */
export interface DirectoryEntry {
  /** The site's origin (`https://www.example.com`). */
  readonly site: string;
  /** Path prefix the archive covers (`/`, `/docs/`). */
  readonly prefix: string;
  readonly version: number;
  /** Hex SHA-256 of the archive's manifest (its identity). */
  readonly digest: string;
  /** URL where the holder serves the archive. */
  readonly holder: string;
  /** Expiry, ms since the epoch. */
  readonly expires: number;
}

export interface Registration {
  readonly site: string;
  readonly prefix: string;
  readonly version: number;
  readonly digest: string;
  readonly holder: string;
  /** Requested lifetime in ms; clamped to the directory's maximum, defaulted when absent. */
  readonly ttl?: number;
}

/** Who holds what. Implementations: embedded (SQLite), LDAP, and an HTTP client of another node's embedded directory. */
export interface Directory {
  /** Adds or refreshes (same site, prefix and holder) a registration; refused beyond the caps. */
  register(r: Registration): Promise<DirectoryEntry>;
  /**
   * Live entries for `site`. With `prefix`, only entries whose prefix covers it (is a prefix of
   * it), most specific prefix first, then highest version. At most `limits.maxResults`.
   */
  lookup(site: string, prefix?: string): Promise<DirectoryEntry[]>;
  /** Removes one registration; false when there was none. */
  unregister(site: string, prefix: string, holder: string): Promise<boolean>;
  /** Drops expired entries; returns how many. */
  purgeExpired(): Promise<number>;
  close(): Promise<void>;
}

export interface DirectoryLimits {
  readonly maxTtl: number;
  readonly defaultTtl: number;
  /** Most live registrations whose holder URL has the same origin. */
  readonly maxPerHolder: number;
  readonly maxPerSite: number;
  readonly maxResults: number;
}

export const DEFAULT_DIRECTORY_LIMITS: DirectoryLimits = Object.freeze({ maxTtl: 86_400_000, defaultTtl: 3_600_000, maxPerHolder: 1000, maxPerSite: 1000, maxResults: 100 });

function bad(reason: string): never {
  throw new PeerwebError('PW_ERR_DIRECTORY_BAD_ENTRY', { reason });
}

export function checkSite(site: unknown): string {
  if (typeof site !== 'string' || site.length > 300) bad('site must be an origin URL');
  let u: URL;
  try { u = new URL(site); } catch { bad(`site ${JSON.stringify(site)} is not a URL`); }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.origin !== site) bad(`site ${JSON.stringify(site)} must be scheme://host[:port]`);
  return site;
}

export function checkDirPrefix(prefix: unknown): string {
  if (typeof prefix !== 'string' || prefix.length > 1024 || !/^\/([A-Za-z0-9._~!$&'()*+,;=:@%-]+\/)*$/.test(prefix) || prefix.split('/').some((s) => s === '.' || s === '..')) {
    bad(`prefix ${JSON.stringify(prefix)} must be a path starting and ending with /`);
  }
  return prefix;
}

export function checkHolder(holder: unknown): string {
  if (typeof holder !== 'string' || holder.length > 2048) bad('holder must be a URL of at most 2048 characters');
  let u: URL;
  try { u = new URL(holder); } catch { bad(`holder ${JSON.stringify(holder)} is not a URL`); }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.username || u.password || u.href !== holder) bad(`holder ${JSON.stringify(holder)} must be a normalised http(s) URL without credentials`);
  return holder;
}

/** The key the per-holder cap counts by: the holder URL's origin. */
export function holderKey(holder: string): string {
  return new URL(holder).origin;
}

/** Validates a registration and fixes its expiry from `now` and the limits. */
export function normalizeRegistration(r: Registration, now: number, limits: DirectoryLimits): DirectoryEntry {
  if (typeof r !== 'object' || r === null) bad('registration must be an object');
  const site = checkSite(r.site);
  const prefix = checkDirPrefix(r.prefix);
  const holder = checkHolder(r.holder);
  if (typeof r.version !== 'number' || !Number.isSafeInteger(r.version) || r.version < 0) bad('version must be a non-negative integer');
  if (typeof r.digest !== 'string' || !/^[0-9a-f]{64}$/.test(r.digest)) bad('digest must be 64 lowercase hex digits');
  if (r.ttl !== undefined && (typeof r.ttl !== 'number' || !Number.isFinite(r.ttl) || r.ttl < 1000)) bad('ttl must be at least 1000 ms');
  const ttl = Math.min(r.ttl ?? limits.defaultTtl, limits.maxTtl);
  return { site, prefix, version: r.version, digest: r.digest, holder, expires: now + ttl };
}

/** Sorts for lookup: entries whose prefix covers `prefix` only, most specific first, then newest version. */
export function selectEntries(entries: readonly DirectoryEntry[], prefix: string | undefined, max: number): DirectoryEntry[] {
  const covered = prefix === undefined ? [...entries] : entries.filter((e) => prefix.startsWith(e.prefix));
  return covered
    .sort((a, b) => b.prefix.length - a.prefix.length || b.version - a.version || b.expires - a.expires || (a.holder < b.holder ? -1 : 1))
    .slice(0, max);
}

/** A lookup path: any absolute URL path (entries whose prefix covers it are returned). */
export function checkLookupPath(path: unknown): string {
  if (typeof path !== 'string' || path.length > 2048 || !path.startsWith('/') || /[\s\0]/.test(path)) bad(`prefix ${JSON.stringify(path)} must be an absolute path`);
  return path;
}
