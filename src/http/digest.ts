/** Integrity fields: Repr-Digest / Content-Digest (RFC 9530) and the older Digest (RFC 3230). */
import { parseSfDictionary, serializeSfDictionary, isInnerList, type SfMember } from '../util/structured-fields.js';
import { splitList } from './cache-control.js';

/** `{ 'sha-256': digest }` → `sha-256=:base64:` (a Structured Fields Dictionary). */
export function formatReprDigest(digests: Readonly<Record<string, Uint8Array>>): string {
  const dict = new Map<string, SfMember>();
  for (const [alg, d] of Object.entries(digests)) dict.set(alg.toLowerCase(), { value: d, params: new Map() });
  return serializeSfDictionary(dict);
}

/**
 * Parses Repr-Digest, Content-Digest or Want-… style fields: algorithm (lower-case) → digest bytes.
 * Members whose value is not a byte sequence are skipped. Throws PW_ERR_SF_PARSE when the field
 * is not a valid Dictionary.
 */
export function parseDigestField(value: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [alg, m] of parseSfDictionary(value)) {
    if (isInnerList(m) || !(m.value instanceof Uint8Array)) continue;
    out.set(alg.toLowerCase(), Buffer.from(m.value));
  }
  return out;
}

/** `{ 'sha-256': digest }` → `SHA-256=base64` (RFC 3230 instance digests, names upper-cased as registered). */
export function formatLegacyDigest(digests: Readonly<Record<string, Uint8Array>>): string {
  return Object.entries(digests)
    .map(([alg, d]) => `${alg.toUpperCase()}=${Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('base64')}`)
    .join(',');
}

/**
 * Parses an RFC 3230 Digest field: algorithm (lower-cased) → digest bytes. Only base64-encoded
 * algorithms are decoded; elements that are not `name=base64` are skipped; the first of a
 * repeated algorithm wins.
 */
export function parseLegacyDigest(value: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const el of splitList(value, 32)) {
    const eq = el.indexOf('=');
    if (eq <= 0) continue;
    const alg = el.slice(0, eq).trim().toLowerCase();
    const b64 = el.slice(eq + 1).trim();
    if (!/^[a-z0-9-]+$/.test(alg) || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || out.has(alg)) continue;
    out.set(alg, Buffer.from(b64, 'base64'));
  }
  return out;
}
