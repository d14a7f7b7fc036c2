/** Runs wrk (one thread, pinned to core 1) and reads its summary. */
import { pinned, runCommand } from './util.js';
import { coreBusy } from './cpu.js';

export const LOAD_CORE = 1;

export interface WrkResult {
  requests: number;
  reqPerSec: number;
  /** Latency percentiles in milliseconds. */
  p50Ms: number;
  p99Ms: number;
  /** Non-2xx/3xx responses plus socket errors: must be 0 for a valid round. */
  errors: number;
  bytesPerSec: number;
  /** Busy share (0–1) of the load generator's core and of the server's core during the run. */
  loadCoreBusy: number;
  serverCoreBusy: number;
}

const UNIT_MS: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const UNIT_BYTES: Readonly<Record<string, number>> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

function durationMs(text: string | undefined): number {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text ?? '');
  if (!m) return NaN;
  return Number(m[1]) * (UNIT_MS[m[2] as string] as number);
}

/** Parses `wrk --latency` output; throws when a figure is missing. */
export function parseWrk(out: string): WrkResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const total = /(\d+) requests in/.exec(out);
  const p50 = /^\s*50(?:\.000)?%\s+(\S+)/m.exec(out);
  const p99 = /^\s*99(?:\.000)?%\s+(\S+)/m.exec(out);
  if (!rps || !total || !p50 || !p99) throw new Error(`Cannot read wrk output: ${out.slice(0, 2000)}`);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const transfer = /Transfer\/sec:\s+([\d.]+)(B|KB|MB|GB|TB)/.exec(out);
  const errors = (sock ? [1, 2, 3, 4].reduce((s, i) => s + Number(sock[i]), 0) : 0) + (non2xx ? Number(non2xx[1]) : 0);
  return {
    requests: Number(total[1]),
    reqPerSec: Number(rps[1]),
    p50Ms: durationMs(p50[1]),
    p99Ms: durationMs(p99[1]),
    errors,
    bytesPerSec: transfer ? Number(transfer[1]) * (UNIT_BYTES[transfer[2] as string] as number) : NaN,
    loadCoreBusy: NaN,
    serverCoreBusy: NaN,
  };
}

export async function runWrk(url: string, connections: number, seconds: number, serverCore: number): Promise<WrkResult> {
  const argv = pinned(LOAD_CORE, ['wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '--latency', url]);
  const busy = coreBusy();
  const r = await runCommand(argv, (seconds + 30) * 1000);
  const b = busy();
  if (r.code !== 0) throw new Error(`wrk exited with ${r.code}: ${r.stderr.slice(-2000)}`);
  return { ...parseWrk(r.stdout), loadCoreBusy: b.get(LOAD_CORE) ?? NaN, serverCoreBusy: b.get(serverCore) ?? NaN };
}
