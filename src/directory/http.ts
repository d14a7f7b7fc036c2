import type { IncomingMessage, ServerResponse } from 'node:http';
import { request } from 'undici';
import { PeerwebError, isPeerwebError } from '../errors/index.js';
import type { Directory, DirectoryEntry, Registration } from './types.js';

export const DIRECTORY_PATH = '/.well-known/peerweb/directory';
const MAX_BODY = 16 * 1024;

export interface DirRequest { readonly method: string; readonly url: string; readonly body?: Buffer | undefined }
export interface DirResponse { status: number; headers: [string, string][]; body: Buffer }

function json(status: number, v: unknown): DirResponse {
  return { status, headers: [['content-type', 'application/json'], ['cache-control', 'no-store']], body: Buffer.from(JSON.stringify(v)) };
}

/**
 * The directory over HTTP as a plain request → response function, for the node to mount at
 * `/.well-known/peerweb/directory`:
 * - `GET ?site=ORIGIN[&prefix=PATH]` → 200 `{ entries: [...] }`
 * - `POST` with a JSON registration `{ site, prefix, version, digest, holder, ttl? }` → 201 the entry
 * - `DELETE ?site=&prefix=&holder=` → 204, or 404 when there was none
 * Errors are JSON `{ error: CODE, message }` with the code's status.
 */
export function directoryRequestHandler(dir: Directory): (req: DirRequest) => Promise<DirResponse> {
  return async (req) => {
    let u: URL;
    try { u = new URL(req.url, 'http://directory.invalid'); } catch { return json(400, { error: 'PW_ERR_DIRECTORY_BAD_ENTRY', message: 'Bad URL' }); }
    if (u.pathname !== DIRECTORY_PATH) return json(404, { error: 'not_found', message: `Not found: ${u.pathname}` });
    try {
      const p = (k: string): string => {
        const v = u.searchParams.getAll(k);
        if (v.length !== 1) throw new PeerwebError('PW_ERR_DIRECTORY_BAD_ENTRY', { reason: `query needs exactly one ${k}` });
        return v[0]!;
      };
      if (req.method === 'GET' || req.method === 'HEAD') {
        const prefix = u.searchParams.get('prefix');
        const entries = await dir.lookup(p('site'), prefix ?? undefined);
        return json(200, { entries });
      }
      if (req.method === 'POST') {
        const body = req.body ?? Buffer.alloc(0);
        if (body.length > MAX_BODY) return json(413, { error: 'PW_ERR_HTTP_BODY_TOO_LARGE', message: `Request body larger than ${MAX_BODY} bytes` });
        let r: unknown;
        try { r = JSON.parse(body.toString('utf8')); } catch { throw new PeerwebError('PW_ERR_DIRECTORY_BAD_ENTRY', { reason: 'body is not JSON' }); }
        return json(201, await dir.register(r as Registration));
      }
      if (req.method === 'DELETE') {
        const gone = await dir.unregister(p('site'), p('prefix'), p('holder'));
        return gone ? { status: 204, headers: [], body: Buffer.alloc(0) } : json(404, { error: 'not_found', message: 'No such registration' });
      }
      return { ...json(405, { error: 'PW_ERR_METHOD_NOT_ALLOWED', message: `Method ${req.method} not allowed here` }), headers: [['allow', 'GET, HEAD, POST, DELETE'], ['content-type', 'application/json']] };
    } catch (err) {
      if (isPeerwebError(err)) return json(err.status || 500, { error: err.code, message: err.message, ...(typeof err.details.reason === 'string' ? { reason: err.details.reason } : {}) });
      throw err;
    }
  };
}

