/** Turns one benchmark run into docs/benchmarks.md: machine, versions, command, one table per scenario. */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
import type { SizeName } from './origin.js';
import { runCommand } from './util.js';
import type { WrkResult } from './wrk.js';

export type RoundResult = WrkResult & { originRequests: number };

export interface CrowdRound { clients: number; ok: number; failed: number; firstError: string | undefined; originRequests: number; p50Ms: number; p99Ms: number; maxMs: number }

export interface SystemRun {
  name: string;
  version: string;
  notMeasured: string | undefined;
  /** Per scenario, one entry per round (undefined when that round failed). */
  rounds: Partial<Record<SizeName, Array<RoundResult | undefined>>>;
  /** 10 MiB hits again with the large-read client (bench/bigload.c), one entry per round. */
  bigReads?: Array<RoundResult | undefined>;
  /** The median crowd round by p99 (the one the table shows). */
  crowd: CrowdRound | undefined;
  /** Every crowd round, in the order run (absent in older runs). */
  crowdRounds?: CrowdRound[];
  idle: { wanted: number; open: number; failed: number; firstError: string | undefined; rssBaseline: number; rssWithConns: number } | undefined;
}

export interface BenchRun {
  started: string;
  command: string;
  rounds: number;
  seconds: number;
  /** Seconds of unmeasured load per system and scenario before the rounds (absent in older runs). */
  warmup?: number;
  crowdClients: number;
  /** Crowd rounds per system, interleaved (absent in older runs: one). */
  crowdRounds?: number;
  /** Each system got one unmeasured crowd before the measured ones (absent in older runs: no). */
  crowdWarmup?: boolean;
  idleConnections: number;
  /** 1-minute load average at the start and the end of the run (other work on the machine shows here). */
  loadAverage: [number, number];
  scenarios: Array<{ size: SizeName; connections: number }>;
  systems: SystemRun[];
}

const SIZE_LABEL: Readonly<Record<SizeName, string>> = { '1k': '1 KiB', '100k': '100 KiB', '10m': '10 MiB' };

/** The round whose req/s is the median of the completed rounds. */
export function medianRound(rounds: ReadonlyArray<RoundResult | undefined> | undefined): RoundResult | undefined {
  const done = (rounds ?? []).filter((r): r is RoundResult => r !== undefined).sort((a, b) => a.reqPerSec - b.reqPerSec);
  return done[Math.floor((done.length - 1) / 2)];
}

const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');
const fmtBusy = (n: number | undefined): string => (n === undefined || !Number.isFinite(n) ? '–' : `${Math.round(100 * n)} %`);
const fmtMs = (n: number): string => (n < 1 ? n.toFixed(3) : n < 10 ? n.toFixed(2) : n.toFixed(1));
const fmtMiB = (n: number): string => (n / 2 ** 20).toFixed(1);
const ratio = (a: number, b: number): string => (Number.isFinite(a / b) && b > 0 ? `${(a / b).toFixed(2)}×` : '–');

/** CPU model, cores, RAM, kernel and Node.js version: the machine line of every benchmark section. */
export function machineLine(): string {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1]) cpu = m[1].trim();
  } catch { /* not Linux */ }
  return `${cpu}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, kernel ${os.release()}, Node.js ${process.versions.node}`;
}

/**
 * Writes one benchmark's section of docs/benchmarks.md, between `<!-- bench:NAME -->` markers,
 * replacing that section's previous run and keeping every other benchmark's section.
 */
export function writeReportSection(file: string, name: string, markdown: string): void {
  const open = `<!-- bench:${name} -->`;
  const close = `<!-- /bench:${name} -->`;
  let text = '';
  try { text = readFileSync(file, 'utf8'); } catch { text = '# Benchmarks\n'; }
  const block = `${open}\n${markdown.trim()}\n${close}`;
  const a = text.indexOf(open);
  const b = text.indexOf(close);
  text = a >= 0 && b > a ? text.slice(0, a) + block + text.slice(b + close.length) : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, text);
}

/** Writes a benchmark's section with the usual header: title, date, machine, command, target, then its table. */
export function benchSection(name: string, o: { title: string; command: string; what: string; target: string; table: string }): void {
  writeReportSection(join(REPO_DIR, 'docs', 'benchmarks.md'), name, [
    `## ${o.title} (\`${o.command}\`)`,
    '',
    `- Date: ${new Date().toISOString()}; machine: ${machineLine()}`,
    `- ${o.what}`,
    `- Target: ${o.target}`,
    '',
    o.table,
  ].join('\n'));
}

