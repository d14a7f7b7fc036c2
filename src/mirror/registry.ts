/** The origin's list of mirrors and their audit state. One list: delisting is immediate everywhere it is read. */
export type MirrorState = 'pending' | 'live' | 'delisted';

export interface MirrorRecord {
  readonly base: string;
  prefixes: string[];
  priority: number;
  state: MirrorState;
  lastVerified?: number;
  /**
   * It lets in only some clients (address ranges or credentials): named in the signed map, marked
   * so, but left out of Link lists and Metalinks, where any client would try it.
   */
  restricted?: boolean;
  /** Audits in a row that found the mirror unreachable or missing content. */
  misses: number;
  audits: number;
  reason?: string;
  /** When it was delisted (ms) and until when it may not offer itself again. */
  delistedAt?: number;
  delistedUntil?: number;
}

/** One delisted mirror host: every base under `authority` (scheme://host:port) is out. */
export interface Delisting {
  readonly authority: string;
  readonly bases: readonly string[];
  readonly reason: string;
  readonly at: number;
  readonly until: number;
}

/** What changed: the live list (a mirror listed or unlisted) or the delistings (a new one). */
export type RegistryChange = { kind: 'listed' | 'unlisted'; base: string } | { kind: 'delisted'; delisting: Delisting };

export interface RegistryOptions {
  /** How long a delisted mirror host may not offer itself again (ms). */
  readonly cooldownMs?: number;
  readonly now?: () => number;
  /** Called synchronously after every change of the live list or of the delistings. */
  readonly onChange?: (c: RegistryChange) => void;
  /** Most delisted hosts remembered (oldest forgotten first). */
  readonly maxDelisted?: number;
}

export interface MirrorRegistry {
  get(base: string): MirrorRecord | undefined;
  /**
   * Adds (or updates the prefixes of) a pending mirror. A mirror whose host is delisted stays
   * delisted until its cool-down is over; then it starts again as pending (and is audited).
   */
  add(base: string, prefixes: readonly string[], restricted?: boolean): MirrorRecord;
  /** Live mirrors whose prefixes cover `path`, best priority first. */
  holding(path: string): MirrorRecord[];
  live(): MirrorRecord[];
  all(): MirrorRecord[];
  count(): number;
  markVerified(base: string, at: number): void;
  /** Leaves the live list (not a verdict of lying: unreachable or missing content). */
  unlist(base: string, reason: string): void;
  /** Delists the mirror and every other base on the same host (scheme, host, port) for the cool-down. */
  delist(base: string, reason: string): void;
  /** The delisting covering `base`'s host, while its cool-down runs. */
  delisting(base: string): Delisting | undefined;
  /** Current delistings (cool-down not over), oldest first. */
  delistings(): Delisting[];
  /** Restores delistings saved earlier (expired ones are skipped). */
  restore(list: readonly Delisting[]): void;
}

export function mirrorUrl(base: string, path: string): string {
  return base + path.replace(/^\/+/, '');
}

/** scheme://host:port of a URL, or undefined when it is not one. */
export function authorityOf(url: string): string | undefined {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : undefined;
  } catch {
    return undefined;
  }
}

const DEFAULT_COOLDOWN = 24 * 3600_000;

export function createRegistry(opts: RegistryOptions = {}): MirrorRegistry {
  const now = opts.now ?? Date.now;
  const cooldown = opts.cooldownMs ?? DEFAULT_COOLDOWN;
  const maxDelisted = opts.maxDelisted ?? 4096;
  const records = new Map<string, MirrorRecord>();
  const delisted = new Map<string, Delisting>();
  let nextPriority = 1;
  const covers = (r: MirrorRecord, path: string) => r.prefixes.some((p) => path.startsWith(p));
  const sorted = (list: MirrorRecord[]) => list.sort((a, b) => a.priority - b.priority);
  const emit = (c: RegistryChange) => opts.onChange?.(c);

  function current(authority: string | undefined): Delisting | undefined {
    if (authority === undefined) return undefined;
    const d = delisted.get(authority);
    if (d && d.until <= now()) {
      delisted.delete(authority);
      return undefined;
    }
    return d;
  }

  function remember(d: Delisting): void {
    delisted.delete(d.authority);
    while (delisted.size >= maxDelisted) {
      const oldest = delisted.keys().next().value;
      if (oldest === undefined) break;
      delisted.delete(oldest);
    }
    delisted.set(d.authority, d);
  }

  const registry: MirrorRegistry = {
    get: (base) => records.get(base),
    add(base, prefixes, restricted = false) {
      const existing = records.get(base);
      if (existing) existing.restricted = restricted;
      const d = current(authorityOf(base));
      if (existing) {
        if (existing.state === 'delisted' && !d) {
          // Cool-down over: a fresh start, audited before it is listed again.
          existing.state = 'pending';
          existing.prefixes = [...new Set(prefixes)].slice(0, 64);
          existing.misses = 0;
          delete existing.reason;
          delete existing.delistedAt;
          delete existing.delistedUntil;
        } else if (existing.state !== 'delisted') {
          existing.prefixes = [...new Set([...existing.prefixes, ...prefixes])].slice(0, 64);
        }
        return existing;
      }
      const r: MirrorRecord = { base, prefixes: [...new Set(prefixes)].slice(0, 64), priority: nextPriority++, state: 'pending', misses: 0, audits: 0, restricted };
      if (d) Object.assign(r, { state: 'delisted', reason: d.reason, delistedAt: d.at, delistedUntil: d.until });
      records.set(base, r);
      return r;
    },
    holding: (path) => sorted([...records.values()].filter((r) => r.state === 'live' && covers(r, path))),
    live: () => sorted([...records.values()].filter((r) => r.state === 'live')),
    all: () => sorted([...records.values()]),
    count: () => [...records.values()].filter((r) => r.state !== 'delisted').length,
    markVerified(base, at) {
      const r = records.get(base);
      if (!r || r.state === 'delisted') return;
      const was = r.state;
      r.state = 'live';
      r.lastVerified = at;
      r.misses = 0;
      if (was !== 'live') emit({ kind: 'listed', base });
    },
    unlist(base, reason) {
      const r = records.get(base);
      if (!r || r.state !== 'live') return;
      r.state = 'pending';
      r.reason = reason;
      emit({ kind: 'unlisted', base });
    },
    delist(base, reason) {
      const authority = authorityOf(base) ?? base;
      const t = now();
      const until = t + cooldown;
      const hit = [...records.values()].filter((r) => r.base === base || authorityOf(r.base) === authority);
      for (const r of hit) {
        r.state = 'delisted';
        r.reason = reason;
        r.delistedAt = t;
        r.delistedUntil = until;
      }
      const bases = [...new Set([base, ...hit.map((r) => r.base)])].slice(0, 64);
      const d: Delisting = { authority, bases, reason: reason.slice(0, 500), at: t, until };
      remember(d);
      emit({ kind: 'delisted', delisting: d });
    },
    delisting: (base) => current(authorityOf(base)),
    delistings() {
      const out: Delisting[] = [];
      for (const d of [...delisted.values()]) if (current(d.authority)) out.push(d);
      return out;
    },
    restore(list) {
      const t = now();
      for (const d of list) {
        if (!(d.until > t) || typeof d.authority !== 'string') continue;
        remember(d);
        for (const r of records.values()) {
          if (authorityOf(r.base) === d.authority) Object.assign(r, { state: 'delisted', reason: d.reason, delistedAt: d.at, delistedUntil: d.until });
        }
      }
    },
  };
  return registry;
}