/** The same as a node:http `(req, res)` listener (body bounded to 16 KiB). */
export function directoryHttpHandler(dir: Directory): (req: IncomingMessage, res: ServerResponse) => void {
  const handle = directoryRequestHandler(dir);
  return (req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) over = true; else chunks.push(c);
    });
    req.on('end', () => {
      const done = (r: DirResponse): void => {
        res.writeHead(r.status, Object.fromEntries(r.headers));
        res.end(req.method === 'HEAD' ? undefined : r.body);
      };
      if (over) return done(json(413, { error: 'PW_ERR_HTTP_BODY_TOO_LARGE', message: `Request body larger than ${MAX_BODY} bytes` }));
      handle({ method: req.method ?? 'GET', url: req.url ?? '/', body: Buffer.concat(chunks) }).then(done, () => done(json(500, { error: 'internal', message: 'Directory failed' })));
    });
    req.on('error', () => res.destroy());
  };
}

/** A Directory that talks to another node's embedded directory over HTTP (`base` is its directory URL). */
export function createHttpDirectory(base: string, opts: { timeout?: number } = {}): Directory {
  const url = new URL(base);
  if (!url.pathname.endsWith(DIRECTORY_PATH)) url.pathname = url.pathname.replace(/\/$/, '') + DIRECTORY_PATH;
  const timeout = opts.timeout ?? 10_000;
  const call = async (method: 'GET' | 'POST' | 'DELETE', params: Record<string, string>, body?: unknown): Promise<{ status: number; data: unknown }> => {
    const u = new URL(url);
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    let res;
    try {
      res = await request(u, {
        method, headersTimeout: timeout, bodyTimeout: timeout,
        ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
      });
    } catch (err) {
      throw new PeerwebError('PW_ERR_DIRECTORY_UNAVAILABLE', { server: url.origin, reason: (err as Error).message }, { cause: err });
    }
    const text = await res.body.text();
    if (text.length > 4 * 1024 * 1024) throw new PeerwebError('PW_ERR_DIRECTORY_UNAVAILABLE', { server: url.origin, reason: 'answer too large' });
    let data: unknown = undefined;
    if (text) { try { data = JSON.parse(text); } catch { throw new PeerwebError('PW_ERR_DIRECTORY_UNAVAILABLE', { server: url.origin, reason: 'answer is not JSON' }); } }
    if (res.statusCode >= 400 && res.statusCode !== 404) {
      const d = data as { error?: string; message?: string; reason?: string } | undefined;
      if (d?.error === 'PW_ERR_DIRECTORY_CAP') throw new PeerwebError('PW_ERR_DIRECTORY_CAP', { reason: d.reason ?? d.message ?? '' });
      if (d?.error === 'PW_ERR_DIRECTORY_BAD_ENTRY') throw new PeerwebError('PW_ERR_DIRECTORY_BAD_ENTRY', { reason: d.reason ?? d.message ?? '' });
      throw new PeerwebError('PW_ERR_DIRECTORY_UNAVAILABLE', { server: url.origin, reason: `status ${res.statusCode}` });
    }
    return { status: res.statusCode, data };
  };
  const isEntry = (e: unknown): e is DirectoryEntry => {
    const o = e as Record<string, unknown>;
    return typeof o === 'object' && o !== null && typeof o.site === 'string' && typeof o.prefix === 'string' && typeof o.holder === 'string'
      && typeof o.digest === 'string' && typeof o.version === 'number' && typeof o.expires === 'number';
  };
  return {
    async register(r) {
      const { data } = await call('POST', {}, r);
      if (!isEntry(data)) throw new PeerwebError('PW_ERR_DIRECTORY_UNAVAILABLE', { server: url.origin, reason: 'bad registration answer' });
      return data;
    },
    async lookup(site, prefix) {
      const { status, data } = await call('GET', { site, ...(prefix !== undefined ? { prefix } : {}) });
      const entries = (data as { entries?: unknown } | undefined)?.entries;
      if (status !== 200 || !Array.isArray(entries)) throw new PeerwebError('PW_ERR_DIRECTORY_UNAVAILABLE', { server: url.origin, reason: 'bad lookup answer' });
      return entries.filter(isEntry).slice(0, 10_000);
    },
    async unregister(site, prefix, holder) {
      const { status } = await call('DELETE', { site, prefix, holder });
      return status === 204;
    },
    async purgeExpired() { return 0; },
    async close() {},
  };
}
