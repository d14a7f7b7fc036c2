import { PeerwebError } from '../errors/index.js';
import type { Sha256 } from '../integrity/index.js';

/** One file of a Metalink 4 document (RFC 5854), as peerweb writes and reads it. */
export interface MetalinkFile {
  readonly name: string;
  readonly size: number;
  readonly digest: Sha256;
  readonly pieceSize?: number;
  readonly pieces?: readonly Sha256[];
  /** Download locations; lower priority numbers are preferred (RFC 5854 §4.2.16). */
  readonly urls: readonly { url: string; priority?: number }[];
  readonly published?: Date;
}

export const METALINK_TYPE = 'application/metalink4+xml';
const MAX_DOC = 8 * 1024 * 1024;
const MAX_URLS = 1000;

function esc(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

function unesc(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_, e: string) => {
    if (e === 'lt') return '<';
    if (e === 'gt') return '>';
    if (e === 'amp') return '&';
    if (e === 'quot') return '"';
    if (e === 'apos') return "'";
    return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
  });
}

/** The Metalink 4 XML for one file with its whole-file and piece SHA-256 hashes. */
export function buildMetalink(f: MetalinkFile): string {
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<metalink xmlns="urn:ietf:params:xml:ns:metalink">'];
  if (f.published) lines.push(`  <published>${f.published.toISOString().replace(/\.\d{3}Z$/, 'Z')}</published>`);
  lines.push(`  <file name="${esc(f.name)}">`, `    <size>${f.size}</size>`, `    <hash type="sha-256">${f.digest.toString('hex')}</hash>`);
  if (f.pieces && f.pieceSize) {
    lines.push(`    <pieces length="${f.pieceSize}" type="sha-256">`);
    for (const p of f.pieces) lines.push(`      <hash>${p.toString('hex')}</hash>`);
    lines.push('    </pieces>');
  }
  for (const u of f.urls) lines.push(`    <url${u.priority !== undefined ? ` priority="${u.priority}"` : ''}>${esc(u.url)}</url>`);
  lines.push('  </file>', '</metalink>', '');
  return lines.join('\n');
}

function attr(tag: string, name: string): string | undefined {
  const m = new RegExp(`\\s${name}\\s*=\\s*("([^"]*)"|'([^']*)')`).exec(tag);
  return m ? unesc(m[2] ?? m[3] ?? '') : undefined;
}

/**
 * Reads the first file of a Metalink 4 document that has a sha-256 hash. Strict about what it
 * uses (sizes, hex lengths, piece count consistent with size) and bounded in size and URL count.
 */
export function parseMetalink(xml: string, source: string): MetalinkFile {
  const fail = (reason: string): never => {
    throw new PeerwebError('PW_ERR_METALINK_INVALID', { source, reason });
  };
  if (xml.length > MAX_DOC) fail(`document larger than ${MAX_DOC} bytes`);
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) fail('DTDs and entities are not accepted');
  if (!/<metalink[\s>][^]*xmlns\s*=\s*"urn:ietf:params:xml:ns:metalink"/.test(xml)) fail('not a Metalink 4 document');
  const fm = /<file\b([^>]*)>([^]*?)<\/file>/.exec(xml);
  if (!fm) return fail('no file element');
  const name = attr(fm[1] ?? '', 'name');
  if (!name) fail('file has no name');
  const body = fm[2] ?? '';
  const sizeText = /<size>\s*(\d{1,16})\s*<\/size>/.exec(body)?.[1];
  if (sizeText === undefined) fail('file has no size');
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) fail(`size ${sizeText} out of range`);
  const withoutPieces = body.replace(/<pieces\b[^]*?<\/pieces>/g, '');
  let digest: Sha256 | undefined;
  for (const m of withoutPieces.matchAll(/<hash\b([^>]*)>\s*([^<]*?)\s*<\/hash>/g)) {
    if ((attr(m[1] ?? '', 'type') ?? '').toLowerCase() !== 'sha-256') continue;
    if (!/^[0-9a-fA-F]{64}$/.test(m[2] ?? '')) fail('sha-256 hash is not 64 hex digits');
    digest = Buffer.from(m[2] ?? '', 'hex');
  }
  if (!digest) return fail('file has no sha-256 hash');
  let pieceSize: number | undefined;
  let pieces: Sha256[] | undefined;
  for (const pm of body.matchAll(/<pieces\b([^>]*)>([^]*?)<\/pieces>/g)) {
    if ((attr(pm[1] ?? '', 'type') ?? '').toLowerCase() !== 'sha-256') continue;
    const len = Number(attr(pm[1] ?? '', 'length'));
    if (!Number.isSafeInteger(len) || len <= 0) fail('pieces length is not a positive integer');
    const hashes = [...(pm[2] ?? '').matchAll(/<hash>\s*([^<]*?)\s*<\/hash>/g)].map((h) => h[1] ?? '');
    if (hashes.some((h) => !/^[0-9a-fA-F]{64}$/.test(h))) fail('a piece hash is not 64 hex digits');
    if (hashes.length !== Math.ceil(size / len)) fail(`${hashes.length} piece hashes for ${size} bytes in pieces of ${len}`);
    pieceSize = len;
    pieces = hashes.map((h) => Buffer.from(h, 'hex'));
  }
  const urls: { url: string; priority?: number }[] = [];
  for (const um of body.matchAll(/<url\b([^>]*)>\s*([^<]*?)\s*<\/url>/g)) {
    if (urls.length >= MAX_URLS) break;
    const url = unesc(um[2] ?? '');
    try {
      const u = new URL(url);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') continue;
    } catch {
      continue;
    }
    const pr = attr(um[1] ?? '', 'priority');
    const priority = pr !== undefined && /^\d{1,6}$/.test(pr) ? Number(pr) : undefined;
    urls.push(priority !== undefined ? { url, priority } : { url });
  }
  return { name: name as string, size, digest, ...(pieces && pieceSize ? { pieces, pieceSize } : {}), urls };
}
