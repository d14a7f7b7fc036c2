/**
 * Flash crowd: N `peerweb get` clients fetch one F-byte file published by an origin front with M
 * mirrors (pre-warmed by signed push). Upload rates are enforced per server with a token bucket.
 * Reports the origin's bytes sent (file copies, pushes apart), total time against the lower bound
 * max(F/u_s, N·F/(u_s + Σu_i)), and the verification cost (SHA-256 time / download time).
 *
 *   npx tsx bench/p2p-flash-crowd.ts [--clients 200] [--size-mib 10] [--mirrors 4] [--origin-mibps 20] [--mirror-mibps 40]
 *
 * Prints a Markdown table and writes bench/out/p2p-flash-crowd.json.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { open } from 'node:fs/promises';
import { request } from 'undici';
import { parseArgs } from 'node:util';
import { getVerified } from '../src/client/index.js';
import { generatePublisherKey } from '../src/integrity/index.js';
import { createFolderSource, createMirror, createOriginFront, type Mirror, type OriginFront } from '../src/mirror/index.js';
import { benchSection } from './report.js';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '200' }, 'size-mib': { type: 'string', default: '10' }, mirrors: { type: 'string', default: '4' },
    'origin-mibps': { type: 'string', default: '20' }, 'mirror-mibps': { type: 'string', default: '40' }, parallel: { type: 'string', default: '4' },
  },
});
const N = Number(values.clients);
const F = Number(values['size-mib']) * 1024 * 1024;
const M = Number(values.mirrors);
const MiB = 1024 * 1024;
const uS = Number(values['origin-mibps']) * MiB;
const uM = Number(values['mirror-mibps']) * MiB;

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

/** Makes res.end(body) go out through the uplink. */
function throttle(res: ServerResponse, up: Uplink): void {
  const end = res.end.bind(res) as (chunk?: unknown) => ServerResponse;
  (res as unknown as { end: (chunk?: unknown) => ServerResponse }).end = (chunk?: unknown) => {
    if (!Buffer.isBuffer(chunk) || chunk.length === 0) return end(chunk);
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
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const dir = mkdtempSync(join(tmpdir(), 'pw-bench-p2p-'));
const servers: Server[] = [];
try {
  mkdirSync(join(dir, 'site', 'pub'), { recursive: true });
  mkdirSync(join(dir, 'out'));
  const file = randomBytes(F);
  writeFileSync(join(dir, 'site', 'pub', 'big.bin'), file);
  const key = generatePublisherKey();
  const originUp = new Uplink(uS);
  let originFileBytes = 0;
  let front: OriginFront | undefined;
  const o = await listen(async (req, res) => {
    if (req.method === 'GET' && req.url === '/pub/big.bin') {
      res.on('finish', () => { originFileBytes += F; });
      throttle(res, originUp);
    }
    await (front as OriginFront).serve(req, res);
  });
  servers.push(o.server);
  front = createOriginFront({ key, source: createFolderSource(join(dir, 'site'), { maxObjectSize: F + 1 }), policy: { mode: 'open', allow: [], maxMirrors: 64 }, publicBase: o.url, pieceSize: MiB, pieceThreshold: 4 * MiB });

  const mirrors: { mirror: Mirror; up: Uplink; base: string }[] = [];
  for (let i = 0; i < M; i++) {
    const up = new Uplink(uM);
    let mirror: Mirror | undefined;
    const s = await listen(async (req, res) => {
      if (req.method === 'GET') throttle(res, up);
      await (mirror as Mirror).handle(req, res);
    });
    servers.push(s.server);
    mirror = createMirror({ origin: o.url, prefixes: ['/pub/'], base: `${s.url}/m/`, originKeys: [key], maxObjectSize: F + 1, rate: 0, globalRate: 0 });
    mirrors.push({ mirror, up, base: `${s.url}/m/` });
  }
  const pushStart = performance.now();
  const pushed = await front.push('/pub/big.bin', mirrors.map((m) => m.base));
  const pushMs = performance.now() - pushStart;
  if (!pushed.every((p) => p.status === 201)) throw new Error(`push failed: ${JSON.stringify(pushed)}`);
  for (const m of mirrors) if ((await front.offer(m.base, ['/pub/'])).state !== 'live') throw new Error(`mirror ${m.base} not live`);

  const t0 = performance.now();
  const results = await Promise.allSettled(Array.from({ length: N }, (_, i) =>
    getVerified({ url: `${o.url}/pub/big.bin`, out: join(dir, 'out', `c${i}.bin`), parallel: Number(values.parallel), timeoutMs: 600_000, report: false })));
  const wallS = (performance.now() - t0) / 1000;
  const ok = results.filter((r) => r.status === 'fulfilled').length;
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').slice(0, 3).map((r) => String((r.reason as Error).message));

  // Verification cost: SHA-256 over the bytes each client checks (pieces, then the whole file once more).
  const h0 = performance.now();
  for (let i = 0; i < 4; i++) createHash('sha256').update(file).digest();
  const hashRate = (4 * F) / ((performance.now() - h0) / 1000);
  const verifySecondsPerClient = (2 * F) / hashRate;
  const lower = Math.max(F / uS, (N * F) / (uS + M * uM));
  // Verification cost measured end to end: one client, unthrottled mirrors, verified vs raw ranges.
  for (const m of mirrors) (m.up as unknown as { rate: number }).rate = 1e12;
  const pieceUrls = mirrors.map((m) => `${m.base}pub/big.bin`);
  const rawOnce = async (): Promise<number> => {
    const t = performance.now();
    const fh = await open(join(dir, 'out', 'raw.bin'), 'w');
    let next = 0;
    const pieces = Math.ceil(F / MiB);
    await Promise.all(Array.from({ length: 4 }, async (_, w) => {
      for (let i = next++; i < pieces; i = next++) {
        const start = i * MiB;
        const end = Math.min(F, start + MiB) - 1;
        const r = await request(pieceUrls[(i + w) % pieceUrls.length] as string, { headers: { range: `bytes=${start}-${end}` } });
        const buf = Buffer.from(await r.body.arrayBuffer());
        await fh.write(buf, 0, buf.length, start);
      }
    }));
    await fh.close();
    return performance.now() - t;
  };
  const verifiedOnce = async (): Promise<number> => {
    const t = performance.now();
    await getVerified({ url: `${o.url}/pub/big.bin`, out: join(dir, 'out', 'verified.bin'), parallel: 4, report: false });
    return performance.now() - t;
  };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const raws: number[] = [];
  const verifieds: number[] = [];
  for (let i = 0; i < 7; i++) {
    raws.push(await rawOnce());
    verifieds.push(await verifiedOnce());
  }
  const rawMs = median(raws);
  const verifiedMs = median(verifieds);

  const out = {
    singleClientRawMiBps: F / MiB / (rawMs / 1000), singleClientVerifiedMiBps: F / MiB / (verifiedMs / 1000),
    verificationThroughputCost: 1 - rawMs / verifiedMs,
    clients: N, ok, fileBytes: F, mirrors: M, originMiBps: uS / MiB, mirrorMiBps: uM / MiB, cpus: cpus().length,
    wallSeconds: wallS, lowerBoundSeconds: lower, ratio: wallS / lower,
    originFileCopies: originFileBytes / F, originUplinkBytes: originUp.sent, pushSeconds: pushMs / 1000,
    mirrorBytes: mirrors.map((m) => m.up.sent), sha256MiBps: hashRate / MiB,
    verificationShareOfClientTime: (verifySecondsPerClient * N) / (wallS * Math.min(cpus().length, N)), failures,
  };
  mkdirSync('bench/out', { recursive: true });
  writeFileSync('bench/out/p2p-flash-crowd.json', JSON.stringify(out, null, 2));
  const report = `## Flash crowd: ${N} peerweb get clients, one ${F / MiB} MiB file, ${M} mirrors

Upload rates: origin ${uS / MiB} MiB/s, each mirror ${uM / MiB} MiB/s; all on loopback in one process (${cpus().length} CPUs).

| measure | value | target |
|---|---|---|
| clients finished with the exact file | ${ok} / ${N} | all |
| total time | ${wallS.toFixed(2)} s | |
| lower bound max(F/u_s, N·F/(u_s+Σu_i)) | ${lower.toFixed(2)} s | |
| time / lower bound | ${(wallS / lower).toFixed(2)} | ≤ 1.5 |
| origin file copies sent to clients (pushes apart) | ${(originFileBytes / F).toFixed(2)} | ≤ 1.1 |
| pushes to ${M} mirrors | ${M} copies in ${(pushMs / 1000).toFixed(2)} s | |
| SHA-256 throughput | ${(hashRate / MiB).toFixed(0)} MiB/s | |
| verification CPU as share of client CPU time (crowd) | ${(100 * out.verificationShareOfClientTime).toFixed(1)} % | |
| one client, unthrottled: raw ranges / verified get (median of 7) | ${out.singleClientRawMiBps.toFixed(0)} / ${out.singleClientVerifiedMiBps.toFixed(0)} MiB/s | |
| throughput lost to verification (and its extra work: HEAD, Metalink, final hash) | ${(100 * out.verificationThroughputCost).toFixed(1)} % | ≤ 10 % |
`;
  console.log(report);
  const [heading, , rates, , ...rest] = report.split('\n');
  benchSection('p2p', {
    title: (heading ?? '').replace(/^## /, ''),
    command: `npx tsx bench/p2p-flash-crowd.ts ${process.argv.slice(2).join(' ')}`.trim(),
    what: rates ?? '',
    target: 'time within 1.5× of the lower bound, origin sends the file at most 1.1 times (pushes apart), verification ≤ 10 % of throughput.',
    table: rest.join('\n').trim(),
  });
  if (failures.length) console.log(`Failures: ${failures.join('; ')}`);
  await front.close();
  for (const m of mirrors) await m.mirror.close();
} finally {
  for (const s of servers) { s.closeAllConnections(); s.close(); }
  rmSync(dir, { recursive: true, force: true });
}
