/**
 * Hash routing for cache arrays: each URL gets one home member.
 *
 * - `carp`: the Cache Array Routing Protocol as Squid (3.x to 7.x, `src/carp.cc`) computes it, so
 *   that a peerweb node and a Squid with the same `cache_peer … parent … carp` list pick the same
 *   member for every URL. Two details of Squid's code matter for compatibility and are reproduced on
 *   purpose: members are ranked in ascending weight order (stable for equal weights), and the URL hash
 *   is *not* reset between members — each member hashes the key on top of the previous member's
 *   value. Bytes are added as signed chars, as on x86 and arm64 Linux builds.
 * - `rendezvous`: weighted highest-random-weight hashing (score = weight / -ln(u)); when a member
 *   leaves only the URLs it owned move, whatever the weights.
 */

export interface HashMember {
  /** Identifies the member in the hash (Squid: the cache_peer name, which defaults to its host). */
  readonly name: string;
  /** Relative share; members with weight 0 get nothing. */
  readonly weight: number;
}

export type HashKind = 'carp' | 'rendezvous';

export interface HashRouter {
  readonly kind: HashKind;
  readonly members: readonly HashMember[];
  /** Indexes into `members`, best first (members with weight 0 are left out). */
  order(key: string): number[];
  /** Index of the home member for key, skipping members for which `usable` says no; -1 when none. */
  pick(key: string, usable?: (index: number) => boolean): number;
}

const rotl = (x: number, n: number): number => ((x << n) | (x >>> (32 - n))) >>> 0;

/** Adds the bytes of s as signed chars the way Squid's loops do: h += rotl(h, 19) + c. */
function carpAccumulate(h: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) {
    const c = ((bytes[i] as number) << 24) >> 24;
    h = (h + rotl(h, 19) + c) >>> 0;
  }
  return h;
}

const carpMix = (h: number): number => rotl((h + Math.imul(h, 0x62531965)) >>> 0, 21);

export interface CarpMemberInfo {
  /** Index in the member list given. */
  readonly index: number;
  readonly hash: number;
  readonly loadFactor: number;
  readonly loadMultiplier: number;
}

/** Squid's carpInit: member hashes, load factors and load multipliers, in Squid's ranking order. */
export function carpTable(members: readonly HashMember[]): CarpMemberInfo[] {
  const used = members.map((m, index) => ({ m, index })).filter(({ m }) => m.weight > 0);
  const total = used.reduce((s, { m }) => s + m.weight, 0);
  const rows = used.map(({ m, index }) => {
    const hash = carpMix(carpAccumulate(0, Buffer.from(m.name, 'utf8')));
    let loadFactor = m.weight / total;
    if (Math.floor(loadFactor * 1000) === 0) loadFactor = 0;
    return { index, weight: m.weight, hash, loadFactor, loadMultiplier: 0 };
  });
  rows.sort((a, b) => a.weight - b.weight); // Array.prototype.sort is stable, like glibc's qsort here
  const K = rows.length;
  let pLast = 0;
  let xn = 1;
  let xLast = 0;
  for (let k = 1; k <= K; k++) {
    const r = rows[k - 1]!;
    const kk1 = K - k + 1;
    let x = (kk1 * (r.loadFactor - pLast)) / xn;
    x += Math.pow(xLast, kk1);
    x = Math.pow(x, 1 / kk1);
    r.loadMultiplier = x;
    xn *= x;
    xLast = x;
    pLast = r.loadFactor;
  }
  return rows.map(({ index, hash, loadFactor, loadMultiplier }) => ({ index, hash, loadFactor, loadMultiplier }));
}

/** CARP scores of every ranked member for key (same order as carpTable). */
export function carpScores(table: readonly CarpMemberInfo[], key: string): number[] {
  const bytes = Buffer.from(key, 'utf8');
  let user = 0;
  return table.map((t) => {
    user = carpAccumulate(user, bytes);
    const combined = carpMix((user ^ t.hash) >>> 0);
    return combined * t.loadMultiplier;
  });
}

function murmur3(bytes: Uint8Array, seed: number): number {
  let h = seed >>> 0;
  const n = bytes.length;
  const tail = n & ~3;
  for (let i = 0; i < tail; i += 4) {
    let k = (bytes[i] as number) | ((bytes[i + 1] as number) << 8) | ((bytes[i + 2] as number) << 16) | ((bytes[i + 3] as number) << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = rotl(k >>> 0, 15);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = rotl(h >>> 0, 13);
    h = (Math.imul(h, 5) + 0xe6546b64) >>> 0;
  }
  const rest = n & 3;
  if (rest > 0) {
    let k = 0;
    if (rest === 3) k ^= (bytes[tail + 2] as number) << 16;
    if (rest >= 2) k ^= (bytes[tail + 1] as number) << 8;
    k ^= bytes[tail] as number;
    k = Math.imul(k, 0xcc9e2d51);
    k = rotl(k >>> 0, 15);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  return fmix(h ^ n);
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Weighted rendezvous scores of every member for key (member order). */
export function rendezvousScores(members: readonly HashMember[], key: string): number[] {
  const kb = Buffer.from(key, 'utf8');
  const k1 = murmur3(kb, 0x2545f491);
  const k2 = murmur3(kb, 0x9e3779b9);
  return members.map((m) => {
    if (!(m.weight > 0)) return -Infinity;
    const nb = Buffer.from(m.name, 'utf8');
    const a = fmix((k1 ^ murmur3(nb, 0x68e31da4)) >>> 0);
    const b = fmix((k2 ^ murmur3(nb, 0xb5297a4d) ^ a) >>> 0);
    // 53 uniform bits in (0, 1)
    const u = ((a >>> 5) * 67108864 + (b >>> 6) + 0.5) / 9007199254740992;
    return m.weight / -Math.log(u);
  });
}

/** A hash router over a fixed member list (build a new one when members join or leave). */
export function createHashRouter(kind: HashKind, members: readonly HashMember[]): HashRouter {
  const list = Object.freeze([...members]);
  const table = kind === 'carp' ? carpTable(list) : [];
  const order = (key: string): number[] => {
    if (kind === 'carp') {
      const scores = carpScores(table, key);
      const idx = table.map((_, i) => i);
      // Squid keeps the first member with the strictly highest score: sort stably by score.
      idx.sort((a, b) => (scores[b] as number) - (scores[a] as number));
      return idx.map((i) => (table[i] as CarpMemberInfo).index);
    }
    const scores = rendezvousScores(list, key);
    return list.map((_, i) => i).filter((i) => (scores[i] as number) > -Infinity).sort((a, b) => (scores[b] as number) - (scores[a] as number));
  };
  return {
    kind,
    members: list,
    order,
    pick(key, usable) {
      for (const i of order(key)) if (!usable || usable(i)) return i;
      return -1;
    },
  };
}
