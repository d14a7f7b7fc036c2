import { createHash, sign, verify } from 'node:crypto';
import { PeerwebError } from '../errors/index.js';
import { checkEntryName } from './zip.js';
import type { PublisherKey } from '../integrity/keys.js';

export const MANIFEST_NAME = 'peerweb/manifest.json';
export const SIGNATURE_NAME = 'peerweb/manifest.sig';
export const FORMAT = 'peerweb-archive/2';

/**
 * One shard of the file index (entry `peerweb/index/NNNNN.json`), as the signed manifest lists it.
 * Shards cover consecutive ranges of paths in byte order; the files of a shard are stored one
 * after the other in the archive, in the same order, starting at `base`.
 */
export interface IndexRef {
  /** Path of the shard's first file: the shard covers paths from here up to the next shard's `first`. */
  readonly first: string;
  /** SHA-256 of the shard's (uncompressed) bytes. */
  readonly sha256: string;
  readonly size: number;
  /** Stored size (deflated when smaller). */
  readonly csize: number;
  /** Offset of the shard entry's data in the archive. */
  readonly offset: number;
  /** Offset of the local header of the shard's first file: file offsets in the shard are relative to it. */
  readonly base: number;
  /** Number of files in the shard. */
  readonly count: number;
}

/** A URL pattern under the prefix: `/search` matches exactly; `/api/*` matches `/api/` and below. */
export interface ManifestRoute { readonly pattern: string; readonly handler: string }

export interface Manifest {
  readonly format: typeof FORMAT;
  /** The master URL (scheme, host, port) of the site. */
  readonly origin: string;
  /** URL path prefix the archive covers, starting and ending with `/`. */
  readonly prefix: string;
  /** Increases with every release; a holder never goes back to an older one. */
  readonly version: number;
  readonly notBefore: string;
  readonly notAfter: string;
  /** Seconds past notAfter during which the archive may still serve when no newer one can be fetched (0: never). */
  readonly staleIfUnverified: number;
  readonly routes: readonly ManifestRoute[];
  readonly previous?: { readonly version: number; readonly digest: string };
  /** The file index: shards in path order, each proven by its hash. */
  readonly index: readonly IndexRef[];
}

export interface ManifestSignature { readonly alg: 'ed25519'; readonly keyId: string; readonly sig: string }

