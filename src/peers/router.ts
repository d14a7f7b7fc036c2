import { connect } from 'node:net';
import { isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import { PeerwebError } from '../errors/index.js';
import { silentLogger } from '../util/log.js';
import { createHashRouter, type HashRouter } from './hashing.js';
import type { IcpReply, IcpTarget } from './icp-endpoint.js';
import type { ChooseHints, PeerChoice, PeerReason, PeerConfig, PeerRouter, PeerRouterOptions, PeerStats } from './types.js';

interface PeerState {
  readonly peer: PeerConfig;
  dead: boolean;
  retryAt: number;
  backoff: number;
  consecutiveFailures: number;
  failures: number;
  successes: number;
  icpRtt: number;
  fetchMs: number;
  icpQueries: number;
  icpSilent: number;
  readonly icpReplies: Record<IcpReply['opcode'], number>;
  chosen: number;
  resolved?: { ip: string; until: number };
}

const EWMA = 0.2;
const RESOLVE_TTL_MS = 60_000;

function defaultHealthCheck(peer: PeerConfig, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: peer.host, port: peer.httpPort });
    const done = (ok: boolean) => { clearTimeout(t); s.destroy(); resolve(ok); };
    const t = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** True when host is domain or a subdomain of it. */
export function domainMatches(host: string, domain: string): boolean {
  return host === domain || host.endsWith(`.${domain}`);
}

