import { randomInt } from 'node:crypto';
import { Agent, ProxyAgent, request, type Dispatcher } from 'undici';
import { mirrorUrl, type MirrorRecord, type MirrorRegistry } from './registry.js';
import { fieldReader, signMessage, type PublisherKey } from '../integrity/index.js';
import type { ContentSource } from './source.js';
import type { ByteRange } from './range.js';

export type AuditVerdict = 'pass' | 'fail' | 'missing' | 'unreachable';

export interface AuditResult {
  readonly base: string;
  readonly path: string;
  readonly verdict: AuditVerdict;
  /** Each checked range and the route it took ('direct' or the proxy URL). */
  readonly checks: readonly { range: ByteRange; via: string; ok: boolean | undefined }[];
  readonly detail?: string;
}

export interface AuditorOptions {
  readonly registry: MirrorRegistry;
  readonly source: ContentSource;
  /** Ranges checked per audit. */
  readonly ranges: number;
  /** Largest range asked for, bytes. */
  readonly maxRangeSize?: number;
  /** Third-party forward proxies; audits go through randomly chosen ones as well as directly. */
  readonly proxies?: readonly string[];
  readonly timeoutMs?: number;
  /** Local address for direct audits (tests put the origin on its own loopback address). */
  readonly localAddress?: string;
  readonly onResult?: (r: AuditResult) => void;
  readonly now?: () => number;
  /**
   * Publisher key: when a mirror refuses an anonymous audit (401 or 403 because it restricts its
   * clients, 429 because it limits them), the same range is asked again with a request signed by
   * this key (tag "peerweb-audit"), which a peerweb mirror admits without rules or limits, and
   * later audits of that mirror are signed at once; the origin is never locked out of its audits.
   */
  readonly key?: PublisherKey;
}

export const AUDIT_TAG = 'peerweb-audit';

export interface Auditor {
  /** Audits one mirror now; `path` and `range` focus it (a client report). Applies the verdict to the registry. */
  audit(base: string, focus?: { path?: string; range?: ByteRange }): Promise<AuditResult | undefined>;
  /** Audits every mirror not yet delisted. */
  auditAll(): Promise<AuditResult[]>;
  start(intervalMs: number): void;
  close(): Promise<void>;
}

const MISSES_BEFORE_UNLIST = 3;

