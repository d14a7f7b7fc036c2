import { createHash, randomBytes, scrypt, timingSafeEqual, type BinaryLike, type ScryptOptions } from 'node:crypto';
import { PeerwebError } from '../errors/index.js';

/**
 * Credentials of a mirror's clients. Nothing secret is kept in the config: bearer tokens are
 * stored as their SHA-256 (a token is random, so its hash is enough), passwords as scrypt hashes.
 *
 *   token entry:  NAME:sha256:HEX64                      (sha-256 of the token, lower-case hex)
 *   user entry:   NAME:scrypt:LOG2N:R:P:SALT:HASH        (SALT and HASH base64url, HASH 32 bytes)
 *
 * The fields are separated by colons so that a list can still be given comma-separated.
 */
export interface ClientIdentity {
  /** `token:NAME` or `user:NAME`: the rate-limit bucket and the name in logs. */
  readonly id: string;
}

interface TokenEntry { readonly name: string; readonly hash: Buffer }
interface UserEntry { readonly name: string; readonly log2n: number; readonly r: number; readonly p: number; readonly salt: Buffer; readonly hash: Buffer }

const NAME = /^[A-Za-z0-9._@-]{1,64}$/;
const B64URL = /^[A-Za-z0-9_-]+$/;
export const SCRYPT_DEFAULTS = { log2n: 15, r: 8, p: 1 } as const;
const MAXMEM = 256 * 1024 * 1024;

/** Why a token entry is malformed, or undefined when it is fine. */
export function tokenEntryProblem(raw: string): string | undefined {
  const [name = '', kind, hex, ...rest] = raw.split(':');
  if (!NAME.test(name)) return 'must start with a name of 1 to 64 letters, digits or ._@- followed by ":"';
  if (kind !== 'sha256' || rest.length > 0 || !/^[0-9a-f]{64}$/.test(hex ?? '')) return 'must be NAME:sha256:HEX with the 64 lower-case hex digits of the token\'s SHA-256';
  return undefined;
}

/** Why a user entry is malformed, or undefined when it is fine. */
export function userEntryProblem(raw: string): string | undefined {
  const parts = raw.split(':');
  const [name = '', kind, ln, r, p, salt, hash] = parts;
  if (!NAME.test(name)) return 'must start with a name of 1 to 64 letters, digits or ._@- followed by ":"';
  if (kind !== 'scrypt' || parts.length !== 7) return 'must be NAME:scrypt:LOG2N:R:P:SALT:HASH (made by peerweb mirror credential --user NAME)';
  const n = Number(ln), rr = Number(r), pp = Number(p);
  if (!Number.isInteger(n) || n < 10 || n > 20) return `scrypt cost LOG2N ${JSON.stringify(ln)} must be an integer from 10 to 20`;
  if (!Number.isInteger(rr) || rr < 1 || rr > 32) return `scrypt block size R ${JSON.stringify(r)} must be an integer from 1 to 32`;
  if (!Number.isInteger(pp) || pp < 1 || pp > 16) return `scrypt parallelism P ${JSON.stringify(p)} must be an integer from 1 to 16`;
  if (128 * 2 ** n * rr * pp > MAXMEM) return `scrypt parameters need more than ${MAXMEM / 1024 / 1024} MiB of memory`;
  if (!B64URL.test(salt ?? '') || Buffer.from(salt ?? '', 'base64url').length < 16) return 'SALT must be base64url of at least 16 bytes';
  if (!B64URL.test(hash ?? '') || Buffer.from(hash ?? '', 'base64url').length !== 32) return 'HASH must be base64url of 32 bytes';
  return undefined;
}

function scryptAsync(password: BinaryLike, salt: Buffer, e: { log2n: number; r: number; p: number }): Promise<Buffer> {
  const o: ScryptOptions = { N: 2 ** e.log2n, r: e.r, p: e.p, maxmem: MAXMEM };
  return new Promise((resolve, reject) => scrypt(password, salt, 32, o, (err, key) => (err ? reject(err) : resolve(key))));
}

/** A new token and its config entry. */
export function newToken(name: string): { token: string; entry: string } {
  if (!NAME.test(name)) throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: `credential name ${JSON.stringify(name)} must be 1 to 64 letters, digits or ._@-` });
  const token = randomBytes(32).toString('base64url');
  return { token, entry: `${name}:sha256:${createHash('sha256').update(token).digest('hex')}` };
}

/** The config entry of a user with this password (scrypt, random salt). */
export async function hashPassword(name: string, password: string, params: { log2n: number; r: number; p: number } = SCRYPT_DEFAULTS): Promise<string> {
  if (!NAME.test(name)) throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: `credential name ${JSON.stringify(name)} must be 1 to 64 letters, digits or ._@-` });
  if (password.length === 0 || password.length > 1024) throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: 'the password must have 1 to 1024 characters' });
  const salt = randomBytes(16);
  const hash = await scryptAsync(password.normalize('NFC'), salt, params);
  const entry = `${name}:scrypt:${params.log2n}:${params.r}:${params.p}:${salt.toString('base64url')}:${hash.toString('base64url')}`;
  const problem = userEntryProblem(entry);
  if (problem) throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: problem });
  return entry;
}

export interface ClientAuthOptions {
  readonly tokens: readonly string[];
  readonly users: readonly string[];
  readonly realm?: string;
  /** Password checks running at once (scrypt runs in the thread pool); more are refused as busy. */
  readonly maxConcurrent?: number;
  /** Checked Basic credentials remembered (by their SHA-256), so scrypt runs once per credential. */
  readonly cacheSize?: number;
  readonly cacheMs?: number;
  readonly now?: () => number;
}

