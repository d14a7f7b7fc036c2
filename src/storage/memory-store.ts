import { createHash, type Hash } from 'node:crypto';
import { PeerwebError } from '../errors/index.js';
import {
  bufferReader, checkExpected, checkKey, checkMeta, checkVariant, checkData, HEX_DIGEST, mismatch, notBuffer,
  tooLarge, writerUsed, type CheckedMeta,
} from './common.js';
import {
  MAX_VARIANTS_PER_KEY, MEMORY_BODY_OVERHEAD, MEMORY_ENTRY_OVERHEAD, MEMORY_KEY_OVERHEAD,
} from './constants.js';
import type { BodyReader, BodyWriter, CacheStore, EntryMeta, StoredEntry, StoreStats, SyncPeek } from './types.js';

interface BodySlot {
  readonly size: number;
  /** Null when the body is known (an entry points to it) but held by another tier. */
  buf: Buffer | null;
  refs: number;
}

interface KeySlot {
  /** Most recently stored first; frozen, handed out as is by peek(). */
  entries: readonly StoredEntry[];
  /** Estimated bytes of each entry's metadata, parallel to `entries`. */
  sizes: readonly number[];
}

export interface MemoryStoreOptions {
  readonly maxBytes: number;
  readonly maxObjectSize?: number;
  /** Clock for storedAt (ms); Date.now by default. */
  readonly now?: () => number;
}

function entryBytes(textLength: number): number {
  return MEMORY_ENTRY_OVERHEAD + 2 * textLength;
}

function checkLimit(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new PeerwebError('PW_ERR_STORE_INVALID', { reason: `${name} ${String(v)} is not a byte count` });
  }
  return v;
}

/**
 * The memory tier: Maps with LRU by key (all variants of a key are used and evicted together,
 * so `peek` never shows part of a key's variants), bodies by SHA-256 with reference counts,
 * byte accounting that includes an estimate of the bookkeeping. Nothing in it awaits.
 */
export class MemoryStore implements CacheStore, SyncPeek {
  readonly name = 'memory';
  readonly maxBytes: number;
  readonly maxObjectSize: number;
  readonly #now: () => number;
  /** Insertion order is LRU order: the first key is the least recently used. */
  readonly #keys = new Map<string, KeySlot>();
  readonly #bodies = new Map<string, BodySlot>();
  #entries = 0;
  #bodiesHeld = 0;
  #bodyBytes = 0;
  #metaBytes = 0;
  #evictions = 0;
  #closed = false;

  constructor(opts: MemoryStoreOptions) {
    this.maxBytes = checkLimit('maxBytes', opts.maxBytes);
    this.maxObjectSize = Math.min(checkLimit('maxObjectSize', opts.maxObjectSize ?? opts.maxBytes), this.maxBytes);
    this.#now = opts.now ?? Date.now;
  }

  #checkOpen(): void {
    if (this.#closed) throw new PeerwebError('PW_ERR_STORE_CLOSED', { name: this.name });
  }

  // ── sync view ──────────────────────────────────────────────────────────────

  peek(key: string): readonly StoredEntry[] | undefined {
    return this.#keys.get(key)?.entries;
  }

  bodyBuffer(digest: string): Buffer | undefined {
    return this.#bodies.get(digest)?.buf ?? undefined;
  }

  // ── internal API for the tiered store ─────────────────────────────────────

  /** Whether a body is referenced by an entry held here. */
  hasDigest(digest: string): boolean {
    return this.#bodies.has(digest);
  }

  /**
   * Replaces everything known under `key` with `entries` (most recently stored first), as another
   * tier holds them. `bodies` gives bytes already checked against their digest, for some digests.
   */
  setKey(key: string, entries: readonly StoredEntry[], bodies?: ReadonlyMap<string, Buffer>): void {
    this.#checkOpen();
    const kept = entries.slice(0, MAX_VARIANTS_PER_KEY).map((e) => Object.isFrozen(e) ? e : Object.freeze({ ...e }));
    const sizes = kept.map((e) => entryBytes(e.key.length + e.variant.length + JSON.stringify(e.data).length + e.tags.join('').length));
    // New references first, so bodies already held for this key stay held.
    for (const e of kept) this.#acquire(e.digest, e.size, bodies?.get(e.digest) ?? null);
    this.#removeKey(key);
    if (kept.length === 0) return;
    this.#metaBytes += MEMORY_KEY_OVERHEAD + sizes.reduce((a, b) => a + b, 0);
    this.#entries += kept.length;
    this.#keys.set(key, { entries: Object.freeze(kept), sizes: Object.freeze(sizes) });
    this.#evict(key);
  }

