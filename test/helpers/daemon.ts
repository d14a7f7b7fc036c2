import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

export interface Daemon {
  readonly child: ChildProcess;
  /** What it wrote to stderr (first 20 kB). */
  stderr(): string;
  exited(): boolean;
  /** SIGTERM by PID, wait for the exit, then remove its folder. */
  stop(): Promise<void>;
}

/** Starts a real server in the foreground from a config in `dir` (removed at stop). */
export function spawnDaemon(bin: string, args: readonly string[], dir: string): Daemon {
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => { if (stderr.length < 20_000) stderr += c.toString(); });
  let exited = false;
  child.on('exit', () => { exited = true; });
  return {
    child,
    stderr: () => stderr,
    exited: () => exited,
    async stop() {
      if (!exited && child.pid) {
        const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        process.kill(child.pid, 'SIGTERM');
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
