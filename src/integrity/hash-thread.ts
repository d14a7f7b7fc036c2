import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { Sha256 } from './digest.js';

/**
 * SHA-256 on a thread of its own, so that a download checks its bytes while the main thread goes
 * on receiving and writing: on a machine with a spare core verification then costs almost no
 * throughput. Buffers are moved to the thread, not copied: a Buffer that owns its whole
 * ArrayBuffer (as `Buffer.allocUnsafe` gives above 4 KiB) is transferred, which detaches it
 * (length 0) on this side, and `lend` gives it back. Any other buffer is copied first. Copies are
 * what this avoids: a fresh 1 MiB copy costs about 0.5 ms here (page faults included), nearly as
 * much as hashing it; copying into a SharedArrayBuffer is slower still (V8 uses relaxed atomic
 * stores). One thread serves the whole process; it keeps the process alive only while it has work.
 */

/** An incremental SHA-256 whose result comes later: updates are queued, `digest` waits for them. */
export interface Sha256Stream {
  /** Adds `data`, which may be moved away (detached): the caller must not use it afterwards. */
  update(data: Uint8Array): void;
  /** Resolves once at most `maxQueued` bytes of updates wait to be hashed (the producer's brake). */
  drained(maxQueued: number): Promise<void>;
  /** Bytes of updates not hashed yet. */
  readonly queuedBytes: number;
  digest(): Promise<Sha256>;
  /** Gives up the stream (no digest will be asked). */
  drop(): void;
}

type Reply = { id: number; digest?: Uint8Array; data?: ArrayBuffer } | { id: number; error: string };
type Request =
  | { op: 'digest'; id: number; data: ArrayBuffer; back: boolean }
  | { op: 'update'; id: number; sid: number; data: ArrayBuffer }
  | { op: 'final'; id: number; sid: number }
  | { op: 'drop'; sid: number }
  | { op: 'file'; id: number; path: string; offset: number; length: number };

