import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Answers a single `Range: bytes=a-b` (or a suffix) of `bytes` as an archive holder does; the whole body without one. */
export function sendRange(req: IncomingMessage, res: ServerResponse, bytes: Buffer): number {
  const m = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
  if (!m) {
    res.writeHead(200, { 'content-length': bytes.length, 'accept-ranges': 'bytes' });
    res.end(bytes);
    return bytes.length;
  }
  const start = m[1] === '' ? Math.max(0, bytes.length - Number(m[2])) : Number(m[1]);
  const last = m[1] === '' || m[2] === '' ? bytes.length - 1 : Math.min(Number(m[2]), bytes.length - 1);
  res.writeHead(206, { 'content-range': `bytes ${start}-${last}/${bytes.length}`, 'content-length': last - start + 1 });
  res.end(bytes.subarray(start, last + 1));
  return last - start + 1;
}

/** A loopback holder of one archive at `/site.pwar`, counting requests and body bytes. */
export async function rangeHolder(bytes: Buffer): Promise<{ url: string; server: Server; stats: { requests: number; bytes: number }; close: () => Promise<void> }> {
  const stats = { requests: 0, bytes: 0 };
  const server = createServer((req, res) => {
    stats.requests++;
    stats.bytes += sendRange(req, res, bytes);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/site.pwar`, server, stats,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
