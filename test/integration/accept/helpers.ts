import { connect, type Socket } from 'node:net';
import type { TestContext } from 'node:test';
import { createAcceptServer, type AcceptLimits, type AcceptServer, type RequestHandler } from '../../../src/accept/index.js';

export const LIMITS: AcceptLimits = {
  requestLine: 8192,
  headerSize: 65536,
  headerCount: 100,
  requestBody: 64 * 1024 * 1024,
  headerTimeout: 10_000,
  bodyTimeout: 10_000,
  idleTimeout: 10_000,
  maxConnections: 100,
  pipelineDepth: 32,
};

export interface Started {
  server: AcceptServer;
  port: number;
  errors: Error[];
}

/** Starts an accept server on 127.0.0.1 port 0, stopped when the test ends. */
export async function startServer(t: TestContext, onRequest: RequestHandler, limits: Partial<AcceptLimits> = {}): Promise<Started> {
  const errors: Error[] = [];
  const server = createAcceptServer({ limits: { ...LIMITS, ...limits }, onRequest, onError: (e) => errors.push(e) });
  const { port } = await server.listen('127.0.0.1', 0);
  t.after(() => server.close(0));
  return { server, port, errors };
}

/** A raw client: write bytes, wait until what was received satisfies a predicate (with a deadline). */
export class RawClient {
  readonly socket: Socket;
  received = Buffer.alloc(0);
  ended = false;
  closed = false;
  private waiters: (() => void)[] = [];

  constructor(port: number) {
    this.socket = connect({ host: '127.0.0.1', port });
    this.socket.on('data', (d: Buffer) => {
      this.received = Buffer.concat([this.received, d]);
      this.wake();
    });
    this.socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    this.socket.on('error', () => {});
  }

  static async open(t: TestContext, port: number): Promise<RawClient> {
    const c = new RawClient(port);
    t.after(() => {
      c.socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      c.socket.once('connect', resolve);
      c.socket.once('error', reject);
    });
    return c;
  }

  get text(): string {
    return this.received.toString('latin1');
  }

  write(s: string | Buffer): void {
    this.socket.write(typeof s === 'string' ? Buffer.from(s, 'latin1') : s);
  }

  /** Waits until `pred()` holds (checked on every socket event and every 10 ms); fails after `ms`. */
  async until(pred: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`Timed out waiting for ${what}; received ${JSON.stringify(this.text.slice(0, 2000))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 10));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for `n` complete responses framed by Content-Length (or none); returns their raw text. */
  async responses(n: number, ms = 3000): Promise<string[]> {
    let out: string[] = [];
    await this.until(() => (out = splitResponses(this.text)).length >= n, ms, `${n} responses`);
    return out;
  }

  untilClosed(ms = 3000): Promise<void> {
    return this.until(() => this.closed || this.ended, ms, 'the server to close');
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/** Splits a byte stream into complete responses with Content-Length bodies (no chunked support). */
export function splitResponses(s: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    const end = s.indexOf('\r\n\r\n', i);
    if (end < 0) break;
    const head = s.slice(i, end);
    if (/^HTTP\/1\.1 1\d\d /.test(head)) {
      out.push(s.slice(i, end + 4));
      i = end + 4;
      continue;
    }
    const m = /\r\ncontent-length: *(\d+)/i.exec(head);
    const len = m ? Number(m[1]) : 0;
    if (s.length < end + 4 + len) break;
    out.push(s.slice(i, end + 4 + len));
    i = end + 4 + len;
  }
  return out;
}

export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
