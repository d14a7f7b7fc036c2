import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { PeerwebError } from '../errors/index.js';
import { Fields } from '../http/fields.js';
import { TOKEN } from './chars.js';
import type { Connection } from './connection.js';
import type { ParsedHead } from './parser.js';
import type { IncomingRequest, OutgoingResponse, PreparedHead } from './types.js';

/** Body bytes queued for a handler before the socket is paused. */
export const BODY_HIGH_WATER = 64 * 1024;
/** Response bytes held for a pipelined response that is not yet at the head of the line before `write` says wait. */
const PENDING_HIGH_WATER = 64 * 1024;
/** Beyond this, a handler that ignores backpressure on a held response gets its connection aborted. */
const PENDING_MAX = 8 * 1024 * 1024;

const CRLF = Buffer.from('\r\n', 'latin1');
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');
const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');
const DONE: IteratorResult<Buffer> = Object.freeze({ value: undefined, done: true }) as IteratorResult<Buffer>;

function responseError(reason: string): PeerwebError {
  return new PeerwebError('PW_ERR_ACCEPT_RESPONSE', { reason });
}

/** One request as the handler sees it; its body arrives from the connection's parser. */
export class Request implements IncomingRequest {
  readonly method: string;
  readonly target: string;
  readonly versionMinor: 0 | 1;
  readonly headers: Fields;
  readonly contentLength: number | null;
  readonly hasBody: boolean;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly receivedAt: number;
  readonly keepAliveRequested: boolean;
  readonly expectContinue: boolean;
  continueSent = false;
  res!: Response;

  /** Body bytes received so far (whether queued, consumed or discarded). */
  received = 0;
  bodyComplete: boolean;
  private readonly conn: Connection;
  private chunks: Buffer[] = [];
  queued = 0;
  private bodyError: Error | null = null;
  private discard = false;
  private bodyRequested = false;
  private waiter: { resolve: (r: IteratorResult<Buffer>) => void; reject: (e: Error) => void } | null = null;
  private ac: AbortController | null = null;
  private gone = false;

  constructor(conn: Connection, head: ParsedHead, receivedAt: number) {
    this.conn = conn;
    this.method = head.method;
    this.target = head.target;
    this.versionMinor = head.versionMinor;
    this.headers = head.headers;
    this.contentLength = head.contentLength;
    this.hasBody = head.hasBody;
    this.keepAliveRequested = head.keepAlive;
    this.expectContinue = head.expectContinue;
    this.bodyComplete = !head.hasBody;
    this.remoteAddress = conn.remoteAddress;
    this.remotePort = conn.remotePort;
    this.localAddress = conn.localAddress;
    this.localPort = conn.localPort;
    this.receivedAt = receivedAt;
  }

  get signal(): AbortSignal {
    if (this.ac === null) {
      this.ac = new AbortController();
      if (this.aborted) this.ac.abort(new Error('Client connection closed'));
    }
    return this.ac.signal;
  }

  get aborted(): boolean {
    return this.gone || (this.conn.destroyed && !this.res.finished);
  }

  /** The client went away before the response was complete. */
  abortSignal(): void {
    this.gone = true;
    if (this.ac !== null && !this.ac.signal.aborted) this.ac.abort(new Error('Client connection closed'));
    this.failBody(new PeerwebError('PW_ERR_HTTP_PARSE', { reason: 'connection closed before the body was complete' }));
  }

  body(): AsyncIterable<Buffer> {
    this.startBody();
    const iterator: AsyncIterator<Buffer> = {
      next: () => this.next(),
      return: () => {
        this.discardRest();
        return Promise.resolve(DONE);
      },
    };
    return { [Symbol.asyncIterator]: () => iterator };
  }

