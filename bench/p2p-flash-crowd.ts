/**
 * Flash crowd: N `peerweb get` clients fetch one F-byte file published by an origin front with M
 * mirrors (pre-warmed by signed push), run in a process of their own (bench/p2p-servers.ts). Upload
 * rates are enforced per server with a token bucket.
 * Reports the origin's bytes sent (file copies, pushes apart), total time against the lower bound
 * max(F/u_s, N·F/(u_s + Σu_i)), and the verification cost: one client, mirrors unthrottled,
 * `getVerified` against the client's own transfer engine run without HEAD, Metalink or hashing.
 *
 *   npx tsx bench/p2p-flash-crowd.ts [--clients 200] [--size-mib 10] [--mirrors 4] [--origin-mibps 20] [--mirror-mibps 40] [--repeat 7] [--single-mib 64] [--link-mibps 30]
 *   npx tsx bench/p2p-flash-crowd.ts --single-only     # only the verification cost (no crowd), docs untouched
 *
 * Prints a Markdown table and writes bench/out/p2p-flash-crowd.json (with --single-only:
 * bench/out/p2p-single-client.json); the full run also rewrites its section of docs/benchmarks.md.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { rename, rm } from 'node:fs/promises';
import { Agent } from 'undici';
import { parseArgs } from 'node:util';
import { getVerified, type GetResult } from '../src/client/index.js';
import { downloadRanges } from '../src/client/ranges.js';
import { startP2pServers } from './p2p-servers.js';
import { benchSection } from './report.js';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '200' }, 'size-mib': { type: 'string', default: '10' }, mirrors: { type: 'string', default: '4' },
    'origin-mibps': { type: 'string', default: '20' }, 'mirror-mibps': { type: 'string', default: '40' }, parallel: { type: 'string', default: '4' },
    'single-only': { type: 'boolean', default: false }, repeat: { type: 'string', default: '7' }, 'single-mib': { type: 'string', default: '64' },
    'link-mibps': { type: 'string', default: '30' },
  },
});
const N = Number(values.clients);
const F = Number(values['size-mib']) * 1024 * 1024;
const M = Number(values.mirrors);
const MiB = 1024 * 1024;
const uS = Number(values['origin-mibps']) * MiB;
const uM = Number(values['mirror-mibps']) * MiB;
const singleOnly = values['single-only'] === true;
/** Size of the file the one-client verification cost is measured on (a 10 MiB transfer takes ~30 ms here: too short to time). */
const S = Number(values['single-mib']) * 1024 * 1024;
if (!Number.isInteger(S) || S < MiB) throw new Error(`--single-mib ${values['single-mib']} must be a whole number of MiB, at least 1`);
/** Per-mirror rate of the "fast link" single-client mode: 4 × 30 MiB/s is about a gigabit link. */
const uLink = Number(values['link-mibps']) * MiB;
if (!(uLink > 0)) throw new Error(`--link-mibps ${values['link-mibps']} must be a positive number`);
const repeat = Number(values.repeat);
if (!Number.isInteger(repeat) || repeat < 1 || repeat > 99) throw new Error(`--repeat ${values.repeat} must be an integer from 1 to 99`);

