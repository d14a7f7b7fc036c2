/**
 * Raw-socket clients for the two scenarios wrk cannot do: the flash crowd (N simultaneous GETs of one cold
 * object, each on its own connection) and holding many idle keep-alive connections open.
 */
import net from 'node:net';
import { LOOPBACK } from './util.js';

const MAX_HEADER_BYTES = 64 * 1024;

interface OneResponse { status: number; bodyBytes: number }

/**
 * Reads one HTTP/1.1 response (Content-Length or chunked) from a socket that has just sent one request.
 * Resolves when the whole body has arrived; rejects on close, oversize headers, or timeout.
 */
function readResponse(sock: net.Socket, timeoutMs: number): Promise<OneResponse> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    let headerEnd = -1;
    let status = 0;
    let length = -1;
    let chunked = false;
    const timer = setTimeout(() => finish(new Error(`No complete response within ${timeoutMs} ms`)), timeoutMs);
    const finish = (err?: Error, res?: OneResponse): void => {
      clearTimeout(timer);
      sock.off('data', onData);
      sock.off('close', onClose);
      sock.off('error', onError);
      if (err) reject(err); else resolve(res as OneResponse);
    };
    const onClose = (): void => finish(new Error('Connection closed before the response was complete'));
    const onError = (e: Error): void => finish(e);
    const onData = (chunk: Buffer): void => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      if (headerEnd < 0) {
        headerEnd = buf.indexOf('\r\n\r\n');
        if (headerEnd < 0) {
          if (buf.length > MAX_HEADER_BYTES) finish(new Error('Response header over 64 KiB'));
          return;
        }
        const head = buf.subarray(0, headerEnd).toString('latin1');
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
        status = m ? Number(m[1]) : 0;
        const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        chunked = /\r\ntransfer-encoding:[^\r]*chunked/i.test(head);
        length = cl ? Number(cl[1]) : -1;
        if (!chunked && length < 0) { finish(new Error(`Response without length (status ${status})`)); return; }
      }
      const bodyLen = buf.length - headerEnd - 4;
      if (chunked) {
        if (buf.subarray(buf.length - 5).toString('latin1') === '0\r\n\r\n') finish(undefined, { status, bodyBytes: bodyLen });
      } else if (bodyLen >= length) {
        finish(undefined, { status, bodyBytes: length });
      }
    };
    sock.on('data', onData);
    sock.once('close', onClose);
    sock.once('error', onError);
  });
}

async function connectAll(port: number, n: number, timeoutMs: number, batch = 250): Promise<net.Socket[]> {
  const socks: net.Socket[] = [];
  try {
    for (let i = 0; i < n; i += batch) {
      const part = await Promise.all(Array.from({ length: Math.min(batch, n - i) }, () => new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect({ host: LOOPBACK, port });
        s.setNoDelay(true);
        const timer = setTimeout(() => { s.destroy(); reject(new Error(`Connect timeout after ${timeoutMs} ms`)); }, timeoutMs);
        s.once('connect', () => { clearTimeout(timer); resolve(s); });
        s.once('error', (e) => { clearTimeout(timer); reject(e); });
      })));
      socks.push(...part);
    }
  } catch (err) {
    for (const s of socks) s.destroy();
    throw err;
  }
  return socks;
}

export interface CrowdResult {
  clients: number;
  ok: number;
  failed: number;
  firstError: string | undefined;
  /** Client-side latency per successful request, in ms, from sending the request to the last body byte. */
  latenciesMs: number[];
}

/** Opens `clients` connections first, then sends one GET of `path` on each in the same tick. */
export async function flashCrowd(port: number, path: string, clients: number, timeoutMs = 30_000): Promise<CrowdResult> {
  const socks = await connectAll(port, clients, 10_000);
  const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${LOOPBACK}:${port}\r\nUser-Agent: peerweb-bench\r\n\r\n`, 'latin1');
  const latencies: number[] = [];
  let failed = 0;
  let firstError: string | undefined;
  try {
    const waits = socks.map((s) => {
      const t0 = performance.now();
      const p = readResponse(s, timeoutMs).then((r) => {
        if (r.status !== 200) throw new Error(`Status ${r.status}`);
        latencies.push(performance.now() - t0);
      }, (e: Error) => { throw e; });
      s.write(request);
      return p.catch((e: Error) => { failed += 1; firstError ??= e.message; });
    });
    await Promise.all(waits);
  } finally {
    for (const s of socks) s.destroy();
  }
  return { clients, ok: latencies.length, failed, firstError, latenciesMs: latencies };
}

export interface IdleHold {
  /** Connections that got a full response and are still open. */
  open: () => number;
  failed: number;
  firstError: string | undefined;
  close: () => void;
}

/**
 * Opens n keep-alive connections, each carrying one GET of `path` (a cached hit) to completion, and keeps
 * them open and idle until close().
 */
export async function holdIdle(port: number, path: string, n: number, batch = 500): Promise<IdleHold> {
  const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${LOOPBACK}:${port}\r\nUser-Agent: peerweb-bench\r\n\r\n`, 'latin1');
  const live = new Set<net.Socket>();
  let failed = 0;
  let firstError: string | undefined;
  for (let i = 0; i < n; i += batch) {
    const count = Math.min(batch, n - i);
    await Promise.all(Array.from({ length: count }, async () => {
      let s: net.Socket | undefined;
      try {
        [s] = await connectAll(port, 1, 10_000, 1);
        const sock = s as net.Socket;
        const p = readResponse(sock, 10_000);
        sock.write(request);
        const r = await p;
        if (r.status !== 200) throw new Error(`Status ${r.status}`);
        live.add(sock);
        sock.once('close', () => live.delete(sock));
        sock.on('error', () => { /* counted through close */ });
      } catch (e) {
        s?.destroy();
        failed += 1;
        firstError ??= (e as Error).message;
      }
    }));
  }
  return {
    open: () => live.size,
    failed,
    firstError,
    close: () => { for (const s of live) s.destroy(); live.clear(); },
  };
}
