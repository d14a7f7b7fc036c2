import { createHash, randomInt } from 'node:crypto';
import { open, readFile, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { Agent, request, type Dispatcher } from 'undici';
import { PeerwebError, isPeerwebError } from '../errors/index.js';
import {
  createReputation, digestEquals, fieldReader, verifyMessage, type PublisherKey, parseDigestField, parseLegacyDigest, pieceCount, pieceRange, sha256, type Reputation, type Sha256,
} from '../integrity/index.js';
import { METALINK_TYPE, parseLinks, parseMetalink, type MetalinkFile } from '../mirror/index.js';

/** One place bytes may come from. */
export interface Source {
  readonly url: string;
  readonly priority?: number;
  readonly origin?: boolean;
}

export type GetEvent =
  | { type: 'discovered'; digest: string; size: number | undefined; mirrors: number; pieces: number }
  | { type: 'piece'; index: number; source: string; bytes: number }
  | { type: 'bad'; source: string; index: number | undefined; range?: { start: number; end: number } }
  | { type: 'failed'; source: string; reason: string }
  | { type: 'resumed'; pieces: number }
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
  /** Extra mirror URLs of the resource (besides those the origin lists). */
  readonly mirrors?: readonly string[];
  /** Ask the origin for mirrors (List-Mirrors: ?1); default true. */
  readonly listMirrors?: boolean;
  /** Concurrent range requests; default 4. */
  readonly parallel?: number;
  readonly timeoutMs?: number;
  readonly maxSize?: number;
  /** Report bad bytes to the origin (POST /.well-known/peerweb/reports); default true. */
  readonly report?: boolean;
  readonly reputation?: Reputation;
  readonly signal?: AbortSignal;
  readonly localAddress?: string;
  readonly dispatcher?: Dispatcher;
  readonly onProgress?: (done: number, total: number) => void;
  readonly onEvent?: (e: GetEvent) => void;
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
}

interface Plan {
  digest: Sha256;
  size: number | undefined;
  metalink: MetalinkFile | undefined;
  sources: Source[];
  origin: Source;
}

interface PartState { digest: string; size: number; pieceSize: number; done: number[] }

const MAX_SOURCES = 64;

class DigestMismatch extends Error {}

function abortError(url: string): PeerwebError {
  return new PeerwebError('PW_ERR_GET_INTERRUPTED', { url });
}

