import { createHash, randomBytes, type Hash } from 'node:crypto';
import { mkdir, open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { PeerwebError } from '../errors/index.js';
import { silentLogger, type Logger } from '../util/log.js';
import {
  bufferReader, checkData, checkExpected, checkKey, checkMeta, checkRange, checkVariant, HEX_DIGEST, mismatch,
  notBuffer, sha256Hex, tooLarge, writerUsed, type CheckedMeta,
} from './common.js';
import {
  DELETE_BATCH, DISK_ENTRY_OVERHEAD, DISK_FORMAT_VERSION, DISK_READ_CHUNK, DISK_SMALL_BODY, DISK_STAGE_SIZE,
  MAX_VARIANTS_PER_KEY, TOUCH_FLUSH_BATCH, TOUCH_FLUSH_INTERVAL,
} from './constants.js';
import { openIndex, prepareStatements, type EntryRow, type RowRef, type Statements } from './disk-index.js';
import type { BodyReader, BodyWriter, CacheStore, EntryMeta, StoredEntry, StoreStats } from './types.js';

export interface DiskStoreOptions {
  readonly dir: string;
  readonly maxBytes: number;
  readonly maxObjectSize?: number;
  readonly logger?: Logger;
  /** Clock for storedAt and lastUsed (ms); Date.now by default. */
  readonly now?: () => number;
  /** fsync each body file before it is renamed into place (default true). */
  readonly fsync?: boolean;
  /** Remove body files no record points to (left by a crash) in the background after opening (default true). */
  readonly sweepOnOpen?: boolean;
}

/** Most digests remembered as verified in this process; past it the set starts over (bodies are re-hashed). */
const MAX_VERIFIED = 1_000_000;

function errCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

function ioError(what: string, err: unknown): PeerwebError {
  if (err instanceof PeerwebError) return err;
  return new PeerwebError('PW_ERR_STORE_IO', { reason: `${what}: ${(err as Error).message}` }, { cause: err });
}

async function unlinkQuiet(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if (errCode(err) !== 'ENOENT') throw err;
  }
}

function checkLimit(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new PeerwebError('PW_ERR_STORE_INVALID', { reason: `${name} ${String(v)} is not a byte count` });
  }
  return v;
}

/**
 * The disk tier: bodies are files named by their SHA-256 under `<dir>/v1/bodies/ab/cd/<hex>`, written
 * to `<dir>/v1/tmp/`, fsync'd and renamed into place before the record that points to them is
 * written; records live in `<dir>/v1/index.sqlite`. See docs/storage.md for the crash-safety argument.
 */
export class DiskStore implements CacheStore {
  readonly name = 'disk';
  readonly dir: string;
  readonly maxBytes: number;
  readonly maxObjectSize: number;
  readonly #root: string;
  readonly #bodiesDir: string;
  readonly #tmpDir: string;
  readonly #db: Database.Database;
  readonly #st: Statements;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #fsync: boolean;
  #entries = 0;
  #bodies = 0;
  #bodyBytes = 0;
  #metaBytes = 0;
  #evictions = 0;
  #corrupt = 0;
  #lru = 0;
  #closed = false;
  /** Digests whose file passed its hash check (or was written) in this process. */
  readonly #verified = new Set<string>();
  readonly #verifying = new Map<string, Promise<boolean>>();
  /** Sequence number of the last install of each digest in this process (to tell fresh bytes from checked ones). */
  readonly #installed = new Map<string, number>();
  #installSeq = 0;
  /** Per-digest chain of file operations (install, unlink, drop), so they never interleave. */
  readonly #locks = new Map<string, Promise<void>>();
  readonly #background = new Set<Promise<unknown>>();
  readonly #touches = new Map<string, readonly [string, string]>();
  #touchTimer: NodeJS.Timeout | null = null;
  readonly #dirsMade = new Set<string>();
  readonly #remove: (rows: readonly RowRef[]) => string[];

