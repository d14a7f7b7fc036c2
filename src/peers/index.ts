/**
 * Cooperating caches: the ICP (RFC 2186) codec and UDP endpoint, hash routing for cache arrays
 * (Squid-compatible CARP and rendezvous), and the choice between siblings, parents and direct that
 * the proxy makes on a miss. See docs/peers.md.
 */
import type { Config } from '../config/index.js';
import type { PeerConfig, PeerPolicy } from './types.js';

export { createIcpEndpoint } from './icp-endpoint.js';
export type { IcpEndpoint, IcpEndpointOptions, IcpLookupAnswer, IcpTarget, IcpReply, IcpPingResult, IcpPingOptions, IcpCounters } from './icp-endpoint.js';
export { decodeIcp, encodeIcp, IcpOpcode, ICP_MAX_DATAGRAM, ICP_MAX_URL, ICP_FLAG_HIT_OBJ, ICP_FLAG_SRC_RTT } from './icp-codec.js';
export type { IcpMessage, IcpDecodeResult, IcpDecodeFailure, IcpEncodeInput } from './icp-codec.js';
export { createHashRouter, carpTable, carpScores, rendezvousScores } from './hashing.js';
export type { HashKind, HashMember, HashRouter, CarpMemberInfo } from './hashing.js';
export { createPeerRouter, domainMatches } from './router.js';
export type { PeerConfig, PeerRole, PeerOptions, PeerChoice, PeerReason, PeerStats, PeerPolicy, PeerRouter, PeerRouterOptions, ChooseHints } from './types.js';

/** The peers and policy a frozen config asks for (siblings, parents, array members, then peers.list). */
export function peersFromConfig(config: Config): { peers: PeerConfig[]; policy: PeerPolicy } {
  const peers: PeerConfig[] = [
    ...config['peers.siblings'], ...config['peers.parents'], ...config['peers.array'], ...config['peers.list'],
  ].map((s) => ({ ...s, options: { ...s.options } }));
  const policy: PeerPolicy = {
    neverDirect: config['peers.neverDirect'],
    alwaysDirect: config['peers.alwaysDirect'],
    icpTimeoutMs: config['peers.icpTimeout'],
    icpTimeoutMinMs: config['peers.icpTimeoutMin'],
    hashing: config['peers.hashing'],
    ...(config['peers.self'] !== undefined ? { self: config['peers.self'] } : {}),
    deadBackoffMs: config['peers.deadBackoff'],
    deadBackoffMaxMs: config['peers.deadBackoffMax'],
    healthIntervalMs: config['peers.healthInterval'],
  };
  return { peers, policy };
}

/**
 * ICP access rule from config: loopback, the configured peers' addresses (IP literals) and peers.icpAllow.
 * Peers named by host name are allowed once the caller adds their resolved addresses to `extra`.
 */
export function icpAccessFromConfig(config: Config, extra: readonly string[] = []): (addr: string) => boolean {
  const { peers } = peersFromConfig(config);
  const allowed = new Set<string>([...config['peers.icpAllow'], ...peers.map((p) => p.host), ...extra]);
  return (addr) => {
    const a = addr.startsWith('::ffff:') ? addr.slice(7) : addr;
    return a.startsWith('127.') || a === '::1' || allowed.has(a);
  };
}
