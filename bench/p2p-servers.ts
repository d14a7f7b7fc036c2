/**
 * The servers of the peer-to-peer benchmark, in a process of their own: an origin front publishing a
 * folder and M mirrors pre-warmed by signed push, each with its upload rate enforced by a token
 * bucket. The clients run in the parent, so the time the servers spend sending is not counted
 * against the clients' verification (and the other way round). Control and counters go over IPC.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fork } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generatePublisherKey } from '../src/integrity/index.js';
import { createFolderSource, createMirror, createOriginFront, type Mirror, type OriginFront } from '../src/mirror/index.js';
import { LOOPBACK } from './util.js';

const MiB = 1024 * 1024;

export interface P2pServerOptions {
  /** Size of the crowd's file (`/pub/big.bin`) and of the one-client file (`/pub/single.bin`, the same file when equal). */
  fileBytes: number;
  singleBytes: number;
  mirrors: number;
  /** Upload rates, bytes per second. */
  originRate: number;
  mirrorRate: number;
}

export interface P2pServers {
  origin: string;
  mirrorBases: string[];
  bigPath: string;
  singlePath: string;
  /** SHA-256 of each published file, by path. */
  digests: Record<string, string>;
  pushMs: number;
  /** Sets every mirror's upload limit, bytes per second (Infinity: none); the origin's stays. */
  setMirrorRate(rate: number): Promise<void>;
  /** Bytes of complete copies of the crowd's file the origin sent, and what each uplink sent. */
  stats(): Promise<{ originFileBytes: number; originSent: number; mirrorSent: number[] }>;
  close(): Promise<void>;
}

type Ask = { op: 'rate'; rate: number | null } | { op: 'stats' } | { op: 'close' };

/** Starts the servers in a child process (`node --import tsx bench/p2p-servers.ts`). */
export async function startP2pServers(opts: P2pServerOptions): Promise<P2pServers> {
  const child = fork(fileURLToPath(import.meta.url), ['serve', JSON.stringify(opts)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = await new Promise<Omit<P2pServers, 'setMirrorRate' | 'stats' | 'close'>>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`p2p bench servers exited with ${code}`)));
    child.once('message', (m) => resolve(m as Omit<P2pServers, 'setMirrorRate' | 'stats' | 'close'>));
  });
  const waiting = new Map<number, (v: unknown) => void>();
  let nextId = 0;
  child.on('message', (m) => {
    const { id, value } = m as { id: number; value: unknown };
    waiting.get(id)?.(value);
    waiting.delete(id);
  });
  const ask = (q: Ask): Promise<unknown> => new Promise((resolve) => {
    const id = nextId++;
    waiting.set(id, resolve);
    child.send({ ...q, id });
  });
  return {
    ...ready,
    // IPC carries JSON: Infinity travels as null.
    setMirrorRate: async (rate) => { await ask({ op: 'rate', rate: Number.isFinite(rate) ? rate : null }); },
    stats: async () => (await ask({ op: 'stats' })) as Awaited<ReturnType<P2pServers['stats']>>,
    close: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      await ask({ op: 'close' });
      await exited;
    },
  };
}

/** Shared upload budget of one server: bytes per second, sent in 64 KiB slices. */
class Uplink {
  private tokens = 0;
  private last = performance.now();
  sent = 0;
  constructor(public rate: number) {}
  async take(n: number): Promise<void> {
    for (;;) {
      const now = performance.now();
      this.tokens = Math.min(this.rate * 0.05, this.tokens + ((now - this.last) / 1000) * this.rate);
      this.last = now;
      if (this.tokens >= n) {
        this.tokens -= n;
        this.sent += n;
        return;
      }
      await new Promise((r) => setTimeout(r, Math.max(1, ((n - this.tokens) / this.rate) * 1000)));
    }
  }
}

