import type { IncomingMessage, ServerResponse } from 'node:http';
import { PeerwebError } from '../errors/index.js';

/** Reads a request body up to `limit` bytes; throws PW_ERR_HTTP_BODY_TOO_LARGE beyond. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limit) throw new PeerwebError('PW_ERR_HTTP_BODY_TOO_LARGE', { limit });
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > limit) throw new PeerwebError('PW_ERR_HTTP_BODY_TOO_LARGE', { limit });
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

export async function readJson(req: IncomingMessage, limit = 64 * 1024): Promise<unknown> {
  const body = await readBody(req, limit);
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new PeerwebError('PW_ERR_MIRROR_BAD_REQUEST', { reason: 'body is not JSON' });
  }
}

/** Sends a PeerwebError (or a generic 500) as a small JSON body. */
export function sendError(res: ServerResponse, err: unknown, extra: Record<string, string> = {}): void {
  const pe = err instanceof PeerwebError ? err : undefined;
  const status = pe && pe.status >= 400 ? pe.status : 500;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error: pe?.code ?? 'PW_ERR_STORE_IO', message: pe?.message ?? 'Internal error' });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...extra });
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...headers });
  res.end(body);
}

export function clientAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}
