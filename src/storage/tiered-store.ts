import { PeerwebError } from '../errors/index.js';
import { bufferReader, checkKey, HEX_DIGEST, notBuffer, tooLarge, writerUsed } from './common.js';
import { MemoryStore } from './memory-store.js';
import type { BodyReader, BodyWriter, CacheStore, EntryMeta, StoredEntry, StoreStats, SyncPeek } from './types.js';

export interface TieredStoreOptions {
  /** Largest body held in the memory tier; larger ones are read from disk (and refused without a disk tier). */
  readonly memoryMaxObjectSize: number;
}

/** What the tiered store reports beside the combined stats. */
export interface TierStats {
  readonly memory: StoreStats;
  readonly disk: StoreStats | null;
  /** Bodies whose bytes the memory tier holds (the others are only known by digest). */
  readonly memoryBodies: number;
}

interface SyncLookup { lookupSync(key: string): StoredEntry[] }

function hasLookupSync(s: CacheStore): s is CacheStore & SyncLookup {
  return typeof (s as Partial<SyncLookup>).lookupSync === 'function';
}

/**
 * Memory in front of disk. The memory tier mirrors the disk's records of the keys it holds (all
 * variants of a key, so `peek` is complete for a key it knows), with the bytes of bodies up to
 * `memoryMaxObjectSize`; every write goes to disk first, then into memory.
 */
export class TieredStore implements CacheStore, SyncPeek {
  readonly name: string;
  readonly #memory: MemoryStore;
  readonly #disk: CacheStore | null;
  readonly #memoryMax: number;
  #closed = false;

  constructor(memory: CacheStore, disk: CacheStore | null, opts?: TieredStoreOptions) {
    if (!(memory instanceof MemoryStore)) {
      throw new PeerwebError('PW_ERR_STORE_INVALID', { reason: 'the memory tier must be a store made by createMemoryStore()' });
    }
    this.#memory = memory;
    this.#disk = disk;
    this.#memoryMax = Math.min(opts?.memoryMaxObjectSize ?? memory.maxObjectSize, memory.maxObjectSize);
    this.name = disk ? `tiered(${memory.name}+${disk.name})` : `tiered(${memory.name})`;
  }

  #checkOpen(): void {
    if (this.#closed) throw new PeerwebError('PW_ERR_STORE_CLOSED', { name: this.name });
  }

  peek(key: string): readonly StoredEntry[] | undefined {
    return this.#memory.peek(key);
  }

  bodyBuffer(digest: string): Buffer | undefined {
    return this.#memory.bodyBuffer(digest);
  }