  /** Holds the bytes of a body an entry here points to (promotion from another tier); false when none does. */
  adoptBody(digest: string, buf: Buffer): boolean {
    const slot = this.#bodies.get(digest);
    if (!slot || buf.length !== slot.size || buf.length > this.maxObjectSize) return false;
    if (!slot.buf) {
      slot.buf = buf;
      this.#bodiesHeld++;
      this.#bodyBytes += slot.size + MEMORY_BODY_OVERHEAD;
      this.#evict(undefined);
    }
    return true;
  }

  /** Forgets every entry pointing to `digest` (the other tier found the body missing or corrupt). */
  dropDigest(digest: string): number {
    let n = 0;
    for (const [key, slot] of [...this.#keys]) {
      if (slot.entries.some((e) => e.digest === digest)) {
        n += slot.entries.filter((e) => e.digest === digest).length;
        this.#removeVariants(key, slot, (e) => e.digest === digest);
      }
    }
    return n;
  }

  // ── CacheStore ─────────────────────────────────────────────────────────────

  async lookup(key: string): Promise<StoredEntry[]> {
    this.#checkOpen();
    return [...(this.#keys.get(checkKey(key))?.entries ?? [])];
  }

  createWriter(meta: EntryMeta, opts?: { expectedSize?: number; expectedDigest?: string }): BodyWriter {
    this.#checkOpen();
    const checked = checkMeta(meta);
    const expected = checkExpected(opts);
    if (expected.size !== undefined && expected.size > this.maxObjectSize) throw tooLarge(expected.size, this.maxObjectSize);
    return new MemoryWriter(this, checked, expected.size, expected.digest);
  }

  async put(meta: EntryMeta, body: Buffer): Promise<StoredEntry> {
    this.#checkOpen();
    const checked = checkMeta(meta);
    if (!Buffer.isBuffer(body)) notBuffer();
    if (body.length > this.maxObjectSize) throw tooLarge(body.length, this.maxObjectSize);
    const copy = Buffer.from(body);
    return this.commitBody(checked, copy, createHash('sha256').update(copy).digest('hex'));
  }

  /** Stores checked metadata with a body whose digest was computed over exactly these bytes. */
  commitBody(meta: CheckedMeta, buf: Buffer, digest: string): StoredEntry {
    this.#checkOpen();
    const entry: StoredEntry = Object.freeze({
      key: meta.key, variant: meta.variant, data: meta.data, tags: meta.tags,
      digest, size: buf.length, storedAt: this.#now(),
    });
    const slot = this.#keys.get(meta.key);
    const old = slot?.entries ?? [];
    const oldSizes = slot?.sizes ?? [];
    // The new entry first, then the others (bounded), all re-stored under the same key.
    const entries: StoredEntry[] = [entry];
    const sizes: number[] = [entryBytes(meta.textLength)];
    for (const [i, e] of old.entries()) {
      if (e.variant === meta.variant) continue;
      if (entries.length >= MAX_VARIANTS_PER_KEY) continue;
      entries.push(e);
      sizes.push(oldSizes[i] ?? 0);
    }
    // Take the new references before the old ones go, so a body shared by both is kept.
    for (const e of entries) this.#acquire(e.digest, e.size, e === entry ? buf : null);
    this.#removeKey(meta.key);
    this.#keys.set(meta.key, { entries: Object.freeze(entries), sizes: Object.freeze(sizes) });
    this.#entries += entries.length;
    this.#metaBytes += MEMORY_KEY_OVERHEAD + sizes.reduce((a, b) => a + b, 0);
    this.#evict(meta.key);
    return entry;
  }

  async openBody(digest: string): Promise<BodyReader | undefined> {
    this.#checkOpen();
    if (typeof digest !== 'string' || !HEX_DIGEST.test(digest)) return undefined;
    const buf = this.#bodies.get(digest)?.buf;
    return buf ? bufferReader(buf) : undefined;
  }

  async updateData(key: string, variant: string, data: Readonly<Record<string, unknown>>): Promise<boolean> {
    this.#checkOpen();
    return this.updateDataSync(checkKey(key), checkVariant(variant), data);
  }

  updateDataSync(key: string, variant: string, data: Readonly<Record<string, unknown>>): boolean {
    const checked = checkData(data);
    const slot = this.#keys.get(key);
    const i = slot?.entries.findIndex((e) => e.variant === variant) ?? -1;
    if (!slot || i < 0) return false;
    const old = slot.entries[i] as StoredEntry;
    const entries = [...slot.entries];
    const sizes = [...slot.sizes];
    entries[i] = Object.freeze({ ...old, data: checked.data });
    const size = entryBytes(key.length + variant.length + checked.json.length + old.tags.join('').length);
    this.#metaBytes += size - (sizes[i] ?? 0);
    sizes[i] = size;
    slot.entries = Object.freeze(entries);
    slot.sizes = Object.freeze(sizes);
    this.#evict(key);
    return true;
  }

  async delete(key: string, variant?: string): Promise<number> {
    this.#checkOpen();
    checkKey(key);
    if (variant !== undefined) checkVariant(variant);
    return this.deleteSync(key, variant);
  }

  deleteSync(key: string, variant?: string): number {
    const slot = this.#keys.get(key);
    if (!slot) return 0;
    return this.#removeVariants(key, slot, (e) => variant === undefined || e.variant === variant);
  }

  async purgePrefix(prefix: string): Promise<number> {
    this.#checkOpen();
    if (typeof prefix !== 'string') checkKey(prefix);
    return this.purgePrefixSync(prefix);
  }

  purgePrefixSync(prefix: string): number {
    let n = 0;
    for (const key of [...this.#keys.keys()]) if (key.startsWith(prefix)) n += this.#removeKey(key);
    return n;
  }

  async purgeTag(tag: string): Promise<number> {
    this.#checkOpen();
    return this.purgeTagSync(tag);
  }

  purgeTagSync(tag: string): number {
    let n = 0;
    for (const [key, slot] of [...this.#keys]) {
      if (slot.entries.some((e) => e.tags.includes(tag))) n += this.#removeVariants(key, slot, (e) => e.tags.includes(tag));
    }
    return n;
  }

  touch(key: string, _variant: string): void {
    const slot = this.#keys.get(key);
    if (!slot) return;
    this.#keys.delete(key);
    this.#keys.set(key, slot);
  }

  stats(): StoreStats {
    return {
      entries: this.#entries,
      bodies: this.#bodies.size,
      bytes: this.#bodyBytes + this.#metaBytes,
      maxBytes: this.maxBytes,
      evictions: this.#evictions,
      corruptDropped: 0,
    };
  }

  /** Bodies whose bytes are held here (stats().bodies also counts bodies held by another tier). */
  heldBodies(): number {
    return this.#bodiesHeld;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#keys.clear();
    this.#bodies.clear();
    this.#entries = this.#bodiesHeld = this.#bodyBytes = this.#metaBytes = 0;
  }

  // ── bookkeeping ────────────────────────────────────────────────────────────

  #acquire(digest: string, size: number, buf: Buffer | null): void {
    const slot = this.#bodies.get(digest);
    if (slot) {
      slot.refs++;
      if (buf && !slot.buf) {
        slot.buf = buf;
        this.#bodiesHeld++;
        this.#bodyBytes += size + MEMORY_BODY_OVERHEAD;
      }
      return;
    }
    this.#bodies.set(digest, { size, buf, refs: 1 });
    if (buf) {
      this.#bodiesHeld++;
      this.#bodyBytes += size + MEMORY_BODY_OVERHEAD;
    }
  }

  #release(digest: string): void {
    const slot = this.#bodies.get(digest);
    if (!slot) return;
    if (--slot.refs > 0) return;
    this.#bodies.delete(digest);
    if (slot.buf) {
      this.#bodiesHeld--;
      this.#bodyBytes -= slot.size + MEMORY_BODY_OVERHEAD;
    }
  }

  /** Removes a whole key; returns how many entries it had. */
  #removeKey(key: string): number {
    const slot = this.#keys.get(key);
    if (!slot) return 0;
    this.#keys.delete(key);
    this.#entries -= slot.entries.length;
    this.#metaBytes -= MEMORY_KEY_OVERHEAD + slot.sizes.reduce((a, b) => a + b, 0);
    for (const e of slot.entries) this.#release(e.digest);
    return slot.entries.length;
  }

  #removeVariants(key: string, slot: KeySlot, drop: (e: StoredEntry) => boolean): number {
    const entries: StoredEntry[] = [];
    const sizes: number[] = [];
    let n = 0;
    for (const [i, e] of slot.entries.entries()) {
      if (drop(e)) {
        n++;
        this.#entries--;
        this.#metaBytes -= slot.sizes[i] ?? 0;
        this.#release(e.digest);
      } else {
        entries.push(e);
        sizes.push(slot.sizes[i] ?? 0);
      }
    }
    if (entries.length === 0) {
      this.#keys.delete(key);
      this.#metaBytes -= MEMORY_KEY_OVERHEAD;
    } else {
      slot.entries = Object.freeze(entries);
      slot.sizes = Object.freeze(sizes);
    }
    return n;
  }

  /** Evicts least recently used keys until the store fits; `keep` (just written) goes last. */
  #evict(keep: string | undefined): void {
    while (this.#bodyBytes + this.#metaBytes > this.maxBytes) {
      let victim: string | undefined;
      for (const k of this.#keys.keys()) {
        if (k !== keep) { victim = k; break; }
      }
      if (victim === undefined) victim = keep;
      if (victim === undefined) return;
      this.#evictions += this.#removeKey(victim);
      if (victim === keep) return;
    }
  }
}

/** Collects a body into one buffer it owns, hashing the bytes as they are copied in. */
class MemoryWriter implements BodyWriter {
  readonly #store: MemoryStore;
  readonly #meta: CheckedMeta;
  readonly #expectedSize: number | undefined;
  readonly #expectedDigest: string | undefined;
  readonly #hash: Hash = createHash('sha256');
  #buf: Buffer;
  #state: 'open' | 'done' = 'open';
  bytesWritten = 0;

