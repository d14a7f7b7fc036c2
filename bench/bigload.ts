/** Builds (once) and runs bench/bigload.c, the large-read load generator, pinned to the load core. */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pinned, runCommand } from './util.js';
import { LOAD_CORE } from './wrk.js';
import { coreBusy } from './cpu.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const SOURCE = join(HERE, 'bigload.c');
const BINARY = join(HERE, 'out', 'bigload');

export interface BigloadResult { reqPerSec: number; p50Ms: number; p99Ms: number; errors: number; loadCoreBusy: number; serverCoreBusy: number }

/** Compiles the generator when missing or older than its source; undefined when it cannot (no C compiler). */
export async function buildBigload(): Promise<string | undefined> {
  if (existsSync(BINARY) && statSync(BINARY).mtimeMs >= statSync(SOURCE).mtimeMs) return undefined;
  mkdirSync(dirname(BINARY), { recursive: true });
  const r = await runCommand(['cc', '-O2', '-Wall', '-o', BINARY, SOURCE], 60_000);
  return r.code === 0 ? undefined : `cc failed: ${(r.stderr || 'no C compiler').slice(-500)}`;
}

export async function runBigload(host: string, port: number, path: string, connections: number, seconds: number, serverCore: number): Promise<BigloadResult> {
  const busy = coreBusy();
  const r = await runCommand(pinned(LOAD_CORE, [BINARY, host, String(port), path, String(connections), String(seconds)]), (seconds + 30) * 1000);
  const b = busy();
  if (r.code !== 0) throw new Error(`bigload exited with ${r.code}: ${r.stderr.slice(-1000)}`);
  const j = JSON.parse(r.stdout) as { reqPerSec: number; p50Ms: number; p99Ms: number; errors: number };
  return { ...j, loadCoreBusy: b.get(LOAD_CORE) ?? NaN, serverCoreBusy: b.get(serverCore) ?? NaN };
}
