import type { Config } from '../config/index.js';
import type { PeerwebError } from '../errors/index.js';
import type { OutgoingResponse, IncomingRequest } from '../accept/types.js';
import type { CacheStore, StoredEntry, SyncPeek } from '../storage/index.js';
import type { Upstream } from '../upstream/index.js';
import type { Metrics, ResultTag } from '../admin/metrics.js';
import type { AccessLog } from '../admin/access-log.js';
import type { Logger } from '../util/log.js';
import type { PolicyOptions, StoredResponse, Decision } from '../cache/index.js';
import type { Fields } from '../http/fields.js';
import type { FlightTable } from './collapse.js';

/**
 * Roles plug into the pipeline through these hooks; none of them imports proxy/.
 * Every hook is optional; a node without roles is a plain caching proxy.
 */
export interface ProxyHooks {
  /** Admission of outside clients (rate limits, address rules, credentials): an error refuses the request before anything else. */
  readonly admit?: (req: IncomingRequest) => PeerwebError | undefined | Promise<PeerwebError | undefined>;
  /** Answers requests meant for the node itself or a role (well-known endpoints, archive sites); true when handled. */
  readonly local?: (req: IncomingRequest, res: OutgoingResponse, url: () => URL | null) => boolean | Promise<boolean>;
  /** Adjusts a response from upstream before it is stored and delivered (origin front: digests, mirror links). */
  readonly decorateResponse?: (url: URL, status: number, headers: Fields) => void;
  /** Fetches a miss from somewhere other than the origin (peers, mirrors); undefined to go direct. */
  readonly fetchFrom?: (url: URL, method: string, headers: Fields, signal: AbortSignal, client: { readonly address: string; readonly viaPresent: boolean }) => Promise<RoutedResponse | undefined>;
}

/** A response obtained from a peer or mirror instead of the origin; `tag` says which. */
export interface RoutedResponse {
  readonly status: number;
  readonly headers: Fields;
  readonly body: AsyncIterable<Buffer>;
  readonly contentLength: number | null;
  readonly tag: ResultTag;
}

/** What the pipeline is built from (the node hands these in). */
export interface ProxyDeps {
  readonly config: Config;
  readonly store: CacheStore & SyncPeek;
  readonly upstream: Upstream;
  readonly metrics: Metrics;
  readonly accessLog: AccessLog;
  readonly logger: Logger;
  readonly hooks?: ProxyHooks;
}

/** Everything a step may use: the deps plus what is derived from the config once. */
export interface ProxyContext extends ProxyDeps {
  readonly policy: PolicyOptions;
  readonly flights: FlightTable;
  readonly hooks: ProxyHooks;
  /** Reverse-proxy routes by lower-case Host (with and without port); empty for a forward proxy. */
  readonly routes: ReadonlyMap<string, URL>;
  /** The single origin of `--origin`, when set. */
  readonly singleOrigin: URL | null;
  readonly forwardMode: boolean;
}

/** What the cache knows about one stored entry, derived once and kept beside it. */
export interface HotEntry {
  readonly entry: StoredEntry;
  readonly stored: StoredResponse;
  readonly vary: readonly string[];
  /** Until when (ms) the entry is fresh for a request without cache directives; 0 when it always needs a decision. */
  readonly freshUntil: number;
  /** Current age at responseTime (ms), so age(now) = initialAge + (now - responseTime). */
  readonly initialAge: number;
  /** Status line and stored fields (with Content-Length and Cache-Status), without Age and the final CRLF. */
  readonly head: Buffer;
  /** When the store was last told this entry was used (LRU updates are batched to one a second). */
  touchedAt: number;
}

/** One client request on its way through the steps. */
export interface Transaction {
  readonly req: IncomingRequest;
  readonly res: OutgoingResponse;
  readonly ctx: ProxyContext;
  readonly start: number;
  /** The URL in cache-key space (public URL), set by recv; null on the fast path until `urlOf(tx)` builds it. */
  url: URL | null;
  /** Fast path of a single origin: the origin-form target the URL will be built from. */
  lazyPath: string | null;
  /** Where the request is sent upstream. */
  fetchUrl: URL | null;
  key: string;
  tag: ResultTag;
  status: number;
  bytes: number;
  /** A stored entry found by lookup that may serve (stale) or be revalidated. */
  candidate: HotEntry | null;
  decision: Decision | null;
  /** Do not join or start a collapsed fetch (after a Vary mismatch or an unshareable response). */
  noCollapse: boolean;
  /** Set when this request's response must not be stored (request no-store). */
  noStore: boolean;
}