async function machine(): Promise<string[]> {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1]) cpu = m[1].trim();
  } catch { /* not Linux */ }
  const wrk = await runCommand(['wrk', '-v'], 5000).catch(() => ({ stdout: '', stderr: '' }));
  const wrkVersion = /wrk (\S+)/.exec(wrk.stdout + wrk.stderr)?.[1] ?? 'unknown';
  return [
    `- CPU: ${cpu}, ${os.cpus().length} cores (servers pinned to core 0, load generator and origin on core 1)`,
    `- RAM: ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB; kernel ${os.release()} (${os.platform()} ${os.arch()})`,
    `- Node.js ${process.versions.node}; wrk ${wrkVersion}`,
  ];
}

/** Targets for peerweb, written beside the measured ratios. */
function targetLine(size: SizeName, pw: RoundResult | undefined, ng: RoundResult | undefined): string {
  const goal = size === '1k' ? 1.25 : size === '100k' ? 1.0 : 2.0;
  const extra = size === '1k' ? ' with p99 no worse than nginx' : '';
  if (!pw || !ng) return `Target for peerweb: ≥ ${goal.toFixed(2)}× nginx req/s${extra} — **not measured**.`;
  const r = pw.reqPerSec / ng.reqPerSec;
  const met = r >= goal && (size !== '1k' || pw.p99Ms <= ng.p99Ms);
  return `Target for peerweb: ≥ ${goal.toFixed(2)}× nginx req/s${extra} — measured ${r.toFixed(2)}×` +
    `${size === '1k' ? `, p99 ${fmtMs(pw.p99Ms)} ms vs ${fmtMs(ng.p99Ms)} ms` : ''}: **${met ? 'met' : 'not met'}**.`;
}

