import { Agent, errors as undiciErrors, type Dispatcher } from 'undici';
import type { Readable } from 'node:stream';
import { PeerwebError } from '../errors/index.js';
import { Fields } from '../http/fields.js';
import { guardedLookup } from './address-guard.js';

export { isInternalAddress, guardedLookup } from './address-guard.js';

export interface UpstreamOptions {
  readonly connectTimeout: number;
  readonly headersTimeout: number;
  readonly bodyTimeout: number;
  readonly connections: number;
  readonly pipelining: number;
  readonly maxResponseHeaderSize: number;
  /** Refuse to connect to loopback/private addresses (forward proxy safety). */
  readonly guardAddresses: boolean;
}

export interface UpstreamRequest {
  readonly url: URL;
  readonly method: string;
  readonly headers: Fields;
  readonly body?: AsyncIterable<Buffer> | Buffer | null;
  readonly signal?: AbortSignal;
  /** Called for each interim (1xx) response before the final one, such as 103 Early Hints. */
  readonly onInfo?: (status: number, headers: Fields) => void;
  /** Send the request through this proxy (a parent or sibling cache) in absolute form. */
  readonly via?: { readonly host: string; readonly port: number };
}

export interface UpstreamResponse {
  readonly status: number;
  readonly headers: Fields;
  /** The response body; already checked for framing (undici refuses malformed framing). */
  readonly body: Readable;
  /** Content-Length when the origin declared one. */
  readonly contentLength: number | null;
}

export interface Upstream {
  request(req: UpstreamRequest): Promise<UpstreamResponse>;
  close(): Promise<void>;
}

function toFields(headers: Record<string, string | string[] | undefined>): Fields {
  const f = new Fields();
  for (const [name, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const one of v) f.append(name, one);
    else f.append(name, v);
  }
  return f;
}

/** Maps an undici or socket error to the registry's upstream codes. */
export function upstreamError(err: unknown, origin: string, opts: Pick<UpstreamOptions, 'headersTimeout' | 'bodyTimeout' | 'connectTimeout'>): PeerwebError {
  if (err instanceof PeerwebError) return err;
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.code ?? e.cause?.code;
  if (code === 'PW_FORBIDDEN_DESTINATION') return new PeerwebError('PW_ERR_ROUTE_FORBIDDEN_DEST', { host: origin, reason: 'resolves to an internal address' }, { cause: err });
  if (err instanceof undiciErrors.HeadersTimeoutError) return new PeerwebError('PW_ERR_UPSTREAM_TIMEOUT', { origin, ms: opts.headersTimeout }, { cause: err });
  if (err instanceof undiciErrors.BodyTimeoutError) return new PeerwebError('PW_ERR_UPSTREAM_TIMEOUT', { origin, ms: opts.bodyTimeout }, { cause: err });
  if (err instanceof undiciErrors.ConnectTimeoutError) return new PeerwebError('PW_ERR_UPSTREAM_TIMEOUT', { origin, ms: opts.connectTimeout }, { cause: err });
  if (err instanceof undiciErrors.HTTPParserError || err instanceof undiciErrors.ResponseContentLengthMismatchError || code === 'HPE_INVALID_CONSTANT' || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' || err instanceof undiciErrors.HeadersOverflowError) {
    return new PeerwebError('PW_ERR_UPSTREAM_BAD_RESPONSE', { origin, reason: e.message ?? String(err) }, { cause: err });
  }
  return new PeerwebError('PW_ERR_UPSTREAM_CONNECT', { origin, reason: e.cause?.message ?? e.message ?? String(err) }, { cause: err });
}

/**
 * The upstream client: one keep-alive pool per origin (undici Agent), strict response parsing,
 * and, for a forward proxy, a DNS lookup that refuses internal addresses.
 */
export function createUpstream(opts: UpstreamOptions): Upstream {
  const agentFor = (guard: boolean) => new Agent({
    connections: opts.connections,
    pipelining: opts.pipelining,
    headersTimeout: opts.headersTimeout,
    bodyTimeout: opts.bodyTimeout,
    maxHeaderSize: opts.maxResponseHeaderSize,
    keepAliveTimeout: 30_000,
    connect: { timeout: opts.connectTimeout, ...(guard ? { lookup: guardedLookup } : {}) },
  });
  const agent = agentFor(opts.guardAddresses);
  // Peers (parents, siblings, array members) are configured by the operator: no address guard.
  const peerAgent = opts.guardAddresses ? agentFor(false) : agent;

  return {
    async request(req: UpstreamRequest): Promise<UpstreamResponse> {
      const headers: string[] = [];
      for (const [n, v] of req.headers.entries()) headers.push(n, v);
      let res: Dispatcher.ResponseData;
      const viaOrigin = req.via ? `http://${req.via.host.includes(':') ? `[${req.via.host}]` : req.via.host}:${req.via.port}` : null;
      try {
        res = await (viaOrigin ? peerAgent : agent).request({
          origin: viaOrigin ?? req.url.origin,
          path: viaOrigin ? req.url.href : req.url.pathname + req.url.search,
          method: req.method as Dispatcher.HttpMethod,
          headers,
          body: (req.body ?? null) as Dispatcher.DispatchOptions['body'],
          signal: req.signal ?? null,
          blocking: false,
          ...(req.onInfo ? { onInfo: (info: { statusCode: number; headers: Record<string, string | string[] | undefined> }) => req.onInfo?.(info.statusCode, toFields(info.headers)) } : {}),
          // A proxy forwards 1xx-free final responses only; redirects are the client's business.
        } as Dispatcher.RequestOptions);
      } catch (err) {
        throw upstreamError(err, viaOrigin ?? req.url.origin, opts);
      }
      const fields = toFields(res.headers as Record<string, string | string[] | undefined>);
      // Framing the client would see must be unambiguous (undici refuses most of this itself).
      const cls = fields.getAll('content-length');
      if (cls.length > 1 || (cls[0] !== undefined && !/^\d+$/.test(cls[0])) || (cls.length > 0 && fields.has('transfer-encoding'))) {
        res.body.destroy();
        throw new PeerwebError('PW_ERR_UPSTREAM_BAD_RESPONSE', { origin: req.url.origin, reason: `ambiguous framing (Content-Length ${JSON.stringify(cls)}, Transfer-Encoding ${JSON.stringify(fields.get('transfer-encoding') ?? null)})` });
      }
      return { status: res.statusCode, headers: fields, body: res.body, contentLength: cls[0] !== undefined ? Number(cls[0]) : null };
    },
    close: async () => {
      await agent.close();
      if (peerAgent !== agent) await peerAgent.close();
    },
  };
}
