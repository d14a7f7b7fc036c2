/**
 * Per-source scores. A source that served one bad byte is never trusted again; sources that
 * fail to answer are set aside for a while; the rest are ranked by measured throughput.
 */
export interface SourceScore {
  readonly source: string;
  readonly banned: boolean;
  readonly bytes: number;
  /** Bytes per second over verified transfers (0 until measured). */
  readonly speed: number;
  readonly failures: number;
}

export interface Reputation {
  /** Record verified bytes from a source and how long they took. */
  good(source: string, bytes: number, ms: number): void;
  /** The source served bytes that failed verification: banned for good. */
  bad(source: string): void;
  /** The source did not answer or broke off; after `maxFailures` in a row it is set aside. */
  failed(source: string): void;
  isBanned(source: string): boolean;
  /** Usable: not banned and not set aside. */
  isUsable(source: string): boolean;
  score(source: string): SourceScore;
  /** Usable sources, best first: lower priority number, then higher measured speed. */
  rank<T extends { url: string; priority?: number }>(sources: readonly T[]): T[];
  banned(): string[];
}

export function createReputation(opts: { maxFailures?: number; maxSources?: number } = {}): Reputation {
  const maxFailures = opts.maxFailures ?? 3;
  const maxSources = opts.maxSources ?? 10_000;
  const table = new Map<string, { banned: boolean; bytes: number; ms: number; failures: number }>();
  const entry = (s: string) => {
    let e = table.get(s);
    if (!e) {
      if (table.size >= maxSources) {
        // Forget the oldest harmless entry; banned sources are kept.
        for (const [k, v] of table) if (!v.banned) { table.delete(k); break; }
      }
      e = { banned: false, bytes: 0, ms: 0, failures: 0 };
      table.set(s, e);
    }
    return e;
  };
  const speed = (e: { bytes: number; ms: number }) => (e.ms > 0 ? (e.bytes * 1000) / e.ms : 0);
  return {
    good(source, bytes, ms) {
      const e = entry(source);
      e.bytes += bytes;
      e.ms += Math.max(ms, 0.001);
      e.failures = 0;
    },
    bad(source) {
      entry(source).banned = true;
    },
    failed(source) {
      entry(source).failures++;
    },
    isBanned(source) {
      return table.get(source)?.banned ?? false;
    },
    isUsable(source) {
      const e = table.get(source);
      return !e || (!e.banned && e.failures < maxFailures);
    },
    score(source) {
      const e = table.get(source) ?? { banned: false, bytes: 0, ms: 0, failures: 0 };
      return { source, banned: e.banned, bytes: e.bytes, speed: speed(e), failures: e.failures };
    },
    rank(sources) {
      return sources
        .filter((s) => this.isUsable(s.url))
        .map((s, i) => ({ s, i, p: s.priority ?? 999_999, v: speed(table.get(s.url) ?? { bytes: 0, ms: 0 }) }))
        .sort((a, b) => a.p - b.p || b.v - a.v || a.i - b.i)
        .map((x) => x.s);
    },
    banned() {
      return [...table].filter(([, e]) => e.banned).map(([k]) => k);
    },
  };
}
