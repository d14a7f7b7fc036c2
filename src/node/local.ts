import type { IncomingRequest, OutgoingResponse } from '../accept/types.js';
import { Fields } from '../http/fields.js';

/** What a local service answers: status, fields and a whole body. */
export interface LocalResponse { status: number; headers: [string, string][]; body: Buffer }
export interface LocalRequest { readonly method: string; readonly url: string; readonly headers: readonly (readonly [string, string])[]; readonly body?: Buffer }

/** A service of the node itself (directory, archive holder, archive sites, mirror endpoints). */
export interface LocalService {
  readonly name: string;
  /** Which requests it looks at: the node's own well-known paths (origin-form only) or site URLs. */
  readonly scope: 'well-known' | 'site';
  /** Whether it may answer this absolute URL (decided before the request body is read). */
  covers(url: URL): boolean;
  /** Answers, or undefined to let the next service (and then the cache) have the request. */
  handle(req: LocalRequest): Promise<LocalResponse | undefined>;
}

const WELL_KNOWN = '/.well-known/peerweb/';
const MAX_LOCAL_BODY = 1024 * 1024;

function writeLocal(res: OutgoingResponse, r: LocalResponse, via: string): void {
  const f = new Fields(r.headers);
  f.set('Content-Length', String(r.body.length));
  if (!f.has('date')) f.set('Date', new Date().toUTCString());
  f.set('Cache-Status', `${via}; hit; detail=local`);
  res.writeHead(r.status, f);
  res.end(r.body);
}

/**
 * The proxy's `local` hook over a list of services. Only origin-form requests reach the
 * well-known services (an absolute-form request for another site's well-known path is that
 * site's business); site services see the request's absolute URL.
 */
export function localHook(services: readonly LocalService[], proxyName: string): ((req: IncomingRequest, res: OutgoingResponse, url: () => URL | null) => boolean | Promise<boolean>) | undefined {
  if (services.length === 0) return undefined;
  const wellKnown = services.filter((s) => s.scope === 'well-known');
  const sites = services.filter((s) => s.scope === 'site');
  return (req, res, url) => {
    const own = req.target.startsWith(WELL_KNOWN);
    if (!own && sites.length === 0) return false;
    const list = own ? wellKnown : sites;
    if (list.length === 0) return false;
    let abs: string;
    const u = own ? null : url();
    if (own) abs = `http://${req.headers.get('host') ?? 'localhost'}${req.target}`;
    else if (u) abs = u.href;
    else if (req.target.startsWith('/')) abs = `http://${req.headers.get('host') ?? 'localhost'}${req.target}`;
    else abs = req.target;
    let parsed: URL;
    try {
      parsed = new URL(abs);
    } catch {
      return false;
    }
    const claimed = list.filter((s) => s.covers(parsed));
    if (claimed.length === 0) return false;
    return (async () => {
      const body = req.hasBody && req.method !== 'GET' && req.method !== 'HEAD' ? await req.readBody(MAX_LOCAL_BODY) : undefined;
      const lr: LocalRequest = { method: req.method, url: abs, headers: [...req.headers.entries()], ...(body ? { body } : {}) };
      for (const s of claimed) {
        const r = await s.handle(lr);
        if (r) {
          writeLocal(res, r, proxyName);
          return true;
        }
      }
      return false;
    })();
  };
}
