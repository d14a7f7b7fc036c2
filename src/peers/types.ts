import type { Logger } from '../util/log.js';
import type { HashKind } from './hashing.js';
import type { IcpEndpoint } from './icp-endpoint.js';

export type PeerRole = 'parent' | 'sibling' | 'array-member';

export interface PeerOptions {
  /** Never send ICP queries to this peer. */
  readonly noQuery?: boolean;
  /** Its ICP port is a UDP echo service: probe it with DECHO (parents only), as Squid does for port 7. */
  readonly echo?: boolean;
}

/** One cooperating cache. `name` is unique; for CARP it is the name Squid's `cache_peer … name=` would use. */
export interface PeerConfig {
  readonly name: string;
  readonly host: string;
  readonly httpPort: number;
  readonly icpPort?: number;
  readonly role: PeerRole;
  readonly weight: number;
  readonly options: PeerOptions;
}

export type PeerReason =
  | 'icp-hit' // a sibling or parent answered ICP HIT
  | 'icp-parent-miss' // a parent answered ICP first (Squid: FIRST_PARENT_MISS)
  | 'parent' // best parent by weight and round-trip time
  | 'parent-last-resort' // every parent is marked dead and going direct is not allowed
  | 'carp' // home member of the URL in a CARP array (or a failover member after it)
  | 'rendezvous'; // same with rendezvous hashing

export type PeerChoice =
  | { readonly kind: 'peer'; readonly peer: PeerConfig; readonly reason: PeerReason }
  | { readonly kind: 'direct'; readonly reason: 'default' | 'always-direct' | 'array-self' | 'no-peers' };

export interface PeerStats {
  readonly name: string;
  readonly host: string;
  readonly httpPort: number;
  readonly icpPort: number | undefined;
  readonly role: PeerRole;
  readonly weight: number;
  readonly state: 'alive' | 'dead';
  /** When a dead peer is tried again (epoch ms), else undefined. */
  readonly retryAt: number | undefined;
  readonly failures: number;
  readonly successes: number;
  /** Smoothed ICP round-trip time in ms (0 before the first reply). */
  readonly icpRttMs: number;
  /** Smoothed time of successful fetches reported by the proxy, ms. */
  readonly fetchMs: number;
  readonly icpQueries: number;
  readonly icpReplies: Readonly<Record<'HIT' | 'MISS' | 'MISS_NOFETCH' | 'DENIED' | 'ERR' | 'DECHO', number>>;
  readonly icpSilent: number;
  /** How many times this peer was returned first by choose(). */
  readonly chosen: number;
}

export interface PeerPolicy {
  /** Never fetch from origins: candidates never include direct. */
  readonly neverDirect: boolean;
  /** Domains (and their subdomains) that always go direct. */
  readonly alwaysDirect: readonly string[];
  /** Upper bound of the ICP wait (ms); the wait is 2 × the smoothed RTT of the peers asked. */
  readonly icpTimeoutMs: number;
  /** Lower bound of the ICP wait (ms). Default 50. */
  readonly icpTimeoutMinMs?: number;
  /** Array hashing. Default carp. */
  readonly hashing?: HashKind;
  /** This node's own name among the array members: URLs it is home for are not forwarded. */
  readonly self?: string;
  /** First back-off of a dead peer (ms), doubled on each further failure. Default 1000. */
  readonly deadBackoffMs?: number;
  /** Longest back-off (ms). Default 60,000. */
  readonly deadBackoffMaxMs?: number;
  /** Consecutive fetch failures before a peer is dead. Default 1 (a refused connect is clear enough). */
  readonly failuresToDead?: number;
  /** Consecutive unanswered ICP queries before a peer is dead. Default 5. */
  readonly icpSilenceToDead?: number;
  /** TCP health-check interval (ms); 0 turns checks off. Default 10,000. */
  readonly healthIntervalMs?: number;
  /** Connect timeout of a health check (ms). Default 2000. */
  readonly healthTimeoutMs?: number;
}

export interface ChooseHints {
  /** The request came from a peer (sibling/array member): never forward it to peers again (loop prevention). */
  readonly fromPeer?: boolean;
  /** The request may not be served from a sibling (for example it carries no-cache): skip ICP. */
  readonly noIcp?: boolean;
}

/** What the proxy calls on a cache miss. */
export interface PeerRouter {
  /** Ordered candidates; direct last unless never-direct. Throws PW_ERR_PEER_NONE_ALIVE when nothing may be tried. */
  choose(url: string, method: string, signal?: AbortSignal, hints?: ChooseHints): Promise<PeerChoice[]>;
  /** The proxy could not connect to the peer or it timed out: skip it for a back-off. */
  reportFailure(peer: PeerConfig): void;
  /** A fetch from the peer succeeded in `ms`. */
  reportSuccess(peer: PeerConfig, ms: number): void;
  /** One row per peer for /metrics and the health endpoint. */
  stats(): PeerStats[];
  /** Stops health checks (the ICP endpoint is closed by its owner). */
  close(): Promise<void>;
}

export interface PeerRouterOptions {
  readonly peers: readonly PeerConfig[];
  readonly icp?: IcpEndpoint;
  readonly policy: PeerPolicy;
  readonly logger?: Logger;
  /** Epoch-ms clock (tests pass fake timers). Default Date.now. */
  readonly now?: () => number;
  /** Resolves a peer host to an IP for ICP (default node:dns lookup with the endpoint's family). */
  readonly resolve?: (host: string) => Promise<string>;
  /** Health check of one peer (default: TCP connect to host:httpPort within healthTimeoutMs). */
  readonly healthCheck?: (peer: PeerConfig, timeoutMs: number) => Promise<boolean>;
}
