import { Agent, request, type Dispatcher } from 'undici';
import { PeerwebError } from '../errors/index.js';
import { createReputation, digestEquals, sha256, type Reputation, type Sha256 } from '../integrity/index.js';

/**
 * For a caching node on a miss for a mirrored resource: fetch the body from mirrors (best first),
 * verify it against the expected digest, and return it only when it matches. A mirror that sends
 * one bad byte is banned in `reputation` for good. The origin is not contacted here; the caller
 * falls back to it when this throws.
 */
export async function fetchVerifiedBody(opts: {
  digest: Sha256;
  mirrors: readonly { url: string; priority?: number }[];
  maxSize: number;
  reputation?: Reputation;
  timeoutMs?: number;
  dispatcher?: Dispatcher;
  signal?: AbortSignal;
}): Promise<{ body: Buffer; source: string; headers: Record<string, string | string[] | undefined> }> {
  const rep = opts.reputation ?? createReputation();
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const own = opts.dispatcher ? undefined : new Agent({ connect: { timeout: timeoutMs } });
  const dispatcher = opts.dispatcher ?? (own as Agent);
  try {
    for (const m of rep.rank(opts.mirrors).slice(0, 8)) {
      const t0 = performance.now();
      try {
        const res = await request(m.url, { dispatcher, headers: { 'accept-encoding': 'identity' }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, ...(opts.signal ? { signal: opts.signal } : {}) });
        if (res.statusCode !== 200) {
          await res.body.dump();
          rep.failed(m.url);
          continue;
        }
        const chunks: Buffer[] = [];
        let n = 0;
        for await (const c of res.body) {
          n += (c as Buffer).length;
          if (n > opts.maxSize) throw new Error(`more than ${opts.maxSize} bytes`);
          chunks.push(c as Buffer);
        }
        const body = Buffer.concat(chunks);
        if (!digestEquals(sha256(body), opts.digest)) {
          rep.bad(m.url);
          continue;
        }
        rep.good(m.url, body.length, performance.now() - t0);
        return { body, source: m.url, headers: res.headers as Record<string, string | string[] | undefined> };
      } catch {
        if (opts.signal?.aborted) break;
        rep.failed(m.url);
      }
    }
    throw new PeerwebError('PW_ERR_GET_NO_SOURCE', { url: opts.mirrors[0]?.url ?? '(no mirror)', reason: 'no mirror delivered the expected bytes' });
  } finally {
    await own?.close();
  }
}
