import { createHash } from 'node:crypto';

/**
 * Content-defined chunking (a gear rolling hash, as in FastCDC): cut points depend on the bytes
 * around them, not on offsets, so an edit changes only the chunks it touches and the rest keep
 * their hashes. Used for large archive entries so that an update re-sends only changed chunks.
 */

export interface Chunk { readonly sha256: string; readonly size: number }

export const CHUNK_MIN = 16 * 1024;
export const CHUNK_AVG_BITS = 16; // 64 KiB on average
export const CHUNK_MAX = 256 * 1024;

/** 256 fixed pseudo-random 32-bit values (derived from SHA-256 so the table needs no literal). */
const GEAR: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) t[i] = createHash('sha256').update(`peerweb-cdc-gear-${i}`).digest().readUInt32BE(0);
  return t;
})();

/** Chunk boundaries of `data` (end offsets, the last one is data.length). */
export function chunkBoundaries(data: Uint8Array): number[] {
  const ends: number[] = [];
  const mask = (((1 << CHUNK_AVG_BITS) - 1) << (32 - CHUNK_AVG_BITS)) >>> 0; // the high bits see the last 32 bytes
  let start = 0;
  while (start < data.length) {
    const limit = Math.min(data.length, start + CHUNK_MAX);
    let end = limit;
    let h = 0;
    for (let i = start + Math.min(CHUNK_MIN, limit - start); i < limit; i++) {
      h = ((h << 1) + GEAR[data[i]!]!) >>> 0;
      if ((h & mask) === 0) { end = i + 1; break; }
    }
    ends.push(end);
    start = end;
  }
  return ends;
}

export function chunksOf(data: Buffer): Chunk[] {
  const out: Chunk[] = [];
  let start = 0;
  for (const end of chunkBoundaries(data)) {
    out.push({ sha256: createHash('sha256').update(data.subarray(start, end)).digest('hex'), size: end - start });
    start = end;
  }
  return out;
}