/** Makes res.end(body) go out through the uplink (unlimited: straight through, counted). */
function throttle(res: ServerResponse, up: Uplink): void {
  const end = res.end.bind(res) as (chunk?: unknown) => ServerResponse;
  (res as unknown as { end: (chunk?: unknown) => ServerResponse }).end = (chunk?: unknown) => {
    if (!Buffer.isBuffer(chunk) || chunk.length === 0) return end(chunk);
    if (!Number.isFinite(up.rate)) { up.sent += chunk.length; return end(chunk); }
    void (async () => {
      for (let off = 0; off < chunk.length; off += 64 * 1024) {
        const part = chunk.subarray(off, off + 64 * 1024);
        await up.take(part.length);
        if (res.destroyed) return;
        if (!res.write(part)) await new Promise((r) => res.once('drain', r));
      }
      end();
    })();
    return res;
  };
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => void handler(req, res).catch(() => res.destroy()));
  server.keepAliveTimeout = 5000;
  server.maxConnections = 10_000;
  await new Promise<void>((r) => server.listen(0, LOOPBACK, r));
  return { server, url: `http://${LOOPBACK}:${(server.address() as AddressInfo).port}` };
}

/** The servers themselves, run in the child. */
async function serve(opts: P2pServerOptions): Promise<void> {
  const { fileBytes: F, singleBytes: S } = opts;
  const dir = mkdtempSync(join(tmpdir(), 'pw-bench-p2p-'));
  const servers: Server[] = [];
  mkdirSync(join(dir, 'site', 'pub'), { recursive: true });
  const bigPath = '/pub/big.bin';
  const singlePath = S === F ? bigPath : '/pub/single.bin';
  const digests: Record<string, string> = {};
  for (const [path, n] of new Map([[bigPath, F], [singlePath, S]])) {
    const bytes = randomBytes(n);
    writeFileSync(join(dir, 'site', path), bytes);
    digests[path] = createHash('sha256').update(bytes).digest('base64');
  }
  const key = generatePublisherKey();
  const originUp = new Uplink(opts.originRate);
  let originFileBytes = 0;
  let front: OriginFront | undefined;
  const o = await listen(async (req, res) => {
    if (req.method === 'GET' && req.url === bigPath) {
      res.on('finish', () => { originFileBytes += F; });
      throttle(res, originUp);
    }
    await (front as OriginFront).serve(req, res);
  });
  servers.push(o.server);
  front = createOriginFront({ key, source: createFolderSource(join(dir, 'site'), { maxObjectSize: Math.max(F, S) + 1 }), policy: { mode: 'open', allow: [], maxMirrors: 64 }, publicBase: o.url, pieceSize: MiB, pieceThreshold: 4 * MiB });

  const mirrors: { mirror: Mirror; up: Uplink; base: string }[] = [];
  for (let i = 0; i < opts.mirrors; i++) {
    const up = new Uplink(opts.mirrorRate);
    let mirror: Mirror | undefined;
    const s = await listen(async (req, res) => {
      if (req.method === 'GET') throttle(res, up);
      await (mirror as Mirror).handle(req, res);
    });
    servers.push(s.server);
    mirror = createMirror({ origin: o.url, prefixes: ['/pub/'], base: `${s.url}/m/`, originKeys: [key], maxObjectSize: Math.max(F, S) + 1, rate: 0, globalRate: 0 });
    mirrors.push({ mirror, up, base: `${s.url}/m/` });
  }
  const bases = mirrors.map((m) => m.base);
  const pushStart = performance.now();
  for (const path of new Set([bigPath, singlePath])) {
    const pushed = await front.push(path, bases);
    if (!pushed.every((p) => p.status === 201)) throw new Error(`push failed: ${JSON.stringify(pushed)}`);
  }
  const pushMs = performance.now() - pushStart;
  for (const b of bases) if ((await front.offer(b, ['/pub/'])).state !== 'live') throw new Error(`mirror ${b} not live`);

  const close = async () => {
    await front?.close();
    for (const m of mirrors) await m.mirror.close();
    for (const s of servers) { s.closeAllConnections(); s.close(); }
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('message', (m) => {
    const q = m as Ask & { id: number };
    if (q.op === 'rate') {
      for (const x of mirrors) x.up.rate = q.rate ?? Infinity;
      process.send?.({ id: q.id, value: null });
    } else if (q.op === 'stats') {
      process.send?.({ id: q.id, value: { originFileBytes, originSent: originUp.sent, mirrorSent: mirrors.map((x) => x.up.sent) } });
    } else {
      void close().finally(() => process.send?.({ id: q.id, value: null }, () => process.exit(0)));
    }
  });
  process.on('disconnect', () => void close().finally(() => process.exit(0)));
  process.send?.({ origin: o.url, mirrorBases: bases, bigPath, singlePath, digests, pushMs });
}

if (process.argv[2] === 'serve' && process.send) await serve(JSON.parse(process.argv[3] ?? '{}') as P2pServerOptions);
