import type { Socket } from 'node:net';
import { PeerwebError } from '../errors/index.js';
import { Request, Response } from './exchange.js';
import { RequestParser, type ParsedHead, type ParserSink } from './parser.js';
import { readIntoShared, type WriteScratch } from './buffers.js';
import { limitUnsent } from './sockopt.js';
import type { AcceptLimits, RequestHandler } from './types.js';

/** Reasons for not reading the socket (bit mask). */
const PAUSE_BODY = 1;
const PAUSE_PIPELINE = 2;
const PAUSE_WRITE = 4;
/** After a CONNECT head: nothing is read until the tunnel takes the socket (bounds early tunnel bytes). */
const PAUSE_TUNNEL = 8;
/** Response bytes queued in the socket beyond which no further request is parsed until 'drain'. */
const WRITE_HIGH_WATER = 1024 * 1024;
/** A response may end before its request body has arrived: up to this many unread bytes are read and dropped to keep the connection. */
const DRAIN_LIMIT = 256 * 1024;
/** After we half-close, how long the client's remaining bytes are read and dropped before the socket is destroyed. */
const LINGER_MS = 2000;
/** Pre-serialised responses with bodies up to this size are copied into one buffer and written at once. */
const COPY_LIMIT = 16 * 1024;

/** What a connection needs from its server. */
export interface ConnectionHost {
  readonly limits: AcceptLimits;
  readonly onRequest: RequestHandler;
  /** Shared by the host's connections: what every read lands in (sockets are accepted paused). */
  readonly readBuffer: Buffer;
  /** Shared by the host's connections: where small responses are assembled. */
  readonly scratch: WriteScratch;
  report(err: Error, remoteAddress: string): void;
  removed(conn: Connection): void;
}

/**
 * One client connection: feeds the parser, runs the handler for each request, keeps responses in
 * request order, enforces timeouts when the server's sweep calls `sweep`.
 */
export class Connection implements ParserSink {
  readonly socket: Socket;
  readonly limits: AcceptLimits;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** No request after the current ones: the last response closes the connection. */
  closing = false;
  destroyed = false;
  /** We half-closed (FIN sent); input is read and dropped until the client closes or LINGER_MS. */
  ended = false;
  /** Handed over to a CONNECT tunnel: no longer ours. */
  detached = false;

  private readonly host: ConnectionHost;
  private readonly parser: RequestParser;
  private readonly queue: Response[] = [];
  private bodyReq: Request | null = null;
  private paused = 0;
  private now: number;
  private headStart = 0;
  private idleSince: number;
  private lastBodyData = 0;
  private lingerSince = 0;
  private writeStallSince = 0;
  /** Heads parsed during the current 'data' event (-1 outside one). */
  private headsInData = -1;
  private drainWaiters: (() => void)[] | null = null;
  /** Reads land in the server's shared buffer: bytes kept past a read are copied. */
  private readonly borrowing: boolean;
  private readonly onDataBound: (chunk: Buffer) => void;
  private readonly onEndBound: () => void;

  constructor(accepted: Socket, host: ConnectionHost) {
    const shared = readIntoShared(accepted, host.readBuffer, (n, buf) => this.onRead(n, buf));
    const socket = shared ?? accepted;
    this.borrowing = shared !== undefined;
    this.socket = socket;
    this.host = host;
    this.limits = host.limits;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.remotePort = socket.remotePort ?? 0;
    this.localAddress = socket.localAddress ?? '';
    this.localPort = socket.localPort ?? 0;
    this.now = Date.now();
    this.idleSince = this.now;
    this.parser = new RequestParser(host.limits, this);
    this.onDataBound = (chunk) => this.onData(chunk);
    this.onEndBound = () => this.onEnd();
    socket.setNoDelay(true);
    limitUnsent(socket, host.limits.unsentBytes ?? 0);
    if (!this.borrowing) {
      socket.on('data', this.onDataBound);
      socket.resume();
    }
    socket.on('end', this.onEndBound);
    socket.on('error', (err) => this.host.report(err, this.remoteAddress));
    socket.on('close', () => this.onClose());
    socket.on('drain', () => this.onDrain());
  }

  // ---- socket events -------------------------------------------------------------------------

