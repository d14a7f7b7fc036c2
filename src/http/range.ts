/**
 * Range requests (RFC 9110 §14): parsing `Range: bytes=…` against a known size, Content-Range
 * values, and multipart/byteranges framing.
 */
import { randomBytes } from 'node:crypto';

export interface ByteRange { start: number; end: number }

export type RangeResult =
  | { kind: 'none' }
  | { kind: 'ranges'; ranges: ByteRange[] }
  | { kind: 'unsatisfiable' };

/** More range-specs than this in one field and the field is ignored outright. */
const MAX_RANGE_SPECS = 256;
const NONE: RangeResult = Object.freeze({ kind: 'none' });

function num(digits: string): number {
  // Beyond 15 digits the value is past any size we serve; keep it exact enough to compare.
  return digits.length > 15 ? Number.MAX_SAFE_INTEGER : Number(digits);
}

/**
 * Reads a Range field for a representation of `size` bytes.
 * - `none`: no field, another unit, or invalid syntax (the field is ignored, RFC 9110 §14.2), or
 *   more than `maxRanges` ranges remain after merging (the whole representation is served).
 * - `unsatisfiable`: valid, but no range overlaps the representation (416).
 * - `ranges`: satisfiable ranges clipped to the size, sorted, overlapping and adjacent ones merged.
 */
export function parseRange(value: string | undefined, size: number, maxRanges: number): RangeResult {
  if (value === undefined) return NONE;
  const eq = value.indexOf('=');
  if (eq < 0 || value.slice(0, eq).trim().toLowerCase() !== 'bytes') return NONE;
  const specs = value.slice(eq + 1).split(',');
  if (specs.length > MAX_RANGE_SPECS) return NONE;
  const ranges: ByteRange[] = [];
  let any = false;
  for (const rawSpec of specs) {
    const spec = rawSpec.replace(/^[ \t]+|[ \t]+$/g, '');
    if (spec === '') continue; // empty list elements are allowed and ignored
    const m = /^([0-9]*)-([0-9]*)$/.exec(spec);
    if (!m) return NONE;
    const [, a = '', b = ''] = m;
    any = true;
    if (a === '') {
      if (b === '') return NONE;
      const len = num(b);
      if (len === 0 || size === 0) continue; // unsatisfiable suffix
      ranges.push({ start: Math.max(0, size - len), end: size - 1 });
    } else {
      const start = num(a);
      const last = b === '' ? undefined : num(b);
      if (last !== undefined && last < start) return NONE; // invalid range-spec
      if (start >= size) continue;
      ranges.push({ start, end: last === undefined ? size - 1 : Math.min(last, size - 1) });
    }
  }
  if (!any) return NONE;
  if (ranges.length === 0) return { kind: 'unsatisfiable' };
  const merged = coalesceRanges(ranges);
  if (merged.length > maxRanges) return NONE;
  return { kind: 'ranges', ranges: merged };
}

/** Sorts ranges and merges those that overlap or touch. */
export function coalesceRanges(ranges: readonly ByteRange[]): ByteRange[] {
  const sorted = [...ranges].sort((x, y) => x.start - y.start || x.end - y.end);
  const out: ByteRange[] = [];
  for (const r of sorted) {
    const prev = out[out.length - 1];
    if (prev && r.start <= prev.end + 1) {
      if (r.end > prev.end) prev.end = r.end;
    } else {
      out.push({ start: r.start, end: r.end });
    }
  }
  return out;
}

/** Content-Range value of a satisfied range: `bytes 0-499/1234`. */
export function contentRange(start: number, end: number, size: number): string {
  return `bytes ${start}-${end}/${size}`;
}

/** Content-Range value of a 416 response: `bytes *\/1234`. */
export function contentRangeUnsatisfied(size: number): string {
  return `bytes */${size}`;
}

/**
 * Parses a Content-Range value (`bytes a-b/size`, `bytes a-b/*` or `bytes *\/size`); undefined if invalid.
 * `size` is undefined when the sender wrote `*`; `start`/`end` are undefined for the unsatisfied form.
 */
export function parseContentRange(value: string | undefined): { start?: number; end?: number; size?: number } | undefined {
  if (value === undefined) return undefined;
  const m = /^bytes[ ]+(?:([0-9]{1,15})-([0-9]{1,15})|\*)\/([0-9]{1,15}|\*)$/i.exec(value.trim());
  if (!m) return undefined;
  const out: { start?: number; end?: number; size?: number } = {};
  if (m[1] !== undefined && m[2] !== undefined) {
    out.start = Number(m[1]);
    out.end = Number(m[2]);
    if (out.end < out.start) return undefined;
  } else if (m[3] === '*') {
    return undefined;
  }
  if (m[3] !== '*') out.size = Number(m[3]);
  if (out.size !== undefined && out.end !== undefined && out.end >= out.size) return undefined;
  return out;
}

/** A fresh random multipart boundary (letters and digits only, so it never needs quoting). */
export function randomBoundary(): string {
  return `PW${randomBytes(15).toString('hex')}`;
}

/** How to send several ranges as one multipart/byteranges body (RFC 9110 §14.6). */
export interface MultipartPlan {
  boundary: string;
  /** Value of the response's Content-Type: `multipart/byteranges; boundary=…`. */
  contentType: string;
  /** For each range, the bytes to send before the range's data, then the data itself (start..end of the body). */
  parts: { head: Buffer; start: number; end: number }[];
  /** The closing delimiter, sent after the last part's data. */
  tail: Buffer;
  /** Total body length (heads + data + tail), for Content-Length. */
  length: number;
}

/**
 * Builds the framing of a multipart/byteranges body for `ranges` of a representation of `size`
 * bytes whose own Content-Type is `partContentType` (omitted from the parts when undefined).
 */
export function multipartByteranges(
  ranges: readonly ByteRange[],
  size: number,
  partContentType: string | undefined,
  boundary: string = randomBoundary(),
): MultipartPlan {
  const parts: MultipartPlan['parts'] = [];
  let length = 0;
  ranges.forEach((r, i) => {
    let h = `${i === 0 ? '' : '\r\n'}--${boundary}\r\n`;
    if (partContentType !== undefined) h += `Content-Type: ${partContentType}\r\n`;
    h += `Content-Range: ${contentRange(r.start, r.end, size)}\r\n\r\n`;
    const head = Buffer.from(h, 'latin1');
    parts.push({ head, start: r.start, end: r.end });
    length += head.length + (r.end - r.start + 1);
  });
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1');
  length += tail.length;
  return { boundary, contentType: `multipart/byteranges; boundary=${boundary}`, parts, tail, length };
}

/** The whole multipart body as chunks, for a body held in memory. */
export function multipartBody(plan: MultipartPlan, body: Uint8Array): Buffer[] {
  const out: Buffer[] = [];
  for (const p of plan.parts) {
    out.push(p.head, Buffer.from(body.buffer, body.byteOffset + p.start, p.end - p.start + 1));
  }
  out.push(plan.tail);
  return out;
}
