/**
 * HTTP-date (RFC 9110 §5.6.7): IMF-fixdate, and the obsolete RFC 850 and asctime formats on input.
 * Names of days, months and "GMT" are matched case-insensitively; everything else is strict
 * (exact spacing, two-digit hours, GMT only), and impossible dates are rejected.
 */

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAY = '(?:mon|tue|wed|thu|fri|sat|sun)';
const DAY_LONG = '(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)';
const MON = '(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)';
const TIME = '([0-9]{2}):([0-9]{2}):([0-9]{2})';

const IMF = new RegExp(`^${DAY}, ([0-9]{2}) ${MON} ([0-9]{4}) ${TIME} gmt$`, 'i');
const RFC850 = new RegExp(`^${DAY_LONG}, ([0-9]{2})-${MON}-([0-9]{2}) ${TIME} gmt$`, 'i');
const ASCTIME = new RegExp(`^${DAY} ${MON} ([0-9]{2}| [0-9]) ${TIME} ([0-9]{4})$`, 'i');

function build(year: number, mon: string, day: number, h: number, m: number, s: number): number | undefined {
  const month = MONTHS.indexOf(mon.toLowerCase());
  if (month < 0 || day < 1 || day > 31 || h > 23 || m > 59 || s > 60) return undefined;
  // A leap second is read as the last second of its minute.
  const d = new Date(0);
  d.setUTCFullYear(year, month, day); // not Date.UTC, which reads years 0–99 as 1900–1999
  d.setUTCHours(h, m, s === 60 ? 59 : s, 0);
  if (d.getUTCDate() !== day || d.getUTCMonth() !== month) return undefined;
  return d.getTime();
}

/**
 * Parses an HTTP-date into milliseconds since the epoch; undefined for anything invalid (which
 * callers treat as "in the past" where RFC 9111 says so, for example Expires).
 * `nowMs` only serves the RFC 850 two-digit year rule (a year more than 50 years ahead is in the past century).
 */
export function parseHttpDate(value: string | undefined, nowMs: number = Date.now()): number | undefined {
  if (value === undefined || value.length > 64) return undefined;
  const v = value.trim();
  let m = IMF.exec(v);
  if (m) return build(Number(m[3]), m[2] as string, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  m = RFC850.exec(v);
  if (m) {
    const yy = Number(m[3]);
    const thisYear = new Date(nowMs).getUTCFullYear();
    let year = Math.floor(thisYear / 100) * 100 + yy;
    if (year > thisYear + 50) year -= 100;
    else if (year < thisYear - 49) year += 100;
    return build(year, m[2] as string, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  }
  m = ASCTIME.exec(v);
  if (m) return build(Number(m[6]), m[1] as string, Number((m[2] as string).trim()), Number(m[3]), Number(m[4]), Number(m[5]));
  return undefined;
}

/** IMF-fixdate for `ms` (sub-second part dropped), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`. */
export function formatHttpDate(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toUTCString();
}

let cachedSecond = -1;
let cachedDate = '';

/** The current time as an IMF-fixdate, formatted at most once per second (for the hot path). */
export function httpDateNow(nowMs: number = Date.now()): string {
  const sec = Math.floor(nowMs / 1000);
  if (sec !== cachedSecond) {
    cachedSecond = sec;
    cachedDate = formatHttpDate(sec * 1000);
  }
  return cachedDate;
}