/** The peer-selection step of the pipeline: arrays by hash, ICP to siblings and parents, then parents, then direct. */
export function createPeerRouter(opts: PeerRouterOptions): PeerRouter {
  const log = opts.logger ?? silentLogger;
  const now = opts.now ?? Date.now;
  const p = opts.policy;
  const backoff0 = p.deadBackoffMs ?? 1000;
  const backoffMax = Math.max(backoff0, p.deadBackoffMaxMs ?? 60_000);
  const failuresToDead = p.failuresToDead ?? 1;
  const icpSilenceToDead = p.icpSilenceToDead ?? 5;
  const icpMin = Math.min(p.icpTimeoutMinMs ?? 50, p.icpTimeoutMs);
  const healthTimeout = p.healthTimeoutMs ?? 2000;
  const healthCheck = opts.healthCheck ?? defaultHealthCheck;

  const names = new Set<string>();
  for (const peer of opts.peers) {
    if (names.has(peer.name)) throw new PeerwebError('PW_ERR_PEER_CONFIG', { peer: peer.name, reason: 'two peers have this name' });
    names.add(peer.name);
    if (!(peer.weight >= 0) || !Number.isFinite(peer.weight)) throw new PeerwebError('PW_ERR_PEER_CONFIG', { peer: peer.name, reason: `weight ${peer.weight} is not a non-negative number` });
  }
  const states = new Map<PeerConfig, PeerState>();
  const byName = new Map<string, PeerState>();
  for (const peer of opts.peers) {
    const st: PeerState = {
      peer, dead: false, retryAt: 0, backoff: backoff0, consecutiveFailures: 0, failures: 0, successes: 0,
      icpRtt: 0, fetchMs: 0, icpQueries: 0, icpSilent: 0,
      icpReplies: { HIT: 0, MISS: 0, MISS_NOFETCH: 0, DENIED: 0, ERR: 0, DECHO: 0 }, chosen: 0,
    };
    states.set(peer, st);
    byName.set(peer.name, st);
  }
  const stateOf = (peer: PeerConfig): PeerState | undefined => states.get(peer) ?? byName.get(peer.name);

  const members = opts.peers.filter((x) => x.role === 'array-member');
  const hashKind = p.hashing ?? 'carp';
  const hash: HashRouter | undefined = members.length > 0 ? createHashRouter(hashKind, members.map((m) => ({ name: m.name, weight: m.weight }))) : undefined;
  const icpPeers = opts.peers.filter((x) => (x.role === 'sibling' || x.role === 'parent') && x.icpPort !== undefined && !x.options.noQuery && !(x.options.echo && x.role !== 'parent'));
  const parents = opts.peers.filter((x) => x.role === 'parent');
  const family = opts.icp ? isIP(opts.icp.address.host) : 4;
  const resolve = opts.resolve ?? (async (host: string) => (await lookup(host, { family: family === 6 ? 6 : 4 })).address);

  function markDead(st: PeerState, why: string): void {
    const t = now();
    if (!st.dead) log.warn({ peer: st.peer.name, why }, 'peer marked dead');
    else st.backoff = Math.min(backoffMax, st.backoff * 2);
    st.dead = true;
    st.retryAt = t + st.backoff;
  }

  function markAlive(st: PeerState): void {
    if (st.dead) log.info({ peer: st.peer.name }, 'peer alive again');
    st.dead = false;
    st.backoff = backoff0;
    st.consecutiveFailures = 0;
    st.retryAt = 0;
  }

  /** Alive, or dead with its back-off over: then it is handed out once as a probe per back-off period. */
  function usable(st: PeerState, consumeProbe: boolean): boolean {
    if (!st.dead) return true;
    if (now() < st.retryAt) return false;
    if (consumeProbe) st.retryAt = now() + st.backoff;
    return true;
  }

  async function icpTarget(st: PeerState): Promise<IcpTarget | undefined> {
    const host = st.peer.host;
    let ip = isIP(host) ? host : undefined;
    if (!ip) {
      if (st.resolved && st.resolved.until > now()) ip = st.resolved.ip;
      else {
        try {
          ip = await resolve(host);
          st.resolved = { ip, until: now() + RESOLVE_TTL_MS };
        } catch (err) {
          log.warn({ err, peer: st.peer.name }, 'cannot resolve peer for ICP');
          return undefined;
        }
      }
    }
    return { host: ip, port: st.peer.icpPort as number, ...(st.peer.options.echo ? { echo: true } : {}) };
  }

  function icpTimeout(asked: readonly PeerState[]): number {
    const parentsAsked = asked.filter((s) => s.peer.role === 'parent');
    const group = parentsAsked.length > 0 ? parentsAsked : asked;
    if (group.some((s) => s.icpRtt === 0)) return p.icpTimeoutMs;
    const mean = group.reduce((a, s) => a + s.icpRtt, 0) / group.length;
    return Math.min(p.icpTimeoutMs, Math.max(icpMin, Math.ceil(2 * mean)));
  }

  function parentScore(st: PeerState): number {
    // RTT-aware weighting: smaller is better; unknown RTT counts as 1 ms.
    const rtt = Math.max(1, st.fetchMs || st.icpRtt || 1);
    return rtt / Math.max(st.peer.weight, 1e-9);
  }

  async function choose(url: string, method: string, signal?: AbortSignal, hints: ChooseHints = {}): Promise<PeerChoice[]> {
    let host: string;
    try {
      host = new URL(url).hostname.toLowerCase().replace(/^\[|\]$/g, '');
    } catch {
      throw new PeerwebError('PW_ERR_PEER_CONFIG', { peer: '-', reason: `URL ${JSON.stringify(url.slice(0, 200))} is not absolute` });
    }
    if (p.alwaysDirect.some((d) => domainMatches(host, d))) return [{ kind: 'direct', reason: 'always-direct' }];
    if (hints.fromPeer) {
      // A peer asked us: answer from our store or the origin, never bounce it to another peer.
      return [{ kind: 'direct', reason: 'default' }];
    }
    const out: PeerChoice[] = [];
    const taken = new Set<string>();
    const push = (peer: PeerConfig, reason: PeerReason) => {
      if (taken.has(peer.name)) return;
      taken.add(peer.name);
      out.push({ kind: 'peer', peer, reason });
    };

    // 1. Cache array: the URL's home member, then the next members as failover.
    let selfHome = false;
    if (hash) {
      const order = hash.order(url);
      let first = true;
      for (const i of order) {
        const m = members[i] as PeerConfig;
        if (m.name === p.self) {
          if (first) { selfHome = true; break; }
          // We are the next home after the members listed so far: failing them, we fetch it ourselves
          // (forwarding to the member after us would give the URL two homes while one is down).
          if (!p.neverDirect) break;
          continue;
        }
        const st = stateOf(m) as PeerState;
        if (!usable(st, first)) continue;
        push(m, hashKind);
        first = false;
      }
      if (!selfHome && out.length > 0) {
        if (!p.neverDirect) out.push({ kind: 'direct', reason: 'default' });
        return finish(out);
      }
    }

    // 2. ICP to siblings and parents (GET/HEAD only, as Squid's hierarchical requests).
    const parentReplies: PeerConfig[] = [];
    const m = method.toUpperCase();
    if (opts.icp && !hints.noIcp && (m === 'GET' || m === 'HEAD') && icpPeers.length > 0) {
      const asked: PeerState[] = [];
      const targets: IcpTarget[] = [];
      for (const peer of icpPeers) {
        const st = stateOf(peer) as PeerState;
        if (!usable(st, false)) continue;
        const t = await icpTarget(st);
        if (!t) continue;
        asked.push(st);
        targets.push(t);
      }
      if (targets.length > 0) {
        const res = await opts.icp.ping(targets, url, { timeoutMs: icpTimeout(asked), ...(signal ? { signal } : {}), stopOnHit: true });
        if (res.aborted) return [];
        const replied = new Set<number>();
        let hit: PeerConfig | undefined;
        for (const r of res.replies) {
          const st = asked[r.index] as PeerState;
          replied.add(r.index);
          st.icpReplies[r.opcode]++;
          st.icpSilent = 0;
          st.icpRtt = st.icpRtt === 0 ? r.rttMs : st.icpRtt * (1 - EWMA) + r.rttMs * EWMA;
          if (r.opcode !== 'DENIED' && r.opcode !== 'ERR' && st.dead && st.consecutiveFailures === 0) markAlive(st);
          if (r.opcode === 'HIT' && !hit) hit = st.peer;
          else if ((r.opcode === 'MISS' || r.opcode === 'DECHO') && st.peer.role === 'parent') parentReplies.push(st.peer);
        }
        asked.forEach((st, i) => {
          st.icpQueries++;
          // Silence counts only when the wait gave everyone their chance.
          if (!replied.has(i) && !hit && res.timedOut) {
            st.icpSilent++;
            if (st.icpSilent >= icpSilenceToDead && !st.dead) markDead(st, `no ICP reply to ${st.icpSilent} queries`);
          }
        });
        if (hit) push(hit, 'icp-hit');
      }
    }

    // 3. Parents: the first to answer ICP, then the best alive by weight and RTT.
    for (const parent of parentReplies) push(parent, 'icp-parent-miss');
    const alive = parents.filter((x) => !taken.has(x.name) && usable(stateOf(x) as PeerState, false));
    alive.sort((a, b) => parentScore(stateOf(a) as PeerState) - parentScore(stateOf(b) as PeerState));
    for (const parent of alive) {
      usable(stateOf(parent) as PeerState, true);
      push(parent, 'parent');
    }

    // 4. Direct, unless forbidden; with never-direct and every parent dead, try the dead ones anyway.
    if (!p.neverDirect) out.push({ kind: 'direct', reason: selfHome ? 'array-self' : out.length === 0 ? (opts.peers.length === 0 ? 'no-peers' : 'default') : 'default' });
    else if (!out.some((c) => c.kind === 'peer' && c.peer.role === 'parent')) {
      for (const parent of parents) push(parent, 'parent-last-resort');
    }
    if (out.length === 0) throw new PeerwebError('PW_ERR_PEER_NONE_ALIVE', { url: url.slice(0, 200) });
    return finish(out);
  }

  function finish(out: PeerChoice[]): PeerChoice[] {
    const first = out[0];
    if (first?.kind === 'peer') (stateOf(first.peer) as PeerState).chosen++;
    return out;
  }

  let healthTimer: NodeJS.Timeout | undefined;
  let checking = false;
  const interval = p.healthIntervalMs ?? 10_000;
  if (interval > 0 && opts.peers.length > 0) {
    healthTimer = setInterval(() => {
      if (checking) return;
      checking = true;
      void Promise.all(opts.peers.map(async (peer) => {
        const st = stateOf(peer) as PeerState;
        let ok = false;
        try {
          ok = await healthCheck(peer, healthTimeout);
        } catch {
          ok = false;
        }
        if (ok) {
          if (st.dead) markAlive(st);
        } else {
          st.failures++;
          markDead(st, 'health check failed');
        }
      })).finally(() => { checking = false; });
    }, interval);
    healthTimer.unref();
  }

  return {
    choose,
    reportFailure(peer) {
      const st = stateOf(peer);
      if (!st) return;
      st.failures++;
      st.consecutiveFailures++;
      if (st.consecutiveFailures >= failuresToDead) markDead(st, 'fetch failed');
    },
    reportSuccess(peer, ms) {
      const st = stateOf(peer);
      if (!st) return;
      st.successes++;
      st.fetchMs = st.fetchMs === 0 ? ms : st.fetchMs * (1 - EWMA) + ms * EWMA;
      markAlive(st);
    },
    stats(): PeerStats[] {
      return [...states.values()].map((st) => ({
        name: st.peer.name, host: st.peer.host, httpPort: st.peer.httpPort, icpPort: st.peer.icpPort,
        role: st.peer.role, weight: st.peer.weight, state: st.dead ? 'dead' : 'alive',
        retryAt: st.dead ? st.retryAt : undefined, failures: st.failures, successes: st.successes,
        icpRttMs: Math.round(st.icpRtt * 1000) / 1000, fetchMs: Math.round(st.fetchMs * 1000) / 1000,
        icpQueries: st.icpQueries, icpReplies: { ...st.icpReplies }, icpSilent: st.icpSilent, chosen: st.chosen,
      }));
    },
    async close() {
      if (healthTimer) clearInterval(healthTimer);
      healthTimer = undefined;
    },
  };
}