const dir = mkdtempSync(join(tmpdir(), 'pw-bench-p2p-client-'));
const servers = await startP2pServers({ fileBytes: F, singleBytes: S, mirrors: M, originRate: uS, mirrorRate: uM });
try {
  const { origin, bigPath, singlePath, pushMs } = servers;
  const bigDigest = Buffer.from(servers.digests[bigPath] as string, 'base64');
  const fileDigest = Buffer.from(servers.digests[singlePath] as string, 'base64');
  let wallS = 0;
  let ok = 0;
  let failures: string[] = [];
  if (!singleOnly) {
    const t0 = performance.now();
    const results = await Promise.allSettled(Array.from({ length: N }, (_, i) =>
      getVerified({ url: `${origin}${bigPath}`, out: join(dir, `c${i}.bin`), parallel: Number(values.parallel), timeoutMs: 600_000, report: false })
        .then((r) => { if (!r.digest.equals(bigDigest)) throw new Error('a client got another digest'); })));
    wallS = (performance.now() - t0) / 1000;
    ok = results.filter((r) => r.status === 'fulfilled').length;
    failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').slice(0, 3).map((r) => String((r.reason as Error).message));
    for (let i = 0; i < N; i++) rmSync(join(dir, `c${i}.bin`), { force: true });
  }

  const { originFileBytes, originSent, mirrorSent } = await servers.stats();
  const sample = randomBytes(F);
  const h0 = performance.now();
  for (let i = 0; i < 4; i++) createHash('sha256').update(sample).digest();
  const hashRate = (4 * F) / ((performance.now() - h0) / 1000);
  const lower = Math.max(F / uS, (N * F) / (uS + M * uM));

  // Verification cost, end to end: one client, the mirrors at the crowd's upload rates and unthrottled.
  // The baseline is the client's own transfer engine (same parallel ranges from the same mirrors, same
  // pieces, writes, temp file, flush and rename) with no HEAD, no Metalink and no hash: the difference
  // is what verifying costs. Unthrottled, both sides are bound by the CPU the servers share with them.
  await servers.setMirrorRate(Infinity);
  const pieceUrls = servers.mirrorBases.map((b) => `${b}${singlePath.slice(1)}`);
  const unverifiedOnce = async (fsync: boolean): Promise<number> => {
    const out = join(dir, 'raw.bin');
    // The previous run's output is removed first, untimed: replacing a file whose pages are being
    // written back makes the rename wait for the disk, tens of ms that are not the transfer's.
    await rm(out, { force: true });
    const t = performance.now();
    const agent = new Agent({ connect: { timeout: 30_000 }, connections: 16 });
    try {
      await downloadRanges({
        url: pieceUrls[0] as string, size: S, pieceSize: MiB, tmp: `${out}.pwpart`, stateFile: `${out}.pwpart.json`, stateKey: 'bench',
        parallel: Number(values.parallel), dispatcher: agent, timeoutMs: 30_000, fsync,
        pick: (active) => {
          const start = randomInt(pieceUrls.length);
          let best: string | undefined;
          for (let k = 0; k < pieceUrls.length; k++) {
            const u = pieceUrls[(start + k) % pieceUrls.length] as string;
            if (best === undefined || (active.get(u) ?? 0) < (active.get(best) ?? 0)) best = u;
          }
          return best === undefined ? undefined : { url: best };
        },
        noSourceReason: () => 'every source failed',
        onGood: () => undefined, onFailed: (s, r) => { throw new Error(`${s}: ${r}`); }, onBad: async () => undefined, onPiece: () => undefined,
      });
      await rename(`${out}.pwpart`, out);
      await rm(`${out}.pwpart.json`, { force: true });
    } finally {
      await agent.close();
    }
    return performance.now() - t;
  };
  const verifiedOnce = async (fsync: boolean, digest?: Buffer, hashThread = true): Promise<{ ms: number; r: GetResult }> => {
    const out = join(dir, 'verified.bin');
    await rm(out, { force: true });
    const t = performance.now();
    const r = await getVerified({ url: `${origin}${singlePath}`, out, parallel: Number(values.parallel), report: false, fsync, hashThread, ...(digest ? { digest } : {}) });
    return { ms: performance.now() - t, r };
  };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  /** CPU time of the client process (every thread: transfers, writes, hashing on the thread pool) while `fn` runs, ms. */
  const cpuOf = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
    const c0 = process.cpuUsage();
    const v = await fn();
    const c = process.cpuUsage(c0);
    return [v, (c.user + c.system) / 1000];
  };
  // Warm-up (JIT, first connections), not counted.
  await unverifiedOnce(false);
  await verifiedOnce(false);
  interface Mode { name: string; rate: number; fsync: boolean; digest?: Buffer; inline?: boolean; raw: number[]; verified: number[]; rawCpu: number[]; verifiedCpu: number[]; readBack: number; whole: boolean; pieces: boolean }
  const modes: Mode[] = [
    { name: `mirrors at ${uM / MiB} MiB/s each (the crowd's rate), default`, rate: uM, fsync: true, raw: [], verified: [], rawCpu: [], verifiedCpu: [], readBack: 0, whole: false, pieces: false },
    { name: `mirrors at ${uLink / MiB} MiB/s each (${((M * uLink * 8) / 1e9).toFixed(1)} Gbit/s in all, \`--link-mibps\`), default`, rate: uLink, fsync: true, raw: [], verified: [], rawCpu: [], verifiedCpu: [], readBack: 0, whole: false, pieces: false },
    { name: 'unthrottled, default (flush to disk before rename)', rate: Infinity, fsync: true, raw: [], verified: [], rawCpu: [], verifiedCpu: [], readBack: 0, whole: false, pieces: false },
    { name: 'unthrottled, no flush (--no-fsync)', rate: Infinity, fsync: false, raw: [], verified: [], rawCpu: [], verifiedCpu: [], readBack: 0, whole: false, pieces: false },
    { name: 'unthrottled, no flush, hashed inline as bytes arrive (library option `hashThread: false`)', rate: Infinity, fsync: false, inline: true, raw: [], verified: [], rawCpu: [], verifiedCpu: [], readBack: 0, whole: false, pieces: false },
    { name: 'unthrottled, digest given (--digest): piece hashes and whole-file hash', rate: Infinity, fsync: false, digest: fileDigest, raw: [], verified: [], rawCpu: [], verifiedCpu: [], readBack: 0, whole: false, pieces: false },
  ];
  for (let i = 0; i < repeat; i++) {
    for (const mode of modes) {
      await servers.setMirrorRate(mode.rate);
      // Alternate the order so neither side always runs first.
      const v = async () => {
        const [{ ms, r }, cpu] = await cpuOf(() => verifiedOnce(mode.fsync, mode.digest, !mode.inline));
        mode.verifiedCpu.push(cpu);
        if (!r.digest.equals(fileDigest)) throw new Error('verified get returned another digest');
        mode.verified.push(ms);
        mode.readBack = Math.max(mode.readBack, r.verification.readBackBytes);
        mode.whole = r.verification.whole;
        mode.pieces = r.verification.pieces;
      };
      const u = async () => {
        const [ms, cpu] = await cpuOf(() => unverifiedOnce(mode.fsync));
        mode.raw.push(ms);
        mode.rawCpu.push(cpu);
      };
      if (i % 2) { await v(); await u(); } else { await u(); await v(); }
    }
  }
  const single = modes.map((m) => {
    const rawMs = median(m.raw);
    const verifiedMs = median(m.verified);
    return {
      mode: m.name, mirrorMiBps: m.rate / MiB, fsync: m.fsync, digestGiven: m.digest !== undefined, hashThread: !m.inline, pieceHashes: m.pieces, wholeFileHash: m.whole, readBackBytes: m.readBack,
      unverifiedMiBps: S / MiB / (rawMs / 1000), verifiedMiBps: S / MiB / (verifiedMs / 1000), cost: 1 - rawMs / verifiedMs,
      unverifiedMs: m.raw, verifiedMs: m.verified, unverifiedCpuMs: median(m.rawCpu), verifiedCpuMs: median(m.verifiedCpu),
      // Cost of each pair of neighbouring runs: how much the figure moves on a busy machine.
      pairCosts: m.raw.map((r, i) => 1 - r / (m.verified[i] as number)).sort((a, b) => a - b),
    };
  });
  const singleRows = single.map((s) =>
    `| one client, ${S / MiB} MiB file, ${s.mode}: unverified / verified (median of ${repeat}) | ${s.unverifiedMiBps.toFixed(0)} / ${s.verifiedMiBps.toFixed(0)} MiB/s, ${(100 * s.cost).toFixed(1)} % lost (pairs ${Math.round(100 * (s.pairCosts[0] ?? 0)) || 0} to ${Math.round(100 * (s.pairCosts.at(-1) ?? 0)) || 0} %; CPU ${s.unverifiedCpuMs.toFixed(0)} / ${s.verifiedCpuMs.toFixed(0)} ms) | ${s.digestGiven || !s.hashThread ? '' : '≤ 10 %'} |`).join('\n');
  if (singleOnly) {
    console.log(`| measure | value | target |\n|---|---|---|\n${singleRows}`);
    for (const s of single) console.log(`${s.mode}: unverified ms ${s.unverifiedMs.map((x) => x.toFixed(1)).join(' ')}; verified ms ${s.verifiedMs.map((x) => x.toFixed(1)).join(' ')}; pieces ${s.pieceHashes}, whole ${s.wholeFileHash}, read back ${s.readBackBytes} B`);
    mkdirSync('bench/out', { recursive: true });
    writeFileSync('bench/out/p2p-single-client.json', JSON.stringify({ fileBytes: S, mirrors: M, parallel: Number(values.parallel), cpus: cpus().length, sha256MiBps: hashRate / MiB, single }, null, 2));
  } else {
    // Crowd clients get piece hashes from the origin's Metalink: each byte is hashed once.
    const verifySecondsPerClient = F / hashRate;
    const out = {
      clients: N, ok, fileBytes: F, mirrors: M, originMiBps: uS / MiB, mirrorMiBps: uM / MiB, cpus: cpus().length,
      wallSeconds: wallS, lowerBoundSeconds: lower, ratio: wallS / lower,
      originFileCopies: originFileBytes / F, originUplinkBytes: originSent, pushSeconds: pushMs / 1000,
      mirrorBytes: mirrorSent, sha256MiBps: hashRate / MiB,
      verificationShareOfClientTime: (verifySecondsPerClient * N) / (wallS * Math.min(cpus().length, N)), failures, single,
    };
    mkdirSync('bench/out', { recursive: true });
    writeFileSync('bench/out/p2p-flash-crowd.json', JSON.stringify(out, null, 2));
    const report = `## Flash crowd: ${N} peerweb get clients, one ${F / MiB} MiB file, ${M} mirrors

Upload rates: origin ${uS / MiB} MiB/s, each mirror ${uM / MiB} MiB/s; the origin front and mirrors in one process, the clients in another, on loopback (${cpus().length} CPUs). Verification cost: one client fetching a ${S / MiB} MiB file (\`--single-mib\`; a 10 MiB transfer lasts ~30 ms here, too short to time) from the same mirrors at the crowd's rate, at about a gigabit link in all, and unthrottled, \`peerweb get\` against its own transfer engine run without HEAD, Metalink or hashing (same ranges, writes, temp file, flush and rename); the two alternate, ${repeat} runs each.

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
${singleRows}
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
  }
  if (failures.length) console.log(`Failures: ${failures.join('; ')}`);
} finally {
  await servers.close();
  rmSync(dir, { recursive: true, force: true });
}
