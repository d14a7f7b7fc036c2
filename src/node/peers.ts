import type { Config } from '../config/index.js';
import { PeerwebError, isPeerwebError } from '../errors/index.js';
import type { Fields } from '../http/fields.js';
import type { Upstream } from '../upstream/index.js';
import type { ProxyHooks, RoutedResponse } from '../proxy/index.js';
import type { Metrics } from '../admin/metrics.js';
import type { Logger } from '../util/log.js';
import { createIcpEndpoint, createPeerRouter, icpAccessFromConfig, peersFromConfig, type IcpEndpoint, type PeerRouter } from '../peers/index.js';

export interface PeerWiring {
  readonly router: PeerRouter | null;
  readonly icp: IcpEndpoint | null;
  readonly fetchFrom: ProxyHooks['fetchFrom'] | undefined;
  close(): Promise<void>;
}

/**
 * Cooperating caches: the ICP endpoint (answering from the memory index) and, on a miss, the
 * router's choice of sibling, parent or array member, tried in order with failover; direct last.
 */
export async function wirePeers(config: Config, deps: { upstream: Upstream; metrics: Metrics; logger: Logger; freshInMemory: (url: string) => boolean }): Promise<PeerWiring> {
  const { peers, policy } = peersFromConfig(config);
  const icpAddr = config['peers.icp'];
  if (peers.length === 0 && !icpAddr) return { router: null, icp: null, fetchFrom: undefined, close: async () => {} };
  const icp = icpAddr
    ? await createIcpEndpoint({
        host: icpAddr.host,
        port: icpAddr.port,
        lookup: (url) => (deps.freshInMemory(url) ? 'hit' : 'miss'),
        access: icpAccessFromConfig(config),
        ratePerSource: config['peers.icpRate'],
        logger: deps.logger,
      })
    : null;
  const router = peers.length > 0 ? createPeerRouter({ peers, ...(icp ? { icp } : {}), policy, logger: deps.logger }) : null;
  const peerHosts = new Set(peers.map((p) => p.host));

  const fetchFrom = router
    ? async (url: URL, method: string, headers: Fields, signal: AbortSignal, client: { readonly address: string; readonly viaPresent: boolean }): Promise<RoutedResponse | undefined> => {
        const addr = client.address.startsWith('::ffff:') ? client.address.slice(7) : client.address;
        // A request another cache sent us (from a peer's address, through a proxy) is not sent on to peers again.
        const choices = await router.choose(url.href, method, signal, { fromPeer: client.viaPresent && peerHosts.has(addr) });
        let lastErr: unknown;
        for (const choice of choices) {
          if (choice.kind === 'direct') return undefined;
          const started = Date.now();
          const sibling = choice.peer.role === 'sibling';
          try {
            const res = await deps.upstream.request({ url, method, headers: sibling ? siblingHeaders(headers) : headers, signal, via: { host: choice.peer.host, port: choice.peer.httpPort } });
            if (sibling && res.status === 504) {
              // Its ICP HIT did not hold (expired or evicted since): a miss, not a failure of the sibling.
              discard(res.body);
              continue;
            }
            if (res.status >= 500) {
              discard(res.body);
              router.reportFailure(choice.peer);
              continue;
            }
            router.reportSuccess(choice.peer, Date.now() - started);
            const tag = sibling ? 'SIBLING_HIT' : 'PARENT';
            return { status: res.status, headers: res.headers, body: res.body, contentLength: res.contentLength, tag };
          } catch (err) {
            lastErr = err;
            router.reportFailure(choice.peer);
          }
        }
        // never-direct with every parent failing
        if (isPeerwebError(lastErr)) throw lastErr;
        throw new PeerwebError('PW_ERR_UPSTREAM_CONNECT', { origin: url.origin, reason: `no peer could serve it (${(lastErr as Error | undefined)?.message ?? 'none alive'})` });
      }
    : undefined;

  deps.metrics.addGauge({
    name: 'peerweb_peer_up',
    help: 'Peers by name: 1 when alive, 0 when skipped as dead',
    label: 'peer',
    read: () => new Map((router?.stats() ?? []).map((s) => [s.name, s.state === 'alive' ? 1 : 0])),
  });
  return {
    router,
    icp,
    fetchFrom,
    async close() {
      await router?.close();
      await icp?.close();
    },
  };
}

/**
 * A sibling is used only for what it holds: ask with `only-if-cached` (as Squid does for its
 * siblings) so that it answers 504 instead of fetching a miss on our behalf.
 */
function siblingHeaders(headers: Fields): Fields {
  const h = headers.clone();
  const cc = h.get('cache-control');
  if (!cc || !/(^|,)\s*only-if-cached\s*(,|$)/i.test(cc)) h.set('Cache-Control', cc ? `${cc}, only-if-cached` : 'only-if-cached');
  return h;
}

/** Drops a peer's response body: undici reports a destroyed body as an error, which must not go unheard. */
function discard(body: NodeJS.ReadableStream & { destroy(): void }): void {
  body.on('error', () => undefined);
  body.destroy();
}
