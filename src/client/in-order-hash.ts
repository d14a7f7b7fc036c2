import { open, type FileHandle } from 'node:fs/promises';
import { inlineSha256Stream, pieceCount, pieceRange, type Sha256, type Sha256Stream } from '../integrity/index.js';

/**
 * SHA-256 of a whole file whose pieces complete in any order, in one pass over the bytes: pieces
 * are hashed as soon as every piece before them is done, straight from the buffers they arrived
 * in. Pieces that complete ahead of the frontier wait in memory up to `maxBuffered` bytes; beyond
 * that the furthest ones are dropped (they are already in the file) and read back from the file
 * when the frontier reaches them. Pieces kept from an earlier run are read back the same way.
 * The hash itself runs where `hash` runs it (inline, or on the hash thread); `add` takes over the
 * buffers it is handed.
 */
export class InOrderHash {
  private readonly count: number;
  private next = 0;
  private readonly waiting = new Map<number, Buffer>();
  private waitingBytes = 0;
  /** Pieces that are complete in the file but not in memory. */
  private readonly onDisk = new Set<number>();
  private pumping: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private fh: FileHandle | undefined;
  /** Bytes read back from the file to finish the hash. */
  readBackBytes = 0;
  /** Most bytes held in memory at once. */
  peakBuffered = 0;

  constructor(
    private readonly file: string,
    private readonly size: number,
    private readonly pieceSize: number,
    private readonly maxBuffered: number,
    private readonly hash: Sha256Stream = inlineSha256Stream(),
  ) {
    this.count = pieceCount(size, pieceSize);
  }

  /** Pieces already complete in the file (a resumed run). */
  kept(indices: readonly number[]): void {
    for (const i of indices) this.onDisk.add(i);
    this.schedule();
  }

  /**
   * Piece `i` is complete in the file and its bytes are `buf`, which this takes over (it may be
   * moved to the hash thread), or only in the file (`buf` undefined). The promise resolves once the
   * hash has room again: pieces waiting for their turn plus bytes queued at the hash thread stay
   * within `maxBuffered` when the caller waits for it before adding more.
   */
  add(i: number, buf: Buffer | undefined): Promise<void> {
    if (i < this.next || this.waiting.has(i) || this.onDisk.has(i)) return Promise.resolve();
    if (!buf) {
      this.kept([i]);
      return this.hash.drained(Math.max(0, this.maxBuffered - this.waitingBytes));
    }
    if (i === this.next && this.waiting.size === 0) {
      // The common case: the piece extends the hashed prefix; hash it now, while it is hot.
      this.hash.update(buf);
      this.next++;
      if (this.onDisk.size) this.schedule();
      return this.hash.drained(this.maxBuffered);
    }
    this.waiting.set(i, buf);
    this.waitingBytes += buf.length;
    this.peakBuffered = Math.max(this.peakBuffered, this.waitingBytes);
    this.evict();
    this.schedule();
    return this.hash.drained(Math.max(0, this.maxBuffered - this.waitingBytes));
  }

  /** The digest once every piece was added or kept; rejects when one is missing. */
  async digest(): Promise<Sha256> {
    this.schedule();
    await this.pumping;
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;
    if (this.failure) {
      this.hash.drop();
      throw this.failure;
    }
    if (this.next !== this.count) {
      this.hash.drop();
      throw new Error(`hash stopped at piece ${this.next} of ${this.count}`);
    }
    return this.hash.digest();
  }

  /** Releases the read-back file handle when the download is abandoned. */
  async close(): Promise<void> {
    await this.pumping.catch(() => undefined);
    this.hash.drop();
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;
  }

  private evict(): void {
    if (this.waitingBytes <= this.maxBuffered) return;
    // Drop the pieces needed last first.
    const order = [...this.waiting.keys()].sort((a, b) => b - a);
    for (const i of order) {
      if (this.waitingBytes <= this.maxBuffered) break;
      const b = this.waiting.get(i) as Buffer;
      this.waiting.delete(i);
      this.waitingBytes -= b.length;
      this.onDisk.add(i);
    }
  }

  private schedule(): void {
    this.pumping = this.pumping.then(() => this.pump()).catch((err: unknown) => { this.failure ??= err as Error; });
  }

  private async pump(): Promise<void> {
    while (this.next < this.count) {
      const b = this.waiting.get(this.next);
      if (b) {
        this.waiting.delete(this.next);
        this.waitingBytes -= b.length;
        this.hash.update(b);
        this.next++;
        await this.hash.drained(this.maxBuffered);
        continue;
      }
      if (!this.onDisk.has(this.next)) return;
      this.onDisk.delete(this.next);
      const r = pieceRange(this.next, this.size, this.pieceSize);
      const len = r.end - r.start + 1;
      const buf = Buffer.allocUnsafe(len);
      this.fh ??= await open(this.file, 'r');
      let off = 0;
      while (off < len) {
        const { bytesRead } = await this.fh.read(buf, off, len - off, r.start + off);
        if (bytesRead === 0) throw new Error(`piece ${this.next} is missing from ${this.file}`);
        off += bytesRead;
      }
      this.readBackBytes += len;
      this.hash.update(buf);
      this.next++;
      await this.hash.drained(this.maxBuffered);
    }
  }
}
