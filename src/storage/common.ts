import { createHash } from 'node:crypto';
import { PeerwebError } from '../errors/index.js';
import {
  MAX_DATA_JSON, MAX_KEY_LENGTH, MAX_TAG_LENGTH, MAX_TAGS, MAX_VARIANT_LENGTH, MEMORY_STREAM_CHUNK,
} from './constants.js';
import type { BodyReader, EntryMeta } from './types.js';

export const HEX_DIGEST = /^[0-9a-f]{64}$/;

export function sha256Hex(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

function invalid(reason: string): never {
  throw new PeerwebError('PW_ERR_STORE_INVALID', { reason });
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v as object)) deepFreeze(x);
  }
  return v;
}

/** Entry metadata after validation: a frozen copy of `data` as JSON round-trips it, tags de-duplicated. */
export interface CheckedMeta {
  readonly key: string;
  readonly variant: string;
  readonly data: Readonly<Record<string, unknown>>;
  readonly dataJson: string;
  readonly tags: readonly string[];
  readonly tagsJson: string;
  /** Characters of key, variant, data JSON and tags: the base of both tiers' byte estimates. */
  readonly textLength: number;
}

export function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0) invalid(`key must be a non-empty string, got ${JSON.stringify(key)?.slice(0, 80)}`);
  if (key.length > MAX_KEY_LENGTH) invalid(`key of ${key.length} characters is longer than ${MAX_KEY_LENGTH}`);
  return key;
}

export function checkVariant(variant: unknown): string {
  if (typeof variant !== 'string') invalid(`variant must be a string, got ${typeof variant}`);
  if (variant.length > MAX_VARIANT_LENGTH) invalid(`variant of ${variant.length} characters is longer than ${MAX_VARIANT_LENGTH}`);
  return variant;
}

export function checkData(data: unknown): { data: Readonly<Record<string, unknown>>; json: string } {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) invalid('data must be a plain object');
  let json: string;
  try {
    json = JSON.stringify(data);
  } catch (err) {
    invalid(`data is not JSON-serialisable: ${(err as Error).message}`);
  }
  if (json.length > MAX_DATA_JSON) invalid(`data of ${json.length} JSON characters is larger than ${MAX_DATA_JSON}`);
  return { data: deepFreeze(JSON.parse(json) as Record<string, unknown>), json };
}

export function checkMeta(meta: EntryMeta): CheckedMeta {
  if (typeof meta !== 'object' || meta === null) invalid('entry metadata must be an object');
  const key = checkKey(meta.key);
  const variant = checkVariant(meta.variant);
  const { data, json } = checkData(meta.data);
  if (!Array.isArray(meta.tags)) invalid('tags must be an array of strings');
  if (meta.tags.length > MAX_TAGS) invalid(`${meta.tags.length} tags are more than ${MAX_TAGS}`);
  const tags: string[] = [];
  let tagChars = 0;
  for (const t of meta.tags as unknown[]) {
    if (typeof t !== 'string' || t.length === 0 || t.length > MAX_TAG_LENGTH) invalid(`tag ${JSON.stringify(t)?.slice(0, 80)} must be a string of 1 to ${MAX_TAG_LENGTH} characters`);
    if (!tags.includes(t)) { tags.push(t); tagChars += t.length; }
  }
  Object.freeze(tags);
  return { key, variant, data, dataJson: json, tags, tagsJson: JSON.stringify(tags), textLength: key.length + variant.length + json.length + tagChars };
}

export function checkExpected(opts: { expectedSize?: number; expectedDigest?: string } | undefined): { size: number | undefined; digest: string | undefined } {
  const size = opts?.expectedSize;
  const digest = opts?.expectedDigest;
  if (size !== undefined && (!Number.isSafeInteger(size) || size < 0)) invalid(`expectedSize ${String(size)} is not a byte count`);
  if (digest !== undefined && (typeof digest !== 'string' || !HEX_DIGEST.test(digest))) invalid(`expectedDigest ${JSON.stringify(digest)?.slice(0, 80)} is not 64 lower-case hex digits`);
  return { size, digest };
}

/** Resolves an inclusive byte range of a body of `size` bytes; throws on a range outside it. */
export function checkRange(size: number, start: number | undefined, end: number | undefined): [number, number] {
  const s = start ?? 0;
  const e = end ?? size - 1;
  if (size === 0 && start === undefined && end === undefined) return [0, -1];
  if (!Number.isSafeInteger(s) || !Number.isSafeInteger(e) || s < 0 || e < s || e >= size) {
    invalid(`byte range ${String(start)}-${String(end)} is outside a body of ${size} bytes`);
  }
  return [s, e];
}

async function* iterateBuffer(buf: Buffer, start: number, end: number): AsyncGenerator<Buffer> {
  for (let at = start; at <= end; at += MEMORY_STREAM_CHUNK) {
    yield buf.subarray(at, Math.min(end + 1, at + MEMORY_STREAM_CHUNK));
  }
}

/** A reader over a body held in memory (its bytes were hashed before this is built). */
export function bufferReader(buf: Buffer): BodyReader {
  return Object.freeze({
    size: buf.length,
    buffer: buf,
    stream(start?: number, end?: number): AsyncIterable<Buffer> {
      const [s, e] = checkRange(buf.length, start, end);
      return iterateBuffer(buf, s, e);
    },
  });
}

export function tooLarge(size: number, limit: number): PeerwebError {
  return new PeerwebError('PW_ERR_STORE_TOO_LARGE', { size, limit });
}

export function mismatch(key: string, what: 'size' | 'digest', actual: unknown, expected: unknown): PeerwebError {
  return new PeerwebError('PW_ERR_STORE_MISMATCH', { key, what, actual, expected });
}

export function writerUsed(): never {
  invalid('the writer was already committed or aborted');
}

export function notBuffer(): never {
  invalid('write() takes a Buffer');
}
