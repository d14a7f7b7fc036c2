import { createHash, randomInt } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { Agent, request, type Dispatcher } from 'undici';
import { PeerwebError, isPeerwebError } from '../errors/index.js';
import {
  createReputation, digestEquals, fieldReader, verifyMessage, hashThread, type PublisherKey, parseDigestField, parseLegacyDigest, pieceCount, sha256, type Reputation, type Sha256,
} from '../integrity/index.js';
import {
  MAX_NOTICE_BYTES, METALINK_TYPE, NOTICE_PATH, WELL_KNOWN, authorityOf, parseLinks, parseMetalink, readNoticeUnsigned, verifyNotice, type MetalinkFile,
} from '../mirror/index.js';
import { InOrderHash } from './in-order-hash.js';
import { downloadRanges, type Source } from './ranges.js';

export type { Source } from './ranges.js';

export type GetEvent =
  | { type: 'discovered'; digest: string; size: number | undefined; mirrors: number; pieces: number }
  | { type: 'piece'; index: number; source: string; bytes: number }
  | { type: 'bad'; source: string; index: number | undefined; range?: { start: number; end: number } }
  | { type: 'failed'; source: string; reason: string }
  | { type: 'resumed'; pieces: number }
  /** A listed source left out: the origin's delisting notice names its host. */
  | { type: 'delisted'; source: string }
  | { type: 'fallback'; reason: string };

export interface GetOptions {
  /** The resource at its origin. */
  readonly url: string;
  /** Output file; bytes appear there only after the whole file verified (temp file + rename). */
  readonly out: string;
  /** Expected digest; learned from the origin (HEAD) when absent. */
  readonly digest?: Sha256;
  /**
   * Publisher keys of the origin: when the origin is unreachable and no digest is given, the
   * digest is taken from the origin's signed index as kept by a mirror (checked against these keys).
   */
  readonly originKeys?: readonly PublisherKey[];
  /**
   * Looks the publisher keys up (DNS) when `originKeys` is empty; called only when a key is needed
   * (origin unreachable, no digest given). A rejection's message explains why no key is known.
   */
  readonly lookupOriginKeys?: () => Promise<readonly PublisherKey[]>;
  /** Extra mirror URLs of the resource (besides those the origin lists). */
  readonly mirrors?: readonly string[];
  /**
   * Authorization field values for sources under a base URL: mirrors that restrict their clients
   * (the origin leaves them out of its Link lists; name them in `mirrors`).
   */
  readonly mirrorAuth?: readonly { readonly base: string; readonly authorization: string }[];
  /** Ask the origin for mirrors (List-Mirrors: ?1); default true. */
  readonly listMirrors?: boolean;
  /** Concurrent range requests; default 4. */
  readonly parallel?: number;
  readonly timeoutMs?: number;
  readonly maxSize?: number;
  /** Report bad bytes to the origin (POST /.well-known/peerweb/reports); default true. */
  readonly report?: boolean;
  /**
   * Flush the file to disk before it is renamed into place (default true), so that after a power
   * loss the output path holds the whole verified file or nothing. false skips it, as curl and
   * wget do: faster, but after an operating system crash the output may be empty or incomplete.
   */
  readonly fsync?: boolean;
  /**
   * Memory for pieces that arrive ahead of the in-order whole-file hash (default 32 MiB); beyond
   * it they are read back from the temp file when the hash reaches them.
   */
  readonly hashBufferBytes?: number;
  /**
   * Hash on the process's hash thread (default true): parallel downloads then check their bytes
   * on another core while this thread receives and writes. false hashes inline as bytes arrive.
   */
  readonly hashThread?: boolean;
  readonly reputation?: Reputation;
  readonly signal?: AbortSignal;
  readonly localAddress?: string;
  readonly dispatcher?: Dispatcher;
  readonly onProgress?: (done: number, total: number) => void;
  readonly onEvent?: (e: GetEvent) => void;
}

/** How the bytes were proven. */
export interface Verification {
  /** Each piece was checked against Metalink piece hashes as it arrived. */
  readonly pieces: boolean;
  /** The whole-file SHA-256 was computed (in file order, as pieces completed). */
  readonly whole: boolean;
  /** Bytes read back from the temp file to compute that hash (0 when it kept pace with the download). */
  readonly readBackBytes: number;
}

