import { createHash, type Hash } from 'node:crypto';
import { open, readFile, rename, writeFile, type FileHandle } from 'node:fs/promises';
import { request, type Dispatcher } from 'undici';
import { PeerwebError } from '../errors/index.js';
import { digestEquals, pieceCount, pieceRange, sha256, type HashThread, type Sha256 } from '../integrity/index.js';
import { PieceChecks } from './piece-checks.js';

/** One place bytes may come from. */
export interface Source {
  readonly url: string;
  readonly priority?: number;
  readonly origin?: boolean;
  /** Authorization field sent to it (a mirror that restricts its clients). */
  readonly authorization?: string;
}

/** Bounds of how often one piece is tried before the download gives up. */
export const MAX_TRIES_PER_PIECE = 68;

/** What the range engine needs: where to write, how to choose sources, and the checks to apply. */
export interface RangeJob {
  readonly url: string;
  readonly size: number;
  readonly pieceSize: number;
  /** The temp file the pieces are written into (never the output). */
  readonly tmp: string;
  /** Progress file beside `tmp`: the pieces already done, for a resumed run. */
  readonly stateFile: string;
  /** Identifies what the state file is about (the expected digest, hex); a mismatch starts over. */
  readonly stateKey: string;
  readonly parallel: number;
  readonly dispatcher: Dispatcher;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
  /** Flush the temp file to disk before returning. */
  readonly fsync: boolean;
  /** The source for the next piece, given how many requests each source has running; undefined when none is usable. */
  pick(active: ReadonlyMap<string, number>): Source | undefined;
  /** Why no source is left (for the error). */
  noSourceReason(): string;
  /**
   * The SHA-256 each piece must have (Metalink piece hashes): every piece is hashed as it arrives
   * and refused (the source reported through onBad) when it differs;
   * kept pieces of an earlier run are checked the same way. Without it every piece is accepted as received (the
   * caller checks the whole file).
   */
  readonly pieceHash?: (index: number) => Sha256;
  /**
   * Where pieces are hashed: with threads, each piece is written first and checked afterwards
   * (PieceChecks): in the background while the transfer runs, the rest on the foreground thread
   * once it is over; the state file lists a piece only once it checked out. Without, inline as
   * each chunk arrives, before the piece is written.
   */
  readonly hashThreads?: { readonly foreground: HashThread; readonly background: HashThread };
  /** Bytes of pieces held for the background check (default 16 MiB, for all downloads of the process), and written pieces left for after the transfer (default 64 MiB). */
  readonly checkBuffers?: { readonly lent: number; readonly unchecked: number };
  onGood(source: string, bytes: number, ms: number): void;
  onFailed(source: string, reason: string): void;
  onBad(source: string, index: number, range: { start: number; end: number }): Promise<void>;
  /**
   * A piece was written and accepted; its bytes are in `buf`, which is the receiver's from now on,
   * or only in the file (`buf` undefined: it was checked from there). A returned promise holds the
   * workers back from their next piece until it settles (the receiver's brake).
   */
  onPiece(index: number, source: Source, buf: Buffer | undefined, bytes: number): void | Promise<void>;
  /** Pieces kept from an earlier run (they are in `tmp`, not in memory). */
  onKept?(indices: readonly number[]): void;
  /** Bytes written so far and not refused (pieces waiting for their check included), of `total`. */
  onProgress?(done: number, total: number): void;
}

export interface RangeOutcome {
  readonly bytesFrom: Record<string, number>;
  readonly originBytes: number;
  readonly keptPieces: number;
  /** Bytes the piece checks read back from the temp file (pieces no longer in memory when their turn came). */
  readonly checkedFromFile: number;
}

interface PartState { digest: string; size: number; pieceSize: number; done: number[] }

function abortError(url: string): PeerwebError {
  return new PeerwebError('PW_ERR_GET_INTERRUPTED', { url });
}

/**
 * GET of one byte range into a buffer of exactly its length; throws on a wrong status, range or
 * length. `hash`, when given, is fed each chunk as it arrives.
 */
export async function fetchRange(url: string, range: { start: number; end: number }, o: { dispatcher: Dispatcher; timeoutMs: number; signal?: AbortSignal | undefined; authorization?: string | undefined }, hash?: Hash): Promise<Buffer> {
  const res = await request(url, {
    dispatcher: o.dispatcher, signal: o.signal, headersTimeout: o.timeoutMs, bodyTimeout: o.timeoutMs,
    headers: { 'accept-encoding': 'identity', range: `bytes=${range.start}-${range.end}`, ...(o.authorization ? { authorization: o.authorization } : {}) },
  });
  if (res.statusCode !== 206) {
    await res.body.dump().catch(() => undefined);
    throw new Error(`status ${res.statusCode}`);
  }
  const cr = String(res.headers['content-range'] ?? '');
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(cr);
  if (!m || Number(m[1]) !== range.start || Number(m[2]) !== range.end) {
    await res.body.dump().catch(() => undefined);
    throw new Error(`Content-Range ${JSON.stringify(cr)} does not match the request`);
  }
  const len = range.end - range.start + 1;
  const buf = Buffer.allocUnsafe(len);
  let n = 0;
  for await (const c of res.body) {
    const chunk = c as Buffer;
    if (n + chunk.length > len) {
      res.body.destroy();
      throw new Error(`more than ${len} bytes`);
    }
    chunk.copy(buf, n);
    hash?.update(chunk);
    n += chunk.length;
  }
  if (n !== len) throw new Error(`${n} of ${len} bytes`);
  return buf;
}