export async function renderReport(run: BenchRun): Promise<string> {
  const L: string[] = [];
  const nginx = run.systems.find((s) => s.name === 'nginx');
  const peerweb = run.systems.find((s) => s.name === 'peerweb');
  L.push('# Benchmarks', '');
  L.push('Written by `bench/compare.ts` from one run; every figure below was measured in that run.', '');
  L.push(`- Date: ${run.started}`);
  L.push(...(await machine()));
  L.push(`- Command: \`${run.command}\` (as root, so that \`ulimit -n\` can be raised; installs missing servers from Debian)`);
  L.push(`- Load average (1 min) at start / end of the run: ${run.loadAverage[0].toFixed(2)} / ${run.loadAverage[1].toFixed(2)}`);
  L.push(`- Rounds: ${run.warmup ? `after ${run.warmup} s of unmeasured warm-up per system and scenario, ` : ''}${run.rounds} × ${run.seconds} s per system and scenario, interleaved (A B C D E, A B C D E, …); the table shows the median round by req/s.`);
  L.push('');
  L.push('| system | version | setup |', '|---|---|---|');
  for (const s of run.systems) {
    L.push(`| ${s.name} | ${s.version || '–'} | ${s.notMeasured ? `not measured: ${s.notMeasured.replace(/\|/g, '\\|')}` : 'reverse-proxy cache, 1 worker, core 0'} |`);
  }
  L.push('');
  L.push('Each system is a reverse-proxy cache of the same node:http origin (`bench/origin.ts`, every body `Cache-Control: max-age=3600`), ' +
    'configured by `bench/targets.ts` into a temp dir, listening on 127.0.0.1: nginx `worker_processes 1` + `proxy_cache` + `sendfile on` (+ `proxy_cache_lock`), ' +
    'Varnish `thread_pools=1` + malloc 1 GiB, Squid `workers 1` memory cache 1 GiB + `collapsed_forwarding on`, ' +
    'Traffic Server `exec_thread.limit 1` + 1 GiB RAM cache + read-while-writer retries, peerweb `--memory-cache 1GiB --disk-cache 0`. ' +
    'Load: `wrk -t1` pinned to core 1. The "origin req." column counts the requests the origin saw during that round (0: every response was a cache hit); "errors" counts socket errors, non-2xx/3xx responses and short bodies.');
  L.push('');
  const table = (rows: (s: SystemRun) => ReadonlyArray<RoundResult | undefined> | undefined): string[] => {
    const out = ['| system | req/s | p50 ms | p99 ms | req/s vs nginx | origin req. | errors | load core busy | server core busy | req/s of each round |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|'];
    const ng = medianRound(nginx ? rows(nginx) : undefined);
    for (const s of run.systems) {
      const m = medianRound(rows(s));
      if (!m) { out.push(`| ${s.name} | not measured | | | | | | | | |`); continue; }
      const each = (rows(s) ?? []).map((r) => (r ? fmtInt(r.reqPerSec) : 'failed')).join(', ');
      out.push(`| ${s.name} | ${fmtInt(m.reqPerSec)} | ${fmtMs(m.p50Ms)} | ${fmtMs(m.p99Ms)} | ${ng ? ratio(m.reqPerSec, ng.reqPerSec) : '–'} | ${m.originRequests} | ${m.errors} | ${fmtBusy(m.loadCoreBusy)} | ${fmtBusy(m.serverCoreBusy)} | ${each} |`);
    }
    return out;
  };
  for (const sc of run.scenarios) {
    L.push(`## Cache hits, ${SIZE_LABEL[sc.size]} body, ${sc.connections} keep-alive connections`, '');
    L.push(...table((s) => s.rounds[sc.size]));
    L.push('', targetLine(sc.size, medianRound(peerweb?.rounds[sc.size]), medianRound(nginx?.rounds[sc.size])), '');
    if (sc.size === '10m' && run.systems.some((s) => s.bigReads)) {
      L.push('The "load core busy" column shows wrk at the limit of its core here: it reads 8 KiB per system call, so at 10 MiB per response ' +
        'the table above measures how cheaply each server\'s sending pattern lets wrk read, not how fast the server can send. ' +
        'The same rounds were repeated with `bench/bigload.c`, a minimal keep-alive client that reads 1 MiB per call (same connections, same seconds, same cores):', '');
      L.push(...table((s) => s.bigReads));
      L.push('');
    }
  }
  if (run.crowdClients > 0) {
    const rounds = run.crowdRounds ?? 1;
    L.push(`## Flash crowd: ${run.crowdClients} simultaneous GETs of one cold object, origin answers after 200 ms`, '');
    L.push(`${run.crowdClients} connections are opened first, then one GET is written on each in the same tick; latency is from the write to the last body byte. ` +
      `${run.crowdWarmup === true ? 'After one unmeasured crowd per system (the hit warm-up never runs the miss path), ' : ''}` +
      `${rounds > 1 ? `${rounds} crowds per system (each for a new object), interleaved across systems; the table shows the median crowd by p99.` : 'One crowd per system.'}`, '');
    L.push('| system | origin requests | ok | failed | p50 ms | p99 ms | max ms | p99 vs nginx | p99 of each crowd (origin requests) |', '|---|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const s of run.systems) {
      const c = s.crowd;
      if (!c) { L.push(`| ${s.name} | not measured | | | | | | | |`); continue; }
      const each = (s.crowdRounds ?? [c]).map((x) => `${fmtMs(x.p99Ms)} (${x.originRequests})`).join(', ');
      L.push(`| ${s.name} | ${c.originRequests} | ${c.ok} | ${c.failed}${c.firstError ? ` (${c.firstError})` : ''} | ${fmtMs(c.p50Ms)} | ${fmtMs(c.p99Ms)} | ${fmtMs(c.maxMs)} | ${nginx?.crowd ? ratio(c.p99Ms, nginx.crowd.p99Ms) : '–'} | ${each} |`);
    }
    const pc = peerweb?.crowd;
    const allOne = (peerweb?.crowdRounds ?? (pc ? [pc] : [])).every((x) => x.originRequests === 1 && x.failed === 0);
    L.push('', pc
      ? `Target for peerweb: exactly 1 origin request and p99 ≤ 230 ms — measured ${allOne ? '1 request in every crowd' : 'more than 1 request or failures in some crowd'}, p99 ${fmtMs(pc.p99Ms)} ms (median crowd): **${allOne && pc.p99Ms <= 230 ? 'met' : 'not met'}**.`
      : 'Target for peerweb: exactly 1 origin request and p99 ≤ 230 ms — **not measured**.', '');
  }
  if (run.idleConnections > 0) {
    L.push(`## Memory: resident size while holding ${fmtInt(run.idleConnections)} idle keep-alive connections`, '');
    L.push('Each connection carries one 1 KiB hit, then stays open and idle. RSS is the sum over the server\'s process tree (nginx master + worker, Varnish manager + child), read from /proc after the scenarios above (the caches hold the test objects).', '');
    L.push('| system | connections held | RSS before MiB | RSS with connections MiB | KiB per connection |', '|---|---:|---:|---:|---:|');
    for (const s of run.systems) {
      const i = s.idle;
      if (!i) { L.push(`| ${s.name} | not measured | | | |`); continue; }
      const per = i.open > 0 ? ((i.rssWithConns - i.rssBaseline) / 1024 / i.open).toFixed(1) : '–';
      L.push(`| ${s.name} | ${fmtInt(i.open)}${i.failed ? ` (${i.failed} failed: ${i.firstError ?? ''})` : ''} | ${fmtMiB(i.rssBaseline)} | ${fmtMiB(i.rssWithConns)} | ${per} |`);
    }
    L.push('');
  }
  return `${L.join('\n')}\n`;
}
