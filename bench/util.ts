/** Small helpers shared by the benchmark and conformance drivers: ports, child processes, memory. */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';

export const LOOPBACK = '127.0.0.1';

/** A free TCP port on 127.0.0.1 (bound to port 0, then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, LOOPBACK, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error('No free port on 127.0.0.1'))));
    });
  });
}

/** Waits until a TCP connection to 127.0.0.1:port succeeds, or throws after timeoutMs. */
export async function waitForPort(port: number, timeoutMs: number, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`Process exited with code ${child.exitCode} before port ${port} opened`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: LOOPBACK, port });
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`Port ${port} did not open within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The command prefix that pins a process to one CPU core, or nothing when taskset or the core is absent. */
export function pinned(core: number, argv: readonly string[]): string[] {
  return hasTaskset() ? ['taskset', '-c', String(core), ...argv] : [...argv];
}

let tasksetChecked: boolean | undefined;
function hasTaskset(): boolean {
  if (tasksetChecked === undefined) {
    tasksetChecked = ['/usr/bin/taskset', '/bin/taskset'].some((p) => existsSync(p));
  }
  return tasksetChecked;
}

export interface Started { child: ChildProcess; output: () => string }

/** Spawns argv[0] with arguments; keeps the last 64 KiB of its stdout+stderr for error reports. */
export function startProcess(argv: readonly string[], opts: SpawnOptions = {}): Started {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error('Empty command line');
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  let out = '';
  const keep = (b: Buffer): void => { out = (out + b.toString('utf8')).slice(-65536); };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('error', (err) => keep(Buffer.from(`spawn error: ${err.message}\n`)));
  return { child, output: () => out };
}

/** Stops a process we started, by its PID: SIGTERM, then SIGKILL after graceMs. */
export async function stopProcess(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const descendants = descendantPids(child.pid);
  child.kill('SIGTERM');
  const timer = setTimeout(() => { child.kill('SIGKILL'); }, graceMs);
  await exited;
  clearTimeout(timer);
  // Worker processes of servers that fork (nginx, varnish) normally leave with their parent; make sure.
  for (const pid of descendants) { try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ } }
}

/** PIDs of all descendants of pid (from /proc). */
export function descendantPids(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(name), Number(rest[1]));
    } catch { /* process left */ }
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift() as number;
    for (const [child, pp] of parent) if (pp === p) { out.push(child); queue.push(child); }
  }
  return out;
}

/** Resident set size in bytes of pid and all its descendants. */
export function treeRss(pid: number): number {
  let total = 0;
  for (const p of [pid, ...descendantPids(pid)]) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) total += Number(m[1]) * 1024;
    } catch { /* process left */ }
  }
  return total;
}

/** Runs a command to completion and returns its stdout (stderr appended on failure). */
export async function runCommand(argv: readonly string[], timeoutMs: number, opts: SpawnOptions = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error('Empty command line');
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (b: Buffer) => { if (stdout.length < 64 << 20) stdout += b.toString('utf8'); });
    child.stderr?.on('data', (b: Buffer) => { stderr = (stderr + b.toString('utf8')).slice(-65536); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => { stderr += `spawn error: ${err.message}`; });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] as number;
}

/** The p-th percentile (0..100) by nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length)));
  return s[rank - 1] as number;
}