function fail(reason: string): never {
  throw new PeerwebError('PW_ERR_ARCHIVE_FORMAT', { archive: MANIFEST_NAME, reason });
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;
export const HEX64 = /^[0-9a-f]{64}$/;
const KNOWN_KEYS = new Set(['format', 'origin', 'prefix', 'version', 'notBefore', 'notAfter', 'staleIfUnverified', 'routes', 'previous', 'index']);
const REF_KEYS = ['first', 'sha256', 'size', 'csize', 'offset', 'base', 'count'] as const;
/** Most shards one manifest may list. */
export const MAX_SHARDS = 100_000;

export function checkPrefix(prefix: string): string {
  if (!/^\/([A-Za-z0-9._~!$&'()*+,;=:@%-]+\/)*$/.test(prefix) || prefix.split('/').some((s) => s === '..' || s === '.')) fail(`prefix ${JSON.stringify(prefix)} must be a path starting and ending with /`);
  return prefix;
}

export function checkOrigin(origin: string): string {
  let u: URL;
  try { u = new URL(origin); } catch { fail(`origin ${JSON.stringify(origin)} is not a URL`); }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.origin !== origin) fail(`origin ${JSON.stringify(origin)} must be scheme://host[:port] only`);
  return origin;
}

function checkPattern(p: string): void {
  if (!/^\/[A-Za-z0-9._~!$&'()+,;=:@%/-]*(\*)?$/.test(p) || p.split('/').includes('..')) fail(`route pattern ${JSON.stringify(p)} must be a path, optionally ending in *`);
}

/** Byte order of UTF-8 paths: the order of the index and of the archive's files. */
export function comparePaths(a: string, b: string): number {
  return a === b ? 0 : Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** A site file's path: a safe entry name, outside the reserved peerweb/ folder, not a folder. */
export function checkFilePath(name: string, what: (reason: string) => never = fail): string {
  checkEntryName(name);
  if (name.startsWith('peerweb/') || name.endsWith('/')) what(`file name ${JSON.stringify(name)} is reserved or a folder`);
  return name;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Parses and checks the exact manifest bytes; anything unexpected is refused. */
export function parseManifest(bytes: Buffer): Manifest {
  let m: unknown;
  try { m = JSON.parse(bytes.toString('utf8')); } catch (err) { fail(`not JSON: ${(err as Error).message}`); }
  if (typeof m !== 'object' || m === null || Array.isArray(m)) fail('not a JSON object');
  const o = m as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KNOWN_KEYS.has(k)) fail(`unknown field ${JSON.stringify(k)}`);
  if (o.format !== FORMAT) fail(`format ${JSON.stringify(o.format)} is not ${FORMAT}`);
  if (typeof o.origin !== 'string') fail('origin missing');
  checkOrigin(o.origin);
  if (typeof o.prefix !== 'string') fail('prefix missing');
  checkPrefix(o.prefix);
  if (typeof o.version !== 'number' || !Number.isSafeInteger(o.version) || o.version < 0) fail('version must be a non-negative integer');
  for (const k of ['notBefore', 'notAfter'] as const) {
    const v = o[k];
    if (typeof v !== 'string' || !ISO.test(v) || Number.isNaN(Date.parse(v))) fail(`${k} must be an ISO 8601 UTC time`);
  }
  if (Date.parse(o.notAfter as string) <= Date.parse(o.notBefore as string)) fail('notAfter must be after notBefore');
  if (typeof o.staleIfUnverified !== 'number' || !Number.isSafeInteger(o.staleIfUnverified) || o.staleIfUnverified < 0) fail('staleIfUnverified must be a non-negative integer (seconds)');
  if (!Array.isArray(o.routes)) fail('routes must be an array');
  for (const r of o.routes as unknown[]) {
    if (typeof r !== 'object' || r === null) fail('route is not an object');
    const rr = r as Record<string, unknown>;
    if (typeof rr.pattern !== 'string' || typeof rr.handler !== 'string') fail('route needs pattern and handler');
    checkPattern(rr.pattern);
    checkFilePath(rr.handler);
  }
  if (o.previous !== undefined) {
    const p = o.previous as Record<string, unknown>;
    if (typeof p !== 'object' || p === null || typeof p.version !== 'number' || !Number.isSafeInteger(p.version) || typeof p.digest !== 'string' || !HEX64.test(p.digest)) fail('previous must be { version, digest }');
    if (p.version >= (o.version as number)) fail('previous.version must be lower than version');
  }
  if (!Array.isArray(o.index) || o.index.length > MAX_SHARDS) fail(`index must be a list of at most ${MAX_SHARDS} shards`);
  let prev: IndexRef | undefined;
  for (const [i, r] of (o.index as unknown[]).entries()) {
    if (typeof r !== 'object' || r === null || Array.isArray(r)) fail(`index shard ${i} is not an object`);
    const rr = r as Record<string, unknown>;
    if (Object.keys(rr).length !== REF_KEYS.length || REF_KEYS.some((k) => !(k in rr))) fail(`index shard ${i} must have exactly ${REF_KEYS.join(', ')}`);
    if (typeof rr.first !== 'string') fail(`index shard ${i} first must be a path`);
    checkFilePath(rr.first);
    if (typeof rr.sha256 !== 'string' || !HEX64.test(rr.sha256)) fail(`index shard ${i} sha256 must be 64 lowercase hex digits`);
    for (const k of ['size', 'csize', 'offset', 'base', 'count'] as const) if (!isCount(rr[k])) fail(`index shard ${i} ${k} must be a non-negative integer`);
    const ref = rr as unknown as IndexRef;
    if (ref.count < 1) fail(`index shard ${i} lists no file`);
    if (ref.csize > ref.size) fail(`index shard ${i} is stored larger than it is`);
    if (prev) {
      if (comparePaths(prev.first, ref.first) >= 0) fail(`index shard ${i} does not follow shard ${i - 1} in path order`);
      if (ref.base <= prev.base) fail(`index shard ${i} files do not follow those of shard ${i - 1}`);
      if (ref.offset < prev.offset + prev.csize) fail(`index shard ${i} overlaps shard ${i - 1}`);
    }
    prev = ref;
  }
  const index = o.index as IndexRef[];
  if (index.length > 0 && index[index.length - 1]!.base >= index[0]!.offset) fail('index shards must follow the files they list');
  return Object.freeze(o) as unknown as Manifest;
}

/** Canonical bytes of a manifest: keys in a fixed order, compact JSON, one final newline. */
export function serializeManifest(m: Manifest): Buffer {
  const out = {
    format: m.format, origin: m.origin, prefix: m.prefix, version: m.version,
    notBefore: m.notBefore, notAfter: m.notAfter, staleIfUnverified: m.staleIfUnverified,
    routes: m.routes.map((r) => ({ pattern: r.pattern, handler: r.handler })),
    ...(m.previous ? { previous: { version: m.previous.version, digest: m.previous.digest } } : {}),
    index: m.index.map((r) => ({ first: r.first, sha256: r.sha256, size: r.size, csize: r.csize, offset: r.offset, base: r.base, count: r.count })),
  };
  return Buffer.from(JSON.stringify(out) + '\n', 'utf8');
}

/**
 * The end record's comment of a site archive: a copy of the manifest and signature entries, so the
 * first (tail) read of a reader holds them. `peerweb-archive/2 <manifest bytes> <signature bytes>\n`
 * then both, back to back (0 signature bytes when unsigned).
 */
export function encodeTail(manifestBytes: Buffer, sigBytes: Buffer | undefined): Buffer {
  return Buffer.concat([Buffer.from(`${FORMAT} ${manifestBytes.length} ${sigBytes?.length ?? 0}\n`, 'latin1'), manifestBytes, sigBytes ?? Buffer.alloc(0)]);
}

/** Splits an end-record comment into the manifest and signature bytes; refuses anything else. */
export function decodeTail(comment: Buffer, label: string): { manifest: Buffer; sig: Buffer | undefined } {
  const nl = comment.indexOf(0x0a);
  const head = nl > 0 && nl <= 40 ? comment.subarray(0, nl).toString('latin1') : '';
  const m = /^peerweb-archive\/2 ([1-9]\d{0,4}) (0|[1-9]\d{0,3})$/.exec(head);
  if (!m) throw new PeerwebError('PW_ERR_ARCHIVE_FORMAT', { archive: label, reason: `the end record comment is not a ${FORMAT} manifest block` });
  const ml = Number(m[1]);
  const sl = Number(m[2]);
  if (nl + 1 + ml + sl !== comment.length) throw new PeerwebError('PW_ERR_ARCHIVE_FORMAT', { archive: label, reason: `the manifest block says ${ml} + ${sl} bytes but holds ${comment.length - nl - 1}` });
  const manifest = comment.subarray(nl + 1, nl + 1 + ml);
  return { manifest, sig: sl > 0 ? comment.subarray(nl + 1 + ml) : undefined };
}

/** Hex SHA-256 of the manifest bytes: the identity of an archive version (used in the directory). */
export function manifestDigest(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function signManifest(bytes: Buffer, key: PublisherKey): Buffer {
  if (!key.privateKey) throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: 'Signing needs a private key' });
  const sig: ManifestSignature = { alg: 'ed25519', keyId: key.keyId, sig: sign(null, bytes, key.privateKey).toString('base64') };
  return Buffer.from(JSON.stringify(sig) + '\n', 'utf8');
}

export function parseSignature(bytes: Buffer): ManifestSignature {
  let s: unknown;
  try { s = JSON.parse(bytes.toString('utf8')); } catch { throw new PeerwebError('PW_ERR_ARCHIVE_FORMAT', { archive: SIGNATURE_NAME, reason: 'not JSON' }); }
  const o = s as Record<string, unknown>;
  if (typeof o !== 'object' || o === null || o.alg !== 'ed25519' || typeof o.keyId !== 'string' || !/^[A-Za-z0-9_-]{16}$/.test(o.keyId)
    || typeof o.sig !== 'string' || !/^[A-Za-z0-9+/]{86}==$/.test(o.sig)) {
    throw new PeerwebError('PW_ERR_ARCHIVE_FORMAT', { archive: SIGNATURE_NAME, reason: 'must be { alg: "ed25519", keyId, sig }' });
  }
  return { alg: 'ed25519', keyId: o.keyId, sig: o.sig };
}

/** Where publisher keys come from: pins, DNS TXT/KEY, or both. */
export interface KeyResolver {
  /** Keys allowed to sign archives for `host` (lowercase, no port); an empty list when none are published. */
  keysFor(host: string): Promise<readonly PublisherKey[]>;
}

export interface VerifyOptions {
  /** Current time in ms since the epoch (tests pass a fixed clock). */
  readonly now?: number;
  readonly clockSkew?: number;
  /** The site the archive was fetched for: origin and prefix must match. */
  readonly expect?: { readonly origin?: string; readonly prefix?: string };
  /** Highest version already accepted for this origin and prefix: an older one is a replay. */
  readonly knownVersion?: number;
  /** No newer archive could be fetched: an expired one may serve within staleIfUnverified. */
  readonly allowStale?: boolean;
}

export interface Verified {
  readonly manifest: Manifest;
  readonly manifestBytes: Buffer;
  readonly digest: string;
  readonly keyId: string;
  /** Past notAfter but within staleIfUnverified. */
  readonly stale: boolean;
}

/** Checks signature, key (for the origin's host), validity window, site and version; returns the manifest. */
export async function verifyManifest(manifestBytes: Buffer, sigBytes: Buffer | undefined, trust: KeyResolver, opts: VerifyOptions = {}): Promise<Verified> {
  const manifest = parseManifest(manifestBytes);
  const host = new URL(manifest.origin).hostname.toLowerCase();
  if (!sigBytes) throw new PeerwebError('PW_ERR_ARCHIVE_UNSIGNED', { archive: `${manifest.origin}${manifest.prefix}` });
  const sig = parseSignature(sigBytes);
  const keys = await trust.keysFor(host);
  const key = keys.find((k) => k.keyId === sig.keyId);
  if (!key) throw new PeerwebError('PW_ERR_ARCHIVE_UNKNOWN_KEY', { host, keyId: sig.keyId });
  if (!verify(null, manifestBytes, key.publicKey, Buffer.from(sig.sig, 'base64'))) throw new PeerwebError('PW_ERR_ARCHIVE_BAD_SIGNATURE', { keyId: sig.keyId });
  if (opts.expect?.origin !== undefined && opts.expect.origin !== manifest.origin) throw new PeerwebError('PW_ERR_ARCHIVE_ORIGIN_MISMATCH', { actual: manifest.origin, expected: opts.expect.origin });
  if (opts.expect?.prefix !== undefined && opts.expect.prefix !== manifest.prefix) throw new PeerwebError('PW_ERR_ARCHIVE_ORIGIN_MISMATCH', { actual: `${manifest.origin}${manifest.prefix}`, expected: `${manifest.origin}${opts.expect.prefix}` });
  const now = opts.now ?? Date.now();
  const skew = opts.clockSkew ?? 300_000;
  if (now + skew < Date.parse(manifest.notBefore)) throw new PeerwebError('PW_ERR_ARCHIVE_NOT_YET_VALID', { version: manifest.version, notBefore: manifest.notBefore });
  let stale = false;
  const notAfter = Date.parse(manifest.notAfter);
  if (now - skew > notAfter) {
    if (opts.allowStale && now - skew <= notAfter + manifest.staleIfUnverified * 1000) stale = true;
    else throw new PeerwebError('PW_ERR_ARCHIVE_EXPIRED', { version: manifest.version, notAfter: manifest.notAfter });
  }
  if (opts.knownVersion !== undefined && manifest.version < opts.knownVersion) {
    throw new PeerwebError('PW_ERR_ARCHIVE_REPLAYED', { version: manifest.version, known: opts.knownVersion, site: `${manifest.origin}${manifest.prefix}` });
  }
  return { manifest, manifestBytes, digest: manifestDigest(manifestBytes), keyId: sig.keyId, stale };
}