  /** One read into the shared buffer (see `readIntoShared`). */
  private onRead(n: number, buf: Buffer): boolean {
    // A tunnel owns the socket now: its bytes go the ordinary stream way, copied.
    if (this.detached) return this.socket.push(Buffer.from(buf.subarray(0, n)));
    this.parse(buf.subarray(0, n), true);
    return true;
  }

  private onData(chunk: Buffer): void {
    this.parse(chunk, false);
  }

  private parse(chunk: Buffer, borrowed: boolean): void {
    if (this.ended || this.destroyed) return; // lingering: dropped
    const now = Date.now();
    this.now = now;
    if (this.bodyReq !== null) this.lastBodyData = now;
    this.headsInData = 0;
    try {
      this.parser.push(chunk, borrowed);
    } catch (err) {
      // A bug must cost one connection, not the process.
      this.destroy(err instanceof Error ? err : new Error(String(err)));
    }
    if (this.headsInData > 1) this.socket.uncork();
    this.headsInData = -1;
    if (this.headStart === 0 && this.parser.inHead) this.headStart = now;
  }

  private onEnd(): void {
    // The client half-closed: answer what was asked, then close.
    this.closing = true;
    const r = this.bodyReq;
    if (r !== null) {
      this.bodyReq = null;
      r.failBody(new PeerwebError('PW_ERR_HTTP_PARSE', { reason: 'connection closed before the body was complete' }));
    }
    this.parser.stop();
    this.headStart = 0;
    if (this.queue.length === 0) {
      this.endSocket();
      return;
    }
    // A client that half-closes while waiting is treated as gone (as nginx does): work for it is
    // cancelled through the requests' signals; whatever the handlers still write is sent.
    for (const res of this.queue) if (!res.finished) res.req?.abortSignal();
  }

  private onClose(): void {
    this.destroyed = true;
    this.parser.stop();
    this.paused = 0;
    for (const res of this.queue) {
      if (!res.finished) res.req?.abortSignal();
      res.release();
    }
    this.queue.length = 0;
    this.bodyReq = null;
    const w = this.drainWaiters;
    this.drainWaiters = null;
    if (w !== null) for (const f of w) f();
    this.host.removed(this);
  }

  private onDrain(): void {
    if (this.detached) return;
    this.writeStallSince = 0;
    if ((this.paused & PAUSE_WRITE) !== 0) this.resume(PAUSE_WRITE);
    const w = this.drainWaiters;
    if (w === null) return;
    this.drainWaiters = null;
    for (const f of w) f();
  }

  // ---- parser events ---------------------------------------------------------------------------

  onHead(head: ParsedHead): void {
    if (this.closing) {
      this.parser.stop();
      return;
    }
    // Several requests in one packet: their responses leave in one write (corked until the packet is parsed).
    if (this.headsInData >= 0 && ++this.headsInData === 2) this.socket.cork();
    const receivedAt = this.headStart !== 0 ? this.headStart : this.now;
    this.headStart = 0;
    const req = new Request(this, head, receivedAt);
    const res = new Response(this, req);
    req.res = res;
    const q = this.queue;
    q.push(res);
    if (q.length === 1) res.active = true;
    if (head.hasBody) {
      this.bodyReq = req;
      this.lastBodyData = this.now;
    }
    try {
      this.host.onRequest(req, res);
    } catch (err) {
      this.handlerFailed(res, err);
    }
  }

  onBody(chunk: Buffer): void {
    // Body bytes outlive the read (handlers queue them): out of the shared buffer they are copied.
    this.bodyReq?.deliver(this.borrowing ? Buffer.from(chunk) : chunk);
  }

  onMessageEnd(): void {
    const r = this.bodyReq;
    if (r !== null) {
      this.bodyReq = null;
      r.endBody();
    }
    if (this.parser.inTunnel) this.pause(PAUSE_TUNNEL);
    else if (this.closing) this.parser.stop();
    else if (this.queue.length >= this.limits.pipelineDepth) this.pause(PAUSE_PIPELINE);
    else if (this.socket.writableLength > WRITE_HIGH_WATER) {
      // The client does not read its responses: stop taking requests until it does.
      this.pause(PAUSE_WRITE);
    }
  }