export interface GetResult {
  readonly digest: Sha256;
  readonly size: number;
  /** Verified bytes taken from each source. */
  readonly bytesFrom: Readonly<Record<string, number>>;
  readonly originBytes: number;
  /** Sources that served bad bytes in this run. */
  readonly liars: readonly string[];
  readonly resumedPieces: number;
  readonly verification: Verification;
}

/** What the origin's HEAD says of a download begun on its Metalink alone. */
type Confirmation = 'ok' | 'check-whole' | 'restart';

/** Where the expected digest came from. */
type DigestFrom = 'given' | 'origin' | 'index';

interface Plan {
  digest: Sha256;
  digestFrom: DigestFrom;
  size: number | undefined;
  metalink: MetalinkFile | undefined;
  /**
   * The Metalink came from the origin itself, as did the digest: its piece hashes are the
   * publisher's, so pieces that match them prove the file without a second, whole-file hash.
   */
  metalinkTrusted: boolean;
  sources: Source[];
  origin: Source;
}

const MAX_SOURCES = 64;
/** Files at least this large known only by their whole digest are still fetched in parallel ranges. */
const MIN_RANGED = 1024 * 1024;

class DigestMismatch extends Error {}

function abortError(url: string): PeerwebError {
  return new PeerwebError('PW_ERR_GET_INTERRUPTED', { url });
}

/** Range size for a file known only by its whole digest: about 32 ranges, 256 KiB to 4 MiB, a power of two. */
export function rangeSizeFor(size: number): number {
  let p = 256 * 1024;
  while (p < 4 * 1024 * 1024 && p * 32 < size) p *= 2;
  return p;
}