  /** Copies every record of `key` from disk into memory, with the bodies given. */
  async #mirror(key: string, bodies?: ReadonlyMap<string, Buffer>): Promise<StoredEntry[]> {
    const disk = this.#disk as CacheStore;
    const all = hasLookupSync(disk) ? disk.lookupSync(key) : await disk.lookup(key);
    this.#memory.setKey(key, all, bodies);
    return all;
  }

  async lookup(key: string): Promise<StoredEntry[]> {
    this.#checkOpen();
    const hit = this.#memory.peek(checkKey(key));
    if (hit) return [...hit];
    if (!this.#disk) return [];
    const all = hasLookupSync(this.#disk) ? this.#disk.lookupSync(key) : await this.#disk.lookup(key);
    if (all.length > 0 && !this.#memory.peek(key)) this.#memory.setKey(key, all);
    return all;
  }

  createWriter(meta: EntryMeta, opts?: { expectedSize?: number; expectedDigest?: string }): BodyWriter {
    this.#checkOpen();
    if (!this.#disk) {
      if (opts?.expectedSize !== undefined && opts.expectedSize > this.#memoryMax) throw tooLarge(opts.expectedSize, this.#memoryMax);
      return new LimitedWriter(this.#memory.createWriter(meta, opts), this.#memoryMax);
    }
    return new TieredWriter(this, this.#disk.createWriter(meta, opts), this.#memoryMax);
  }

  /** Called by TieredWriter after the disk commit. */
  afterDiskCommit(entry: StoredEntry, body: Buffer | null): Promise<StoredEntry[]> {
    const bodies = body && body.length === entry.size ? new Map([[entry.digest, body]]) : undefined;
    return this.#mirror(entry.key, bodies);
  }

  async put(meta: EntryMeta, body: Buffer): Promise<StoredEntry> {
    this.#checkOpen();
    if (!Buffer.isBuffer(body)) notBuffer();
    if (!this.#disk) {
      if (body.length > this.#memoryMax) throw tooLarge(body.length, this.#memoryMax);
      return this.#memory.put(meta, body);
    }
    const entry = await this.#disk.put(meta, body);
    await this.afterDiskCommit(entry, body.length <= this.#memoryMax ? Buffer.from(body) : null);
    return entry;
  }

  async openBody(digest: string): Promise<BodyReader | undefined> {
    this.#checkOpen();
    if (typeof digest !== 'string' || !HEX_DIGEST.test(digest)) return undefined;
    const buf = this.#memory.bodyBuffer(digest);
    if (buf) return bufferReader(buf);
    if (!this.#disk) return undefined;
    const reader = await this.#disk.openBody(digest);
    if (!reader) {
      this.#memory.dropDigest(digest);
      return undefined;
    }
    if (reader.size <= this.#memoryMax) {
      let bytes = reader.buffer;
      if (!bytes && this.#memory.hasDigest(digest)) {
        // A large-ish disk body (past the disk's read-whole size) still small enough for memory.
        const parts: Buffer[] = [];
        for await (const c of reader.stream()) parts.push(c);
        bytes = Buffer.concat(parts);
        if (bytes.length !== reader.size) return undefined;
        this.#memory.adoptBody(digest, bytes);
        return bufferReader(bytes);
      }
      if (bytes) this.#memory.adoptBody(digest, bytes);
    }
    return reader;
  }

  async updateData(key: string, variant: string, data: Readonly<Record<string, unknown>>): Promise<boolean> {
    this.#checkOpen();
    const inMemory = await this.#memory.updateData(key, variant, data);
    if (!this.#disk) return inMemory;
    return this.#disk.updateData(key, variant, data);
  }

  async delete(key: string, variant?: string): Promise<number> {
    this.#checkOpen();
    const m = await this.#memory.delete(key, variant);
    return this.#disk ? Math.max(m, await this.#disk.delete(key, variant)) : m;
  }

  async purgePrefix(prefix: string): Promise<number> {
    this.#checkOpen();
    const m = await this.#memory.purgePrefix(prefix);
    return this.#disk ? Math.max(m, await this.#disk.purgePrefix(prefix)) : m;
  }

  async purgeTag(tag: string): Promise<number> {
    this.#checkOpen();
    const m = await this.#memory.purgeTag(tag);
    return this.#disk ? Math.max(m, await this.#disk.purgeTag(tag)) : m;
  }

  touch(key: string, variant: string): void {
    this.#memory.touch(key, variant);
    this.#disk?.touch(key, variant);
  }

  /** The disk tier's figures when there is one (it holds every entry), with both tiers' evictions and drops. */
  stats(): StoreStats {
    const m = this.#memory.stats();
    if (!this.#disk) return m;
    const d = this.#disk.stats();
    return { ...d, corruptDropped: d.corruptDropped + m.corruptDropped };
  }

  tierStats(): TierStats {
    return { memory: this.#memory.stats(), disk: this.#disk?.stats() ?? null, memoryBodies: this.#memory.heldBodies() };
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#memory.close();
    await this.#disk?.close();
  }
}

/** The disk writer, plus a copy of the bytes while they fit the memory tier. */
class TieredWriter implements BodyWriter {
  readonly #store: TieredStore;
  readonly #disk: BodyWriter;
  readonly #memoryMax: number;
  #parts: Buffer[] | null = [];

  constructor(store: TieredStore, disk: BodyWriter, memoryMax: number) {
    this.#store = store;
    this.#disk = disk;
    this.#memoryMax = memoryMax;
  }

  get bytesWritten(): number { return this.#disk.bytesWritten; }

  write(chunk: Buffer): Promise<void> | void {
    if (!Buffer.isBuffer(chunk)) notBuffer();
    if (this.#parts && this.#disk.bytesWritten + chunk.length <= this.#memoryMax) {
      // One private copy feeds both tiers, so the memory copy is exactly the bytes the disk hashed.
      const copy = Buffer.from(chunk);
      const r = this.#disk.write(copy);
      this.#parts.push(copy);
      return r;
    }
    this.#parts = null;
    return this.#disk.write(chunk);
  }

  async commit(): Promise<StoredEntry> {
    const entry = await this.#disk.commit();
    const parts = this.#parts;
    this.#parts = null;
    const body = parts ? Buffer.concat(parts) : null;
    await this.#store.afterDiskCommit(entry, body);
    return entry;
  }

  async abort(): Promise<void> {
    this.#parts = null;
    await this.#disk.abort();
  }
}

/** A memory-only node: the memory writer, refusing bodies past memoryMaxObjectSize. */
class LimitedWriter implements BodyWriter {
  readonly #inner: BodyWriter;
  readonly #limit: number;
  #done = false;

  constructor(inner: BodyWriter, limit: number) {
    this.#inner = inner;
    this.#limit = limit;
  }

  get bytesWritten(): number { return this.#inner.bytesWritten; }

  write(chunk: Buffer): Promise<void> | void {
    if (this.#done) writerUsed();
    if (!Buffer.isBuffer(chunk)) notBuffer();
    const n = this.#inner.bytesWritten + chunk.length;
    if (n > this.#limit) {
      void this.abort();
      throw tooLarge(n, this.#limit);
    }
    return this.#inner.write(chunk);
  }

  commit(): Promise<StoredEntry> {
    if (this.#done) writerUsed();
    this.#done = true;
    return this.#inner.commit();
  }

  async abort(): Promise<void> {
    this.#done = true;
    await this.#inner.abort();
  }
}

export function createTieredStore(memory: CacheStore, disk: CacheStore | null, opts?: TieredStoreOptions): TieredStore {
  return new TieredStore(memory, disk, opts);
}
