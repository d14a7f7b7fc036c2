import { Agent, request } from 'undici';
import { sha256 } from '../integrity/index.js';
import type { ContentSource, SourceEntry } from './source.js';
import { isMirrorable } from './policy.js';
import { isSafePath } from './source.js';

/**
 * The origin front's own bytes when it sits in front of a site (`--origin URL --publish`): GETs the
 * path from the origin. Only responses that may be mirrored are returned; `list` uses an optional
 * list of published paths (a site has no directory listing).
 */
export function createUpstreamSource(opts: { origin: string; maxObjectSize: number; paths?: () => readonly string[]; timeoutMs?: number }): ContentSource & { close(): Promise<void> } {
  const origin = new URL(opts.origin).origin;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const agent = new Agent({ connect: { timeout: timeoutMs } });
  return {
    async get(path): Promise<SourceEntry | undefined> {
      if (!isSafePath(path.split('?')[0] ?? '')) return undefined;
      const res = await request(origin + path, { dispatcher: agent, headers: { 'accept-encoding': 'identity' }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs }).catch(() => undefined);
      if (!res) return undefined;
      const get = (n: string) => { const v = res.headers[n]; return Array.isArray(v) ? v.join(', ') : v; };
      if (res.statusCode !== 200 || !isMirrorable(() => undefined, 200, get)) {
        await res.body.dump().catch(() => undefined);
        return undefined;
      }
      const chunks: Buffer[] = [];
      let n = 0;
      for await (const c of res.body) {
        n += (c as Buffer).length;
        if (n > opts.maxObjectSize) {
          res.body.destroy();
          return undefined;
        }
        chunks.push(c as Buffer);
      }
      const body = Buffer.concat(chunks);
      const cc = get('cache-control');
      return { body, contentType: get('content-type') ?? 'application/octet-stream', ...(cc ? { cacheControl: cc } : {}), version: sha256(body).toString('hex') };
    },
    async list(prefix, limit) {
      return (opts.paths?.() ?? []).filter((p) => p.startsWith(prefix)).slice(0, limit);
    },
    close: () => agent.close(),
  };
}