export async function getVerified(opts: GetOptions): Promise<GetResult> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const maxSize = opts.maxSize ?? 1024 ** 4;
  const rep = opts.reputation ?? createReputation({ maxFailures: 2 });
  const ownAgent = opts.dispatcher ? undefined : new Agent({ connect: { timeout: timeoutMs, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) }, connections: 16 });
  const dispatcher = opts.dispatcher ?? (ownAgent as Agent);
  const originUrl = new URL(opts.url);
  const fsync = opts.fsync ?? true;
  const bytesFrom: Record<string, number> = {};
  const liars = new Set<string>();
  const emit = (e: GetEvent) => opts.onEvent?.(e);
  const authFor = (url: string): string | undefined => opts.mirrorAuth?.find((a) => url.startsWith(a.base))?.authorization;
  const authHeader = (url: string): Record<string, string> => { const a = authFor(url); return a ? { authorization: a } : {}; };
  /** Hosts the origin's delisting notice names (filled before the first source is taken). */
  const delisted = new Set<string>();

  async function report(source: string, range?: { start: number; end: number }): Promise<void> {
    if (opts.report === false || source === opts.url) return;
    try {
      const res = await request(`${originUrl.origin}/.well-known/peerweb/reports`, {
        method: 'POST', dispatcher, headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url: opts.url, mirror: source, ...(range ? { range } : {}) }), headersTimeout: timeoutMs, bodyTimeout: timeoutMs,
      });
      await res.body.dump();
    } catch {
      // The origin may be down; the source is distrusted locally anyway.
    }
  }

  function liar(source: string, index: number | undefined, range?: { start: number; end: number }): Promise<void> {
    rep.bad(source);
    liars.add(source);
    emit({ type: 'bad', source, index, ...(range ? { range } : {}) });
    return report(source, range);
  }

  /** GET of a Metalink document; undefined when it cannot be had (the download goes on without it). */
  async function fetchMetalinkText(url: string, quiet = false): Promise<string | undefined> {
    try {
      const res = await request(url, { dispatcher, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: opts.signal });
      if (res.statusCode !== 200) {
        await res.body.dump().catch(() => undefined);
        return undefined;
      }
      return Buffer.from(await res.body.arrayBuffer()).toString('utf8');
    } catch (err) {
      if (opts.signal?.aborted) throw abortError(opts.url);
      if (!quiet) emit({ type: 'failed', source: url, reason: (err as Error).message });
      return undefined;
    }
  }

  /**
   * The origin's delisting notice (GET /.well-known/peerweb/delisted, asked past caches alongside
   * the HEAD): hosts delisted after a failed audit are never asked, even when a stale map, Link
   * list or Metalink still names them. With publisher keys the notice must carry their signature;
   * without, it is taken from the origin like its HEAD (it can only take sources away). A missing
   * or bad notice leaves the sources as they are: every byte is verified anyway.
   */
  async function readDelisted(): Promise<void> {
    const wait = Math.min(timeoutMs, 5000);
    try {
      const res = await request(`${originUrl.origin}${NOTICE_PATH}`, { dispatcher, headersTimeout: wait, bodyTimeout: wait, signal: opts.signal, headers: { 'cache-control': 'no-cache' } });
      const chunks: Buffer[] = [];
      let n = 0;
      for await (const c of res.body) {
        n += (c as Buffer).length;
        if (n > MAX_NOTICE_BYTES) { res.body.destroy(); return; }
        chunks.push(c as Buffer);
      }
      if (res.statusCode !== 200) return;
      const body = Buffer.concat(chunks);
      const field = fieldReader(res.headers as Record<string, string | string[] | undefined>);
      const keys = opts.originKeys ?? [];
      const notice = keys.length ? await verifyNotice(field, body, 'response', async () => keys) : readNoticeUnsigned(field, body);
      if (notice.origin !== originUrl.origin) return;
      const now = Date.now();
      for (const m of notice.mirrors) if (Date.parse(m.until) > now) delisted.add(m.authority);
    } catch (err) {
      if (opts.signal?.aborted) throw abortError(opts.url);
    }
  }

  interface HeadInfo {
    digest: Sha256 | undefined;
    size: number | undefined;
    duplicates: { href: string; pri: number | undefined }[];
    metalinkUrl: string | undefined;
    error: string | undefined;
  }

  /** HEAD at the origin with List-Mirrors: ?1: its digest, size, mirrors and Metalink link. */
  async function probeOrigin(): Promise<HeadInfo> {
    const info: HeadInfo = { digest: undefined, size: undefined, duplicates: [], metalinkUrl: undefined, error: undefined };
    try {
      const res = await request(opts.url, {
        method: 'HEAD', dispatcher, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: opts.signal,
        headers: opts.listMirrors === false ? {} : { 'list-mirrors': '?1' },
      });
      await res.body.dump();
      if (res.statusCode !== 200) {
        info.error = `origin answered HEAD with ${res.statusCode}`;
        return info;
      }
      const h = (n: string) => { const v = res.headers[n]; return Array.isArray(v) ? v.join(', ') : v; };
      const rd = h('repr-digest');
      info.digest = rd ? parseDigestField(rd) : h('digest') ? parseLegacyDigest(h('digest') as string) : undefined;
      if (!info.digest) info.error = 'origin sent no Repr-Digest';
      const cl = Number(h('content-length'));
      if (Number.isSafeInteger(cl) && cl >= 0) info.size = cl;
      for (const l of parseLinks(h('link') ?? '', opts.url)) {
        if (l.rel === 'duplicate') {
          const pri = Number(l.params.pri);
          info.duplicates.push({ href: l.href, pri: Number.isSafeInteger(pri) ? pri : undefined });
        } else if (l.rel === 'describedby' && (l.params.type ?? '').toLowerCase() === METALINK_TYPE) info.metalinkUrl = l.href;
      }
    } catch (err) {
      if (opts.signal?.aborted) throw abortError(opts.url);
      info.error = `origin unreachable: ${(err as Error).message}`;
    }
    return info;
  }

  function parseMetalinkText(text: string | undefined, url: string): MetalinkFile | undefined {
    if (text === undefined) return undefined;
    try {
      return parseMetalink(text, url);
    } catch (err) {
      if (!isPeerwebError(err)) emit({ type: 'failed', source: url, reason: (err as Error).message });
      return undefined;
    }
  }

  function newSources(): { sources: Source[]; add: (url: string, priority?: number) => void } {
    const sources: Source[] = [];
    const seen = new Set<string>([opts.url]);
    const add = (url: string, priority?: number) => {
      if (seen.has(url) || sources.length >= MAX_SOURCES) return;
      try {
        const u = new URL(url);
        if (u.protocol !== 'http:' && u.protocol !== 'https:') return;
      } catch {
        return;
      }
      seen.add(url);
      if (delisted.has(authorityOf(url) ?? '')) {
        emit({ type: 'delisted', source: url });
        return;
      }
      const authorization = authFor(url);
      sources.push({ url, ...(priority !== undefined ? { priority } : {}), ...(authorization ? { authorization } : {}) });
    };
    for (const m of opts.mirrors ?? []) add(m, 0);
    return { sources, add };
  }

  /** The plan once the HEAD answered (or failed): digest, size, sources and the Metalink if linked. */
  async function planFrom(head: HeadInfo, guessed: { url: string; text: Promise<string | undefined> } | undefined): Promise<Plan> {
    let digest = opts.digest;
    let digestFrom: DigestFrom = 'given';
    let size: number | undefined;
    let metalink: MetalinkFile | undefined;
    let metalinkTrusted = false;
    const { sources, add } = newSources();
    const fromOrigin = head.digest;
    if (fromOrigin && digest && !digestEquals(fromOrigin, digest)) emit({ type: 'fallback', reason: 'origin digest differs from the given digest; the given one is used' });
    if (!digest && fromOrigin) {
      digest = fromOrigin;
      digestFrom = 'origin';
    }
    if (fromOrigin && digest && digestEquals(fromOrigin, digest)) size = head.size;
    for (const d of head.duplicates) add(d.href, d.pri);
    let keyError: string | undefined;
    if (!digest && (opts.originKeys?.length || opts.lookupOriginKeys)) {
      if (!sources.length) keyError = 'no --mirror to read the signed index from';
      else {
        let keys = opts.originKeys ?? [];
        if (!keys.length && opts.lookupOriginKeys) {
          try {
            keys = await opts.lookupOriginKeys();
            if (!keys.length) keyError = `no publisher key for ${originUrl.hostname}`;
          } catch (err) {
            keyError = (err as Error).message;
          }
        }
        for (const s of keys.length ? sources : []) {
          const fromIndex = await digestFromMirrorIndex(s.url, keys);
          if (fromIndex) {
            digest = fromIndex.digest;
            digestFrom = 'index';
            size = fromIndex.size;
            break;
          }
        }
        if (!digest && keys.length) keyError = 'no mirror holds an index signed by the publisher key that lists this file';
      }
    }
    if (!digest) throw new PeerwebError('PW_ERR_DIGEST_UNKNOWN', { url: opts.url, reason: [head.error ?? 'no digest', keyError].filter(Boolean).join('; ') });
    if (head.metalinkUrl) {
      const text = head.metalinkUrl === guessed?.url ? await guessed.text : await fetchMetalinkText(head.metalinkUrl);
      const m = parseMetalinkText(text, head.metalinkUrl);
      if (m && digestEquals(m.digest, digest) && (size === undefined || size === m.size)) {
        metalink = m;
        size = m.size;
        metalinkTrusted = digestFrom === 'origin' && new URL(head.metalinkUrl).origin === originUrl.origin;
        for (const u of m.urls) add(u.url, u.priority);
      }
    }
    if (size === undefined && sources.length) size = await sizeFromMirror(sources);
    emit({ type: 'discovered', digest: digest.toString('base64'), size, mirrors: sources.length, pieces: metalink?.pieces?.length ?? 0 });
    return { digest, digestFrom, size, metalink, metalinkTrusted, sources, origin: { url: opts.url, origin: true } };
  }

  /**
   * The size a mirror announces (HEAD), for planning parallel ranges when the origin could not
   * say; an untrue size only makes the whole-file hash fail, and then the file is fetched whole.
   */
  async function sizeFromMirror(sources: readonly Source[]): Promise<number | undefined> {
    for (const s of rep.rank(sources).slice(0, 2)) {
      try {
        const res = await request(s.url, { method: 'HEAD', dispatcher, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: opts.signal, headers: { 'accept-encoding': 'identity', ...authHeader(s.url) } });
        await res.body.dump();
        const cl = Number(res.headers['content-length']);
        if (res.statusCode === 200 && Number.isSafeInteger(cl) && cl >= 0) return cl;
      } catch {
        if (opts.signal?.aborted) throw abortError(opts.url);
      }
    }
    return undefined;
  }

  /** The digest of this resource in the origin's signed index as held by the mirror at `mirrorUrl`. */
  async function digestFromMirrorIndex(mirrorUrl: string, originKeys: readonly PublisherKey[]): Promise<{ digest: Sha256; size: number } | undefined> {
    const path = originUrl.pathname;
    if (!mirrorUrl.endsWith(path.slice(1))) return undefined;
    const base = mirrorUrl.slice(0, mirrorUrl.length - path.length + 1);
    try {
      const res = await request(`${base}.well-known/peerweb/index?covering=${encodeURIComponent(path)}`, { dispatcher, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: opts.signal, headers: authHeader(mirrorUrl) });
      const body = Buffer.from(await res.body.arrayBuffer());
      if (res.statusCode !== 200 || body.length > 64 * 1024 * 1024) return undefined;
      const field = fieldReader(res.headers as Record<string, string | string[] | undefined>);
      const cd = field('content-digest');
      if (!cd || !digestEquals(parseDigestField(cd) ?? Buffer.alloc(0), sha256(body))) return undefined;
      const keys = new Map(originKeys.map((k) => [k.keyId, k.publicKey]));
      verifyMessage({ status: 200, field }, { keys: (id) => keys.get(id), required: ['@status', 'content-digest'], tag: 'peerweb-index', maxAgeSec: 7 * 86_400 });
      const json = JSON.parse(body.toString('utf8')) as { origin?: unknown; files?: { path?: unknown; digest?: unknown; size?: unknown }[] };
      if (json.origin !== originUrl.origin || !Array.isArray(json.files)) return undefined;
      const f = json.files.find((x) => x.path === path);
      const d = f && typeof f.digest === 'string' ? parseDigestField(f.digest) : undefined;
      return d && Number.isSafeInteger(f?.size) ? { digest: d, size: f?.size as number } : undefined;
    } catch {
      if (opts.signal?.aborted) throw abortError(opts.url);
      return undefined;
    }
  }

  /** Sources in the order to try: ranked usable mirrors, then the origin. */
  function candidates(plan: Plan): Source[] {
    const ranked = rep.rank(plan.sources);
    return rep.isUsable(plan.origin.url) ? [...ranked, plan.origin] : ranked;
  }

  const noSourceReason = () => (liars.size ? `${liars.size} sources lied, the rest failed` : 'every source failed');
  const tmp = `${opts.out}.pwpart`;
  const stateFile = `${opts.out}.pwpart.json`;

  /** Whole-file download from one source at a time, verified before it is renamed into place. */
  async function wholeFile(plan: Plan): Promise<GetResult> {
    for (;;) {
      // Spread clients over the best few mirrors; the origin only when no mirror is left.
      const c = candidates(plan);
      const mirrorsLeft = c.filter((s) => !s.origin);
      const named = mirrorsLeft.filter((s) => s.priority === 0);
      const src = named.length ? named[randomInt(named.length)] : mirrorsLeft.length ? mirrorsLeft[randomInt(Math.min(4, mirrorsLeft.length))] : c[0];
      if (!src) throw new PeerwebError('PW_ERR_GET_NO_SOURCE', { url: opts.url, reason: noSourceReason() });
      const t0 = performance.now();
      // Streamed to the temp file while hashing; renamed to the output only if the digest matches.
      let size: number;
      try {
        size = await streamToTemp(src.url, Math.min(maxSize, plan.size ?? maxSize), plan.size);
      } catch (err) {
        await rm(tmp, { force: true });
        if (opts.signal?.aborted) throw abortError(opts.url);
        if (err instanceof DigestMismatch) {
          await liar(src.url, undefined);
          continue;
        }
        rep.failed(src.url);
        if (src.origin) rep.failed(src.url);
        emit({ type: 'failed', source: src.url, reason: (err as Error).message });
        continue;
      }
      rep.good(src.url, size, performance.now() - t0);
      bytesFrom[src.url] = size;
      await rename(tmp, opts.out);
      opts.onProgress?.(size, size);
      return {
        digest: plan.digest, size, bytesFrom, originBytes: src.origin ? size : 0, liars: [...liars], resumedPieces: 0,
        verification: { pieces: false, whole: true, readBackBytes: 0 },
      };
    }

    async function streamToTemp(url: string, limit: number, expectedSize: number | undefined): Promise<number> {
      const res = await request(url, { dispatcher, signal: opts.signal, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, headers: { 'accept-encoding': 'identity', ...authHeader(url) } });
      if (res.statusCode !== 200) {
        await res.body.dump().catch(() => undefined);
        throw new Error(`status ${res.statusCode}`);
      }
      const h = createHash('sha256');
      const fh = await open(tmp, 'w');
      let n = 0;
      try {
        for await (const c of res.body) {
          const chunk = c as Buffer;
          n += chunk.length;
          if (n > limit) {
            res.body.destroy();
            throw new DigestMismatch(`more than ${limit} bytes`);
          }
          h.update(chunk);
          await fh.write(chunk);
          if (expectedSize) opts.onProgress?.(Math.min(n, expectedSize - 1), expectedSize);
        }
        if (fsync) await fh.sync();
      } finally {
        await fh.close();
      }
      if (!digestEquals(h.digest(), plan.digest)) throw new DigestMismatch('digest differs');
      return n;
    }
  }

  /**
   * Parallel ranges from several sources into the temp file. With piece hashes each piece is
   * checked as it arrives (and a bad one fetched again elsewhere); when those hashes are not the
   * origin's own, or there are none, the whole-file hash is computed in file order as the pieces
   * complete. Either way each byte is hashed once as it arrives, plus once more only when both
   * checks are needed; the file is never read back unless pieces outran the hash buffer.
   */
  async function ranged(plan: Plan, size: number, pieceSize: number, pieces: readonly Sha256[] | undefined, confirm?: () => Promise<Confirmation>): Promise<GetResult | 'restart'> {
    const wholeNeeded = !pieces || !plan.metalinkTrusted;
    const thread = opts.hashThread === false ? undefined : hashThread();
    const whole = wholeNeeded ? new InOrderHash(tmp, size, pieceSize, opts.hashBufferBytes ?? 32 * 1024 * 1024, thread?.stream()) : undefined;
    const pick = (active: ReadonlyMap<string, number>): Source | undefined => {
      const c = candidates(plan);
      const mirrors = c.filter((s) => !s.origin);
      const pool = mirrors.length ? mirrors : c;
      // Mirrors the user named (priority 0) come first; otherwise spread over the best few,
      // the least busy of them, starting at a random one so that a crowd spreads.
      const named = pool.filter((s) => s.priority === 0);
      const top = named.length ? named : pool.slice(0, Math.max(4, opts.parallel ?? 4));
      const start = top.length ? randomInt(top.length) : 0;
      let best: Source | undefined;
      for (let k = 0; k < top.length; k++) {
        const s = top[(start + k) % top.length] as Source;
        if (!best || (active.get(s.url) ?? 0) < (active.get(best.url) ?? 0)) best = s;
      }
      return best;
    };
    /** Without piece hashes: which source sent each range, to find the liar if the whole fails. */
    const servedBy = new Map<number, string>();
    let outcome;
    try {
      outcome = await downloadRanges({
        url: opts.url, size, pieceSize, tmp, stateFile, parallel: opts.parallel ?? 4, dispatcher, timeoutMs, signal: opts.signal, fsync,
        // A state file of another mode (other pieces, other checks) is not reused.
        stateKey: `${plan.digest.toString('hex')}${pieces ? '' : ':ranges'}`,
        pick, noSourceReason,
        ...(pieces ? { pieceHash: (i: number) => pieces[i] as Sha256 } : {}),
        // When the whole-file hash runs too (in file order, at normal priority), it waits for each
        // piece's check: those then run at normal priority as well.
        ...(thread ? { hashThreads: { foreground: thread, background: whole ? thread : hashThread('background') } } : {}),
        onGood: (source, bytes, ms) => rep.good(source, bytes, ms),
        onFailed: (source, reason) => {
          rep.failed(source);
          emit({ type: 'failed', source, reason });
        },
        onBad: (source, index, range) => liar(source, index, range),
        onPiece: (index, source, buf, bytes) => {
          if (!pieces) servedBy.set(index, source.url);
          emit({ type: 'piece', index, source: source.url, bytes });
          return whole?.add(index, buf);
        },
        onKept: (indices) => {
          whole?.kept(indices);
          emit({ type: 'resumed', pieces: indices.length });
        },
        ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      });
    } catch (err) {
      await whole?.close();
      throw err;
    }
    const verdict = confirm ? await confirm().catch(async (err: unknown) => { await whole?.close(); throw err; }) : 'ok';
    if (verdict === 'restart') {
      await whole?.close();
      await rm(tmp, { force: true });
      await rm(stateFile, { force: true });
      emit({ type: 'fallback', reason: 'the origin did not confirm the digest of its Metalink; starting over' });
      return 'restart';
    }
    let readBackBytes = outcome.checkedFromFile;
    let wholeDigest: Sha256 | undefined;
    /** The whole-file hash read back from the temp file (every piece is in it). */
    const hashFromFile = async (): Promise<Sha256> => {
      const again = new InOrderHash(tmp, size, pieceSize, 0);
      again.kept(Array.from({ length: pieceCount(size, pieceSize) }, (_, i) => i));
      const d = await again.digest();
      readBackBytes += again.readBackBytes;
      return d;
    };
    if (whole) {
      // Should the hash thread die, the file is complete and its pieces checked: hash it here.
      wholeDigest = await whole.digest().catch((err: unknown) => { if (!thread) throw err; return hashFromFile(); });
      readBackBytes += whole.readBackBytes;
    } else if (verdict === 'check-whole') {
      // Rare: the pieces were checked against a Metalink the origin's HEAD did not link; prove the whole.
      wholeDigest = await hashFromFile();
    }
    if (wholeDigest && !digestEquals(wholeDigest, plan.digest)) {
      await rm(stateFile, { force: true });
      if (pieces) {
        // Every piece matched its hash yet the whole does not: the piece list is wrong.
        await rm(tmp, { force: true });
        emit({ type: 'fallback', reason: 'piece hashes do not add up to the digest; downloading whole' });
        return wholeFile({ ...plan, metalink: undefined });
      }
      // Without piece hashes some source sent bad bytes: fetch whole files one source at a time
      // (a liar picked is caught by the digest), then compare each range of the failed attempt
      // with the verified file to name the sources that sent bad ranges.
      emit({ type: 'fallback', reason: 'ranges do not add up to the digest; downloading whole from one source at a time' });
      const suspect = `${tmp}.bad`;
      await rename(tmp, suspect);
      try {
        const done = await wholeFile({ ...plan, metalink: undefined });
        await blameRanges(suspect, size, pieceSize, servedBy);
        return { ...done, liars: [...liars] };
      } finally {
        await rm(suspect, { force: true });
      }
    }
    await rename(tmp, opts.out);
    await rm(stateFile, { force: true });
    for (const [s, n] of Object.entries(outcome.bytesFrom)) bytesFrom[s] = (bytesFrom[s] ?? 0) + n;
    return {
      digest: plan.digest, size, bytesFrom, originBytes: outcome.originBytes, liars: [...liars], resumedPieces: outcome.keptPieces,
      verification: { pieces: pieces !== undefined, whole: wholeDigest !== undefined, readBackBytes },
    };
  }

  /** Compares each range of a failed attempt with the verified output; the sources of differing ranges lied. */
  async function blameRanges(suspect: string, size: number, pieceSize: number, servedBy: ReadonlyMap<number, string>): Promise<void> {
    const [bad, good] = await Promise.all([open(suspect, 'r'), open(opts.out, 'r')]);
    try {
      const a = Buffer.allocUnsafe(pieceSize);
      const b = Buffer.allocUnsafe(pieceSize);
      for (const [i, source] of servedBy) {
        if (liars.has(source)) continue;
        const r = { start: i * pieceSize, end: Math.min(size, (i + 1) * pieceSize) - 1 };
        const len = r.end - r.start + 1;
        const [x, y] = await Promise.all([bad.read(a, 0, len, r.start), good.read(b, 0, len, r.start)]);
        if (x.bytesRead !== len || y.bytesRead !== len || !a.subarray(0, len).equals(b.subarray(0, len))) await liar(source, i, r);
      }
    } finally {
      await bad.close();
      await good.close();
    }
  }

  /**
   * Starts on the Metalink the origin serves at its well-known path before the HEAD answered:
   * pieces are checked against its hashes as they arrive, and before the file is renamed into place
   * the HEAD must confirm its digest (or, with --digest, the whole file must match that digest).
   */
  async function earlyStart(m: MetalinkFile & { pieces: readonly Sha256[]; pieceSize: number }, metalinkUrl: string, head: Promise<HeadInfo>): Promise<GetResult | 'restart'> {
    const { sources, add } = newSources();
    for (const u of m.urls) add(u.url, u.priority);
    // The HEAD's mirrors join the pool as soon as it answers, if it names the same version.
    void head.then((h) => {
      if (h.digest && digestEquals(h.digest, m.digest)) for (const d of h.duplicates) add(d.href, d.pri);
    }, () => undefined);
    const plan: Plan = {
      digest: opts.digest ?? m.digest, digestFrom: opts.digest ? 'given' : 'origin', size: m.size, metalink: m,
      metalinkTrusted: !opts.digest, sources, origin: { url: opts.url, origin: true },
    };
    emit({ type: 'discovered', digest: plan.digest.toString('base64'), size: m.size, mirrors: sources.length, pieces: m.pieces.length });
    const confirm = async (): Promise<Confirmation> => {
      const h = await head;
      if (opts.digest) {
        if (h.digest && !digestEquals(h.digest, opts.digest)) emit({ type: 'fallback', reason: 'origin digest differs from the given digest; the given one is used' });
        return 'ok';
      }
      if (!h.digest || !digestEquals(h.digest, m.digest)) return 'restart';
      return h.metalinkUrl === metalinkUrl ? 'ok' : 'check-whole';
    };
    return ranged(plan, m.size, m.pieceSize, m.pieces, confirm);
  }

  async function run(plan: Plan): Promise<GetResult> {
    const m = plan.metalink;
    const done = m?.pieces && m.pieceSize && m.size <= maxSize ? await ranged(plan, m.size, m.pieceSize, m.pieces)
      : plan.size !== undefined && plan.size >= MIN_RANGED && plan.size <= maxSize && plan.sources.length > 0 && (opts.parallel ?? 4) > 1
        ? await ranged(plan, plan.size, rangeSizeFor(plan.size), undefined)
        : await wholeFile(plan);
    // Without a confirmation step ranged() never starts over.
    if (done === 'restart') throw new Error('unexpected restart');
    return done;
  }

  try {
    // The HEAD and the Metalink a peerweb origin front serves at a well-known path are asked at once.
    const guessedUrl = originUrl.search ? undefined : `${originUrl.origin}${WELL_KNOWN}metalink${originUrl.pathname}`;
    const guessed = guessedUrl ? { url: guessedUrl, text: fetchMetalinkText(guessedUrl, true).catch(() => undefined) } : undefined;
    const head = probeOrigin();
    head.catch(() => undefined);
    const notice = readDelisted();
    notice.catch(() => undefined);
    if (guessed) {
      const text = await guessed.text;
      await notice;
      let m: MetalinkFile | undefined;
      try { m = text === undefined ? undefined : parseMetalink(text, guessed.url); } catch { m = undefined; }
      if (m?.pieces && m.pieceSize && m.size <= maxSize && (!opts.digest || digestEquals(m.digest, opts.digest))) {
        const r = await earlyStart(m as MetalinkFile & { pieces: readonly Sha256[]; pieceSize: number }, guessed.url, head);
        if (r !== 'restart') return r;
      }
    }
    const headInfo = await head;
    await notice;
    return await run(await planFrom(headInfo, guessed));
  } finally {
    await ownAgent?.close().catch(() => undefined);
  }
}