export async function getVerified(opts: GetOptions): Promise<GetResult> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const maxSize = opts.maxSize ?? 1024 ** 4;
  const rep = opts.reputation ?? createReputation({ maxFailures: 2 });
  const ownAgent = opts.dispatcher ? undefined : new Agent({ connect: { timeout: timeoutMs, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) }, connections: 16 });
  const dispatcher = opts.dispatcher ?? (ownAgent as Agent);
  const originUrl = new URL(opts.url);
  const bytesFrom: Record<string, number> = {};
  const liars = new Set<string>();
  const emit = (e: GetEvent) => opts.onEvent?.(e);

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

  async function discover(): Promise<Plan> {
    let digest = opts.digest;
    let size: number | undefined;
    let metalink: MetalinkFile | undefined;
    const sources: Source[] = [];
    const seen = new Set<string>([opts.url]);
    const addSource = (url: string, priority?: number) => {
      if (seen.has(url) || sources.length >= MAX_SOURCES) return;
      try {
        const u = new URL(url);
        if (u.protocol !== 'http:' && u.protocol !== 'https:') return;
      } catch {
        return;
      }
      seen.add(url);
      sources.push(priority !== undefined ? { url, priority } : { url });
    };
    for (const m of opts.mirrors ?? []) addSource(m, 0);
    let headError: string | undefined;
    let metalinkUrl: string | undefined;
    try {
      const res = await request(opts.url, {
        method: 'HEAD', dispatcher, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: opts.signal,
        headers: opts.listMirrors === false ? {} : { 'list-mirrors': '?1' },
      });
      await res.body.dump();
      if (res.statusCode !== 200) headError = `origin answered HEAD with ${res.statusCode}`;
      else {
        const h = (n: string) => { const v = res.headers[n]; return Array.isArray(v) ? v.join(', ') : v; };
        const rd = h('repr-digest');
        const fromOrigin = rd ? parseDigestField(rd) : h('digest') ? parseLegacyDigest(h('digest') as string) : undefined;
        if (fromOrigin && digest && !digestEquals(fromOrigin, digest)) emit({ type: 'fallback', reason: 'origin digest differs from the given digest; the given one is used' });
        digest ??= fromOrigin;
        if (!fromOrigin && !digest) headError = 'origin sent no Repr-Digest';
        const cl = Number(h('content-length'));
        if (Number.isSafeInteger(cl) && cl >= 0 && fromOrigin && digest && digestEquals(fromOrigin, digest)) size = cl;
        for (const l of parseLinks(h('link') ?? '', opts.url)) {
          if (l.rel === 'duplicate') {
            const pri = Number(l.params.pri);
            addSource(l.href, Number.isSafeInteger(pri) ? pri : undefined);
          } else if (l.rel === 'describedby' && (l.params.type ?? '').toLowerCase() === METALINK_TYPE) metalinkUrl = l.href;
        }
      }
    } catch (err) {
      if (opts.signal?.aborted) throw abortError(opts.url);
      headError = `origin unreachable: ${(err as Error).message}`;
    }
    if (!digest && opts.originKeys?.length) {
      for (const s of sources) {
        const fromIndex = await digestFromMirrorIndex(s.url);
        if (fromIndex) {
          digest = fromIndex.digest;
          size = fromIndex.size;
          break;
        }
      }
    }
    if (!digest) throw new PeerwebError('PW_ERR_DIGEST_UNKNOWN', { url: opts.url, reason: headError ?? 'no digest' });
    if (metalinkUrl) {
      try {
        const res = await request(metalinkUrl, { dispatcher, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: opts.signal });
        const text = Buffer.from(await res.body.arrayBuffer()).toString('utf8');
        if (res.statusCode === 200) {
          const m = parseMetalink(text, metalinkUrl);
          if (digestEquals(m.digest, digest) && (size === undefined || size === m.size)) {
            metalink = m;
            size = m.size;
            for (const u of m.urls) if (u.url !== opts.url) addSource(u.url, u.priority);
          }
        }
      } catch (err) {
        if (opts.signal?.aborted) throw abortError(opts.url);
        if (!isPeerwebError(err)) emit({ type: 'failed', source: metalinkUrl, reason: (err as Error).message });
      }
    }
    emit({ type: 'discovered', digest: digest.toString('base64'), size, mirrors: sources.length, pieces: metalink?.pieces?.length ?? 0 });
    return { digest, size, metalink, sources, origin: { url: opts.url, origin: true } };
  }

  /** The digest of this resource in the origin's signed index as held by the mirror at `mirrorUrl`. */
  async function digestFromMirrorIndex(mirrorUrl: string): Promise<{ digest: Sha256; size: number } | undefined> {
    const path = originUrl.pathname;
    if (!mirrorUrl.endsWith(path.slice(1))) return undefined;
    const base = mirrorUrl.slice(0, mirrorUrl.length - path.length + 1);
    try {
      const res = await request(`${base}.well-known/peerweb/index?covering=${encodeURIComponent(path)}`, { dispatcher, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: opts.signal });
      const body = Buffer.from(await res.body.arrayBuffer());
      if (res.statusCode !== 200 || body.length > 64 * 1024 * 1024) return undefined;
      const field = fieldReader(res.headers as Record<string, string | string[] | undefined>);
      const cd = field('content-digest');
      if (!cd || !digestEquals(parseDigestField(cd) ?? Buffer.alloc(0), sha256(body))) return undefined;
      const keys = new Map((opts.originKeys ?? []).map((k) => [k.keyId, k.publicKey]));
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

  async function fetchBytes(url: string, range: { start: number; end: number } | undefined, limit: number): Promise<Buffer> {
    const res = await request(url, {
      dispatcher, signal: opts.signal, headersTimeout: timeoutMs, bodyTimeout: timeoutMs,
      headers: { 'accept-encoding': 'identity', ...(range ? { range: `bytes=${range.start}-${range.end}` } : {}) },
    });
    const wantPartial = range !== undefined;
    if (!(res.statusCode === 206 && wantPartial) && !(res.statusCode === 200 && !wantPartial)) {
      await res.body.dump().catch(() => undefined);
      throw new Error(`status ${res.statusCode}`);
    }
    if (wantPartial) {
      const cr = String(res.headers['content-range'] ?? '');
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(cr);
      if (!m || Number(m[1]) !== range.start || Number(m[2]) !== range.end) {
        await res.body.dump().catch(() => undefined);
        throw new Error(`Content-Range ${JSON.stringify(cr)} does not match the request`);
      }
    }
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of res.body) {
      n += (c as Buffer).length;
      if (n > limit) {
        res.body.destroy();
        throw new Error(`more than ${limit} bytes`);
      }
      chunks.push(c as Buffer);
    }
    return Buffer.concat(chunks);
  }

  async function hashFile(fh: FileHandle, size: number): Promise<Sha256> {
    const h = createHash('sha256');
    const buf = Buffer.alloc(Math.min(4 * 1024 * 1024, Math.max(size, 1)));
    for (let off = 0; off < size; ) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - off), off);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
      off += bytesRead;
    }
    return h.digest();
  }

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
      if (!src) throw new PeerwebError('PW_ERR_GET_NO_SOURCE', { url: opts.url, reason: liars.size ? `${liars.size} sources lied, the rest failed` : 'every source failed' });
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
      return { digest: plan.digest, size, bytesFrom, originBytes: src.origin ? size : 0, liars: [...liars], resumedPieces: 0 };
    }

    async function streamToTemp(url: string, limit: number, expectedSize: number | undefined): Promise<number> {
      const res = await request(url, { dispatcher, signal: opts.signal, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, headers: { 'accept-encoding': 'identity' } });
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
        await fh.sync();
      } finally {
        await fh.close();
      }
      if (!digestEquals(h.digest(), plan.digest)) throw new DigestMismatch('digest differs');
      return n;
    }
  }

  async function pieced(plan: Plan, m: MetalinkFile & { pieces: readonly Sha256[]; pieceSize: number }): Promise<GetResult> {
    const size = m.size;
    const pieceSize = m.pieceSize;
    const count = pieceCount(size, pieceSize);
    const done = new Set<number>();
    let resumedPieces = 0;
    let fh: FileHandle;
    // Resume: keep pieces listed in the state file that still verify.
    const prev = await readFile(stateFile, 'utf8').then((t) => JSON.parse(t) as PartState).catch(() => undefined);
    if (prev && prev.digest === plan.digest.toString('hex') && prev.size === size && prev.pieceSize === pieceSize && Array.isArray(prev.done)) {
      fh = await open(tmp, 'r+').catch(() => open(tmp, 'w+'));
      for (const i of prev.done) {
        if (!Number.isSafeInteger(i) || i < 0 || i >= count) continue;
        const r = pieceRange(i, size, pieceSize);
        const buf = Buffer.alloc(r.end - r.start + 1);
        const { bytesRead } = await fh.read(buf, 0, buf.length, r.start);
        if (bytesRead === buf.length && digestEquals(sha256(buf), m.pieces[i] as Sha256)) done.add(i);
      }
      resumedPieces = done.size;
      if (resumedPieces) emit({ type: 'resumed', pieces: resumedPieces });
    } else {
      fh = await open(tmp, 'w+');
    }
    let doneBytes = [...done].reduce((s, i) => { const r = pieceRange(i, size, pieceSize); return s + r.end - r.start + 1; }, 0);
    let originBytes = 0;
    let stateDirty = false;
    let lastSave = performance.now();
    let stateWriting: Promise<void> = Promise.resolve();
    const saveState = () => {
      stateDirty = true;
      stateWriting = stateWriting.then(async () => {
        if (!stateDirty) return;
        stateDirty = false;
        const s: PartState = { digest: plan.digest.toString('hex'), size, pieceSize, done: [...done].sort((a, b) => a - b) };
        await writeFile(`${stateFile}.tmp`, JSON.stringify(s));
        await rename(`${stateFile}.tmp`, stateFile);
      });
      return stateWriting;
    };
    const queue: number[] = [];
    for (let i = 0; i < count; i++) if (!done.has(i)) queue.push(i);
    // In-order hash of the whole file, fed as pieces become contiguous; bounded stash of early pieces.
    let wholeHash = done.size === 0 ? createHash('sha256') : undefined;
    let nextToHash = 0;
    const stash = new Map<number, Buffer>();
    let stashBytes = 0;
    const feedWhole = (i: number, buf: Buffer) => {
      if (!wholeHash) return;
      if (i !== nextToHash) {
        stash.set(i, buf);
        stashBytes += buf.length;
        if (stashBytes > 64 * 1024 * 1024) { wholeHash = undefined; stash.clear(); }
        return;
      }
      wholeHash.update(buf);
      nextToHash++;
      for (let b = stash.get(nextToHash); b; b = stash.get(nextToHash)) {
        wholeHash.update(b);
        stash.delete(nextToHash);
        stashBytes -= b.length;
        nextToHash++;
      }
    };
    const attempts = new Map<number, number>();
    const active = new Map<string, number>();
    let fatal: PeerwebError | undefined;
    opts.onProgress?.(doneBytes, size);

    const pick = (): Source | undefined => {
      const c = candidates(plan);
      const mirrors = c.filter((s) => !s.origin);
      const pool = mirrors.length ? mirrors : c;
      // Spread the pieces: the least busy of the best few sources.
      // Mirrors the user named (priority 0) come first; otherwise spread over the best few.
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

    const worker = async (): Promise<void> => {
      while (!fatal) {
        if (opts.signal?.aborted) throw abortError(opts.url);
        const i = queue.shift();
        if (i === undefined) return;
        const n = (attempts.get(i) ?? 0) + 1;
        attempts.set(i, n);
        if (n > MAX_SOURCES + 4) {
          fatal = new PeerwebError('PW_ERR_GET_NO_SOURCE', { url: opts.url, reason: `piece ${i} failed ${n - 1} times` });
          return;
        }
        const src = pick();
        if (!src) {
          fatal = new PeerwebError('PW_ERR_GET_NO_SOURCE', { url: opts.url, reason: liars.size ? `${liars.size} sources lied, the rest failed` : 'every source failed' });
          return;
        }
        const r = pieceRange(i, size, pieceSize);
        active.set(src.url, (active.get(src.url) ?? 0) + 1);
        const t0 = performance.now();
        let buf: Buffer | undefined;
        try {
          buf = await fetchBytes(src.url, r, r.end - r.start + 1);
        } catch (err) {
          if (opts.signal?.aborted) {
            queue.unshift(i);
            throw abortError(opts.url);
          }
          rep.failed(src.url);
          emit({ type: 'failed', source: src.url, reason: (err as Error).message });
        } finally {
          active.set(src.url, (active.get(src.url) ?? 1) - 1);
        }
        if (!buf) {
          queue.unshift(i);
          continue;
        }
        if (buf.length !== r.end - r.start + 1 || !digestEquals(sha256(buf), m.pieces[i] as Sha256)) {
          queue.unshift(i);
          await liar(src.url, i, r);
          continue;
        }
        rep.good(src.url, buf.length, performance.now() - t0);
        await fh.write(buf, 0, buf.length, r.start);
        feedWhole(i, buf);
        done.add(i);
        bytesFrom[src.url] = (bytesFrom[src.url] ?? 0) + buf.length;
        if (src.origin) originBytes += buf.length;
        doneBytes += buf.length;
        emit({ type: 'piece', index: i, source: src.url, bytes: buf.length });
        opts.onProgress?.(doneBytes, size);
        // The piece list is saved at most every 250 ms (and on interruption); a lost entry only means a piece is fetched again.
        if (performance.now() - lastSave > 250) {
          lastSave = performance.now();
          void saveState();
        }
      }
    };

    try {
      const workers = Array.from({ length: Math.max(1, Math.min(opts.parallel ?? 4, 32)) }, () => worker());
      const results = await Promise.allSettled(workers);
      const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (rejected) throw rejected.reason;
      if (fatal) throw fatal;
      await fh.sync();
      // The whole-file digest was computed in order as pieces arrived; re-read the file only when that was not possible.
      const whole = wholeHash && nextToHash === count ? wholeHash.digest() : await hashFile(fh, size);
      await fh.close();
      await stateWriting.catch(() => undefined);
      if (!digestEquals(whole, plan.digest)) {
        // Every piece matched the Metalink yet the whole does not: the piece list is wrong. Start over without it.
        await rm(tmp, { force: true });
        await rm(stateFile, { force: true });
        emit({ type: 'fallback', reason: 'piece hashes do not add up to the digest; downloading whole' });
        return wholeFile({ ...plan, metalink: undefined });
      }
      await rename(tmp, opts.out);
      await rm(stateFile, { force: true });
      return { digest: plan.digest, size, bytesFrom, originBytes, liars: [...liars], resumedPieces };
    } catch (err) {
      await fh.close().catch(() => undefined);
      await stateWriting.catch(() => undefined);
      await saveState().catch(() => undefined);
      throw err;
    }
  }

  try {
    const plan = await discover();
    const m = plan.metalink;
    if (m?.pieces && m.pieceSize && m.size <= maxSize) return await pieced(plan, m as MetalinkFile & { pieces: readonly Sha256[]; pieceSize: number });
    return await wholeFile(plan);
  } finally {
    await ownAgent?.close().catch(() => undefined);
  }
}