// The thread's code, plain CommonJS so that it runs the same from sources (tsx) and from the build.
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync, readlinkSync } = require('node:fs');
const { setPriority } = require('node:os');
const { execFileSync } = require('node:child_process');
if (workerData && workerData.background) {
  // Linux names a thread by its id in scheduling calls. SCHED_IDLE (set with util-linux's chrt):
  // the thread runs only on a core nothing else wants, and yields it at once when something does;
  // failing that, the weakest nice value. Elsewhere the thread keeps its priority.
  try {
    const tid = readlinkSync('/proc/thread-self').split('/').pop();
    try { execFileSync('chrt', ['--idle', '-p', '0', tid], { stdio: 'ignore', timeout: 5000 }); } catch { setPriority(Number(tid), 19); }
  } catch {}
}
const streams = new Map();
let scratch;
function fileDigest(path, offset, length) {
  const h = createHash('sha256');
  scratch = scratch || Buffer.allocUnsafe(1024 * 1024);
  const fd = openSync(path, 'r');
  try {
    let done = 0;
    while (done < length) {
      const n = readSync(fd, scratch, 0, Math.min(scratch.length, length - done), offset + done);
      if (n === 0) throw new Error('the file ends at ' + (offset + done) + ', before ' + (offset + length));
      h.update(scratch.subarray(0, n));
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return h.digest();
}
parentPort.on('message', (m) => {
  try {
    if (m.op === 'file') {
      parentPort.postMessage({ id: m.id, digest: fileDigest(m.path, m.offset, m.length) });
    } else if (m.op === 'digest') {
      const digest = createHash('sha256').update(new Uint8Array(m.data)).digest();
      if (m.back) parentPort.postMessage({ id: m.id, digest, data: m.data }, [m.data]);
      else parentPort.postMessage({ id: m.id, digest });
    } else if (m.op === 'update') {
      let h = streams.get(m.sid);
      if (!h) { h = createHash('sha256'); streams.set(m.sid, h); }
      h.update(new Uint8Array(m.data));
      parentPort.postMessage({ id: m.id });
    } else if (m.op === 'final') {
      const h = streams.get(m.sid) || createHash('sha256');
      streams.delete(m.sid);
      parentPort.postMessage({ id: m.id, digest: h.digest() });
    } else if (m.op === 'drop') {
      streams.delete(m.sid);
    }
  } catch (err) {
    if (m.id !== undefined) parentPort.postMessage({ id: m.id, error: String(err && err.message || err) });
  }
});
`;

interface Done { digest?: Sha256; data?: ArrayBuffer }
interface Waiter { resolve(r: Done): void; reject(e: Error): void }

export interface HashThreadOptions {
  /**
   * The thread hashes only in CPU time nothing else wants (Linux: the SCHED_IDLE policy, else nice
   * 19; ignored elsewhere), so that the threads receiving data are never held up by it. Without
   * privileges a thread cannot get its priority back: work that must be done quickly goes to a
   * thread without this.
   */
  readonly background?: boolean;
}

export class HashThread {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, Waiter>();
  private failed: Error | undefined;

  constructor(private readonly options: HashThreadOptions = {}) {}

  /** SHA-256 of `length` bytes of the file at `path` from `offset`, read by the thread (1 MiB at a time). */
  async fileDigest(path: string, offset: number, length: number): Promise<Sha256> {
    const id = this.nextId++;
    const p = this.expect(id);
    this.send({ op: 'file', id, path, offset, length });
    const r = await p;
    if (!r.digest) throw new Error('hash thread sent no digest');
    return r.digest;
  }

  /**
   * SHA-256 of `data`, which is moved to the thread and back: until the promise settles `data` is
   * detached and must not be used; the same bytes come back as `bytes`. Should the thread die
   * meanwhile the promise rejects and the bytes are lost. A buffer that cannot be moved is copied
   * (and stays the caller's).
   */
  async lend(data: Buffer): Promise<{ digest: Sha256; bytes: Buffer }> {
    const id = this.nextId++;
    const moved = movable(data);
    const p = this.expect(id);
    const payload = moved ?? copyOf(data);
    this.send({ op: 'digest', id, data: payload, back: moved !== undefined }, payload);
    const r = await p;
    if (!r.digest) throw new Error('hash thread sent no digest');
    return { digest: r.digest, bytes: moved && r.data ? Buffer.from(r.data) : data };
  }

  stream(): Sha256Stream {
    const sid = this.nextId++;
    let bytes = 0;
    let ended = false;
    /** The thread that holds this stream's state (set by the first update). */
    let holder: Worker | undefined;
    const lostState = () => bytes > 0 && holder !== this.worker;
    /** Bytes sent and not yet hashed, and who waits for that to shrink. */
    let queued = 0;
    let brakes: { max: number; resolve: () => void }[] = [];
    const release = () => {
      const keep = brakes.filter((b) => queued > b.max);
      for (const b of brakes) if (queued <= b.max) b.resolve();
      brakes = keep;
    };
    return {
      update: (data) => {
        if (ended) throw new Error('update after digest');
        if (lostState()) return;
        holder = this.ensure();
        const moved = movable(data) ?? copyOf(data);
        const n = moved.byteLength;
        bytes += n;
        queued += n;
        const id = this.nextId++;
        // The thread acknowledges each update once hashed; a lost thread fails the digest instead.
        this.expect(id).then(() => { queued -= n; release(); }, () => { queued = 0; release(); });
        holder.postMessage({ op: 'update', id, sid, data: moved } satisfies Request, [moved]);
      },
      get queuedBytes() { return queued; },
      drained: (maxQueued) => {
        if (queued <= maxQueued) return Promise.resolve();
        return new Promise<void>((resolve) => brakes.push({ max: maxQueued, resolve }));
      },
      digest: () => {
        if (ended) return Promise.reject(new Error('digest asked twice'));
        ended = true;
        if (bytes === 0) return Promise.resolve(createHash('sha256').digest());
        if (lostState()) {
          return Promise.reject(this.failed ?? new Error('hash thread restarted'));
        }
        const id = this.nextId++;
        const p = this.expect(id);
        this.send({ op: 'final', id, sid });
        return p.then((r) => {
          if (!r.digest) throw new Error('hash thread sent no digest');
          return r.digest;
        });
      },
      drop: () => {
        if (ended) return;
        ended = true;
        if (bytes > 0 && !lostState()) this.send({ op: 'drop', sid });
      },
    };
  }

  /** Stops the thread (pending digests are rejected); the next use starts a new one. */
  async close(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    this.lost(new Error('hash thread closed'));
    await w.terminate();
  }

  private expect(id: number): Promise<Done> {
    this.ensure();
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker?.ref();
    });
  }

  private send(m: Request, move?: ArrayBuffer): void {
    this.ensure().postMessage(m, move ? [move] : []);
  }

  private ensure(): Worker {
    if (this.worker) return this.worker;
    // No inherited flags: the thread needs no loader, and --input-type=module would make this source ESM.
    const w = new Worker(THREAD_SOURCE, { eval: true, name: 'peerweb-sha256', execArgv: [], workerData: { background: this.options.background === true } });
    w.unref();
    w.on('message', (r: Reply) => {
      const waiter = this.waiting.get(r.id);
      if (!waiter) return;
      this.waiting.delete(r.id);
      if (this.waiting.size === 0) w.unref();
      if ('error' in r) waiter.reject(new Error(`hash thread: ${r.error}`));
      else waiter.resolve({ ...(r.digest ? { digest: Buffer.from(r.digest.buffer, r.digest.byteOffset, r.digest.byteLength) } : {}), ...(r.data ? { data: r.data } : {}) });
    });
    w.on('error', (err) => { if (this.worker === w) this.lost(err); });
    w.on('exit', (code) => { if (this.worker === w) this.lost(new Error(`hash thread exited with code ${code}`)); });
    this.worker = w;
    this.failed = undefined;
    return w;
  }

  /** The thread is gone: every pending digest fails, and live streams can no longer finish. */
  private lost(err: Error): void {
    this.failed = err;
    this.worker = undefined;
    const waiters = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of waiters) w.reject(err);
  }
}

/** The ArrayBuffer of `data` when `data` is all of it and it may be transferred. */
function movable(data: Uint8Array): ArrayBuffer | undefined {
  const ab = data.buffer;
  if (!(ab instanceof ArrayBuffer) || data.byteOffset !== 0 || data.byteLength !== ab.byteLength || data.byteLength === 0) return undefined;
  // Buffers under 4 KiB share Node's pool; the check above already excludes them, as the pool is larger.
  return ab;
}

/** The bytes of `data` in an ArrayBuffer of their own. */
function copyOf(data: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(data.byteLength);
  copy.set(data);
  return copy.buffer;
}

let shared: HashThread | undefined;
let background: HashThread | undefined;

/**
 * The process's hash threads, each started on first use: the foreground one at normal priority,
 * and the background one, which hashes only while a core is otherwise idle.
 */
export function hashThread(kind: 'foreground' | 'background' = 'foreground'): HashThread {
  if (kind === 'background') {
    background ??= new HashThread({ background: true });
    return background;
  }
  shared ??= new HashThread();
  return shared;
}

/** An incremental SHA-256 computed inline, with the same interface as a thread's stream. */
export function inlineSha256Stream(): Sha256Stream {
  let h: Hash | undefined = createHash('sha256');
  return {
    update: (data) => {
      if (!h) throw new Error('update after digest');
      h.update(data);
    },
    drained: () => Promise.resolve(),
    queuedBytes: 0,
    digest: () => {
      if (!h) return Promise.reject(new Error('digest asked twice'));
      const d = h.digest();
      h = undefined;
      return Promise.resolve(d);
    },
    drop: () => { h = undefined; },
  };
}