  /** Use createDiskStore(). */
  constructor(opts: DiskStoreOptions, db: Database.Database) {
    this.dir = opts.dir;
    this.maxBytes = checkLimit('maxBytes', opts.maxBytes);
    this.maxObjectSize = Math.min(checkLimit('maxObjectSize', opts.maxObjectSize ?? opts.maxBytes), this.maxBytes);
    this.#root = join(opts.dir, `v${DISK_FORMAT_VERSION}`);
    this.#bodiesDir = join(this.#root, 'bodies');
    this.#tmpDir = join(this.#root, 'tmp');
    this.#db = db;
    this.#st = prepareStatements(db);
    this.#log = opts.logger ?? silentLogger;
    this.#now = opts.now ?? Date.now;
    this.#fsync = opts.fsync ?? true;
    const e = this.#st.entryTotals.get() as { n: number; meta: number; lru: number };
    const b = this.#st.bodyTotals.get() as { n: number; bytes: number };
    this.#entries = e.n;
    this.#metaBytes = e.meta;
    this.#lru = e.lru;
    this.#bodies = b.n;
    this.#bodyBytes = b.bytes;
    this.#remove = db.transaction((rows: readonly RowRef[]) => this.#removeRows(rows));
  }

  get tmpDir(): string { return this.#tmpDir; }
  get bodiesDir(): string { return this.#bodiesDir; }

  /** Path of the file holding the body `digest`. */
  bodyPath(digest: string): string {
    return join(this.#bodiesDir, digest.slice(0, 2), digest.slice(2, 4), digest);
  }

  #checkOpen(): void {
    if (this.#closed) throw new PeerwebError('PW_ERR_STORE_CLOSED', { name: this.name });
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#background.add(p);
    const done = (): void => { this.#background.delete(p); };
    p.then(done, done);
    return p;
  }

  #withLock<T>(digest: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(digest) ?? Promise.resolve();
    const run = prev.then(fn);
    const settled = run.then(() => undefined, () => undefined);
    this.#locks.set(digest, settled);
    void settled.then(() => { if (this.#locks.get(digest) === settled) this.#locks.delete(digest); });
    return run;
  }

  #markVerified(digest: string): void {
    if (this.#verified.size >= MAX_VERIFIED) this.#verified.clear();
    this.#verified.add(digest);
  }

  // ── records (synchronous, inside SQLite transactions) ─────────────────────

  /** Deletes rows; returns digests no record points to any more (their files are to be removed). */
  #removeRows(rows: readonly RowRef[]): string[] {
    const candidates = new Map<string, number>();
    for (const r of rows) {
      this.#st.deleteTags.run(r.id);
      if (this.#st.deleteId.run(r.id).changes === 0) continue;
      this.#entries--;
      this.#metaBytes -= r.meta_bytes;
      candidates.set(r.digest, r.size);
    }
    const orphans: string[] = [];
    for (const [digest, size] of candidates) {
      if (this.#st.hasDigest.get(digest) !== undefined) continue;
      this.#bodies--;
      this.#bodyBytes -= size;
      orphans.push(digest);
    }
    return orphans;
  }

  #insertRecord(m: CheckedMeta, digest: string, size: number): { entry: StoredEntry; orphans: string[] } {
    const now = this.#now();
    return this.#db.transaction(() => {
      const had = this.#st.hasDigest.get(digest) !== undefined;
      const existing = this.#st.byKey.all(m.key);
      const others = existing.filter((r) => r.variant !== m.variant);
      const drop: RowRef[] = existing.filter((r) => r.variant === m.variant);
      drop.push(...others.slice(MAX_VARIANTS_PER_KEY - 1));
      // Rows are deleted first (UNIQUE key, variant), bodies settled after the insert.
      const candidates = new Map<string, number>();
      for (const r of drop) {
        this.#st.deleteTags.run(r.id);
        this.#st.deleteId.run(r.id);
        this.#entries--;
        this.#metaBytes -= r.meta_bytes;
        candidates.set(r.digest, r.size);
      }
      const metaBytes = DISK_ENTRY_OVERHEAD + m.textLength;
      const id = Number(this.#st.insert.run(m.key, m.variant, digest, size, m.dataJson, m.tagsJson, now, now, ++this.#lru, metaBytes).lastInsertRowid);
      for (const t of m.tags) this.#st.insertTag.run(t, id);
      this.#entries++;
      this.#metaBytes += metaBytes;
      if (!had) {
        this.#bodies++;
        this.#bodyBytes += size;
      }
      const orphans: string[] = [];
      for (const [d, s] of candidates) {
        if (d === digest || this.#st.hasDigest.get(d) !== undefined) continue;
        this.#bodies--;
        this.#bodyBytes -= s;
        orphans.push(d);
      }
      const entry: StoredEntry = Object.freeze({ key: m.key, variant: m.variant, data: m.data, tags: m.tags, digest, size, storedAt: now });
      return { entry, orphans };
    })();
  }

  #scheduleUnlinks(digests: readonly string[]): void {
    for (const d of digests) {
      void this.#track(this.#withLock(d, async () => {
        if (this.#st.hasDigest.get(d) !== undefined || this.#closed) return;
        this.#verified.delete(d);
        this.#installed.delete(d);
        await unlinkQuiet(this.bodyPath(d));
      }).catch((err: unknown) => this.#log.warn({ err, digest: d }, 'cannot remove body file')));
    }
  }

  #evictIfNeeded(): void {
    if (this.#closed || this.#bodyBytes + this.#metaBytes <= this.maxBytes) return;
    this.flushTouches();
    const orphans: string[] = [];
    this.#db.transaction(() => {
      while (this.#bodyBytes + this.#metaBytes > this.maxBytes) {
        const rows = this.#st.lruBatch.all(DELETE_BATCH);
        if (rows.length === 0) break;
        for (const r of rows) {
          const before = this.#entries;
          orphans.push(...this.#removeRows([r]));
          this.#evictions += before - this.#entries;
          if (this.#bodyBytes + this.#metaBytes <= this.maxBytes) break;
        }
      }
    })();
    this.#scheduleUnlinks(orphans);
  }

  #rowToEntry(r: EntryRow): StoredEntry | undefined {
    try {
      const data = checkData(JSON.parse(r.data)).data;
      const tags = JSON.parse(r.tags) as unknown;
      if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) return undefined;
      return Object.freeze({
        key: r.key, variant: r.variant, data, tags: Object.freeze(tags as string[]),
        digest: r.digest, size: r.size, storedAt: r.stored_at,
      });
    } catch {
      return undefined;
    }
  }

  // ── CacheStore ─────────────────────────────────────────────────────────────

  /** lookup() without the Promise (the tiered store uses it to mirror a key into memory atomically). */
  lookupSync(key: string): StoredEntry[] {
    this.#checkOpen();
    const out: StoredEntry[] = [];
    for (const r of this.#st.lookup.all(checkKey(key))) {
      const e = this.#rowToEntry(r);
      if (e) out.push(e);
    }
    return out;
  }

  async lookup(key: string): Promise<StoredEntry[]> {
    return this.lookupSync(key);
  }

  createWriter(meta: EntryMeta, opts?: { expectedSize?: number; expectedDigest?: string }): BodyWriter {
    this.#checkOpen();
    const checked = checkMeta(meta);
    const expected = checkExpected(opts);
    if (expected.size !== undefined && expected.size > this.maxObjectSize) throw tooLarge(expected.size, this.maxObjectSize);
    return new DiskWriter(this, checked, expected.size, expected.digest);
  }

  async put(meta: EntryMeta, body: Buffer): Promise<StoredEntry> {
    if (!Buffer.isBuffer(body)) notBuffer();
    const w = this.createWriter(meta, { expectedSize: body.length });
    await w.write(body);
    return w.commit();
  }

  /** Called by a writer once its bytes are hashed: installs the body file and writes the record. */
  async installBody(w: DiskWriter, meta: CheckedMeta, digest: string, size: number): Promise<StoredEntry> {
    const { entry, orphans } = await this.#withLock(digest, async () => {
      this.#checkOpen();
      if (this.#verified.has(digest)) {
        await w.discardFile();
      } else {
        const tmp = await w.finishFile();
        const path = this.bodyPath(digest);
        try {
          const parent = join(this.#bodiesDir, digest.slice(0, 2), digest.slice(2, 4));
          if (!this.#dirsMade.has(parent)) {
            await mkdir(parent, { recursive: true });
            if (this.#dirsMade.size < 70_000) this.#dirsMade.add(parent);
          }
          await rename(tmp, path);
          if (this.#installed.size >= MAX_VERIFIED) this.#installed.clear();
          this.#installed.set(digest, ++this.#installSeq);
        } catch (err) {
          await unlinkQuiet(tmp).catch(() => undefined);
          throw ioError(`cannot move body ${digest} into place`, err);
        }
        this.#markVerified(digest);
      }
      return this.#insertRecord(meta, digest, size);
    });
    this.#scheduleUnlinks(orphans);
    this.#evictIfNeeded();
    return entry;
  }

  newTmpPath(): string {
    return join(this.#tmpDir, `${randomBytes(12).toString('hex')}.tmp`);
  }

  get fsyncBodies(): boolean { return this.#fsync; }

  async openBody(digest: string): Promise<BodyReader | undefined> {
    this.#checkOpen();
    if (typeof digest !== 'string' || !HEX_DIGEST.test(digest)) return undefined;
    const row = this.#st.hasDigest.get(digest);
    if (!row) return undefined;
    const size = row.size;
    const path = this.bodyPath(digest);
    const seq = this.#installSeq;
    if (size <= DISK_SMALL_BODY) {
      let buf: Buffer;
      try {
        buf = await readSmall(path, size);
      } catch (err) {
        if (errCode(err) !== 'ENOENT') throw ioError(`cannot read body ${digest}`, err);
        await this.#drop(digest, seq, 'missing');
        return undefined;
      }
      if (buf.length !== size || sha256Hex(buf) !== digest) {
        await this.#drop(digest, seq, buf.length !== size ? `size ${buf.length} instead of ${size}` : 'hash mismatch');
        return undefined;
      }
      this.#markVerified(digest);
      return bufferReader(buf);
    }
    if (!this.#verified.has(digest)) {
      let p = this.#verifying.get(digest);
      if (!p) {
        p = this.#verifyFile(digest, size);
        this.#verifying.set(digest, p);
        const clear = (): void => { this.#verifying.delete(digest); };
        p.then(clear, clear);
      }
      if (!(await p)) return undefined;
    }
    return fileReader(path, size, digest);
  }

  async #verifyFile(digest: string, size: number): Promise<boolean> {
    const path = this.bodyPath(digest);
    const seq = this.#installSeq;
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      if (errCode(err) !== 'ENOENT') throw ioError(`cannot read body ${digest}`, err);
      await this.#drop(digest, seq, 'missing');
      return false;
    }
    const hash = createHash('sha256');
    let total = 0;
    try {
      const buf = Buffer.allocUnsafe(DISK_READ_CHUNK);
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        total += bytesRead;
        if (total > size) break;
        hash.update(buf.subarray(0, bytesRead));
      }
    } catch (err) {
      throw ioError(`cannot read body ${digest}`, err);
    } finally {
      await fh.close();
    }
    if (total !== size || hash.digest('hex') !== digest) {
      await this.#drop(digest, seq, total !== size ? `size ${total} instead of ${size}` : 'hash mismatch');
      return false;
    }
    this.#markVerified(digest);
    return true;
  }

  /**
   * Deletes a body that failed its check (read when the install sequence was `seq`), with every
   * record pointing to it; unless a writer installed fresh bytes for it since.
   */
  #drop(digest: string, seq: number, reason: string): Promise<void> {
    return this.#withLock(digest, async () => {
      if (this.#closed || (this.#installed.get(digest) ?? 0) > seq) return;
      this.#verified.delete(digest);
      this.#installed.delete(digest);
      const rows = this.#st.byDigest.all(digest);
      this.#remove(rows);
      this.#corrupt++;
      this.#log.warn({ digest, reason, entries: rows.length }, 'stored body failed its check and was dropped');
      await unlinkQuiet(this.bodyPath(digest)).catch((err: unknown) => this.#log.warn({ err, digest }, 'cannot remove corrupt body file'));
    });
  }

  async updateData(key: string, variant: string, data: Readonly<Record<string, unknown>>): Promise<boolean> {
    this.#checkOpen();
    const row = this.#st.getKV.get(checkKey(key), checkVariant(variant));
    if (!row) return false;
    const { json } = checkData(data);
    this.#metaBytes += json.length - row.data_len;
    this.#st.updateData.run(json, row.meta_bytes + json.length - row.data_len, row.id);
    this.#evictIfNeeded();
    return true;
  }

  async delete(key: string, variant?: string): Promise<number> {
    this.#checkOpen();
    checkKey(key);
    const rows: RowRef[] = variant === undefined ? this.#st.byKey.all(key) : [this.#st.getKV.get(key, checkVariant(variant))].filter((r) => r !== undefined);
    return this.#deleteRows(rows);
  }

  #deleteRows(rows: readonly RowRef[]): number {
    if (rows.length === 0) return 0;
    const before = this.#entries;
    this.#scheduleUnlinks(this.#remove(rows));
    return before - this.#entries;
  }

  async purgePrefix(prefix: string): Promise<number> {
    this.#checkOpen();
    if (typeof prefix !== 'string') checkKey(prefix);
    let n = 0;
    for (;;) {
      const batch = this.#st.prefixBatch.all(prefix, DELETE_BATCH);
      const rows = batch.filter((r) => r.key.startsWith(prefix));
      if (rows.length === 0) return n;
      n += this.#deleteRows(rows);
      if (rows.length < batch.length) return n;
    }
  }

  async purgeTag(tag: string): Promise<number> {
    this.#checkOpen();
    if (typeof tag !== 'string') return 0;
    let n = 0;
    for (;;) {
      const rows = this.#st.tagBatch.all(tag, DELETE_BATCH);
      if (rows.length === 0) return n;
      n += this.#deleteRows(rows);
    }
  }

  touch(key: string, variant: string): void {
    if (this.#closed) return;
    const id = `${variant.length}:${variant}${key}`;
    this.#touches.delete(id);
    this.#touches.set(id, [key, variant]);
    if (this.#touches.size >= TOUCH_FLUSH_BATCH) this.flushTouches();
    else if (!this.#touchTimer) {
      this.#touchTimer = setTimeout(() => { this.#touchTimer = null; this.flushTouches(); }, TOUCH_FLUSH_INTERVAL);
      this.#touchTimer.unref();
    }
  }

  /** Writes the batched `touch` calls (one transaction). */
  flushTouches(): void {
    if (this.#touchTimer) { clearTimeout(this.#touchTimer); this.#touchTimer = null; }
    if (this.#touches.size === 0 || this.#closed) return;
    const now = this.#now();
    const list = [...this.#touches.values()];
    this.#touches.clear();
    this.#db.transaction(() => {
      for (const [key, variant] of list) this.#st.touch.run(now, ++this.#lru, key, variant);
    })();
  }

  stats(): StoreStats {
    return {
      entries: this.#entries,
      bodies: this.#bodies,
      bytes: this.#bodyBytes + this.#metaBytes,
      maxBytes: this.maxBytes,
      evictions: this.#evictions,
      corruptDropped: this.#corrupt,
    };
  }

  /** Removes leftovers of a crash: temp files (at open) and body files no record points to. */
  async cleanTmp(): Promise<number> {
    let n = 0;
    for (const name of await readdir(this.#tmpDir)) {
      await unlinkQuiet(join(this.#tmpDir, name));
      n++;
    }
    return n;
  }

  async sweepOrphans(): Promise<number> {
    let removed = 0;
    const hex2 = /^[0-9a-f]{2}$/;
    const list = async (p: string): Promise<string[]> => {
      try { return await readdir(p); } catch (err) { if (errCode(err) === 'ENOENT') return []; throw err; }
    };
    for (const a of await list(this.#bodiesDir)) {
      if (!hex2.test(a)) continue;
      for (const b of await list(join(this.#bodiesDir, a))) {
        if (!hex2.test(b)) continue;
        for (const f of await list(join(this.#bodiesDir, a, b))) {
          if (this.#closed) return removed;
          if (!HEX_DIGEST.test(f) || !f.startsWith(a + b)) continue;
          if (this.#st.hasDigest.get(f) !== undefined) continue;
          await this.#withLock(f, async () => {
            if (this.#closed || this.#st.hasDigest.get(f) !== undefined) return;
            this.#verified.delete(f);
            this.#installed.delete(f);
            await unlinkQuiet(this.bodyPath(f));
            removed++;
          });
        }
      }
    }
    if (removed > 0) this.#log.info({ removed }, 'removed body files left without a record');
    return removed;
  }

  startSweep(): void {
    void this.#track(this.sweepOrphans().catch((err: unknown) => { this.#log.warn({ err }, 'orphan sweep failed'); return 0; }));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.flushTouches();
    this.#closed = true;
    for (;;) {
      const pending = [...this.#locks.values(), ...this.#background];
      if (pending.length === 0) break;
      await Promise.allSettled(pending);
    }
    this.#db.close();
  }
}

/** Reads a small file whole: one byte past `size` is asked for, so a grown file shows as too long. */
async function readSmall(path: string, size: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(size + 1);
    let got = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
      if (got === buf.length) break;
    }
    return got === buf.length ? buf : buf.subarray(0, got);
  } finally {
    await fh.close();
  }
}

function fileReader(path: string, size: number, digest: string): BodyReader {
  return Object.freeze({
    size,
    buffer: null,
    stream(start?: number, end?: number): AsyncIterable<Buffer> {
      const [s, e] = checkRange(size, start, end);
      return streamFile(path, s, e, digest);
    },
  });
}

async function* streamFile(path: string, start: number, end: number, digest: string): AsyncGenerator<Buffer> {
  if (end < start) return;
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw ioError(`cannot read body ${digest}`, err);
  }
  try {
    let at = start;
    while (at <= end) {
      const want = Math.min(DISK_READ_CHUNK, end + 1 - at);
      const buf = Buffer.allocUnsafe(want);
      const { bytesRead } = await fh.read(buf, 0, want, at);
      if (bytesRead === 0) throw new PeerwebError('PW_ERR_STORE_IO', { reason: `body ${digest} ended at byte ${at} before byte ${end}` });
      at += bytesRead;
      yield bytesRead === want ? buf : buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

/**
 * Streams a body in: bytes are copied into a staging buffer, hashed there and written from there
 * (so the hash is over exactly the bytes on disk); a body that fits the stage is written in one go
 * at commit, a larger one goes to a temp file as it arrives.
 */
export class DiskWriter implements BodyWriter {
  readonly #store: DiskStore;
  readonly #meta: CheckedMeta;
  readonly #expectedSize: number | undefined;
  readonly #expectedDigest: string | undefined;
  readonly #hash: Hash = createHash('sha256');
  #stage: Buffer | null = null;
  #staged = 0;
  #fh: FileHandle | null = null;
  #tmp: string | null = null;
  #chain: Promise<void> = Promise.resolve();
  #queued = 0;
  #error: unknown = null;
  #state: 'open' | 'committing' | 'done' = 'open';
  #aborting: Promise<void> | null = null;
  bytesWritten = 0;

  constructor(store: DiskStore, meta: CheckedMeta, expectedSize: number | undefined, expectedDigest: string | undefined) {
    this.#store = store;
    this.#meta = meta;
    this.#expectedSize = expectedSize;
    this.#expectedDigest = expectedDigest;
  }

  write(chunk: Buffer): Promise<void> | void {
    if (this.#state !== 'open') writerUsed();
    if (!Buffer.isBuffer(chunk)) notBuffer();
    if (this.#error) throw this.#error;
    const n = this.bytesWritten + chunk.length;
    if (n > this.#store.maxObjectSize) {
      void this.abort();
      throw tooLarge(n, this.#store.maxObjectSize);
    }
    if (this.#expectedSize !== undefined && n > this.#expectedSize) {
      void this.abort();
      throw mismatch(this.#meta.key, 'size', `at least ${n}`, this.#expectedSize);
    }
    this.bytesWritten = n;
    if (chunk.length === 0) return;
    const stage = this.#stage ??= Buffer.allocUnsafe(Math.min(DISK_STAGE_SIZE, Math.max(this.#expectedSize ?? DISK_STAGE_SIZE, 1)));
    if (this.#queued === 0 && this.#staged + chunk.length <= stage.length) {
      chunk.copy(stage, this.#staged);
      this.#staged += chunk.length;
      return;
    }
    this.#queued++;
    const p = this.#chain.then(() => this.#append(chunk)).catch((err: unknown) => { this.#error ??= ioError('cannot write body', err); })
      .finally(() => { this.#queued--; });
    this.#chain = p;
    return p.then(() => { if (this.#error) throw this.#error; });
  }

  async #append(chunk: Buffer): Promise<void> {
    if (this.#error || this.#state === 'done') return;
    let at = 0;
    while (at < chunk.length) {
      let stage = this.#stage as Buffer;
      if (this.#staged === stage.length) {
        await this.#flushStage();
        if (stage.length < DISK_STAGE_SIZE) stage = this.#stage = Buffer.allocUnsafe(DISK_STAGE_SIZE);
      }
      const n = chunk.copy(stage, this.#staged, at);
      this.#staged += n;
      at += n;
    }
  }

  /** Hashes the staged bytes and writes them to the temp file (opened on first use). */
  async #flushStage(): Promise<void> {
    const stage = this.#stage;
    if (!stage || this.#staged === 0) return;
    const bytes = stage.subarray(0, this.#staged);
    this.#hash.update(bytes);
    if (!this.#fh) {
      this.#tmp = this.#store.newTmpPath();
      this.#fh = await open(this.#tmp, 'wx', 0o600);
    }
    let off = 0;
    while (off < bytes.length) {
      const { bytesWritten } = await this.#fh.write(bytes, off, bytes.length - off);
      off += bytesWritten;
    }
    this.#staged = 0;
  }

  async commit(): Promise<StoredEntry> {
    if (this.#state !== 'open') writerUsed();
    this.#state = 'committing';
    try {
      await this.#chain;
      if (this.#error) throw this.#error;
      const size = this.bytesWritten;
      if (this.#expectedSize !== undefined && size !== this.#expectedSize) throw mismatch(this.#meta.key, 'size', size, this.#expectedSize);
      // Bytes still in the stage are hashed here and written by finishFile (or dropped by discardFile).
      if (this.#stage && this.#staged > 0) this.#hash.update(this.#stage.subarray(0, this.#staged));
      const digest = this.#hash.digest('hex');
      if (this.#expectedDigest !== undefined && digest !== this.#expectedDigest) throw mismatch(this.#meta.key, 'digest', digest, this.#expectedDigest);
      return await this.#store.installBody(this, this.#meta, digest, size);
    } catch (err) {
      await this.discardFile().catch(() => undefined);
      throw err;
    } finally {
      this.#state = 'done';
      this.#stage = null;
    }
  }

  /** Writes what is left, fsyncs and closes the temp file; returns its path. */
  async finishFile(): Promise<string> {
    try {
      if (!this.#fh) {
        this.#tmp = this.#store.newTmpPath();
        this.#fh = await open(this.#tmp, 'wx', 0o600);
      }
      const fh = this.#fh;
      if (this.#stage && this.#staged > 0) {
        const bytes = this.#stage.subarray(0, this.#staged);
        let off = 0;
        while (off < bytes.length) off += (await fh.write(bytes, off, bytes.length - off)).bytesWritten;
        this.#staged = 0;
      }
      if (this.#store.fsyncBodies) await fh.sync();
      this.#fh = null;
      await fh.close();
      return this.#tmp as string;
    } catch (err) {
      throw ioError('cannot write body', err);
    }
  }

  /** Closes and removes the temp file, if any. */
  async discardFile(): Promise<void> {
    const fh = this.#fh;
    const tmp = this.#tmp;
    this.#fh = null;
    this.#tmp = null;
    if (fh) await fh.close().catch(() => undefined);
    if (tmp) await unlinkQuiet(tmp).catch(() => undefined);
  }

  abort(): Promise<void> {
    if (this.#aborting) return this.#aborting;
    if (this.#state !== 'open') return Promise.resolve();
    this.#state = 'done';
    this.#aborting = (async () => {
      await this.#chain;
      this.#stage = null;
      await this.discardFile();
    })();
    return this.#aborting;
  }
}

export async function createDiskStore(opts: DiskStoreOptions): Promise<DiskStore> {
  if (typeof opts.dir !== 'string' || opts.dir === '') throw new PeerwebError('PW_ERR_STORE_INVALID', { reason: 'dir must be a folder path' });
  const root = join(opts.dir, `v${DISK_FORMAT_VERSION}`);
  try {
    await mkdir(join(root, 'bodies'), { recursive: true });
    await mkdir(join(root, 'tmp'), { recursive: true });
  } catch (err) {
    throw ioError(`cannot create store folder ${opts.dir}`, err);
  }
  const db = openIndex(join(root, 'index.sqlite'), opts.dir);
  let store: DiskStore;
  try {
    store = new DiskStore(opts, db);
  } catch (err) {
    db.close();
    throw err;
  }
  // The index is locked by this process now, so nothing else writes temp files.
  try {
    await store.cleanTmp();
  } catch (err) {
    await store.close();
    throw ioError(`cannot clean ${store.tmpDir}`, err);
  }
  if (opts.sweepOnOpen ?? true) store.startSweep();
  return store;
}
