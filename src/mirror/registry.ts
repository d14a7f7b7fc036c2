/** The origin's list of mirrors and their audit state. One list: delisting is immediate everywhere it is read. */
export type MirrorState = 'pending' | 'live' | 'delisted';

export interface MirrorRecord {
  readonly base: string;
  prefixes: string[];
  priority: number;
  state: MirrorState;
  lastVerified?: number;
  /** Audits in a row that found the mirror unreachable or missing content. */
  misses: number;
  audits: number;
  reason?: string;
}

export interface MirrorRegistry {
  get(base: string): MirrorRecord | undefined;
  /** Adds (or updates the prefixes of) a pending mirror; a delisted mirror stays delisted. */
  add(base: string, prefixes: readonly string[]): MirrorRecord;
  /** Live mirrors whose prefixes cover `path`, best priority first. */
  holding(path: string): MirrorRecord[];
  live(): MirrorRecord[];
  all(): MirrorRecord[];
  count(): number;
  markVerified(base: string, at: number): void;
  delist(base: string, reason: string): void;
}

export function mirrorUrl(base: string, path: string): string {
  return base + path.replace(/^\/+/, '');
}

export function createRegistry(): MirrorRegistry {
  const records = new Map<string, MirrorRecord>();
  let nextPriority = 1;
  const covers = (r: MirrorRecord, path: string) => r.prefixes.some((p) => path.startsWith(p));
  const sorted = (list: MirrorRecord[]) => list.sort((a, b) => a.priority - b.priority);
  return {
    get: (base) => records.get(base),
    add(base, prefixes) {
      const existing = records.get(base);
      if (existing) {
        if (existing.state !== 'delisted') existing.prefixes = [...new Set([...existing.prefixes, ...prefixes])].slice(0, 64);
        return existing;
      }
      const r: MirrorRecord = { base, prefixes: [...new Set(prefixes)].slice(0, 64), priority: nextPriority++, state: 'pending', misses: 0, audits: 0 };
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
      r.state = 'live';
      r.lastVerified = at;
      r.misses = 0;
    },
    delist(base, reason) {
      const r = records.get(base);
      if (!r) return;
      r.state = 'delisted';
      r.reason = reason;
    },
  };
}
