import type { PeerwebError } from '../errors/index.js';
import type { Fields } from '../http/fields.js';
import type { ResultTag } from '../admin/metrics.js';
import type { PreparedHead } from '../accept/index.js';

/** What a flight learned from upstream. */
export type FlightOutcome =
  | { readonly kind: 'response'; readonly head: FlightHead }
  /** A revalidation got 304: the stored entry was freshened; waiters serve it from the cache. */
  | { readonly kind: 'not-modified' }
  | { readonly kind: 'error'; readonly error: PeerwebError };

export interface FlightHead {
  readonly status: number;
  readonly headers: Fields;
  readonly contentLength: number | null;
  /** Other clients may be given this response (not private, no Set-Cookie, not personalised). */
  readonly shareable: boolean;
  /** Vary of the response ('*' never matches another request). */
  readonly vary: readonly string[] | '*';
  /** Secondary key of the request that started the flight, for the fields in `vary`. */
  readonly fetcherVariant: string;
  /** Where the bytes came from (MISS, SIBLING_HIT, MIRROR_HIT…). */
  readonly tag: ResultTag;
  /** The flight writes the response into the store (it will be there for ranges and conditionals). */
  readonly storing: boolean;
}

/** A reader of a flight's body: its position and how to wake it. */
export interface Consumer {
  cursor: number;
  wake: () => void;
}

/**
 * One upstream fetch that every client asking for the same key at the same time shares.
 * The body is kept as a list of chunks that each consumer reads at its own pace; chunks every
 * consumer has passed are released once the flight holds more than `retainLimit` bytes,
 * and from then on nobody new may join (they fetch on their own).
 */
export class Flight {
  readonly key: string;
  readonly revalidation: boolean;
  readonly outcome: Promise<FlightOutcome>;
  private resolveOutcome!: (o: FlightOutcome) => void;
  readonly chunks: (Buffer | undefined)[] = [];
  /** Bytes received so far. */
  received = 0;
  /** Bytes currently held in `chunks`. */
  retained = 0;
  done = false;
  failed: Error | null = null;
  joinable = true;
  waiters = 0;
  /** Heads prepared for this flight's clients, by Cache-Status value. */
  readonly heads = new Map<string, PreparedHead>();
  private readonly consumers = new Set<Consumer>();
  private released = 0;
  private spaceWaiters: (() => void)[] = [];

  constructor(key: string, revalidation: boolean, private readonly retainLimit: number, private readonly maxWaiters: number) {
    this.key = key;
    this.revalidation = revalidation;
    this.outcome = new Promise((r) => (this.resolveOutcome = r));
  }

  settle(o: FlightOutcome): void {
    this.resolveOutcome(o);
  }

  /** Room for one more waiter? (bounded waiting list) */
  canJoin(): boolean {
    return this.joinable && this.waiters < this.maxWaiters;
  }

  addConsumer(c: Consumer): void {
    this.consumers.add(c);
  }

  removeConsumer(c: Consumer): void {
    this.consumers.delete(c);
    this.release();
  }

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.received += chunk.length;
    this.retained += chunk.length;
    if (this.retained > this.retainLimit) this.joinable = false;
    for (const c of this.consumers) c.wake();
  }

  finish(err: Error | null): void {
    this.done = true;
    this.failed = err;
    this.joinable = false;
    for (const c of this.consumers) c.wake();
    for (const w of this.spaceWaiters.splice(0)) w();
  }

  /** Called by consumers as they advance: frees chunks everyone has passed once over the limit. */
  release(): void {
    if (this.retained <= this.retainLimit && this.consumers.size > 0) return;
    let min = this.chunks.length;
    for (const c of this.consumers) if (c.cursor < min) min = c.cursor;
    // While still joinable and under the limit nothing is freed, so late joiners can start at 0.
    if (this.joinable) return;
    for (let i = this.released; i < min; i++) {
      const b = this.chunks[i];
      if (b) this.retained -= b.length;
      this.chunks[i] = undefined;
    }
    if (min > this.released) this.released = min;
    if (this.retained <= this.retainLimit) for (const w of this.spaceWaiters.splice(0)) w();
  }

  /** Resolves when the flight may read more from upstream (retained bytes under the limit). */
  waitForSpace(): Promise<void> | undefined {
    if (this.retained <= this.retainLimit || this.consumers.size === 0) return undefined;
    return new Promise((r) => this.spaceWaiters.push(r));
  }
}

/** The in-flight fetches by key. */
export class FlightTable {
  private readonly map = new Map<string, Flight>();

  get(key: string): Flight | undefined {
    return this.map.get(key);
  }

  register(f: Flight): void {
    this.map.set(f.key, f);
  }

  end(f: Flight): void {
    if (this.map.get(f.key) === f) this.map.delete(f.key);
  }

  get size(): number {
    return this.map.size;
  }
}
