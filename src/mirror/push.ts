import { Agent, request } from 'undici';
import { PeerwebError } from '../errors/index.js';
import { digestEquals, fieldReader, formatDigestField, parseDigestField, sha256, signMessage, type PublisherKey } from '../integrity/index.js';
import { mirrorUrl } from './registry.js';
import type { PushResult } from './origin-front.js';

/**
 * `peerweb push`: fetches `url` from its origin, checks it against the origin's Repr-Digest, and
 * sends it with a signed PUT (RFC 9421: @method, @target-uri, content-digest) to each mirror base.
 */
export async function pushFromOrigin(opts: { url: string; bases: readonly string[]; key: PublisherKey; maxObjectSize: number; timeoutMs?: number }): Promise<PushResult[]> {
  if (!opts.key.privateKey) throw new PeerwebError('PW_ERR_SIGNATURE_MISSING', { reason: 'pushing needs the publisher private key' });
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const agent = new Agent({ connect: { timeout: timeoutMs } });
  try {
    const res = await request(opts.url, { dispatcher: agent, headers: { 'accept-encoding': 'identity' }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of res.body) {
      n += (c as Buffer).length;
      if (n > opts.maxObjectSize) throw new PeerwebError('PW_ERR_UPSTREAM_TOO_LARGE', { limit: opts.maxObjectSize });
      chunks.push(c as Buffer);
    }
    if (res.statusCode !== 200) throw new PeerwebError('PW_ERR_UPSTREAM_BAD_RESPONSE', { origin: opts.url, reason: `status ${res.statusCode}` });
    const body = Buffer.concat(chunks);
    const digest = sha256(body);
    const rd = res.headers['repr-digest'];
    const claimed = typeof rd === 'string' ? parseDigestField(rd) : undefined;
    if (claimed && !digestEquals(claimed, digest)) throw new PeerwebError('PW_ERR_DIGEST_MISMATCH', { what: opts.url, source: 'origin' });
    const path = new URL(opts.url).pathname;
    const str = (v: unknown, d: string) => (typeof v === 'string' ? v.slice(0, 200) : d);
    const results: PushResult[] = [];
    for (const base of opts.bases) {
      const target = mirrorUrl(base.endsWith('/') ? base : `${base}/`, path);
      const headers: Record<string, string> = {
        'content-type': str(res.headers['content-type'], 'application/octet-stream'),
        'cache-control': str(res.headers['cache-control'], 'public, max-age=60'),
        'content-digest': formatDigestField(digest), 'repr-digest': formatDigestField(digest),
      };
      const s = signMessage({ method: 'PUT', targetUri: target, field: fieldReader(headers) }, { key: opts.key, components: ['@method', '@target-uri', 'content-digest'], tag: 'peerweb-push' });
      try {
        const r = await request(target, { method: 'PUT', dispatcher: agent, body, headers: { ...headers, 'signature-input': s.signatureInput, signature: s.signature }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
        await r.body.dump();
        results.push({ mirror: base, url: target, status: r.statusCode });
      } catch (err) {
        results.push({ mirror: base, url: target, status: undefined, error: (err as Error).message });
      }
    }
    return results;
  } finally {
    await agent.close();
  }
}