  onError(err: PeerwebError): void {
    this.host.report(err, this.remoteAddress);
    this.headStart = 0;
    this.closing = true;
    const r = this.bodyReq;
    if (r !== null) {
      // Mid-body: the handler owns the response; its body iterator fails with this error.
      this.bodyReq = null;
      r.failBody(err);
      if (this.queue.length === 0) this.endSocket();
      return;
    }
    const res = new Response(this, null);
    this.queue.push(res);
    if (this.queue.length === 1) res.active = true;
    res.sendError(err);
  }

  private handlerFailed(res: Response, err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    this.host.report(e, this.remoteAddress);
    if (res.finished) return;
    if (!res.headersSent) res.sendError(e);
    else res.abort(e);
  }

  // ---- used by Request / Response ------------------------------------------------------------

  /** Whether a response written now for `req` may keep the connection open. */
  canKeepAlive(req: Request | null): boolean {
    if (this.closing || req === null || !req.keepAliveRequested) return false;
    if (req.bodyComplete) return true;
    if (req.expectContinue && !req.continueSent) return false;
    if (req.contentLength === null) return false;
    return req.contentLength - req.received <= DRAIN_LIMIT;
  }

  headWritten(res: Response): void {
    if (res.willClose) {
      // Nothing after this response will be answered: stop reading requests.
      this.closing = true;
      if (this.bodyReq === null) this.parser.stop();
    }
  }

  write(buf: Buffer): boolean {
    if (this.destroyed) return false;
    return this.socket.write(buf);
  }

  /** Holds writes until `uncork`; false when the socket is gone (then do not uncork). */
  cork(): boolean {
    if (this.destroyed) return false;
    this.socket.cork();
    return true;
  }

  uncork(): void {
    if (this.socket.writableCorked > 0) this.socket.uncork();
  }

  writeAll(bufs: Buffer[]): void {
    if (this.destroyed) return;
    const s = this.socket;
    s.cork();
    for (const b of bufs) s.write(b);
    s.uncork();
  }

  /** Writes a chunk with its size line and CRLF in one go. */
  writeChunk(size: Buffer, data: Buffer, crlf: Buffer): boolean {
    if (this.destroyed) return false;
    const s = this.socket;
    s.cork();
    s.write(size);
    s.write(data);
    const ok = s.write(crlf);
    s.uncork();
    return ok;
  }

  writeTriple(head: Buffer, tail: string, body: Buffer | null): void {
    if (this.destroyed) return;
    const s = this.socket;
    const bodyLen = body === null ? 0 : body.length;
    if (bodyLen <= COPY_LIMIT) {
      // One buffer, one write: cheaper than a writev of three for small responses.
      const hl = head.length;
      const n = hl + tail.length + bodyLen;
      const scratch = this.host.scratch;
      const out = scratch.take(n);
      head.copy(out, 0);
      const tl = out.write(tail, hl, 'latin1');
      if (body !== null) body.copy(out, hl + tl);
      s.write(out.length === n ? out : out.subarray(0, n));
      scratch.written(s, out);
      return;
    }
    s.cork();
    s.write(head);
    s.write(tail, 'latin1');
    s.write(body as Buffer);
    s.uncork();
  }

