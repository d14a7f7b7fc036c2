/**
 * The benchmark origin: deterministic bodies of 1 KiB, 100 KiB and 10 MiB, all `Cache-Control: max-age=3600`,
 * and a slow path (200 ms before answering) for the flash crowd. It counts every request per path so the
 * driver can prove that measured requests were cache hits (the origin saw none of them).
 *
 *   GET /obj/1k/<anything>    1 KiB     GET /obj/100k/<anything>   100 KiB    GET /obj/10m/<anything>   10 MiB
 *   GET /slow/<anything>      1 KiB after 200 ms
 *
 * `startOrigin()` runs it in a child process of its own (on the load generator's core), so that the
 * 200 ms of the slow path start when the request arrives, not when the load generator's event loop
 * is next free; the counts come back over IPC.
 */
import http from 'node:http';
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { LOOPBACK } from './util.js';

export const SIZES = { '1k': 1024, '100k': 100 * 1024, '10m': 10 * 1024 * 1024 } as const;
export type SizeName = keyof typeof SIZES;
export const SLOW_DELAY_MS = 200;

/** Deterministic body of n bytes: printable, repeating a 64-byte line. */
export function body(n: number): Buffer {
  const line = Buffer.from('peerweb benchmark body, the same bytes on every run, 0123456789\n', 'latin1');
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i += line.length) line.copy(out, i, 0, Math.min(line.length, n - i));
  return out;
}

export interface Origin {
  port: number;
  url: string;
  /** Requests received for one exact path (with query). */
  count(path: string): Promise<number>;
  /** Requests received in total. */
  total(): Promise<number>;
  close(): Promise<void>;
}

type Ask = { op: 'count'; path: string } | { op: 'total' } | { op: 'close' };
type Query = Ask & { id: number };

/** Starts the origin in its own process (`node --import tsx bench/origin.ts`); it inherits this process's CPU pinning. */
export async function startOrigin(): Promise<Origin> {
  const child = fork(fileURLToPath(import.meta.url), ['serve'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map<number, (v: number) => void>();
  let nextId = 0;
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`bench origin exited with ${code}`)));
    child.once('message', (m) => resolve((m as { port: number }).port));
  });
  child.on('message', (m) => {
    const { id, value } = m as { id: number; value: number };
    waiting.get(id)?.(value);
    waiting.delete(id);
  });
  const ask = (q: Ask): Promise<number> =>
    new Promise((resolve) => {
      const id = nextId++;
      waiting.set(id, resolve);
      child.send({ ...q, id });
    });
  return {
    port,
    url: `http://${LOOPBACK}:${port}`,
    count: (path) => ask({ op: 'count', path }),
    total: () => ask({ op: 'total' }),
    close: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      await ask({ op: 'close' });
      await exited;
    },
  };
}

/** The origin server itself, run in the child. */
async function serveOrigin(): Promise<void> {
  const bodies = new Map<string, { data: Buffer; etag: string }>();
  for (const [name, n] of Object.entries(SIZES)) {
    const data = body(n);
    bodies.set(name, { data, etag: `"${createHash('sha256').update(data).digest('hex').slice(0, 32)}"` });
  }
  const counts = new Map<string, number>();
  let total = 0;
  const pending = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    total += 1;
    if (counts.size < 100_000 || counts.has(path)) counts.set(path, (counts.get(path) ?? 0) + 1);
    const send = (b: { data: Buffer; etag: string }): void => {
      if (req.headers['if-none-match'] === b.etag) {
        res.writeHead(304, { 'cache-control': 'max-age=3600', etag: b.etag });
        res.end();
        return;
      }
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(b.data.length),
        'cache-control': 'max-age=3600',
        'last-modified': 'Mon, 01 Jan 2024 00:00:00 GMT',
        etag: b.etag,
      });
      res.end(req.method === 'HEAD' ? undefined : b.data);
    };
    const m = /^\/obj\/(1k|100k|10m)\//.exec(path);
    if (m && (req.method === 'GET' || req.method === 'HEAD')) {
      send(bodies.get(m[1] as string) as { data: Buffer; etag: string });
      return;
    }
    if (path.startsWith('/slow/') && (req.method === 'GET' || req.method === 'HEAD')) {
      const t = setTimeout(() => { pending.delete(t); send(bodies.get('1k') as { data: Buffer; etag: string }); }, SLOW_DELAY_MS);
      pending.add(t);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
    res.end('not found\n');
  });
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 130_000;
  server.maxHeadersCount = 200;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  process.on('message', (m) => {
    const q = m as Query;
    if (q.op === 'count') process.send?.({ id: q.id, value: counts.get(q.path) ?? 0 });
    else if (q.op === 'total') process.send?.({ id: q.id, value: total });
    else {
      for (const t of pending) clearTimeout(t);
      server.closeAllConnections();
      server.close(() => process.send?.({ id: q.id, value: 0 }, () => process.exit(0)));
    }
  });
  // The parent went away without closing us: do not linger.
  process.on('disconnect', () => process.exit(0));
  process.send?.({ port });
}

if (process.argv[2] === 'serve' && process.send) await serveOrigin();