  constructor(store: MemoryStore, meta: CheckedMeta, expectedSize: number | undefined, expectedDigest: string | undefined) {
    this.#store = store;
    this.#meta = meta;
    this.#expectedSize = expectedSize;
    this.#expectedDigest = expectedDigest;
    this.#buf = Buffer.allocUnsafe(Math.min(expectedSize ?? 16 * 1024, 8 * 1024 * 1024));
  }

  write(chunk: Buffer): void {
    if (this.#state !== 'open') writerUsed();
    if (!Buffer.isBuffer(chunk)) notBuffer();
    const n = this.bytesWritten + chunk.length;
    if (n > this.#store.maxObjectSize) {
      this.#drop();
      throw tooLarge(n, this.#store.maxObjectSize);
    }
    if (this.#expectedSize !== undefined && n > this.#expectedSize) {
      this.#drop();
      throw mismatch(this.#meta.key, 'size', `at least ${n}`, this.#expectedSize);
    }
    if (n > this.#buf.length) {
      const grown = Buffer.allocUnsafe(Math.min(this.#store.maxObjectSize, Math.max(n, this.#buf.length * 2)));
      this.#buf.copy(grown, 0, 0, this.bytesWritten);
      this.#buf = grown;
    }
    chunk.copy(this.#buf, this.bytesWritten);
    this.#hash.update(this.#buf.subarray(this.bytesWritten, n));
    this.bytesWritten = n;
  }

  async commit(): Promise<StoredEntry> {
    if (this.#state !== 'open') writerUsed();
    this.#state = 'done';
    const digest = this.#hash.digest('hex');
    const size = this.bytesWritten;
    const capacity = this.#buf.length;
    let buf = this.#buf.subarray(0, size);
    this.#buf = Buffer.alloc(0);
    // Keep only the bytes of the body, not the spare capacity of the growing buffer.
    if (capacity - size > 4096 + size / 4) buf = Buffer.from(buf);
    if (this.#expectedSize !== undefined && size !== this.#expectedSize) throw mismatch(this.#meta.key, 'size', size, this.#expectedSize);
    if (this.#expectedDigest !== undefined && digest !== this.#expectedDigest) throw mismatch(this.#meta.key, 'digest', digest, this.#expectedDigest);
    return this.#store.commitBody(this.#meta, buf, digest);
  }

  async abort(): Promise<void> {
    this.#drop();
  }

  #drop(): void {
    this.#state = 'done';
    this.#buf = Buffer.alloc(0);
  }
}

export function createMemoryStore(opts: MemoryStoreOptions): MemoryStore {
  return new MemoryStore(opts);
}
