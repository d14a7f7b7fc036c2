import { parseRange } from '../http/index.js';

/** One satisfiable byte range [start, end] of a body of `size` bytes. */
export interface ByteRange { readonly start: number; readonly end: number }

/**
 * Reads a single-range `Range: bytes=…` value. Returns undefined when absent, several ranges or
 * not a bytes range (the full body is then served), 'unsatisfiable' when it lies beyond the body.
 */
export function parseSingleRange(value: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  const r = parseRange(value, size, 1);
  if (r.kind === 'unsatisfiable') return 'unsatisfiable';
  return r.kind === 'ranges' ? r.ranges[0] : undefined;
}