  async readBody(limit?: number): Promise<Buffer> {
    const max = Math.min(limit ?? Infinity, this.conn.limits.requestBody);
    if (this.contentLength !== null && this.contentLength > max) {
      this.discardRest();
      throw new PeerwebError('PW_ERR_HTTP_BODY_TOO_LARGE', { limit: max });
    }
    const parts: Buffer[] = [];
    let n = 0;
    for await (const c of this.body()) {
      n += c.length;
      if (n > max) {
        this.discardRest();
        throw new PeerwebError('PW_ERR_HTTP_BODY_TOO_LARGE', { limit: max });
      }
      parts.push(c);
    }
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, n);
  }

  private startBody(): void {
    if (this.bodyRequested) return;
    this.bodyRequested = true;
    if (this.expectContinue && !this.bodyComplete) this.res.sendContinue();
  }

  private next(): Promise<IteratorResult<Buffer>> {
    const c = this.chunks.shift();
    if (c !== undefined) {
      this.queued -= c.length;
      if (this.queued < BODY_HIGH_WATER / 2) this.conn.bodyConsumed();
      return Promise.resolve({ value: c, done: false });
    }
    if (this.bodyError !== null) return Promise.reject(this.bodyError);
    if (this.bodyComplete || this.discard) return Promise.resolve(DONE);
    this.conn.bodyConsumed();
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** From the parser: a piece of de-chunked body. */
  deliver(chunk: Buffer): void {
    this.received += chunk.length;
    if (this.discard) return;
    const w = this.waiter;
    if (w !== null) {
      this.waiter = null;
      w.resolve({ value: chunk, done: false });
      return;
    }
    this.chunks.push(chunk);
    this.queued += chunk.length;
    if (this.queued >= BODY_HIGH_WATER) this.conn.bodyBackpressure();
  }

  endBody(): void {
    this.bodyComplete = true;
    const w = this.waiter;
    if (w !== null) {
      this.waiter = null;
      w.resolve(DONE);
    }
  }

  failBody(err: Error): void {
    if (this.bodyComplete || this.bodyError !== null) return;
    this.bodyError = err;
    const w = this.waiter;
    if (w !== null) {
      this.waiter = null;
      w.reject(err);
    }
  }

  /** The handler no longer wants the body: drop what is queued and what still arrives. */
  discardRest(): void {
    this.discard = true;
    this.chunks = [];
    this.queued = 0;
    const w = this.waiter;
    if (w !== null) {
      this.waiter = null;
      w.resolve(DONE);
    }
    this.conn.bodyConsumed();
  }
}

/** Where a handler writes one response; held in order on its connection. */
export class Response implements OutgoingResponse {
  readonly isHead: boolean;
  headersSent = false;
  finished = false;
  /** Decided when the head is written: the connection closes after this response. */
  willClose = false;
  /** This response is at the head of the line: its bytes go straight to the socket. */
  active = false;
  readonly req: Request | null;
  private readonly conn: Connection;
  private pending: Buffer[] | null = null;
  private pendingBytes = 0;
  private declared = -1;
  private written = 0;
  private chunked = false;
  private noBody = false;
  private tunnel = false;
  private socketWaiter: { resolve: (s: Socket) => void; reject: (e: Error) => void } | null = null;
  private activationWaiters: (() => void)[] | null = null;

  constructor(conn: Connection, req: Request | null) {
    this.conn = conn;
    this.req = req;
    this.isHead = req !== null && req.method === 'HEAD';
  }

  get keepAlive(): boolean {
    return this.headersSent ? !this.willClose : this.conn.canKeepAlive(this.req);
  }

  writeHead(status: number, headers: Fields, reason?: string): void {
    this.writePreparedHead(prepareHead(status, headers, reason));
  }

  writePreparedHead(head: PreparedHead): void {
    if (this.headersSent) throw responseError('head already written');
    const req = this.req;
    this.tunnel = req !== null && req.method === 'CONNECT' && head.status < 300;
    this.noBody = this.isHead || head.status === 204 || head.status === 304 || this.tunnel;
    // A tunnel has no body framing: its Content-Length is dropped.
    let s = this.tunnel && head.contentLength >= 0 ? head.withoutLength : head.text;
    const declared = this.tunnel ? -1 : head.contentLength;
    this.declared = declared;
    let closeDelimited = false;
    if (!this.noBody && declared < 0) {
      if (req === null || req.versionMinor === 1) {
        this.chunked = true;
        s += 'Transfer-Encoding: chunked\r\n';
      } else closeDelimited = true;
    }
    this.willClose = !this.tunnel && (closeDelimited || !this.conn.canKeepAlive(req));
    if (this.willClose) s += 'Connection: close\r\n';
    else if (req !== null && req.versionMinor === 0 && !this.tunnel) s += 'Connection: keep-alive\r\n';
    s += '\r\n';
    this.headersSent = true;
    this.conn.headWritten(this);
    this.out(Buffer.from(s, 'latin1'));
  }

