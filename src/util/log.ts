import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/** Structured JSON log on stderr (stdout is for the access log and command output). */
export function createLogger(level: string, name = 'peerweb'): Logger {
  return pino({ name, level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: false }));
}

/** A logger that drops everything: the default inside library code and tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
