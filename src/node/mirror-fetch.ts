import type { Config } from '../config/index.js';
import { Fields } from '../http/fields.js';
import { formatLink, parseLinkHeader } from '../http/index.js';
import { createReputation, parseDigestField } from '../integrity/index.js';
import { fetchVerifiedBody } from '../client/index.js';
import type { Upstream } from '../upstream/index.js';
import type { ProxyHooks, RoutedResponse } from '../proxy/index.js';
import type { Metrics } from '../admin/metrics.js';
import type { NoticeWatch } from './roles.js';

/**
 * A cache miss for a mirrored resource, served by mirrors: a HEAD with `List-Mirrors: ?1` asks the
 * origin only for the digest and the live mirrors; the body comes from the best mirror and is
 * stored only when its SHA-256 matches. Anything else (no digest, no mirror, every mirror wrong)
 * leaves the request to the origin as usual. A mirror that sent one bad byte is not asked again,
 * nor is one whose host an origin delisted in a signed notice this node holds, even when a stale
 * copy of the origin's answer (an intermediate cache) still links to it.
 */
export function mirrorFetchHook(config: Config, deps: { upstream: Upstream; metrics: Metrics; notices?: NoticeWatch }): ProxyHooks['fetchFrom'] {
  if (!config['mirror.fetchFromMirrors']) return undefined;
  const reputation = createReputation();
  const maxSize = Math.min(config['mirror.maxObjectSize'], config['cache.maxObjectSize']);
  return async (url, method, headers, signal): Promise<RoutedResponse | undefined> => {
    if (method !== 'GET') return undefined;
    const ask = headers.clone();
    ask.set('List-Mirrors', '?1');
    deps.metrics.inc('peerweb_origin_requests_total', 1, 'head');
    const head = await deps.upstream.request({ url, method: 'HEAD', headers: ask, signal });
    head.body.resume();
    if (head.status !== 200) return undefined;
    const digest = parseDigestField(head.headers.get('repr-digest') ?? '');
    const links = parseLinkHeader(head.headers.get('link'));
    const listed = links.filter((l) => l.params.rel === 'duplicate').map((l) => ({ url: l.uri, priority: Number(l.params.pri ?? 1) || 1 }));
    // An origin front (it sends digests): follow its delisting notices from now on.
    if (digest && deps.notices) deps.notices.learn(url.origin);
    const mirrors = deps.notices ? listed.filter((m) => !deps.notices?.book.isDelisted(m.url)) : listed;
    const declared = Number(head.headers.get('content-length') ?? Number.NaN);
    if (!digest || mirrors.length === 0 || declared > maxSize) return undefined;
    let got;
    try {
      got = await fetchVerifiedBody({ digest, mirrors, maxSize, reputation, signal, timeoutMs: config['upstream.headersTimeout'] });
    } catch {
      return undefined;
    }
    // Stored for everyone: the mirror links were for this request only.
    const fields = new Fields(head.headers);
    fields.delete('link');
    for (const l of links) if (l.params.rel !== 'duplicate') fields.append('Link', formatLink(l.uri, l.params));
    fields.set('Content-Length', String(got.body.length));
    const body = got.body;
    return { status: 200, headers: fields, body: (async function* () { yield body; })(), contentLength: body.length, tag: 'MIRROR_HIT' };
  };
}
