import type { KeyObject } from 'node:crypto';
import { PeerwebError } from '../errors/index.js';
import { verifyMessage } from '../integrity/index.js';
import { AUDIT_TAG } from './auditor.js';
import type { AuthOutcome, ClientAuth } from './credentials.js';
import { NOTICE_PATH, NOTICE_TAG } from './delist.js';
import { addressRanges, createRateLimiter } from './rate-limit.js';

/** What admission looks at in a request, from a node's parser or from node:http alike. */
export interface AdmissionRequest {
  readonly method: string;
  /** The request target as sent (origin-form or absolute-form). */
  readonly target: string;
  readonly remoteAddress: string;
  header(name: string): string | undefined;
}

export interface AdmissionOptions {
  /** Requests per second per client (address or credential); 0: no limit. */
  readonly rate: number;
  readonly burst: number;
  /** Requests per second for all outsiders together; 0: no limit. */
  readonly globalRate: number;
  /** Address ranges let in without credentials; empty: everyone, unless credentials are configured. */
  readonly allowClients?: readonly string[];
  /** Address ranges with no rules and no limits. */
  readonly exemptClients?: readonly string[];
  /** Bearer tokens and Basic users let in from any address. */
  readonly clientAuth?: ClientAuth;
  /** The origin's publisher keys by key id (read on every signed request: they may be learned late). */
  readonly originKeys: () => ReadonlyMap<string, KeyObject>;
  /** This mirror's public base, for the target URI of origin-form requests. */
  readonly base: () => string;
}

/** Undefined: go on; an error: answer it (401 with its challenge, 403, 429 with Retry-After). */
export type Admission = (req: AdmissionRequest) => PeerwebError | undefined | Promise<PeerwebError | undefined>;

/**
 * Outside clients of a mirror: address rules, credentials and token buckets, one decision for a
 * mirror node and for the library mirror. An address range or a credential, either one, lets a
 * client in; each credential has its own bucket; a password not seen yet costs its address a token
 * before it is hashed, so guessing runs into 429. The origin is never locked out: its pushes (PUT,
 * tag peerweb-push), audits (GET/HEAD, tag peerweb-audit) and delisting notices (POST to the notice
 * path) carry its signature and pass without rules or limits. Only the fields are checked here; a
 * push body is checked against Content-Digest where it is stored.
 */
export function createAdmission(o: AdmissionOptions): Admission {
  const limiter = createRateLimiter({ rate: o.rate || Number.POSITIVE_INFINITY, burst: o.burst, globalRate: o.globalRate || Number.POSITIVE_INFINITY });
  const allowed = o.allowClients?.length ? addressRanges(o.allowClients) : undefined;
  const exempt = addressRanges(o.exemptClients ?? []);
  const clientAuth = o.clientAuth;
  const restricted = allowed !== undefined || clientAuth !== undefined;
  const limited = (key: string, addr: string): PeerwebError | undefined => {
    const wait = limiter.take(key);
    return wait > 0 ? new PeerwebError('PW_ERR_RATE_LIMITED', { source: key === addr ? addr : `${key} at ${addr}`, retryAfter: Math.ceil(wait) }) : undefined;
  };
  const signedByOrigin = (req: AdmissionRequest): boolean => {
    const keys = o.originKeys();
    if (keys.size === 0) return false;
    const path = req.target.split('?')[0] ?? '';
    const rule = req.method === 'PUT' ? { tag: 'peerweb-push', required: ['@method', '@target-uri', 'content-digest'], maxAgeSec: 3600 }
      : req.method === 'GET' || req.method === 'HEAD' ? { tag: AUDIT_TAG, required: ['@method', '@target-uri', 'range'], maxAgeSec: 300 }
        : req.method === 'POST' && path === NOTICE_PATH ? { tag: NOTICE_TAG, required: ['@method', 'content-digest', 'content-type'], maxAgeSec: 3600 }
          : undefined;
    if (!rule) return false;
    try {
      const targetUri = req.target.startsWith('/') ? new URL(req.target, o.base() || 'http://localhost').toString() : new URL(req.target).toString();
      verifyMessage({ method: req.method, targetUri, field: (n) => req.header(n) }, { keys: (id) => keys.get(id), ...rule });
      return true;
    } catch {
      return false;
    }
  };
  return (req) => {
    const addr = req.remoteAddress;
    if (exempt(addr)) return undefined;
    if (req.header('signature-input') !== undefined && signedByOrigin(req)) return undefined;
    const addressOk = allowed ? allowed(addr) : !restricted;
    const auth = req.header('authorization');
    if (clientAuth && auth !== undefined) {
      const decide = (out: AuthOutcome, charged: boolean): PeerwebError | undefined => {
        if (out.kind === 'ok') return limited(out.identity.id, addr);
        if (out.kind === 'busy') return new PeerwebError('PW_ERR_RATE_LIMITED', { source: addr, retryAfter: 1 });
        if (addressOk) return charged ? undefined : limited(addr, addr);
        return (charged ? undefined : limited(addr, addr)) ?? new PeerwebError('PW_ERR_MIRROR_AUTH_REQUIRED', { source: addr, reason: 'the credentials are not valid', challenge: clientAuth.challenge(out) });
      };
      const out = clientAuth.check(auth);
      if (out instanceof Promise) {
        const refused = limited(addr, addr);
        return refused ?? out.then((x) => decide(x, true));
      }
      return decide(out, false);
    }
    if (addressOk) return limited(addr, addr);
    const refused = limited(addr, addr);
    if (refused) return refused;
    if (clientAuth) return new PeerwebError('PW_ERR_MIRROR_AUTH_REQUIRED', { source: addr, reason: 'no credentials', challenge: clientAuth.challenge() });
    return new PeerwebError('PW_ERR_ACCESS_DENIED', { source: addr });
  };
}
