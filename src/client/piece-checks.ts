import { digestEquals, type HashThread, type Sha256 } from '../integrity/index.js';

/** What a check found: the bytes match, they do not, or they could not be checked (a hash thread died). */
export type CheckResult = 'ok' | 'bad' | 'lost';

/** Called once per piece with its result and, when the piece was checked from memory, its bytes. */
export type OnChecked = (result: CheckResult, bytes: Buffer | undefined) => void | Promise<void>;

export interface PieceChecksOptions {
  /** The file the pieces are written into before they are checked. */
  readonly file: string;
  /** Low priority: checks pieces while the transfer runs, in the CPU time it leaves. */
  readonly background: HashThread;
  /** Normal priority: checks what is left once the transfer is over, or once too much waits. */
  readonly foreground: HashThread;
  /**
   * Bytes of pieces lent to the background thread at once, by every download of the process
   * together (held in memory until checked).
   */
  readonly maxLent: number;
  /** Bytes of written pieces waiting for a check before the foreground thread starts on them. */
  readonly maxUnchecked: number;
}

interface Waiting { start: number; length: number; expected: Sha256; done: OnChecked }

/** Bytes lent to each background thread, by all downloads together. */
const lentTo = new WeakMap<HashThread, number>();
const lend = (t: HashThread, n: number) => lentTo.set(t, (lentTo.get(t) ?? 0) + n);

/**
 * Checks pieces that are already in the temp file against their expected SHA-256 without holding
 * up the transfer: receiving keeps the CPU, the check comes after. A piece is lent to the
 * background thread while fewer than `maxLent` bytes are there; the others wait on disk (their
 * buffers are freed) and are read back by the threads when the transfer is over (`drain`), or,
 * on a long transfer, as soon as more than `maxUnchecked` bytes wait. On a machine whose cores
 * all receive, this moves the hash into the time the end of the download spends on the disk
 * (the flush before the rename) instead of adding it to the transfer.
 */
export class PieceChecks {
  private readonly waiting: Waiting[] = [];
  private waitingBytes = 0;
  private running = 0;
  private draining = false;
  private idle: (() => void)[] = [];
  /** Read-backs running on each thread. */
  private readonly reading = new Map<HashThread, number>();
  private failure: unknown;
  /** Bytes checked by reading them back from the file. */
  readBackBytes = 0;

  constructor(private readonly o: PieceChecksOptions) {}

  /** The piece at `start` of the file is written and its bytes are `buf`, which this takes over. */
  add(start: number, buf: Buffer, expected: Sha256, done: OnChecked): void {
    const length = buf.length;
    const bg = this.o.background;
    if ((lentTo.get(bg) ?? 0) + length <= this.o.maxLent) {
      lend(bg, length);
      this.track(bg.lend(buf).then(
        ({ digest, bytes }) => { lend(bg, -length); return done(digestEquals(digest, expected) ? 'ok' : 'bad', bytes); },
        () => {
          // The thread died with the bytes; they are in the file: check them from there.
          lend(bg, -length);
          this.wait({ start, length, expected, done });
        }));
      return;
    }
    this.wait({ start, length, expected, done });
  }

  /**
   * The transfer is over: checks everything still waiting, at full speed. Resolves once every
   * piece added has its result and its callback has settled; rejects with the first error a
   * callback threw.
   */
  async drain(): Promise<void> {
    this.draining = true;
    try {
      this.pump();
      while (this.running > 0 || this.waiting.length > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
    } finally {
      this.draining = false;
    }
    if (this.failure !== undefined) {
      const err = this.failure;
      this.failure = undefined;
      throw err;
    }
  }

  private wait(w: Waiting): void {
    this.waiting.push(w);
    this.waitingBytes += w.length;
    this.pump();
  }

  /** Starts read-backs: on the foreground thread beyond `maxUnchecked`, and on both threads while draining. */
  private pump(): void {
    const threads = this.draining ? [this.o.foreground, this.o.background] : [this.o.foreground];
    for (const t of threads) {
      // Two per thread, so that each has the next piece queued while it hashes one.
      while ((this.reading.get(t) ?? 0) < 2 && this.waiting.length > 0 && (this.draining || this.waitingBytes > this.o.maxUnchecked)) {
        const w = this.waiting.shift() as Waiting;
        this.waitingBytes -= w.length;
        this.reading.set(t, (this.reading.get(t) ?? 0) + 1);
        this.track(t.fileDigest(this.o.file, w.start, w.length).then(
          (digest) => { this.readBackBytes += w.length; return w.done(digestEquals(digest, w.expected) ? 'ok' : 'bad', undefined); },
          () => w.done('lost', undefined),
        ).finally(() => {
          this.reading.set(t, (this.reading.get(t) ?? 1) - 1);
          this.pump();
        }));
      }
    }
  }

  private track(p: Promise<unknown>): void {
    this.running++;
    void p.catch((err: unknown) => { this.failure ??= err; }).finally(() => {
      this.running--;
      if (this.running === 0 && this.waiting.length === 0) {
        const wake = this.idle;
        this.idle = [];
        for (const f of wake) f();
      }
    });
  }
}