/**
 * The transfer engine of `peerweb get`: fetches `size` bytes as pieces of `pieceSize` in parallel
 * ranges from the sources `pick` chooses, checks each piece against `pieceHash` when given (hashed
 * chunk by chunk as it arrives), writes it (while the worker receives its next piece)
 * into `tmp`, and keeps the list of finished pieces in `stateFile` so an interrupted run resumes.
 * It never touches the output: getVerified renames `tmp` only once the whole file is proven.
 */
export async function downloadRanges(job: RangeJob): Promise<RangeOutcome> {
  const { size, pieceSize } = job;
  const count = pieceCount(size, pieceSize);
  const done = new Set<number>();
  const bytesFrom: Record<string, number> = {};
  let keptPieces = 0;
  let fh: FileHandle;
  // Resume: keep the pieces listed in the state file that still check out.
  const prev = await readFile(job.stateFile, 'utf8').then((t) => JSON.parse(t) as PartState).catch(() => undefined);
  if (prev && prev.digest === job.stateKey && prev.size === size && prev.pieceSize === pieceSize && Array.isArray(prev.done)) {
    fh = await open(job.tmp, 'r+').catch(() => open(job.tmp, 'w+'));
    const fileSize = (await fh.stat()).size;
    for (const i of prev.done.slice(0, count)) {
      if (!Number.isSafeInteger(i) || i < 0 || i >= count || done.has(i)) continue;
      const r = pieceRange(i, size, pieceSize);
      if (r.end >= fileSize) continue;
      if (job.pieceHash) {
        const len = r.end - r.start + 1;
        const digest = job.hashThreads
          ? await job.hashThreads.foreground.fileDigest(job.tmp, r.start, len).catch(() => undefined)
          : await fh.read(Buffer.alloc(len), 0, len, r.start).then(({ buffer, bytesRead }) => (bytesRead === len ? sha256(buffer) : undefined));
        if (!digest || !digestEquals(digest, job.pieceHash(i))) continue;
      }
      done.add(i);
    }
    keptPieces = done.size;
    if (keptPieces) job.onKept?.([...done]);
  } else {
    fh = await open(job.tmp, 'w+');
  }
  let doneBytes = [...done].reduce((s, i) => { const r = pieceRange(i, size, pieceSize); return s + r.end - r.start + 1; }, 0);
  /** Bytes written and waiting for their check: shown as progress, not yet done. */
  let uncheckedBytes = 0;
  const progress = () => job.onProgress?.(doneBytes + uncheckedBytes, size);
  let originBytes = 0;
  let stateDirty = false;
  let lastSave = performance.now();
  let stateWriting: Promise<void> = Promise.resolve();
  const saveState = () => {
    stateDirty = true;
    stateWriting = stateWriting.then(async () => {
      if (!stateDirty) return;
      stateDirty = false;
      const s: PartState = { digest: job.stateKey, size, pieceSize, done: [...done].sort((a, b) => a - b) };
      await writeFile(`${job.stateFile}.tmp`, JSON.stringify(s));
      await rename(`${job.stateFile}.tmp`, job.stateFile);
    });
    return stateWriting;
  };
  const queue: number[] = [];
  for (let i = 0; i < count; i++) if (!done.has(i)) queue.push(i);
  const attempts = new Map<number, number>();
  const active = new Map<string, number>();
  let fatal: PeerwebError | undefined;
  progress();

  const checks = job.hashThreads && job.pieceHash
    ? new PieceChecks({
      file: job.tmp, ...job.hashThreads,
      maxLent: job.checkBuffers?.lent ?? 16 * 1024 * 1024, maxUnchecked: job.checkBuffers?.unchecked ?? 64 * 1024 * 1024,
    })
    : undefined;
  /** Set once the download failed: checks still running change nothing. */
  let abandoned = false;
  /** What the receiver asked the workers to wait for before their next piece. */
  let held: Promise<unknown> = Promise.resolve();
  /** Piece `i` is written and proven (or needs no proof). */
  const accept = (i: number, src: Source, n: number, ms: number, buf: Buffer | undefined): void => {
    job.onGood(src.url, n, ms);
    done.add(i);
    bytesFrom[src.url] = (bytesFrom[src.url] ?? 0) + n;
    if (src.origin) originBytes += n;
    doneBytes += n;
    // Last: the piece's buffer is the receiver's from here (it may move it to the hash thread).
    const brake = job.onPiece(i, src, buf, n);
    if (brake) held = Promise.all([held, brake]);
    progress();
    // The piece list is saved at most every 250 ms (and on interruption); a lost entry only means a piece is fetched again.
    if (performance.now() - lastSave > 250) {
      lastSave = performance.now();
      void saveState();
    }
  };
  const refuse = async (i: number, src: Source, r: { start: number; end: number }): Promise<void> => {
    queue.unshift(i);
    await job.onBad(src.url, i, r);
  };

  /** Checks and writes one received piece; runs while the worker already fetches its next piece. */
  const finish = async (i: number, src: Source, buf: Buffer, hashed: Sha256 | undefined, r: { start: number; end: number }, ms: number): Promise<void> => {
    const expected = job.pieceHash?.(i);
    const n = buf.length;
    if (expected && checks) {
      // Written now, checked later; the bytes in the file are not the output's until checked.
      await fh.write(buf, 0, buf.length, r.start);
      uncheckedBytes += n;
      progress();
      checks.add(r.start, buf, expected, async (result, bytes) => {
        if (abandoned) return;
        uncheckedBytes -= n;
        if (result === 'ok') return accept(i, src, n, ms, bytes);
        progress();
        if (result === 'bad') await refuse(i, src, r);
        // A thread died with the piece: fetched again, nobody to blame.
        else queue.unshift(i);
      });
      return;
    }
    if (expected && !(hashed && digestEquals(hashed, expected))) {
      await refuse(i, src, r);
      return;
    }
    await fh.write(buf, 0, buf.length, r.start);
    accept(i, src, n, ms, buf);
    await held;
  };

  const worker = async (): Promise<void> => {
    // At most one piece of this worker is being checked and written while it fetches the next.
    let pending: Promise<void> | undefined;
    try {
      while (!fatal) {
        if (job.signal?.aborted) throw abortError(job.url);
        await held;
        const i = queue.shift();
        if (i === undefined) {
          // The piece still being checked may come back to the queue.
          if (pending) {
            const p = pending;
            pending = undefined;
            await p;
            continue;
          }
          return;
        }
        const n = (attempts.get(i) ?? 0) + 1;
        attempts.set(i, n);
        if (n > MAX_TRIES_PER_PIECE) {
          fatal = new PeerwebError('PW_ERR_GET_NO_SOURCE', { url: job.url, reason: `piece ${i} failed ${n - 1} times` });
          return;
        }
        const src = job.pick(active);
        if (!src) {
          fatal = new PeerwebError('PW_ERR_GET_NO_SOURCE', { url: job.url, reason: job.noSourceReason() });
          return;
        }
        const r = pieceRange(i, size, pieceSize);
        active.set(src.url, (active.get(src.url) ?? 0) + 1);
        const t0 = performance.now();
        let buf: Buffer | undefined;
        // Without hash threads each chunk is hashed as it arrives: one pass over bytes still in
        // cache. With them, the piece is written once received and checked by PieceChecks.
        const hash = job.pieceHash && !checks ? createHash('sha256') : undefined;
        try {
          buf = await fetchRange(src.url, r, { dispatcher: job.dispatcher, timeoutMs: job.timeoutMs, signal: job.signal, authorization: src.authorization }, hash);
        } catch (err) {
          if (job.signal?.aborted) {
            queue.unshift(i);
            throw abortError(job.url);
          }
          job.onFailed(src.url, (err as Error).message);
        } finally {
          active.set(src.url, (active.get(src.url) ?? 1) - 1);
        }
        if (pending) {
          const p = pending;
          pending = undefined;
          await p;
        }
        if (!buf) {
          queue.unshift(i);
          continue;
        }
        pending = finish(i, src, buf, hash?.digest(), r, performance.now() - t0);
      }
    } catch (err) {
      // Let the piece being written finish before the file is closed; the first error is the one reported.
      await pending?.catch(() => undefined);
      pending = undefined;
      throw err;
    } finally {
      if (pending) await pending;
    }
  };

  try {
    for (;;) {
      const workers = Array.from({ length: Math.max(1, Math.min(job.parallel, 32, queue.length || 1)) }, () => worker());
      const results = await Promise.allSettled(workers);
      const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (rejected) throw rejected.reason;
      if (fatal) throw fatal;
      // Everything is received and written: the flush and the checks still pending run at the
      // same time. Pieces that fail their check go back to the queue for another round, which
      // ends with a flush of its own.
      const settled = await Promise.allSettled([job.fsync ? fh.sync() : undefined, checks?.drain()]);
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      if (queue.length === 0) break;
    }
    if (done.size !== count) throw new PeerwebError('PW_ERR_GET_NO_SOURCE', { url: job.url, reason: `${count - done.size} pieces were not fetched` });
    await fh.close();
    await stateWriting.catch(() => undefined);
    return { bytesFrom, originBytes, keptPieces, checkedFromFile: checks?.readBackBytes ?? 0 };
  } catch (err) {
    abandoned = true;
    await fh.close().catch(() => undefined);
    await stateWriting.catch(() => undefined);
    await saveState().catch(() => undefined);
    throw err;
  }
}