  write(chunk: Buffer): boolean {
    if (this.finished) throw responseError('write after end');
    if (!this.headersSent) this.writeHead(200, new Fields());
    const len = chunk.length;
    if (this.noBody || len === 0) return true;
    if (this.declared >= 0) {
      if (this.written + len > this.declared) {
        this.abort(responseError(`body longer than its Content-Length ${this.declared}`));
        return false;
      }
      this.written += len;
      return this.out(chunk);
    }
    this.written += len;
    if (this.chunked) {
      const size = Buffer.from(`${len.toString(16)}\r\n`, 'latin1');
      if (this.active) return this.conn.writeChunk(size, chunk, CRLF);
      this.hold(size);
      this.hold(chunk);
      return this.hold(CRLF);
    }
    return this.out(chunk);
  }

  waitDrain(): Promise<void> {
    if (this.conn.destroyed || this.finished) return Promise.resolve();
    if (!this.active) {
      if (this.pendingBytes < PENDING_HIGH_WATER) return Promise.resolve();
      return new Promise<void>((resolve) => {
        (this.activationWaiters ??= []).push(resolve);
      }).then(() => this.conn.waitDrain());
    }
    return this.conn.waitDrain();
  }

  end(chunk?: Buffer): void {
    if (this.finished) return;
    if (!this.headersSent) {
      const h = new Fields();
      h.set('Content-Length', String(chunk === undefined ? 0 : chunk.length));
      this.writeHead(200, h);
    }
    if (chunk !== undefined && chunk.length > 0) this.write(chunk);
    if (this.finished) return; // aborted by write
    if (!this.noBody && this.declared >= 0 && this.written < this.declared) {
      this.abort(responseError(`body shorter than its Content-Length ${this.declared}`));
      return;
    }
    if (this.chunked && !this.noBody) this.out(LAST_CHUNK);
    if (this.tunnel) this.willClose = true; // a tunnel that was not taken: nothing else may follow
    this.finished = true;
    this.conn.responseFinished(this);
  }

  batch(fn: () => void): void {
    if (!this.active) {
      fn();
      return;
    }
    const corked = this.conn.cork();
    try {
      fn();
    } finally {
      if (corked) this.conn.uncork();
    }
  }

  sendPreserialized(head: Buffer, extra: string, body: Buffer | null): void {
    if (this.headersSent) throw responseError('head already written');
    this.headersSent = true;
    const req = this.req;
    this.willClose = !this.conn.canKeepAlive(req);
    const tail = this.willClose
      ? `${extra}Connection: close\r\n\r\n`
      : req !== null && req.versionMinor === 0
        ? `${extra}Connection: keep-alive\r\n\r\n`
        : `${extra}\r\n`;
    const b = this.isHead ? null : body;
    this.finished = true;
    this.conn.headWritten(this);
    if (this.active) this.conn.writeTriple(head, tail, b);
    else {
      this.hold(head);
      this.hold(Buffer.from(tail, 'latin1'));
      if (b !== null) this.hold(b);
    }
    this.conn.responseFinished(this);
  }

