/**
 * The store knows nothing of HTTP: it keeps bodies by SHA-256 and metadata records by
 * (key, variant). The cache layer decides what the headers mean.
 */

/** A metadata record as the cache writes it. */
export interface EntryMeta {
  /** Primary key (the cache layer's key: scheme, host, port, path and query). */
  readonly key: string;
  /** Secondary key from Vary ('' when the response has no Vary). */
  readonly variant: string;
  /** Opaque to the store: the cache's own data (status, header fields, times…), JSON-serialisable. */
  readonly data: Readonly<Record<string, unknown>>;
  /** Surrogate keys for purge by tag. */
  readonly tags: readonly string[];
}

/** A stored entry: its metadata and the body it points to. */
export interface StoredEntry extends EntryMeta {
  /** SHA-256 of the body, lower-case hex. */
  readonly digest: string;
  readonly size: number;
  /** When the entry was stored (ms). */
  readonly storedAt: number;
}

/** A body opened for reading; the bytes have passed the SHA-256 check before any is handed out. */
export interface BodyReader {
  readonly size: number;
  /** The whole body when it is held in memory (memory tier, or small disk bodies). */
  readonly buffer: Buffer | null;
  /** Streams bytes [start, end] inclusive (default: all). */
  stream(start?: number, end?: number): AsyncIterable<Buffer>;
}

/** Streams a new body in; the entry becomes visible only after `commit`. */
export interface BodyWriter {
  write(chunk: Buffer): Promise<void> | void;
  /** Checks size (and digest when `expectedDigest` was given), stores atomically, writes the record. */
  commit(): Promise<StoredEntry>;
  /** Drops what was written (upstream broke, too large…). */
  abort(): Promise<void>;
  readonly bytesWritten: number;
}

export interface StoreStats {
  readonly entries: number;
  readonly bodies: number;
  readonly bytes: number;
  readonly maxBytes: number;
  readonly evictions: number;
  readonly corruptDropped: number;
}

export interface CacheStore {
  readonly name: string;
  /** Every variant stored under `key`, most recently stored first. */
  lookup(key: string): Promise<StoredEntry[]>;
  /** Starts storing a body for `meta`; replaces the same (key, variant) on commit. */
  createWriter(meta: EntryMeta, opts?: { expectedSize?: number; expectedDigest?: string }): BodyWriter;
  /** Stores a whole body at once. */
  put(meta: EntryMeta, body: Buffer): Promise<StoredEntry>;
  /** Opens a body by digest; undefined when missing or when it failed its hash check (then it is dropped). */
  openBody(digest: string): Promise<BodyReader | undefined>;
  /** Replaces the cache data of one record (after a 304), keeping the body. */
  updateData(key: string, variant: string, data: Readonly<Record<string, unknown>>): Promise<boolean>;
  /** Deletes one variant, or every variant of the key when `variant` is omitted; returns how many. */
  delete(key: string, variant?: string): Promise<number>;
  purgePrefix(prefix: string): Promise<number>;
  purgeTag(tag: string): Promise<number>;
  /** Marks an entry as used (for LRU eviction). */
  touch(key: string, variant: string): void;
  stats(): StoreStats;
  close(): Promise<void>;
}

/**
 * Synchronous view of the memory tier, for the hit path: no Promise is created when a hit is
 * served entirely from memory. `peek` returns undefined when the memory tier does not know the
 * key (then call `lookup`); `bodyBuffer` returns undefined when the body is not held in memory
 * (then call `openBody`). Bytes returned by `bodyBuffer` passed the SHA-256 check.
 */
export interface SyncPeek {
  peek(key: string): readonly StoredEntry[] | undefined;
  bodyBuffer(digest: string): Buffer | undefined;
}
