import { createServer, type Server, type Socket } from 'node:net';
import { PeerwebError } from '../errors/index.js';
import { Connection, type ConnectionHost } from './connection.js';
import { READ_BUFFER_SIZE, WriteScratch } from './buffers.js';
import type { AcceptLimits, AcceptOptions, AcceptServer, RequestHandler } from './types.js';

/** Sweep period: a quarter of the smallest timeout, between 10 ms and 1 s. */
function sweepPeriod(l: AcceptLimits): number {
  const min = Math.min(l.headerTimeout, l.bodyTimeout, l.idleTimeout);
  return Math.max(10, Math.min(1000, Math.floor(min / 4)));
}

class AcceptServerImpl implements AcceptServer, ConnectionHost {
  readonly limits: AcceptLimits;
  readonly onRequest: RequestHandler;
  private readonly onErrorCb: AcceptOptions['onError'];
  private readonly server: Server;
  private readonly conns = new Set<Connection>();
  /** Every connection reads into this one buffer; the parser copies what it keeps. */
  readonly readBuffer = Buffer.allocUnsafeSlow(READ_BUFFER_SIZE);
  readonly scratch = new WriteScratch();
  private timer: NodeJS.Timeout | null = null;
  private closing = false;
  private emptied: (() => void) | null = null;

  constructor(opts: AcceptOptions) {
    this.limits = opts.limits;
    this.onRequest = opts.onRequest;
    this.onErrorCb = opts.onError;
    this.server = createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, (s) => this.onConnection(s));
  }

  get connections(): number {
    return this.conns.size;
  }

  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen({ host, port }, () => {
        this.server.removeListener('error', onError);
        this.server.on('error', (err) => this.report(err, ''));
        const a = this.server.address();
        if (a === null || typeof a === 'string') return reject(new Error(`Listener on ${host}:${port} has no address`));
        if (this.timer === null) {
          this.timer = setInterval(() => this.sweep(), sweepPeriod(this.limits));
          this.timer.unref();
        }
        resolve({ host: a.address, port: a.port });
      });
    });
  }

  async close(graceMs = 5000): Promise<void> {
    this.closing = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.conns) c.shutdown();
    if (this.conns.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => {
          this.emptied = resolve;
        }),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, graceMs);
        }),
      ]);
      clearTimeout(timer);
      for (const c of this.conns) c.socket.destroy();
    }
    await closed;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  report(err: Error, remoteAddress: string): void {
    const cb = this.onErrorCb;
    if (cb === undefined) return;
    try {
      cb(err, { remoteAddress });
    } catch {
      // A failing metrics callback must not break the connection.
    }
  }

  removed(conn: Connection): void {
    this.conns.delete(conn);
    if (this.conns.size === 0 && this.emptied !== null) {
      const f = this.emptied;
      this.emptied = null;
      f();
    }
  }

  private onConnection(socket: Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    if (this.conns.size >= this.limits.maxConnections) {
      this.report(new PeerwebError('PW_ERR_ACCEPT_CONNECTIONS_FULL', { remoteAddress: socket.remoteAddress ?? '', limit: this.limits.maxConnections }), socket.remoteAddress ?? '');
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    this.conns.add(new Connection(socket, this));
  }

  private sweep(): void {
    const now = Date.now();
    for (const c of this.conns) c.sweep(now);
  }
}

/** A strict HTTP/1.1 server on node:net: persistent connections, pipelining in order, one timer for all timeouts. */
export function createAcceptServer(opts: AcceptOptions): AcceptServer {
  return new AcceptServerImpl(opts);
}