  /** Server-made error response (parse errors, timeouts, handler crashes): always closes the connection. */
  sendError(err: PeerwebError | Error): void {
    const status = err instanceof PeerwebError && err.status >= 400 ? err.status : 500;
    const body = Buffer.from(`${err instanceof PeerwebError ? err.message : 'Internal server error'}\n`, 'utf8');
    const head = Buffer.from(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\n`,
      'latin1',
    );
    this.conn.closing = true;
    this.sendPreserialized(head, '', body);
  }

  abort(reason?: Error): void {
    this.finished = true;
    this.conn.destroy(reason);
  }

  takeSocket(): Promise<Socket> {
    if (!this.tunnel || !this.headersSent) return Promise.reject(responseError('takeSocket needs a CONNECT request and a 2xx head'));
    if (this.conn.destroyed) return Promise.reject(responseError('client connection closed'));
    return new Promise((resolve, reject) => {
      this.socketWaiter = { resolve, reject };
      if (this.active) this.handOver();
    });
  }

  writeInformational(status: number, headers: Fields): void {
    const req = this.req;
    if (req === null || this.headersSent || req.versionMinor !== 1 || !Number.isInteger(status) || status <= 101 || status > 199) return;
    let s = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Informational'}\r\n`;
    for (const [name, value] of headers.entries()) {
      if (!validName(name)) throw responseError(`field name ${JSON.stringify(name)} is not a token`);
      if (!validText(value)) throw responseError(`field ${name} has control characters in its value`);
      s += `${name}: ${value}\r\n`;
    }
    this.out(Buffer.from(`${s}\r\n`, 'latin1'));
  }

  sendContinue(): void {
    const req = this.req;
    if (req === null || this.headersSent || req.continueSent || req.versionMinor !== 1) return;
    req.continueSent = true;
    this.out(CONTINUE);
  }

  /** Becomes the head of the line: held bytes go out now. */
  activate(): void {
    this.active = true;
    const p = this.pending;
    if (p !== null) {
      this.pending = null;
      this.pendingBytes = 0;
      this.conn.writeAll(p);
    }
    const w = this.activationWaiters;
    if (w !== null) {
      this.activationWaiters = null;
      for (const f of w) f();
    }
    if (this.socketWaiter !== null) this.handOver();
  }

  /** The connection is gone: release whoever waits on this response. */
  release(): void {
    const w = this.activationWaiters;
    this.activationWaiters = null;
    if (w !== null) for (const f of w) f();
    const s = this.socketWaiter;
    this.socketWaiter = null;
    if (s !== null) s.reject(responseError('client connection closed'));
  }

  private handOver(): void {
    const w = this.socketWaiter;
    if (w === null) return;
    this.socketWaiter = null;
    this.finished = true;
    w.resolve(this.conn.detach());
  }

  private out(buf: Buffer): boolean {
    if (this.active) return this.conn.write(buf);
    return this.hold(buf);
  }

  private hold(buf: Buffer): boolean {
    (this.pending ??= []).push(buf);
    this.pendingBytes += buf.length;
    if (this.pendingBytes > PENDING_MAX) {
      this.abort(responseError(`more than ${PENDING_MAX} bytes held for a pipelined response`));
      return false;
    }
    return this.pendingBytes < PENDING_HIGH_WATER;
  }
}

/**
 * Checks and serialises a status line and fields once, for `writePreparedHead` on any number of
 * responses (a crowd answered from one fetch). Framing and connection fields are left out: each
 * response adds its own.
 */
export function prepareHead(status: number, headers: Fields, reason?: string): PreparedHead {
  if (!Number.isInteger(status) || status < 200 || status > 999) throw responseError(`status ${status} is not a final status`);
  const text = reason ?? STATUS_CODES[status] ?? 'Unknown';
  if (!validText(text)) throw responseError(`reason phrase ${JSON.stringify(text)} has control characters`);
  let s = `HTTP/1.1 ${status} ${text}\r\n`;
  let rest = s;
  let declared = -1;
  for (const [name, value] of headers.entries()) {
    const lower = name.toLowerCase();
    if (lower === 'transfer-encoding' || lower === 'connection' || lower === 'keep-alive') continue;
    if (!validName(name)) throw responseError(`field name ${JSON.stringify(name)} is not a token`);
    if (!validText(value)) throw responseError(`field ${name} has control characters in its value`);
    if (lower === 'content-length') {
      if (!/^[0-9]{1,15}$/.test(value)) throw responseError(`Content-Length ${JSON.stringify(value)} is not a number`);
      const n = Number(value);
      if (declared >= 0 && declared !== n) throw responseError('two different Content-Length values');
      if (declared >= 0) continue;
      declared = n;
      s += `${name}: ${value}\r\n`;
      continue;
    }
    const line = `${name}: ${value}\r\n`;
    s += line;
    rest += line;
  }
  return { status, text: s, withoutLength: rest, contentLength: declared };
}

function validName(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f || TOKEN[c] !== 1) return false;
  }
  return true;
}

/** No CR, LF, NUL or other control characters except HTAB. */
function validText(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) return false;
  }
  return true;
}