/** What a request's Authorization field proves. */
export type AuthOutcome =
  | { readonly kind: 'ok'; readonly identity: ClientIdentity }
  | { readonly kind: 'missing' }
  | { readonly kind: 'invalid'; readonly scheme: 'bearer' | 'basic' | 'other' }
  | { readonly kind: 'busy' };

export interface ClientAuth {
  /** Immediate answer when no password has to be hashed, else a promise. */
  check(authorization: string | undefined): AuthOutcome | Promise<AuthOutcome>;
  /** The WWW-Authenticate value for a 401 (one challenge per configured scheme). */
  challenge(outcome?: AuthOutcome): string;
}

/** Throws PW_ERR_CONFIG_INVALID naming the key when an entry is malformed or a name repeats. */
export function createClientAuth(opts: ClientAuthOptions): ClientAuth {
  const now = opts.now ?? Date.now;
  const realm = (opts.realm ?? 'peerweb mirror').replace(/["\\]/g, '');
  const maxConcurrent = opts.maxConcurrent ?? 8;
  const cacheSize = opts.cacheSize ?? 4096;
  const cacheMs = opts.cacheMs ?? 10 * 60_000;
  const tokens: TokenEntry[] = [];
  const users = new Map<string, UserEntry>();
  for (const raw of opts.tokens) {
    const problem = tokenEntryProblem(raw);
    if (problem) throw new PeerwebError('PW_ERR_CONFIG_INVALID', { key: 'mirror.clients.tokens', value: JSON.stringify(raw.split(':')[0] + ':…'), reason: problem });
    const [name = '', , hex = ''] = raw.split(':');
    if (tokens.some((t) => t.name === name)) throw new PeerwebError('PW_ERR_CONFIG_INVALID', { key: 'mirror.clients.tokens', value: JSON.stringify(name), reason: 'names must be unique' });
    tokens.push({ name, hash: Buffer.from(hex, 'hex') });
  }
  for (const raw of opts.users) {
    const problem = userEntryProblem(raw);
    if (problem) throw new PeerwebError('PW_ERR_CONFIG_INVALID', { key: 'mirror.clients.users', value: JSON.stringify(raw.split(':')[0] + ':…'), reason: problem });
    const [name = '', , ln, r, p, salt = '', hash = ''] = raw.split(':');
    if (users.has(name)) throw new PeerwebError('PW_ERR_CONFIG_INVALID', { key: 'mirror.clients.users', value: JSON.stringify(name), reason: 'names must be unique' });
    users.set(name, { name, log2n: Number(ln), r: Number(r), p: Number(p), salt: Buffer.from(salt, 'base64url'), hash: Buffer.from(hash, 'base64url') });
  }
  // An unknown user name costs as much as a known one.
  const dummy: UserEntry = { name: '', ...SCRYPT_DEFAULTS, salt: randomBytes(16), hash: randomBytes(32) };
  const cache = new Map<string, { outcome: AuthOutcome; at: number }>();
  let running = 0;

  function checkToken(token: string): AuthOutcome {
    const h = createHash('sha256').update(token).digest();
    let found: TokenEntry | undefined;
    // Every entry is compared, in constant time, whatever matched before.
    for (const t of tokens) if (timingSafeEqual(t.hash, h) && !found) found = t;
    return found ? { kind: 'ok', identity: { id: `token:${found.name}` } } : { kind: 'invalid', scheme: 'bearer' };
  }

  function remember(key: string, outcome: AuthOutcome): AuthOutcome {
    if (cache.size >= cacheSize) {
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
    cache.set(key, { outcome, at: now() });
    return outcome;
  }

  async function checkPassword(key: string, user: string, password: string): Promise<AuthOutcome> {
    const entry = users.get(user);
    const e = entry ?? dummy;
    running++;
    try {
      const got = await scryptAsync(password.normalize('NFC'), e.salt, e);
      const ok = timingSafeEqual(got, e.hash) && entry !== undefined;
      return remember(key, ok ? { kind: 'ok', identity: { id: `user:${user}` } } : { kind: 'invalid', scheme: 'basic' });
    } finally {
      running--;
    }
  }

  return {
    check(authorization) {
      if (authorization === undefined || authorization.trim() === '') return { kind: 'missing' };
      const m = /^\s*([A-Za-z]+)\s+(\S{1,4096})\s*$/.exec(authorization);
      const scheme = m?.[1]?.toLowerCase();
      if (!m || (scheme !== 'bearer' && scheme !== 'basic')) return { kind: 'invalid', scheme: 'other' };
      const value = m[2] as string;
      if (scheme === 'bearer') return tokens.length ? checkToken(value) : { kind: 'invalid', scheme: 'bearer' };
      if (users.size === 0) return { kind: 'invalid', scheme: 'basic' };
      const key = createHash('sha256').update(authorization).digest('hex');
      const hit = cache.get(key);
      if (hit && now() - hit.at < cacheMs) return hit.outcome;
      if (hit) cache.delete(key);
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) return { kind: 'invalid', scheme: 'basic' };
      if (running >= maxConcurrent) return { kind: 'busy' };
      return checkPassword(key, decoded.slice(0, colon), decoded.slice(colon + 1));
    },
    challenge(outcome) {
      const out: string[] = [];
      if (tokens.length) out.push(`Bearer realm="${realm}"${outcome?.kind === 'invalid' && outcome.scheme === 'bearer' ? ', error="invalid_token"' : ''}`);
      if (users.size) out.push(`Basic realm="${realm}", charset="UTF-8"`);
      return out.join(', ');
    },
  };
}
