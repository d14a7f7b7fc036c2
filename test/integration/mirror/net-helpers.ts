import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createFolderSource, createMirror, createOriginFront, parseSingleRange, type Mirror, type OriginFront } from '../../../src/mirror/index.js';
import { generatePublisherKey, type PublisherKey } from '../../../src/integrity/index.js';

/** Starts a node:http server on 127.0.0.1 port 0; `handler` may be set after the port is known. */
export async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>, host = '127.0.0.1'): Promise<{ server: Server; port: number; url: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    Promise.resolve(handler(req, res)).catch((err: Error) => {
      if (!res.headersSent) res.writeHead(500).end(err.message);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server, port, url: `http://${host}:${port}`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

export function tempDir(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'pw-p2p-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

export function writeFiles(dir: string, files: Record<string, Buffer | string>): void {
  for (const [p, b] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), b);
  }
}

export interface Site {
  front: OriginFront;
  server: import('node:http').Server;
  url: string;
  key: PublisherKey;
  dir: string;
  close: () => Promise<void>;
}

/** A folder published by an origin front on 127.0.0.1; direct audits and pushes leave from 127.0.0.1. */
export async function startSite(dir: string, opts: { pieceSize?: number; pieceThreshold?: number; proxies?: string[] } = {}): Promise<Site> {
  const key = generatePublisherKey();
  let front: OriginFront | undefined;
  const srv = await listen((req, res) => (front as OriginFront).serve(req, res));
  front = createOriginFront({
    key, source: createFolderSource(dir, { maxObjectSize: 64 * 1024 * 1024 }), policy: { mode: 'open', allow: [], maxMirrors: 8 },
    publicBase: srv.url, pieceSize: opts.pieceSize ?? 64 * 1024, pieceThreshold: opts.pieceThreshold ?? 128 * 1024,
    auditRanges: 3, localAddress: '127.0.0.1', timeoutMs: 5000, ...(opts.proxies ? { auditProxies: opts.proxies } : {}),
  });
  return { front, server: srv.server, url: srv.url, key, dir, close: async () => { await srv.close(); await front.close(); } };
}

/** A real peerweb mirror of `site` under /m/ on its own server. */
export async function startMirror(site: Site, prefixes: string[] = ['/']): Promise<{ mirror: Mirror; base: string; close: () => Promise<void>; server: Server }> {
  let mirror: Mirror | undefined;
  const srv = await listen(async (req, res) => {
    if (!(await (mirror as Mirror).handle(req, res))) res.writeHead(404).end();
  });
  const base = `${srv.url}/m/`;
  mirror = createMirror({ origin: site.url, prefixes, base, originKeys: [site.key], maxObjectSize: 64 * 1024 * 1024, rate: 0, globalRate: 0 });
  return { mirror, base, server: srv.server, close: async () => { await srv.close(); await mirror.close(); } };
}

/**
 * A dishonest mirror serving its own copy of the files. `corrupt(req, start, end)` decides, per
 * request, whether the bytes it sends are altered (one byte flipped in the range).
 */
export async function startCheater(files: Record<string, Buffer>, corrupt: (req: IncomingMessage, start: number, end: number) => boolean, opts: { dieAfter?: number } = {}) {
  let served = 0;
  const srv = await listen((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/^\/m/, '');
    const body = files[path];
    if (!body) return void res.writeHead(404).end();
    served++;
    if (opts.dieAfter !== undefined && served > opts.dieAfter) {
      req.socket.destroy();
      return;
    }
    const r = parseSingleRange(req.headers.range, body.length);
    const range = r && r !== 'unsatisfiable' ? r : { start: 0, end: body.length - 1 };
    let part = Buffer.from(body.subarray(range.start, range.end + 1));
    if (corrupt(req, range.start, range.end) && part.length) {
      part = Buffer.from(part);
      const at = Math.floor(part.length / 2);
      part[at] = (part[at] ?? 0) ^ 0x55;
    }
    if (opts.dieAfter !== undefined && served === opts.dieAfter) {
      // Send half of the answer, then vanish.
      res.writeHead(r && r !== 'unsatisfiable' ? 206 : 200, { 'content-length': String(part.length), ...(r && r !== 'unsatisfiable' ? { 'content-range': `bytes ${range.start}-${range.end}/${body.length}` } : {}) });
      res.write(part.subarray(0, part.length >> 1));
      setImmediate(() => req.socket.destroy());
      return;
    }
    res.writeHead(r && r !== 'unsatisfiable' ? 206 : 200, { 'content-length': String(part.length), ...(r && r !== 'unsatisfiable' ? { 'content-range': `bytes ${range.start}-${range.end}/${body.length}` } : {}) });
    res.end(req.method === 'HEAD' ? undefined : part);
  });
  return { ...srv, base: `${srv.url}/m/`, served: () => served };
}

/** A third-party forward proxy (absolute-form requests) whose outgoing connections leave from 127.0.0.2. */
export async function startProxy() {
  let forwarded = 0;
  const srv = await listen((req, res) => {
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      return void res.writeHead(400).end();
    }
    forwarded++;
    const up = httpRequest({ host: target.hostname, port: target.port, path: target.pathname + target.search, method: req.method, headers: { ...req.headers, host: target.host }, localAddress: '127.0.0.2' }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => { if (!res.headersSent) res.writeHead(502).end(); else res.destroy(); });
    req.pipe(up);
  });
  return { ...srv, forwarded: () => forwarded };
}

export function randomFile(size: number): Buffer {
  return randomBytes(size);
}
