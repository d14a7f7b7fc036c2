import type { Writable } from 'node:stream';

/** What a subcommand may touch: its output streams and a signal that asks it to stop. */
export interface CliIo {
  readonly stdout: Pick<Writable, 'write'>;
  readonly stderr: Pick<Writable, 'write'>;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Aborted by SIGINT/SIGTERM in the real process; by the test in tests. */
  readonly signal?: AbortSignal;
}

export interface Subcommand {
  readonly summary: string;
  readonly usage: string;
  run(argv: readonly string[], io: CliIo): Promise<number>;
}

export const defaultIo = (): CliIo => ({ stdout: process.stdout, stderr: process.stderr, env: process.env });
