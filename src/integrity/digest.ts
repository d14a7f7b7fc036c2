import { createHash, timingSafeEqual, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { PeerwebError } from '../errors/index.js';
import { parseSfDictionary as parseDictionary } from '../util/structured-fields.js';

/** A SHA-256 value: 32 bytes. */
export type Sha256 = Buffer;

export function sha256(data: Uint8Array | string): Sha256 {
  return createHash('sha256').update(data).digest();
}

/** Constant-time comparison of two digests (false when lengths differ). */
export function digestEquals(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** `sha-256=:<base64>:`, the value of Repr-Digest and Content-Digest (RFC 9530). */
export function formatDigestField(d: Sha256): string {
  return `sha-256=:${d.toString('base64')}:`;
}

/**
 * The sha-256 member of a Repr-Digest / Content-Digest dictionary; undefined when the field has no
 * sha-256 member. Throws PW_ERR_DIGEST_FORMAT when the field is malformed or the digest has the wrong length.
 */
export function parseDigestField(value: string): Sha256 | undefined {
  let dict;
  try {
    dict = parseDictionary(value);
  } catch (err) {
    throw new PeerwebError('PW_ERR_DIGEST_FORMAT', { value, reason: (err as Error).message });
  }
  const m = dict.get('sha-256');
  if (!m) return undefined;
  if (!('value' in m) || !(m.value instanceof Uint8Array)) throw new PeerwebError('PW_ERR_DIGEST_FORMAT', { value, reason: 'sha-256 is not a byte sequence' });
  if (m.value.length !== 32) throw new PeerwebError('PW_ERR_DIGEST_FORMAT', { value, reason: `sha-256 has ${m.value.length} bytes, not 32` });
  return Buffer.from(m.value);
}

/** `SHA-256=<base64>`, the RFC 3230 Digest field that RFC 6249 (Metalink/HTTP) clients read. */
export function formatLegacyDigest(d: Sha256): string {
  return `SHA-256=${d.toString('base64')}`;
}

export function parseLegacyDigest(value: string): Sha256 | undefined {
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim().toLowerCase() !== 'sha-256') continue;
    const b64 = part.slice(eq + 1).trim();
    if (!/^[A-Za-z0-9+/]{43}=$/.test(b64)) throw new PeerwebError('PW_ERR_DIGEST_FORMAT', { value, reason: 'SHA-256 is not base64 of 32 bytes' });
    return Buffer.from(b64, 'base64');
  }
  return undefined;
}

/** A strong entity tag derived from the digest: the same bytes always get the same tag. */
export function strongEtag(d: Sha256): string {
  return `"sha256-${d.toString('base64url')}"`;
}

/**
 * Reads a digest given by a user or a document: `sha-256=:<base64>:`, `SHA-256=<base64>`,
 * 64 hex digits, or plain base64 / base64url of 32 bytes.
 */
export function parseDigestText(text: string): Sha256 {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex');
  if (/^sha-256=:/i.test(t)) {
    const d = parseDigestField(t.replace(/^SHA-256/i, 'sha-256'));
    if (d) return d;
  }
  if (/^sha-256=/i.test(t)) {
    const d = parseLegacyDigest(t);
    if (d) return d;
  }
  if (/^[A-Za-z0-9+/]{43}=?$/.test(t) || /^[A-Za-z0-9_-]{43}$/.test(t)) {
    const d = Buffer.from(t, t.includes('-') || t.includes('_') ? 'base64url' : 'base64');
    if (d.length === 32) return d;
  }
  throw new PeerwebError('PW_ERR_DIGEST_FORMAT', { value: text, reason: 'expected sha-256=:BASE64:, SHA-256=BASE64 or 64 hex digits' });
}

/** Number of pieces of `size` bytes cut in `pieceSize` pieces (an empty body has none). */
export function pieceCount(size: number, pieceSize: number): number {
  return Math.ceil(size / pieceSize);
}

/** The byte range [start, end] (inclusive) of piece `i`. */
export function pieceRange(i: number, size: number, pieceSize: number): { start: number; end: number } {
  const start = i * pieceSize;
  return { start, end: Math.min(size, start + pieceSize) - 1 };
}

/** SHA-256 of each `pieceSize` piece of `data` (Metalink 4 piece hashes). */
export function pieceHashes(data: Uint8Array, pieceSize: number): Sha256[] {
  if (!Number.isSafeInteger(pieceSize) || pieceSize <= 0) throw new RangeError(`Piece size ${pieceSize} is not a positive integer`);
  const out: Sha256[] = [];
  for (let off = 0; off < data.length; off += pieceSize) out.push(sha256(data.subarray(off, Math.min(data.length, off + pieceSize))));
  return out;
}

/** Incremental hash of a whole representation plus its pieces, for bytes that arrive in chunks. */
export class DigestBuilder {
  private readonly whole: Hash = createHash('sha256');
  private piece: Hash = createHash('sha256');
  private inPiece = 0;
  private total = 0;
  readonly pieces: Sha256[] = [];

  constructor(private readonly pieceSize = 0) {}

  update(chunk: Uint8Array): void {
    this.whole.update(chunk);
    this.total += chunk.length;
    if (this.pieceSize <= 0) return;
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(chunk.length - off, this.pieceSize - this.inPiece);
      this.piece.update(chunk.subarray(off, off + n));
      this.inPiece += n;
      off += n;
      if (this.inPiece === this.pieceSize) {
        this.pieces.push(this.piece.digest());
        this.piece = createHash('sha256');
        this.inPiece = 0;
      }
    }
  }

  /** The digest of everything seen, its size, and the piece hashes (the last piece may be short). */
  finish(): { digest: Sha256; size: number; pieces: Sha256[] } {
    if (this.pieceSize > 0 && this.inPiece > 0) {
      this.pieces.push(this.piece.digest());
      this.inPiece = 0;
    }
    return { digest: this.whole.digest(), size: this.total, pieces: this.pieces };
  }
}

/**
 * A pass-through stream that hashes what flows through and fails at the end (before signalling
 * completion) when the bytes do not match `expected` or exceed `maxSize`. The consumer must treat
 * what it received as unverified until the stream finishes without error.
 */
export class VerifyingStream extends Transform {
  private readonly hash = createHash('sha256');
  private seen = 0;

  constructor(private readonly expected: Sha256, private readonly what: string, private readonly source: string, private readonly maxSize = Number.MAX_SAFE_INTEGER) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.maxSize) {
      cb(new PeerwebError('PW_ERR_DIGEST_MISMATCH', { what: this.what, source: this.source }));
      return;
    }
    this.hash.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (!digestEquals(this.hash.digest(), this.expected)) cb(new PeerwebError('PW_ERR_DIGEST_MISMATCH', { what: this.what, source: this.source }));
    else cb();
  }
}
