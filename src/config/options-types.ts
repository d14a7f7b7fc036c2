import { parseDuration, parseHostPort, parseSize, type HostPort } from '../util/units.js';

/** Thrown by an option's parser: says what is wrong with the value (the caller adds key and value). */
export class InvalidValue extends Error {}

/** Rejects a value; the message completes "Config key K has bad value V: …". */
export function invalid(reason: string): never {
  throw new InvalidValue(reason);
}

/**
 * One row of the options table: how a value is read, its default, bounds and doc.
 * `parse` returns the value or throws InvalidValue (see `invalid`) saying what is wrong with it.
 */
export interface OptionSpec<T> {
  readonly type: string;
  readonly default: T;
  readonly doc: string;
  /** Long flag of `peerweb start` (without dashes), when the option has one. */
  readonly flag?: string;
  /** The flag may be given several times (values are collected into a list). */
  readonly multiple?: boolean;
  readonly unit?: string;
  readonly bounds?: string;
  readonly parse: (raw: unknown) => T;
}

export type ValueOf<S> = S extends OptionSpec<infer T> ? T : never;

interface Common { doc: string; flag?: string }

function spec<T>(type: string, c: Common & { default: T; unit?: string; bounds?: string; multiple?: boolean }, parse: (raw: unknown) => T): OptionSpec<T> {
  const s: OptionSpec<T> = { type, default: c.default, doc: c.doc, parse };
  return Object.freeze({
    ...s,
    ...(c.flag !== undefined ? { flag: c.flag } : {}),
    ...(c.multiple ? { multiple: true } : {}),
    ...(c.unit !== undefined ? { unit: c.unit } : {}),
    ...(c.bounds !== undefined ? { bounds: c.bounds } : {}),
  });
}

function bounded(v: number, min: number | undefined, max: number | undefined): number {
  if (min !== undefined && v < min) invalid(`must be at least ${min}`);
  if (max !== undefined && v > max) invalid(`must be at most ${max}`);
  return v;
}

function boundsText(min?: number, max?: number): string | undefined {
  if (min === undefined && max === undefined) return undefined;
  return `${min ?? '…'} – ${max ?? '…'}`;
}

export const opt = {
  string(c: Common & { default: string; pattern?: RegExp; patternDoc?: string }): OptionSpec<string> {
    return spec('string', c, (raw) => {
      if (typeof raw !== 'string') invalid('must be a string');
      if (c.pattern && !c.pattern.test(raw)) invalid(`must be ${c.patternDoc ?? `of the form ${c.pattern}`}`);
      return raw;
    });
  },
  optionalString(c: Common & { validate?: (v: string) => void }): OptionSpec<string | undefined> {
    return spec<string | undefined>('string', { ...c, default: undefined }, (raw) => {
      if (raw === undefined || raw === null || raw === '') return undefined;
      if (typeof raw !== 'string') invalid('must be a string');
      c.validate?.(raw);
      return raw;
    });
  },
  int(c: Common & { default: number; min?: number; max?: number; unit?: string }): OptionSpec<number> {
    const b = boundsText(c.min, c.max);
    return spec('integer', { ...c, ...(b ? { bounds: b } : {}) }, (raw) => {
      const v = typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) invalid('must be an integer');
      return bounded(v, c.min, c.max);
    });
  },
  number(c: Common & { default: number; min?: number; max?: number; unit?: string }): OptionSpec<number> {
    const b = boundsText(c.min, c.max);
    return spec('number', { ...c, ...(b ? { bounds: b } : {}) }, (raw) => {
      const v = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
      if (typeof v !== 'number' || !Number.isFinite(v)) invalid('must be a number');
      return bounded(v, c.min, c.max);
    });
  },
  size(c: Common & { default: number; min?: number; max?: number }): OptionSpec<number> {
    const b = boundsText(c.min, c.max);
    return spec('size', { ...c, unit: 'bytes', ...(b ? { bounds: b } : {}) }, (raw) => {
      const v = parseSize(raw);
      if (v === undefined) invalid('must be a size such as 4096, 512KiB, 64MiB or 2GB');
      return bounded(v, c.min, c.max);
    });
  },
  duration(c: Common & { default: number; min?: number; max?: number }): OptionSpec<number> {
    const b = boundsText(c.min, c.max);
    return spec('duration', { ...c, unit: 'ms', ...(b ? { bounds: b } : {}) }, (raw) => {
      const v = parseDuration(raw);
      if (v === undefined) invalid('must be a duration such as 250ms, 30s, 5m or 1h');
      return bounded(v, c.min, c.max);
    });
  },
  bool(c: Common & { default: boolean }): OptionSpec<boolean> {
    return spec('boolean', c, (raw) => {
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1' || raw === 'yes') return true;
      if (raw === 'false' || raw === '0' || raw === 'no') return false;
      invalid('must be true or false');
    });
  },
  enumOf<const V extends string>(c: Common & { default: V; values: readonly V[] }): OptionSpec<V> {
    return spec(`one of ${c.values.join(', ')}`, c, (raw) => {
      if (typeof raw !== 'string' || !(c.values as readonly string[]).includes(raw)) invalid(`must be one of ${c.values.join(', ')}`);
      return raw as V;
    });
  },
  hostPort(c: Common & { default: HostPort }): OptionSpec<HostPort> {
    return spec('host:port', c, (raw) => {
      if (typeof raw === 'object' && raw !== null && 'host' in raw && 'port' in raw) return raw as HostPort;
      return parseHostPort(raw) ?? invalid('must be HOST:PORT, for example 127.0.0.1:8080');
    });
  },
  optionalUrl(c: Common & { protocols?: readonly string[] }): OptionSpec<string | undefined> {
    const protocols = c.protocols ?? ['http:', 'https:'];
    return spec<string | undefined>('URL', { ...c, default: undefined }, (raw) => {
      if (raw === undefined || raw === null || raw === '') return undefined;
      if (typeof raw !== 'string') invalid('must be a URL string');
      let u: URL;
      try { u = new URL(raw); } catch { invalid('must be an absolute URL such as http://origin.example:8000'); }
      if (!protocols.includes(u.protocol)) invalid(`must use ${protocols.join(' or ')}`);
      return raw;
    });
  },
  /** A list: an array in a config file, a comma-separated string, or a repeated flag. */
  list<T>(c: Common & { default: readonly T[]; item: string; parseItem: (raw: unknown) => T; multiple?: boolean }): OptionSpec<readonly T[]> {
    return spec<readonly T[]>(`list of ${c.item}`, c, (raw) => {
      const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
      if (!items) invalid(`must be a list of ${c.item}`);
      const out: T[] = [];
      for (const it of items) {
        try {
          out.push(c.parseItem(it));
        } catch (err) {
          if (err instanceof InvalidValue) invalid(`item ${JSON.stringify(it)} ${err.message}`);
          throw err;
        }
      }
      return Object.freeze(out);
    });
  },
  /** Anything else: a parser that returns the value or calls `invalid(reason)`. */
  custom<T>(c: Common & { type: string; default: T; parse: (raw: unknown) => T; multiple?: boolean }): OptionSpec<T> {
    return spec(c.type, c, c.parse);
  },
};
