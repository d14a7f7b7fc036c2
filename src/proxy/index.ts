import type { IncomingRequest, OutgoingResponse, RequestHandler } from '../accept/types.js';
import type { ProxyContext, ProxyDeps, Transaction } from './context.js';
import { FlightTable } from './collapse.js';
import { run } from './steps.js';
import { hotEntry } from './hot.js';
import { cacheKey } from '../cache/index.js';

export type { ProxyDeps, ProxyHooks, RoutedResponse } from './context.js';
export { STEPS } from './steps.js';
export { UNKEYED_REQUEST_HEADERS } from './headers.js';

export interface Proxy {
  readonly handler: RequestHandler;
  /** In-flight upstream fetches (for metrics). */
  readonly inFlight: () => number;
  /** Is a fresh response for this absolute URL held in memory? (answers ICP queries without I/O) */
  readonly freshInMemory: (url: string) => boolean;
}

/** Builds the request handler that runs every request through the steps of `steps.ts`. */
export function createProxy(deps: ProxyDeps): Proxy {
  const { config } = deps;
  const routes = new Map<string, URL>();
  for (const r of config.origins) routes.set(r.host, new URL(r.url));
  const ctx: ProxyContext = {
    ...deps,
    hooks: deps.hooks ?? {},
    policy: { shared: config['cache.shared'], heuristicFraction: config['cache.heuristicFraction'], heuristicMaxMs: config['cache.heuristicMax'], staleOnErrorMs: config['cache.staleOnError'], targetedFields: config.origin || routes.size > 0 ? config['cache.targetedFields'] : [] },
    flights: new FlightTable(),
    routes,
    singleOrigin: config.origin ? new URL(config.origin) : null,
    forwardMode: !config.origin && routes.size === 0,
  };
  const handler = (req: IncomingRequest, res: OutgoingResponse): void => {
    const tx: Transaction = {
      req, res, ctx, start: Date.now(), url: null, lazyPath: null, fetchUrl: null, key: '', tag: 'MISS', status: 0, bytes: 0,
      candidate: null, decision: null, noCollapse: false, noStore: false,
    };
    run(tx, 'recv');
  };
  const freshInMemory = (url: string): boolean => {
    let key: string;
    try {
      key = cacheKey(new URL(url));
    } catch {
      return false;
    }
    const entries = deps.store.peek(key);
    if (!entries) return false;
    const now = Date.now();
    return entries.some((e) => hotEntry(e, ctx.policy, config['proxy.name']).freshUntil > now);
  };
  return { handler, inFlight: () => ctx.flights.size, freshInMemory };
}
