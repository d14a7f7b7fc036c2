import { createHash, sign, verify } from 'node:crypto';
import { PeerwebError } from '../errors/index.js';
import { checkEntryName } from './zip.js';
import type { PublisherKey } from '../integrity/keys.js';

export const MANIFEST_NAME = 'peerweb/manifest.json';
export const SIGNATURE_NAME = 'peerweb/manifest.sig';
export const FORMAT = 'peerweb-archive/1';

export interface ManifestFile {
  /** Lowercase hex SHA-256 of the entry's (uncompressed) bytes. */
  readonly sha256: string;
  readonly size: number;
  /** Content-Type to serve it with. */
  readonly type: string;
  /**
   * Content-defined chunks of a large entry (stored uncompressed, so each chunk can be fetched by
   * range): an update fetches only chunks whose hash is new. Sizes add up to `size`.
   */
  readonly chunks?: readonly { readonly sha256: string; readonly size: number }[];
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
  /** Entry name (relative to the prefix) → hash, size, type. */
  readonly files: Readonly<Record<string, ManifestFile>>;
  readonly routes: readonly ManifestRoute[];
  readonly previous?: { readonly version: number; readonly digest: string };
}

export interface ManifestSignature { readonly alg: 'ed25519'; readonly keyId: string; readonly sig: string }

function fail(reason: string): never {
  throw new PeerwebError('PW_ERR_ARCHIVE_FORMAT', { archive: MANIFEST_NAME, reason });
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;
const HEX64 = /^[0-9a-f]{64}$/;
const KNOWN_KEYS = new Set(['format', 'origin', 'prefix', 'version', 'notBefore', 'notAfter', 'staleIfUnverified', 'files', 'routes', 'previous']);

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
  if (typeof o.files !== 'object' || o.files === null || Array.isArray(o.files)) fail('files must be an object');
  for (const [name, f] of Object.entries(o.files as Record<string, unknown>)) {
    checkEntryName(name);
    if (name.startsWith('peerweb/') || name.endsWith('/')) fail(`file name ${JSON.stringify(name)} is reserved or a folder`);
    if (typeof f !== 'object' || f === null) fail(`file ${name} is not an object`);
    const ff = f as Record<string, unknown>;
    if (Object.keys(ff).some((k) => k !== 'sha256' && k !== 'size' && k !== 'type' && k !== 'chunks')) fail(`file ${name} has unknown fields`);
    if (typeof ff.sha256 !== 'string' || !HEX64.test(ff.sha256)) fail(`file ${name} sha256 must be 64 lowercase hex digits`);
    if (typeof ff.size !== 'number' || !Number.isSafeInteger(ff.size) || ff.size < 0) fail(`file ${name} size must be a non-negative integer`);
    if (typeof ff.type !== 'string' || !/^[\x21-\x7e][\x20-\x7e]{0,200}$/.test(ff.type)) fail(`file ${name} type must be a media type`);
    if (ff.chunks !== undefined) {
      if (!Array.isArray(ff.chunks) || ff.chunks.length === 0 || ff.chunks.length > 1_000_000) fail(`file ${name} chunks must be a non-empty list`);
      let total = 0;
      for (const c of ff.chunks as unknown[]) {
        const cc = c as Record<string, unknown>;
        if (typeof cc !== 'object' || cc === null || Object.keys(cc).length !== 2 || typeof cc.sha256 !== 'string' || !HEX64.test(cc.sha256)
          || typeof cc.size !== 'number' || !Number.isSafeInteger(cc.size) || cc.size <= 0) fail(`file ${name} has a malformed chunk`);
        total += cc.size as number;
      }
      if (total !== ff.size) fail(`file ${name} chunks add up to ${total}, not ${ff.size}`);
    }
  }
  if (!Array.isArray(o.routes)) fail('routes must be an array');
  for (const r of o.routes as unknown[]) {
    if (typeof r !== 'object' || r === null) fail('route is not an object');
    const rr = r as Record<string, unknown>;
    if (typeof rr.pattern !== 'string' || typeof rr.handler !== 'string') fail('route needs pattern and handler');
    checkPattern(rr.pattern);
    if (!(rr.handler in (o.files as object))) fail(`route handler ${rr.handler} is not in files`);
  }
  if (o.previous !== undefined) {
    const p = o.previous as Record<string, unknown>;
    if (typeof p !== 'object' || p === null || typeof p.version !== 'number' || !Number.isSafeInteger(p.version) || typeof p.digest !== 'string' || !HEX64.test(p.digest)) fail('previous must be { version, digest }');
    if (p.version >= (o.version as number)) fail('previous.version must be lower than version');
  }
  return Object.freeze(o) as unknown as Manifest;
}

/** Canonical bytes of a manifest: keys in a fixed order, files sorted, two-space JSON. */
export function serializeManifest(m: Manifest): Buffer {
  const files: Record<string, ManifestFile> = {};
  for (const name of Object.keys(m.files).sort()) {
    const f = m.files[name]!;
    files[name] = { sha256: f.sha256, size: f.size, type: f.type, ...(f.chunks ? { chunks: f.chunks.map((c) => ({ sha256: c.sha256, size: c.size })) } : {}) };
  }
  const out = {
    format: m.format, origin: m.origin, prefix: m.prefix, version: m.version,
    notBefore: m.notBefore, notAfter: m.notAfter, staleIfUnverified: m.staleIfUnverified,
    files, routes: m.routes.map((r) => ({ pattern: r.pattern, handler: r.handler })),
    ...(m.previous ? { previous: { version: m.previous.version, digest: m.previous.digest } } : {}),
  };
  return Buffer.from(JSON.stringify(out, null, 2) + '\n', 'utf8');
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
