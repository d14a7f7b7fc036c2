/**
 * Cache-array flash crowd: M peerweb nodes, each its own process started from a TOML config with
 * `peers.array` listing all members and `peers.self` naming its own entry, in front of one origin
 * that takes `--origin-ms` per request. C clients, spread evenly over the members, each fetch R of
 * the O cold objects (every object asked on every member). Reports origin requests (the limit is
 * one per object), p50/p99/max client latency and the elapsed time; `--baseline` runs the same
 * members without the array (each its own cache) for comparison.
 *
 *   npx tsx bench/array-flash-crowd.ts [--members 5] [--clients 2000] [--objects 500] [--requests 20]
 *                                     [--origin-ms 200] [--size-kib 16] [--hashing rendezvous] [--baseline]
 *
 * Prints a Markdown table and writes bench/out/array-flash-crowd.json.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { freePort, percentile, startProcess, stopProcess, waitForPort, LOOPBACK, type Started } from './util.js';
import { benchSection } from './report.js';

const HERE = dirname(fileURLToPath(import.meta.url));

// A member process: `array-flash-crowd.ts --member CONFIG` runs `peerweb start --config CONFIG`.
const memberAt = process.argv.indexOf('--member');
if (memberAt >= 0) {
  const { main } = await import('../src/cli/main.js');
  process.exitCode = await main(['start', '--config', process.argv[memberAt + 1] ?? '']);
} else {
  await bench();
}

function bodyFor(path: string, size: number): Buffer {
  const seed = createHash('sha256').update(path).digest();
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i += seed.length) seed.copy(out, i);
  out.write(path, 0, 'latin1');
  return out;
}

interface RunResult {
  readonly mode: 'array' | 'independent';
  readonly members: number;
  readonly clients: number;
  readonly objects: number;
  readonly requests: number;
  readonly errors: number;
  readonly originRequests: number;
  readonly maxPerObject: number;
  readonly elapsedMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

async function bench(): Promise<void> {
  const { values } = parseArgs({
    options: {
      members: { type: 'string', default: '5' }, clients: { type: 'string', default: '2000' }, objects: { type: 'string', default: '500' },
      requests: { type: 'string', default: '20' }, 'origin-ms': { type: 'string', default: '200' }, 'size-kib': { type: 'string', default: '16' },
      hashing: { type: 'string', default: 'rendezvous' }, baseline: { type: 'boolean', default: false }, member: { type: 'string' },
    },
  });
  const opts = {
    members: Number(values.members), clients: Number(values.clients), objects: Number(values.objects), requests: Number(values.requests),
    originMs: Number(values['origin-ms']), size: Number(values['size-kib']) * 1024, hashing: String(values.hashing),
  };
  for (const [k, v] of Object.entries(opts)) if (typeof v === 'number' && !(Number.isInteger(v) && v >= (k === 'originMs' ? 0 : 1))) throw new Error(`--${k} must be a positive integer, got ${v}`);
  if (opts.hashing !== 'carp' && opts.hashing !== 'rendezvous') throw new Error(`--hashing must be carp or rendezvous, got ${opts.hashing}`);
  if (opts.requests > opts.objects) throw new Error(`--requests ${opts.requests} is more than --objects ${opts.objects}`);

  const results: RunResult[] = [await run('array', opts)];
  if (values.baseline) results.push(await run('independent', opts));

  const rows = results.map((r) => `| ${r.mode} | ${r.members} | ${r.clients} | ${r.objects} | ${r.requests} | ${r.errors} | ${r.originRequests} (${(r.originRequests / r.objects).toFixed(2)}/object, max ${r.maxPerObject}) | ${r.p50Ms.toFixed(1)} | ${r.p99Ms.toFixed(1)} | ${r.maxMs.toFixed(0)} | ${(r.elapsedMs / 1000).toFixed(1)} |`);
  const table = [
    '| mode | members | clients | objects | requests | errors | origin requests | p50 ms | p99 ms | max ms | time s |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
  process.stdout.write(`Cache-array flash crowd: origin ${opts.originMs} ms per request, ${opts.size / 1024} KiB objects, ${opts.hashing} hashing\n\n${table}\n`);
  benchSection('array', {
    title: 'Cache-array flash crowd',
    command: `npx tsx bench/array-flash-crowd.ts ${process.argv.slice(2).join(' ')}`.trim(),
    what: `${opts.members} member processes on loopback, ${opts.clients} clients spread over them, ${opts.objects} cold ${opts.size / 1024} KiB objects, ${opts.requests} requests per client, origin answering after ${opts.originMs} ms; ${opts.hashing} hashing. "independent" is the same members without the array.`,
    target: 'origin requests = objects (one per object).',
    table,
  });
  const outDir = join(HERE, 'out');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'array-flash-crowd.json'), `${JSON.stringify({ when: new Date().toISOString(), options: opts, results }, null, 2)}\n`);
}

async function run(mode: 'array' | 'independent', o: { members: number; clients: number; objects: number; requests: number; originMs: number; size: number; hashing: string }): Promise<RunResult> {
  const perObject = new Map<string, number>();
  let originRequests = 0;
  const origin: Server = createServer((req, res) => {
    originRequests++;
    const path = req.url ?? '/';
    perObject.set(path, (perObject.get(path) ?? 0) + 1);
    setTimeout(() => {
      const body = bodyFor(path, o.size);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'public, max-age=600', 'content-length': String(body.length) });
      res.end(body);
    }, o.originMs);
  });
  origin.keepAliveTimeout = 5000;
  origin.maxConnections = 10_000;
  await new Promise<void>((r) => origin.listen(0, LOOPBACK, r));
  const originUrl = `http://${LOOPBACK}:${(origin.address() as AddressInfo).port}`;

  const dir = mkdtempSync(join(tmpdir(), 'peerweb-array-bench-'));
  const ports: number[] = [];
  for (let i = 0; i < o.members; i++) ports.push(await freePort());
  const names = ports.map((p) => `${LOOPBACK}:${p}`);
  const members: Started[] = [];
  try {
    for (let i = 0; i < o.members; i++) {
      const conf = join(dir, `member-${i}.toml`);
      writeFileSync(conf, [
        `origin = "${originUrl}"`,
        `listen = "${names[i]}"`,
        `admin = "${LOOPBACK}:${await freePort()}"`,
        `data = "${join(dir, `data-${i}`)}"`,
        '',
        '[log]',
        'level = "warn"',
        'access = "off"',
        '',
        '[cache]',
        'disk = 0',
        '',
        ...(mode === 'array'
          ? ['[peers]', `hashing = "${o.hashing}"`, `self = "${names[i]}"`, `array = [${names.map((n) => `"${n}"`).join(', ')}]`, '']
          : []),
      ].join('\n'));
      members.push(startProcess([process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url), '--member', conf], { cwd: join(HERE, '..') }));
    }
    for (let i = 0; i < o.members; i++) {
      const m = members[i] as Started;
      await waitForPort(ports[i] as number, 30_000, m.child).catch((err: Error) => { throw new Error(`${err.message}\n${m.output()}`); });
    }

    const pools = ports.map((p) => new Pool(`http://${LOOPBACK}:${p}`, { connections: Math.ceil(o.clients / o.members), pipelining: 1 }));
    const latencies: number[] = [];
    let errors = 0;
    let requests = 0;
    const started = performance.now();
    await Promise.all(Array.from({ length: o.clients }, async (_, c) => {
      const pool = pools[c % o.members] as Pool;
      // Client c starts at a client-specific object and strides through the set: every object is asked on every member.
      const first = Math.floor(c / o.members) * o.requests;
      for (let k = 0; k < o.requests; k++) {
        const path = `/obj/${(first + k) % o.objects}`;
        const t0 = performance.now();
        try {
          const res = await pool.request({ path, method: 'GET' });
          const body = Buffer.from(await res.body.arrayBuffer());
          if (res.statusCode !== 200 || !body.equals(bodyFor(path, o.size))) errors++;
        } catch {
          errors++;
        }
        requests++;
        latencies.push(performance.now() - t0);
      }
    }));
    const elapsedMs = performance.now() - started;
    await Promise.all(pools.map((p) => p.close()));
    return {
      mode, members: o.members, clients: o.clients, objects: o.objects, requests, errors, originRequests,
      maxPerObject: [...perObject.values()].reduce((a, b) => Math.max(a, b), 0), elapsedMs,
      p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), maxMs: latencies.reduce((a, b) => Math.max(a, b), 0),
    };
  } finally {
    await Promise.all(members.map((m) => stopProcess(m.child)));
    await new Promise<void>((r) => { origin.close(() => r()); origin.closeAllConnections(); });
    rmSync(dir, { recursive: true, force: true });
  }
}
