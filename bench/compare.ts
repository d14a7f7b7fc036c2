/**
 * The side-by-side benchmark: peerweb against nginx, Varnish, Squid and Traffic Server, each a reverse-proxy
 * cache of the same local origin. Writes docs/benchmarks.md (one run = one table set) and the raw figures
 * to bench/out/results.json.
 *
 *   node --import tsx bench/compare.ts [--systems nginx,varnish,...] [--rounds 3] [--seconds 10] [--warmup 2]
 *                                      [--crowd 500] [--crowd-rounds 3] [--idle 10000] [--out docs/benchmarks.md]
 *   node --import tsx bench/compare.ts --from-json bench/out/results.json   (re-render the last run's report)
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { holdIdle, flashCrowd } from './clients.js';
import { startOrigin, SIZES, type Origin, type SizeName } from './origin.js';
import { renderReport, writeReportSection, type BenchRun, type SystemRun } from './report.js';
import { REPO_ROOT, SERVER_CORE, targetsByName, type RunningTarget } from './targets.js';
import { buildBigload, runBigload } from './bigload.js';
import { LOOPBACK, percentile, treeRss } from './util.js';
import { runWrk } from './wrk.js';

interface Args { systems: string[] | undefined; rounds: number; seconds: number; warmup: number; crowd: number; crowdRounds: number; idle: number; out: string; fromJson: string | undefined }

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { systems: undefined, rounds: 3, seconds: 10, warmup: 2, crowd: 500, crowdRounds: 3, idle: 10_000, out: join(REPO_ROOT, 'docs', 'benchmarks.md'), fromJson: undefined };
  const int = (name: string, v: string | undefined, min: number, max: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`Option ${name} must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
    return n;
  };
  for (let i = 0; i < argv.length; i += 1) {
    const k = argv[i];
    const v = argv[i + 1];
    switch (k) {
      case '--systems': a.systems = (v ?? '').split(',').filter(Boolean); i += 1; break;
      case '--rounds': a.rounds = int(k, v, 1, 21); i += 1; break;
      case '--seconds': a.seconds = int(k, v, 1, 120); i += 1; break;
      case '--warmup': a.warmup = int(k, v, 0, 60); i += 1; break;
      case '--crowd': a.crowd = int(k, v, 0, 5000); i += 1; break;
      case '--crowd-rounds': a.crowdRounds = int(k, v, 1, 21); i += 1; break;
      case '--idle': a.idle = int(k, v, 0, 15_000); i += 1; break;
      case '--out': a.out = v ?? a.out; i += 1; break;
      case '--from-json': a.fromJson = v; i += 1; break;
      default: throw new Error(`Unknown option ${JSON.stringify(k)}`);
    }
  }
  return a;
}

export const SCENARIOS: ReadonlyArray<{ size: SizeName; connections: number }> = [
  { size: '1k', connections: 50 },
  { size: '100k', connections: 50 },
  { size: '10m', connections: 10 },
];

/** The report under the file's own title: its first heading is dropped (docs/benchmarks.md has one). */
function asSection(report: string): string {
  return report.replace(/^# Benchmarks\n/, '## HTTP caches side by side (`npm run bench`)\n');
}

function log(msg: string): void { process.stderr.write(`[bench] ${msg}\n`); }

async function get(port: number, path: string): Promise<{ status: number; bytes: number }> {
  const res = await fetch(`http://${LOOPBACK}:${port}${path}`, { signal: AbortSignal.timeout(30_000) });
  const b = await res.arrayBuffer();
  return { status: res.status, bytes: b.byteLength };
}

/** Fetches each object until the origin sees no more requests for it: proves the next ones are hits. */
async function warm(origin: Origin, t: RunningTarget): Promise<string | undefined> {
  for (const s of SCENARIOS) {
    const path = `/obj/${s.size}/bench`;
    let hit = false;
    for (let attempt = 0; attempt < 5 && !hit; attempt += 1) {
      const before = await origin.count(path);
      const r = await get(t.port, path);
      if (r.status !== 200 || r.bytes !== SIZES[s.size]) return `GET ${path} gave status ${r.status} with ${r.bytes} bytes`;
      hit = (await origin.count(path)) === before && attempt > 0;
    }
    if (!hit) return `${path} is not served from cache after 5 requests`;
  }
  return undefined;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.fromJson) {
    // Re-render the report of an earlier run (bench/out/results.json) without measuring anything.
    writeReportSection(args.out, 'caches', asSection(await renderReport(JSON.parse(readFileSync(args.fromJson, 'utf8')) as BenchRun)));
    log(`wrote ${args.out} from ${args.fromJson}`);
    return;
  }
  const started = new Date();
  const loadStart = os.loadavg()[0] ?? 0;
  const origin = await startOrigin();
  log(`origin on ${origin.url}`);
  const bigloadMissing = await buildBigload();
  if (bigloadMissing) log(`large-read client not built (${bigloadMissing}); its 10 MiB table will say not measured`);
  const systems: SystemRun[] = [];
  const running = new Map<string, RunningTarget>();
  const stopAll = async (): Promise<void> => { for (const r of running.values()) await r.stop().catch(() => undefined); running.clear(); };
  const onSignal = (): void => { void stopAll().finally(() => process.exit(130)); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    for (const t of targetsByName(args.systems)) {
      const sys: SystemRun = { name: t.name, version: '', notMeasured: undefined, rounds: {}, crowd: undefined, idle: undefined };
      systems.push(sys);
      const missing = t.missing();
      if (missing) { sys.notMeasured = missing; log(`${t.name}: not measured (${missing})`); continue; }
      sys.version = await t.version().catch(() => 'unknown');
      try {
        const r = await t.start(origin.port, 'bench');
        running.set(t.name, r);
        const bad = await warm(origin, r);
        if (bad) throw new Error(bad);
        log(`${t.name} ${sys.version} on port ${r.port}, pid ${r.pid}, warm`);
      } catch (err) {
        sys.notMeasured = (err as Error).message.split('\n')[0];
        log(`${t.name}: not measured (${(err as Error).message})`);
        await running.get(t.name)?.stop();
        running.delete(t.name);
      }
    }

    // Warm-up, not counted: every system serves each scenario for a moment first (JIT, heap and
    // buffer growth, connection set-up), so the first measured round is not a cold start.
    if (args.warmup > 0) {
      for (const sc of SCENARIOS) {
        for (const sys of systems) {
          const r = running.get(sys.name);
          if (!r) continue;
          await runWrk(`http://${LOOPBACK}:${r.port}/obj/${sc.size}/bench`, sc.connections, args.warmup, SERVER_CORE).catch((err: Error) => log(`warm-up ${sc.size} ${sys.name}: ${err.message}`));
        }
      }
      log(`warm-up done (${args.warmup} s per system and scenario)`);
    }

    // Hit throughput: rounds interleaved across systems (A B C …, A B C …).
    for (let round = 1; round <= args.rounds; round += 1) {
      for (const sc of SCENARIOS) {
        for (const sys of systems) {
          const r = running.get(sys.name);
          if (!r) continue;
          const path = `/obj/${sc.size}/bench`;
          const before = await origin.total();
          try {
            const w = await runWrk(`http://${LOOPBACK}:${r.port}${path}`, sc.connections, args.seconds, SERVER_CORE);
            const originRequests = (await origin.total()) - before;
            // wrk counts header bytes too, so a full body per request means about SIZES bytes each (wrk rounds to 3 digits).
            if (w.bytesPerSec / w.reqPerSec < SIZES[sc.size] * 0.98) w.errors += 1;
            (sys.rounds[sc.size] ??= []).push({ ...w, originRequests });
            log(`round ${round} ${sc.size} ${sys.name}: ${w.reqPerSec.toFixed(0)} req/s p50 ${w.p50Ms} ms p99 ${w.p99Ms} ms errors ${w.errors} origin ${originRequests} bytes/req ${(w.bytesPerSec / w.reqPerSec).toFixed(0)} cores busy: load ${(100 * w.loadCoreBusy).toFixed(0)}% server ${(100 * w.serverCoreBusy).toFixed(0)}%`);
            if (sc.size === '10m' && !bigloadMissing) {
              // The same body again with the large-read client: wrk's 8 KiB reads saturate its own core first.
              const before2 = await origin.total();
              const b = await runBigload(LOOPBACK, r.port, path, sc.connections, args.seconds, SERVER_CORE);
              (sys.bigReads ??= []).push({ ...b, requests: Math.round(b.reqPerSec * args.seconds), bytesPerSec: b.reqPerSec * SIZES[sc.size], originRequests: (await origin.total()) - before2 });
              log(`round ${round} 10m large reads ${sys.name}: ${b.reqPerSec.toFixed(0)} req/s p99 ${b.p99Ms} ms errors ${b.errors} cores busy: load ${(100 * b.loadCoreBusy).toFixed(0)}% server ${(100 * b.serverCoreBusy).toFixed(0)}%`);
            }
          } catch (err) {
            log(`round ${round} ${sc.size} ${sys.name}: failed: ${(err as Error).message}`);
            (sys.rounds[sc.size] ??= []).push(undefined);
            if (sc.size === '10m') (sys.bigReads ??= []).push(undefined);
          }
        }
      }
    }

    // Flash crowd: N simultaneous GETs of one cold object behind a 200 ms origin; rounds interleaved
    // like the hit rounds (one crowd is 500 samples taken within ~30 ms: one scheduler hiccup moves it).
    if (args.crowd > 0) {
      // Like the hit scenarios, each system first gets one unmeasured crowd (round 0) when --warmup is set:
      // the hit warm-up never runs the miss and collapsing paths.
      for (let round = args.warmup > 0 ? 0 : 1; round <= args.crowdRounds; round += 1) {
        for (const sys of systems) {
          const r = running.get(sys.name);
          if (!r) continue;
          const path = `/slow/crowd-${sys.name}-${started.getTime()}-${round}`;
          if (round === 0) {
            const c = await flashCrowd(r.port, path, args.crowd).catch((err: Error) => ({ ok: 0, failed: args.crowd, firstError: err.message }));
            log(`crowd warm-up ${sys.name}: ok ${c.ok} failed ${c.failed}${c.firstError ? ` (${c.firstError})` : ''}`);
            continue;
          }
          try {
            const c = await flashCrowd(r.port, path, args.crowd);
            const one = {
              clients: c.clients, ok: c.ok, failed: c.failed, firstError: c.firstError, originRequests: await origin.count(path),
              p50Ms: percentile(c.latenciesMs, 50), p99Ms: percentile(c.latenciesMs, 99), maxMs: Math.max(...c.latenciesMs),
            };
            (sys.crowdRounds ??= []).push(one);
            log(`crowd round ${round} ${sys.name}: origin ${one.originRequests} ok ${c.ok} failed ${c.failed} p50 ${one.p50Ms.toFixed(1)} p99 ${one.p99Ms.toFixed(1)}${c.firstError ? ` (${c.firstError})` : ''}`);
          } catch (err) {
            log(`crowd round ${round} ${sys.name}: failed: ${(err as Error).message}`);
          }
        }
      }
      for (const sys of systems) {
        const all = [...(sys.crowdRounds ?? [])].sort((a, b) => a.p99Ms - b.p99Ms);
        sys.crowd = all[Math.floor((all.length - 1) / 2)];
      }
    }

    // Memory while holding idle keep-alive connections, one system at a time.
    if (args.idle > 0) {
      for (const sys of systems) {
        const r = running.get(sys.name);
        if (!r) continue;
        const baseline = treeRss(r.pid);
        const hold = await holdIdle(r.port, '/obj/1k/bench', args.idle);
        const withConns = treeRss(r.pid);
        sys.idle = { wanted: args.idle, open: hold.open(), failed: hold.failed, firstError: hold.firstError, rssBaseline: baseline, rssWithConns: withConns };
        hold.close();
        log(`idle ${sys.name}: ${sys.idle.open}/${args.idle} open, RSS ${(baseline / 2 ** 20).toFixed(1)} → ${(withConns / 2 ** 20).toFixed(1)} MiB${hold.firstError ? ` (${hold.failed} failed: ${hold.firstError})` : ''}`);
      }
    }
  } finally {
    await stopAll();
    await origin.close();
  }

  const run: BenchRun = {
    started: started.toISOString(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    loadAverage: [loadStart, os.loadavg()[0] ?? 0],
    rounds: args.rounds, seconds: args.seconds, warmup: args.warmup, crowdClients: args.crowd, crowdRounds: args.crowdRounds, crowdWarmup: args.crowd > 0 && args.warmup > 0, idleConnections: args.idle,
    scenarios: SCENARIOS.map((s) => ({ ...s })),
    systems,
  };
  mkdirSync(join(REPO_ROOT, 'bench', 'out'), { recursive: true });
  writeFileSync(join(REPO_ROOT, 'bench', 'out', 'results.json'), `${JSON.stringify(run, null, 2)}\n`);
  writeReportSection(args.out, 'caches', asSection(await renderReport(run)));
  log(`wrote ${args.out}`);
}

main().catch((err) => { process.stderr.write(`[bench] ${(err as Error).stack ?? err}\n`); process.exitCode = 1; });