export function createAuditor(opts: AuditorOptions): Auditor {
  const maxRange = opts.maxRangeSize ?? 64 * 1024;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const now = opts.now ?? Date.now;
  // localAddress is a client option: undici ignores it inside `connect`.
  const direct = new Agent({ connect: { timeout: timeoutMs }, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
  const proxyAgents = (opts.proxies ?? []).map((uri) => ({ uri, agent: new ProxyAgent({ uri, proxyTunnel: false }) }));
  const inFlight = new Map<string, Promise<AuditResult | undefined>>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  // Mirrors that refused an anonymous audit: later audits of them are signed at once.
  const signFor = new Set<string>();
  async function fetchRange(url: string, range: ByteRange, dispatcher: Dispatcher, base: string, signed = signFor.has(base)): Promise<{ status: number; body: Buffer; truncated: boolean } | undefined> {
    try {
      const headers: Record<string, string> = { range: `bytes=${range.start}-${range.end}`, 'cache-control': 'no-cache' };
      if (signed && opts.key?.privateKey) {
        const s = signMessage({ method: 'GET', targetUri: url, field: fieldReader(headers) }, { key: opts.key, components: ['@method', '@target-uri', 'range'], tag: AUDIT_TAG });
        headers['signature-input'] = s.signatureInput;
        headers.signature = s.signature;
      }
      const res = await request(url, { dispatcher, method: 'GET', headers, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
      if ((res.statusCode === 401 || res.statusCode === 403 || res.statusCode === 429) && !signed && opts.key?.privateKey) {
        await res.body.dump().catch(() => undefined);
        if (signFor.size >= 4096) signFor.clear();
        signFor.add(base);
        return fetchRange(url, range, dispatcher, base, true);
      }
      const limit = range.end - range.start + 1;
      const chunks: Buffer[] = [];
      let n = 0;
      let truncated = false;
      // A 206 must be exactly the range; a 200 (Range ignored) is read only as far as the range's end.
      const cap = res.statusCode === 200 ? range.end + 1 : limit + 1;
      for await (const c of res.body) {
        chunks.push(c as Buffer);
        n += (c as Buffer).length;
        if (n >= cap) { truncated = res.statusCode === 200; res.body.destroy(); break; }
      }
      return { status: res.statusCode, body: Buffer.concat(chunks), truncated };
    } catch {
      return undefined;
    }
  }

  async function pickPath(r: MirrorRecord): Promise<string | undefined> {
    const prefix = r.prefixes[randomInt(r.prefixes.length)];
    if (prefix === undefined) return undefined;
    const paths = await opts.source.list(prefix, 1000);
    return paths.length ? paths[randomInt(paths.length)] : undefined;
  }

  async function run(base: string, focus: { path?: string; range?: ByteRange } = {}): Promise<AuditResult | undefined> {
    const r = opts.registry.get(base);
    if (!r || r.state === 'delisted') return undefined;
    const path = focus.path ?? (await pickPath(r));
    if (!path) return undefined;
    const own = await opts.source.get(path);
    if (!own || own.body.length === 0) return undefined;
    const size = own.body.length;
    const ranges: ByteRange[] = [];
    if (focus.range && focus.range.start < size) ranges.push({ start: focus.range.start, end: Math.min(focus.range.end, size - 1, focus.range.start + maxRange - 1) });
    while (ranges.length < Math.max(opts.ranges, 1) + (focus.range ? 1 : 0)) {
      const len = Math.min(size, 1 + randomInt(Math.min(maxRange, size)));
      const start = randomInt(size - len + 1);
      ranges.push({ start, end: start + len - 1 });
    }
    const url = mirrorUrl(base, path);
    const checks: { range: ByteRange; via: string; ok: boolean | undefined }[] = [];
    let verdict: AuditVerdict = 'pass';
    let detail: string | undefined;
    // Routes: direct and through proxies, shuffled, so the mirror cannot tell audits from readers.
    const first = randomInt(2);
    for (const [i, range] of ranges.entries()) {
      const useProxy = proxyAgents.length > 0 && (i + first) % 2 === 1;
      const p = useProxy ? proxyAgents[randomInt(proxyAgents.length)] : undefined;
      const got = await fetchRange(url, range, p?.agent ?? direct, base);
      const via = p?.uri ?? 'direct';
      if (!got) {
        checks.push({ range, via, ok: undefined });
        if (verdict === 'pass') { verdict = 'unreachable'; detail = `no answer via ${via}`; }
        continue;
      }
      if (got.status === 404 || got.status === 410) {
        checks.push({ range, via, ok: undefined });
        if (verdict === 'pass') { verdict = 'missing'; detail = `status ${got.status} via ${via}`; }
        continue;
      }
      if (got.status !== 200 && got.status !== 206) {
        // Busy, broken or redirecting: inconclusive, not a lie.
        checks.push({ range, via, ok: undefined });
        if (verdict === 'pass') { verdict = 'unreachable'; detail = `status ${got.status} via ${via}`; }
        continue;
      }
      const expected = own.body.subarray(range.start, range.end + 1);
      if (got.status === 200 && !got.truncated && got.body.length !== size) {
        // A full answer of the wrong length is wrong bytes.
        checks.push({ range, via, ok: false });
        verdict = 'fail';
        detail = `${path} is ${got.body.length} bytes via ${via}, not ${size}`;
        continue;
      }
      const actual = got.status === 206 ? got.body : got.status === 200 ? got.body.subarray(range.start, range.end + 1) : undefined;
      const ok = actual !== undefined && actual.equals(expected);
      checks.push({ range, via, ok });
      if (!ok) { verdict = 'fail'; detail = `bytes ${range.start}-${range.end} of ${path} differ via ${via} (status ${got.status})`; }
    }
    if (verdict === 'fail') opts.registry.delist(base, detail ?? 'audit failed');
    else if (verdict === 'pass') opts.registry.markVerified(base, now());
    else {
      r.misses++;
      if (r.state === 'live' && r.misses >= MISSES_BEFORE_UNLIST) opts.registry.unlist(base, detail ?? verdict);
    }
    r.audits++;
    const result: AuditResult = { base, path, verdict, checks, ...(detail !== undefined ? { detail } : {}) };
    opts.onResult?.(result);
    return result;
  }

  const auditor: Auditor = {
    audit(base, focus) {
      const key = `${base} ${focus?.path ?? ''} ${focus?.range ? `${focus.range.start}-${focus.range.end}` : ''}`;
      let p = inFlight.get(key);
      if (!p) {
        if (inFlight.size >= 64) return Promise.resolve(undefined);
        p = run(base, focus).finally(() => inFlight.delete(key));
        inFlight.set(key, p);
      }
      return p;
    },
    async auditAll() {
      const out: AuditResult[] = [];
      for (const r of opts.registry.all()) {
        if (r.state === 'delisted') continue;
        const res = await auditor.audit(r.base);
        if (res) out.push(res);
      }
      return out;
    },
    start(intervalMs) {
      if (timer) return;
      timer = setInterval(() => void auditor.auditAll().catch(() => undefined), intervalMs);
      timer.unref();
    },
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      await Promise.allSettled([...inFlight.values()]);
      await Promise.allSettled([direct.close(), ...proxyAgents.map((p) => p.agent.close())]);
    },
  };
  return auditor;
}