  waitDrain(): Promise<void> {
    if (this.destroyed || !this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      (this.drainWaiters ??= []).push(resolve);
    });
  }

  responseFinished(res: Response): void {
    if (!res.active) return; // handled when it reaches the head of the line
    const q = this.queue;
    while (q.length > 0) {
      const head = q[0] as Response;
      if (!head.finished) break;
      q.shift();
      const req = head.req;
      if (req !== null && !req.bodyComplete) {
        req.discardRest();
        if (this.bodyReq === req && !head.willClose) this.lastBodyData = Date.now();
      }
      if (head.willClose || this.destroyed || this.detached) {
        if (!this.destroyed && !this.detached) this.endSocket();
        return;
      }
      const next = q[0];
      if (next !== undefined) next.activate();
    }
    if (q.length === 0) {
      this.idleSince = Date.now();
      if (this.closing && this.bodyReq === null) {
        this.endSocket();
        return;
      }
    }
    if ((this.paused & PAUSE_PIPELINE) !== 0 && q.length < this.limits.pipelineDepth) this.resume(PAUSE_PIPELINE);
  }

  bodyBackpressure(): void {
    this.pause(PAUSE_BODY);
  }

  bodyConsumed(): void {
    if ((this.paused & PAUSE_BODY) !== 0) {
      this.lastBodyData = Date.now();
      this.resume(PAUSE_BODY);
    }
  }

  /** Hands the socket to a CONNECT tunnel; bytes already received after the head are pushed back. */
  detach(): Socket {
    this.detached = true;
    const s = this.socket;
    s.removeListener('data', this.onDataBound);
    s.removeListener('end', this.onEndBound);
    while (s.writableCorked > 0) s.uncork();
    s.pause();
    const rest = this.parser.takeRemaining();
    this.parser.stop();
    this.queue.length = 0;
    this.bodyReq = null;
    if (rest.length > 0) s.unshift(this.borrowing ? Buffer.from(rest) : rest);
    return s;
  }

  destroy(reason?: Error): void {
    if (this.destroyed) return;
    if (reason !== undefined) this.host.report(reason, this.remoteAddress);
    const s = this.socket;
    while (s.writableCorked > 0) s.uncork();
    s.destroy();
    // 'close' follows and cleans up; mark now so that nothing more is written.
    this.destroyed = true;
  }

  /** Server shutdown: close idle connections now, the others after their current responses. */
  shutdown(): void {
    this.closing = true;
    if (this.detached) return;
    if (this.queue.length === 0 && this.bodyReq === null) this.endSocket();
  }

  // ---- timeouts (called by the server's periodic sweep) ----------------------------------------

  sweep(now: number): void {
    if (this.destroyed || this.detached) return;
    if (this.ended) {
      if (now - this.lingerSince > LINGER_MS) this.socket.destroy();
      return;
    }
    const limits = this.limits;
    // A client that stops reading its responses (slow read) gets idleTimeout to resume.
    if (this.socket.writableNeedDrain || (this.paused & PAUSE_WRITE) !== 0) {
      if (this.writeStallSince === 0) this.writeStallSince = now;
      else if (now - this.writeStallSince > limits.idleTimeout) {
        this.destroy(new PeerwebError('PW_ERR_HTTP_TIMEOUT', { ms: limits.idleTimeout }));
        return;
      }
    } else this.writeStallSince = 0;
    // Waiting on the handler (body backpressure, pipeline depth) or on the client to read.
    if (this.paused !== 0) return;
    if (this.headStart !== 0 && now - this.headStart > limits.headerTimeout) {
      this.headStart = 0;
      this.parser.stop();
      this.onError(new PeerwebError('PW_ERR_HTTP_TIMEOUT', { ms: limits.headerTimeout }));
      return;
    }
    const r = this.bodyReq;
    if (r !== null) {
      if (!(r.expectContinue && !r.continueSent) && now - this.lastBodyData > limits.bodyTimeout) {
        this.parser.stop();
        this.onError(new PeerwebError('PW_ERR_HTTP_TIMEOUT', { ms: limits.bodyTimeout }));
      }
      return;
    }
    if (this.queue.length === 0 && !this.parser.inHead && now - this.idleSince > limits.idleTimeout) this.endSocket();
  }

  // ---- internals --------------------------------------------------------------------------------

  private pause(bit: number): void {
    if (this.paused === 0) this.socket.pause();
    this.paused |= bit;
    if (bit !== PAUSE_BODY) this.parser.pause();
  }

  private resume(bit: number): void {
    if ((this.paused & bit) === 0) return;
    this.paused &= ~bit;
    if (bit !== PAUSE_BODY && (this.paused & (PAUSE_PIPELINE | PAUSE_WRITE)) === 0) {
      this.now = Date.now();
      this.headStart = 0;
      this.socket.cork();
      const outer = this.headsInData;
      this.headsInData = -1;
      this.parser.resume();
      this.headsInData = outer;
      this.socket.uncork();
      // Time spent waiting on us is not held against the client's next head.
      if (this.headStart === 0 && this.parser.inHead) this.headStart = this.now;
    }
    if (this.paused === 0 && !this.destroyed && !this.detached) this.socket.resume();
  }

  /** Half-closes after everything written so far; the client's further bytes are dropped. */
  private endSocket(): void {
    if (this.ended || this.destroyed || this.detached) return;
    this.ended = true;
    this.closing = true;
    this.lingerSince = Date.now();
    this.parser.stop();
    this.paused = 0;
    this.socket.end();
    this.socket.resume();
  }
}
