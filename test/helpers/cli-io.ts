import type { CliIo } from '../../src/cli/io.js';

/** A CLI io that keeps what the command writes, for `main(argv, io)` in tests. */
export function captureIo(env: Record<string, string> = {}): CliIo & { out: () => string; err: () => string } {
  let o = '';
  let e = '';
  return {
    stdout: { write: (s: string) => { o += s; return true; } },
    stderr: { write: (s: string) => { e += s; return true; } },
    env,
    out: () => o,
    err: () => e,
  } as CliIo & { out: () => string; err: () => string };
}
