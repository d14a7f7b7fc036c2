import { PeerwebError } from '../errors/index.js';
import { parseDuration } from '../util/units.js';

/** Reads a duration flag (`30d`, `12h`, `3600s`) or fails with a usage error naming the flag. */
export function durationFlag(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const v = parseDuration(value);
  if (v === undefined) throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: `--${flag} ${JSON.stringify(value)} is not a duration such as 30d, 12h or 90s` });
  return v;
}

/** A time flag: ISO 8601 or seconds since the epoch. */
export function timeFlag(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const s = String(value);
  const t = /^\d+$/.test(s) ? Number(s) * 1000 : Date.parse(s);
  if (!Number.isFinite(t)) throw new PeerwebError('PW_ERR_CLI_USAGE', { reason: `--${flag} ${JSON.stringify(value)} is not an ISO 8601 time or epoch seconds` });
  return t;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
